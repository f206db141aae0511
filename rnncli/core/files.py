"""Writing a file so that a crash leaves the old one or the new one, never a torn one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from rnncli.core.errors import RuntimeFailure


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` so that a crash leaves the old file or the new one.

    The bytes go to a temporary file in the same folder, are fsynced, and the
    temporary file is renamed over the target (atomic on POSIX and Windows).
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise RuntimeFailure(f"{path.parent}: cannot write a checkpoint here ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o666 & ~_umask())  # mkstemp's 0600 would hide runs from the user's group
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise RuntimeFailure(
                f"{path}: could not write ({exc.strerror or exc}); the previous checkpoint is untouched"
            ) from None
        raise
    fsync_dir(path.parent)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
