"""Why a run stops before its next step, and the signal handling that can ask it to.

Every process decides at the same step boundary, on the most urgent reason
any of them has (``Distributed.most_urgent``), so all ranks stop together.
"""

from __future__ import annotations

import enum
import signal
import threading
from typing import Any


class Stop(enum.IntEnum):
    """What the processes agree on before each step, ordered by urgency."""

    NO = 0
    TIME = 1  # the --time budget is spent: validate what is not yet validated, then finish
    SIGNAL = 2  # Ctrl-C or SIGTERM: save at this step boundary and exit 130


class StopSignals:
    """SIGINT and SIGTERM set a flag that the loop checks between steps.

    Saving from inside a signal handler could interleave with a half-done
    step; the loop stops cleanly at the next step boundary instead. A second
    signal stops at once (KeyboardInterrupt).
    """

    def __init__(self, *, escalate: bool = True):
        self.received: str | None = None
        self.escalate = escalate  # off under torchrun, which forwards the user's Ctrl-C a second time
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum, frame) -> None:
        if self.received is not None and self.escalate:
            raise KeyboardInterrupt
        self.received = signal.Signals(signum).name
