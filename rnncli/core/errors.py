"""User-facing errors: a one-line message and an exit code.

The CLI renders any ``RnnError`` as ``rnn: error: <message>`` on stderr and
exits with ``exit_code``; everything else is a bug and gets a traceback only
with ``--debug``.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1  # a runtime failure (disk full, diverged training, ...)
EXIT_USAGE = 2  # bad usage or bad input
EXIT_INTERRUPTED = 130


class RnnError(Exception):
    """An error whose message is meant for the user."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        return str(self.args[0])


class UsageError(RnnError):
    """An option value that is out of range or contradicts another."""


class DataError(RnnError):
    """An input file that cannot be read or used as training data."""


class NotThisKindOfData(DataError):
    """Input that is not the kind of data the task reads at all (text given to the forecaster).

    Where the task was guessed from the file's suffix, the guess may be what is wrong, and the
    message says how to name another task.
    """


class CheckpointError(RnnError):
    """A checkpoint that does not exist, is not ours, or is damaged."""


class RuntimeFailure(RnnError):
    """Something went wrong while running: the input was fine."""

    exit_code = EXIT_FAILURE
