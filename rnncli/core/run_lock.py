"""One writer per run folder: an exclusive OS lock held for the whole run, released by the OS when the process ends.

The lock is ``flock`` on ``<run>/.lock``, so a process killed with SIGKILL
leaves no lock held (at most the empty file, which the next writer takes
over). The file holds the holder's PID, which the refusal names, and is
removed when the run ends. Readers (sample, eval, inspect) take no lock.
"""

from __future__ import annotations

import os
from pathlib import Path

from rnncli.core.errors import RuntimeFailure, UsageError

try:
    import fcntl
except ImportError:  # Windows: no flock; runs are then not protected against a second writer
    fcntl = None

LOCK_FILE = ".lock"


class RunLock:
    """A held lock on a run folder; ``release`` (or the end of the process) frees it."""

    def __init__(self, path: Path, fd: int | None):
        self.path, self._fd = path, fd

    @classmethod
    def acquire(cls, folder: Path) -> RunLock:
        """Lock ``folder`` for writing, or refuse with the PID of the process that holds it."""
        path = Path(folder) / LOCK_FILE
        if fcntl is None:
            return cls(path, None)
        while True:
            fd = _open(path)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = _holder(fd)
                os.close(fd)
                raise busy(folder, holder) from None
            if _same_file(fd, path):  # not a file the previous holder removed as we opened it
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return cls(path, fd)

    def release(self) -> None:
        if self._fd is not None:
            self.path.unlink(missing_ok=True)  # before unlocking, so a waiting opener sees a new file
            os.close(self._fd)
            self._fd = None


def busy(folder: Path, holder: str) -> UsageError:
    return UsageError(
        f"{folder}: another rnn process{holder} is writing this run; wait for it to end, or choose another --out"
    )


def writer_alive(folder: Path) -> int | None:
    """The PID of a live process writing ``folder`` (from its lock file), or None; takes no lock.

    A lock file left by a killed process names a PID that is gone (or, rarely, reused by another process).
    """
    try:
        text = (Path(folder) / LOCK_FILE).read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None
    if not text.isdigit() or len(text) > 9:
        return None
    try:
        os.kill(int(text), 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, but another user's
        pass
    return int(text)


def _open(path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise RuntimeFailure(f"{path.parent}: cannot write a checkpoint here ({exc.strerror or exc})") from None


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except OSError:
        return False


def _holder(fd: int) -> str:
    """`` (PID n)`` from the lock file, or nothing when it cannot be read."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""
    return f" (PID {text})" if text.isdigit() else ""
