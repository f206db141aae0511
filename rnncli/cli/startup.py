"""SIGTERM before a command runs (while Python imports torch): one line and exit 143, never silence."""

from __future__ import annotations

import os
import signal

EXIT_TERMINATED = 128 + signal.SIGTERM


def _terminated_while_starting(signum: int, frame: object) -> None:
    os.write(2, b"rnn: error: terminated (SIGTERM) while starting; nothing was done\n")
    os._exit(EXIT_TERMINATED)


def install() -> None:
    """Until a command takes over (``failures.user_errors``), SIGTERM says so and exits 143."""
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminated_while_starting)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def while_running() -> None:
    """From here SIGTERM stops the command as Ctrl-C does: "interrupted", exit 130 (training saves first)."""
    if signal.getsignal(signal.SIGTERM) is _terminated_while_starting:
        signal.signal(signal.SIGTERM, _interrupt)
