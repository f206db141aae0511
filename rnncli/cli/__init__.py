"""The command line: the only layer that prints, parses flags or imports typer and rich.

``application`` holds the Typer app; each command is a module of its own.
"""

from rnncli.cli import startup

startup.install()  # before the heavy imports below: a SIGTERM while they run says so

from rnncli.cli.application import app, main  # noqa: E402

__all__ = ["app", "main"]
