"""Where the CLI talks to people: stderr, through rich, silenced by --quiet.

stdout is reserved for results (text, JSON, CSV). rich turns colour off by
itself when stderr is not a terminal or when ``NO_COLOR`` is set.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console

from rnncli.tasks.requests import Reporter

# rich lays out for 80 columns when a stream is not a terminal; a pipe or a file has no width, and a suggested
# command split mid-flag is broken when pasted, so there nothing is wrapped and tables take the room they need.
PIPE_WIDTH = 100_000


def _width(stream) -> int | None:
    """None (rich asks the terminal) on a terminal; elsewhere ``COLUMNS`` when set, else no limit."""
    try:
        if stream.isatty():
            return None
    except (AttributeError, ValueError):  # a closed or odd stream
        pass
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else PIPE_WIDTH


stderr = Console(stderr=True, highlight=False, soft_wrap=True, width=_width(sys.stderr))


class ResultConsole(Console):
    """A rich console for stdout results that leaves a closed pipe to the CLI.

    rich's own handling exits with status 1; ``rnn ... | head`` should end
    quietly with 0, which the CLI does when it sees the BrokenPipeError.
    """

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError


def stdout() -> Console:
    return ResultConsole(highlight=False, soft_wrap=True, width=_width(sys.stdout))


def set_quiet(quiet: bool) -> None:
    stderr.quiet = quiet


def info(message: str) -> None:
    stderr.print(message, markup=False)


def warn(message: str) -> None:
    stderr.print(f"rnn: warning: {message}", markup=False, style="yellow")


def error(message: str) -> None:
    # Errors are shown even under --quiet: a silent failure helps nobody.
    was_quiet, stderr.quiet = stderr.quiet, False
    stderr.print(f"rnn: error: {message}", markup=False, style="red", soft_wrap=True)
    stderr.quiet = was_quiet


def write_flushed(out, text: str) -> None:
    """Write and flush at once, so a reader of a pipe sees every line as soon as it is made."""
    out.write(text)
    out.flush()


def reporter(progress: Callable[..., Any] | None = None) -> Reporter:
    """How the library talks to people: notes and warnings here, and trainer events to ``progress``."""
    if progress is None:
        return Reporter(info=info, warn=warn)
    return Reporter(info=info, warn=warn, progress=progress)


def write_line(text: str) -> None:
    """One result line on stdout, flushed, so a pipe sees it at once."""
    write_flushed(sys.stdout, text + "\n")
