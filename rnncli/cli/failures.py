"""How errors reach the user: one line on stderr and an exit code, a traceback only with --debug."""

from __future__ import annotations

import errno
import functools
import os
import sys
from collections.abc import Callable
from typing import Any

import typer

from rnncli.cli import console, startup
from rnncli.core.errors import EXIT_FAILURE, EXIT_INTERRUPTED, RnnError

# A write to stdout that failed (sample > /dev/full): one line, not an internal error.
OUTPUT_ERRNOS = (errno.ENOSPC, errno.EIO, errno.EFBIG, errno.EDQUOT)
DEBUG = {"on": os.environ.get("RNN_DEBUG", "") not in ("", "0")}


def user_errors(func: Callable) -> Callable:
    """Turn library errors, Ctrl-C and closed pipes into exit codes and one line each."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        startup.while_running()
        try:
            result = func(*args, **kwargs)
            sys.stdout.flush()  # here, so that a reader gone early (| head) is a quiet exit 0, not click's exit 1
            return result
        except RnnError as exc:
            if DEBUG["on"]:
                raise
            console.error(exc.message)
            raise typer.Exit(exc.exit_code) from None
        except BrokenPipeError:
            _silence_stdout()
            raise typer.Exit(0) from None
        except OSError as exc:
            if exc.errno not in OUTPUT_ERRNOS or DEBUG["on"]:
                raise
            _silence_stdout()
            console.error(f"cannot write the output ({exc.strerror or exc}); it is incomplete")
            raise typer.Exit(EXIT_FAILURE) from None
        except KeyboardInterrupt:
            _flush_quietly()
            console.error("interrupted")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as exc:
            if DEBUG["on"]:
                raise
            console.error(f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)")
            raise typer.Exit(EXIT_FAILURE) from None

    return wrapper


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so the final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _flush_quietly() -> None:
    try:
        sys.stdout.flush()
    except (BrokenPipeError, OSError, ValueError):
        _silence_stdout()
