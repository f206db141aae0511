"""The ``rnn`` Typer app: its root options and its commands, in the order --help lists them.

Each command (one module each in rnncli/cli/) parses its options, calls the
library and prints the result; rnncli/cli/failures.py turns errors into one
line on stderr and an exit code.
"""

from __future__ import annotations

from typing import Annotated

import typer

from rnncli.cli import evaluate, forecast, grad_flow, inspect, predict, sample, train
from rnncli.cli.failures import DEBUG

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",  # rich help panels; markdown keeps the [default: ...] of the help texts
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Train, sample, evaluate and inspect recurrent sequence models (RNN, LSTM, GRU).",
)


def _version(value: bool) -> None:
    if value:
        import rnncli

        typer.echo(f"rnn {rnncli.__version__}")
        raise typer.Exit()


def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks (also RNN_DEBUG=1).")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    if debug:
        DEBUG["on"] = True


app.callback()(_root)
# The order of --help: the commands a new user needs first.
for name, command in (
    ("train", train.train),
    ("sample", sample.sample),
    ("eval", evaluate.evaluate),
    ("predict", predict.predict),
    ("inspect", inspect.inspect),
    ("forecast", forecast.forecast),
    ("grad-flow", grad_flow.grad_flow),
):
    app.command(name)(command)


def main() -> None:
    app(prog_name="rnn")
