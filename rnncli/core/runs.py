"""Run folders: where a training run writes, without ever clobbering another."""

from __future__ import annotations

import re
from pathlib import Path

from rnncli.core.errors import UsageError

# Folders this process was told to overwrite (--force); the run writer replaces their old run at its first save.
_FORCED: set[Path] = set()


def default_run_name(data: str) -> str:
    """``runs/<data stem>``; stdin becomes ``runs/stdin``."""
    stem = "stdin" if data == "-" else Path(data.rstrip("/")).stem or "run"
    return re.sub(r"[^\w.-]+", "_", stem)


def choose_run_dir(out: str | None, data: str, *, force: bool, root: Path = Path("runs")) -> tuple[Path, str | None]:
    """The folder to write to, and a note for the user when the default was taken.

    With ``--out`` an existing, non-empty folder is refused unless ``--force``.
    Without it, ``runs/<stem>`` is used, or ``runs/<stem>-2``, ``-3``... if taken.
    """
    if out is not None:
        path = Path(out)
        if path.exists() and not path.is_dir():
            raise UsageError(f"--out {out}: exists and is not a folder; choose another --out")
        if _is_used(path) and not force:
            raise UsageError(
                f"--out {out}: a run already exists there; use --force to overwrite it, "
                "--resume to continue it, or choose another --out"
            )
        return _claimed(path, force), None
    base = root / default_run_name(data)
    if not _is_used(base) or force:
        return _claimed(base, force), None
    n = 2
    while _is_used(base.with_name(f"{base.name}-{n}")):
        n += 1
    fresh = base.with_name(f"{base.name}-{n}")
    return fresh, f"{base} already holds a run; writing to {fresh} instead"


def _is_used(path: Path) -> bool:
    return path.is_dir() and any(path.iterdir())


def _claimed(path: Path, force: bool) -> Path:
    if force:
        _FORCED.add(path.resolve())
    return path


def may_replace(folder: Path) -> bool:
    """Whether this process was given --force for ``folder``: its old run may be replaced."""
    return Path(folder).resolve() in _FORCED
