"""The command line: the only layer that prints, parses flags or imports typer and rich.

``application`` holds the Typer app; each command is a module of its own.
"""

from rnncli.cli.application import app, main

__all__ = ["app", "main"]
