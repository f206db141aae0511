"""A save of a run folder as one transaction: staged files, then one atomic rename that commits them all.

A save writes each new file under a staged name (``.txn.<name>``), then
writes the journal ``.journal.json`` (temporary file, fsync, rename) naming
the files it replaces and the files it removes. That rename is the commit.
Killed before it, the folder still holds the previous save, and the staged
files are cleared at the next start. Killed after it, the save counts:
readers follow the journal to the staged files (``current``), and the next
writer finishes the renames (``recover``). So the weights, the best weights,
the resume state and the metrics line become visible together or not at all.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from rnncli.core.errors import RuntimeFailure
from rnncli.core.files import atomic_write_bytes, fsync_dir
from rnncli.core.run_lock import writer_alive

JOURNAL = ".journal.json"
STAGED = ".txn."
JOURNAL_FORMAT = "rnncli-run-journal"
MAX_JOURNAL_BYTES = 1 << 20
# The only names a journal may replace or remove: a run's own files, never anything else in the folder.
RUN_FILE = re.compile(r"config\.yaml|metrics\.jsonl|[A-Za-z0-9_-][\w.-]*\.safetensors|tensorboard")


@dataclass(frozen=True)
class Journal:
    replace: tuple[str, ...]  # each comes from STAGED + name
    delete: tuple[str, ...]


def stage(folder: Path, files: dict[str, bytes]) -> None:
    """Write each file under its staged name (fsynced; not visible until ``commit``).

    A failure (a full disk) removes what was staged and leaves the folder as the last save left it.
    """
    folder = Path(folder)
    for name, payload in files.items():
        try:
            _write_synced(folder / (STAGED + name), payload)
        except OSError as exc:
            for staged in files:
                (folder / (STAGED + staged)).unlink(missing_ok=True)
            raise RuntimeFailure(
                f"{folder / name}: could not write ({exc.strerror or exc}); the previous checkpoint is untouched"
            ) from None


def _write_synced(path: Path, payload: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    with os.fdopen(fd, "wb") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())


def commit(folder: Path, replace: list[str], delete: list[str]) -> None:
    """Make the staged files of ``replace`` current and remove ``delete``, as one step."""
    journal = Journal(tuple(replace), tuple(d for d in delete if d not in replace))
    document = {
        "format": JOURNAL_FORMAT,
        "version": 1,
        "replace": list(journal.replace),
        "delete": list(journal.delete),
    }
    atomic_write_bytes(Path(folder) / JOURNAL, json.dumps(document).encode("utf-8"))  # the commit point
    _apply(Path(folder), journal)


def current(folder: Path, name: str) -> Path | None:
    """Where ``name`` of a run folder is now: its staged file while a committed save that a killed process
    left is unfinished, None when that save removes it, else the file itself (which may not exist).

    While a live writer is finishing a save, its staged files are being renamed away: a reader then takes
    the files as they are (each is whole; the writer finishes the save in a moment).
    """
    folder = Path(folder)
    journal = read_journal(folder)
    if journal is not None and writer_alive(folder) is None:
        if name in journal.replace and (folder / (STAGED + name)).is_file():
            return folder / (STAGED + name)
        if name in journal.delete:
            return None
    return folder / name


def existing(folder: Path, name: str) -> Path | None:
    """``current``'s answer when that file exists, else None."""
    found = current(folder, name)
    return found if found is not None and found.is_file() else None


def recover(folder: Path) -> None:
    """Finish a committed save that a killed process left, and clear what an uncommitted one staged."""
    folder = Path(folder)
    journal = read_journal(folder)
    if journal is not None:
        _apply(folder, journal)
    (folder / JOURNAL).unlink(missing_ok=True)
    for path in folder.iterdir():
        if path.name.startswith(STAGED) or (path.name.startswith(".") and path.name.endswith(".tmp")):
            path.unlink(missing_ok=True)


def read_journal(folder: Path) -> Journal | None:
    """The committed journal of ``folder``; None when there is none or it is not one of ours."""
    path = Path(folder) / JOURNAL
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_JOURNAL_BYTES + 1)
        document = json.loads(raw) if len(raw) <= MAX_JOURNAL_BYTES else None
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(document, dict) or document.get("format") != JOURNAL_FORMAT:
        return None
    lists = [document.get("replace"), document.get("delete")]
    if not all(isinstance(names, list) and all(_is_run_file(n) for n in names) for names in lists):
        return None
    return Journal(tuple(lists[0]), tuple(lists[1]))


def _is_run_file(name: object) -> bool:
    return isinstance(name, str) and RUN_FILE.fullmatch(name) is not None


def _apply(folder: Path, journal: Journal) -> None:
    """The renames and removals of a committed journal; each is idempotent, so a repeat is harmless."""
    for name in journal.replace:
        staged = folder / (STAGED + name)
        if staged.is_file():
            os.replace(staged, folder / name)
    for name in journal.delete:
        path = folder / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    fsync_dir(folder)
    (folder / JOURNAL).unlink(missing_ok=True)
    fsync_dir(folder)
