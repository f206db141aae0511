"""rnn predict: map inputs to outputs, one per line, with a trained model (a classifier, a tagger, a translator)."""

from __future__ import annotations

from typing import Annotated

import typer

from rnncli import tasks
from rnncli.cli import console
from rnncli.cli.failures import user_errors
from rnncli.cli.options import (
    OUTPUT,
    Beam,
    LengthPenalty,
    MaxLenRatio,
    NBest,
    Pretokenized,
    Quiet,
    TextCol,
    TopK,
    options_besides,
)
from rnncli.tasks.requests import PredictRequest


@user_errors
def predict(
    ctx: typer.Context,
    checkpoint: Annotated[str, typer.Argument(metavar="CHECKPOINT", help="A run folder or a .safetensors file.")],
    data: Annotated[
        str | None,
        typer.Argument(
            metavar="[DATA]", help="Inputs, one per line (or the task's file format); - or left out: stdin."
        ),
    ] = None,
    output_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="How to write each output: text, jsonl (and the task's own formats). [default: text]",
            rich_help_panel=OUTPUT,
        ),
    ] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda or mps. [default: cpu]")] = None,
    top_k: TopK = None,
    text_col: TextCol = None,
    pretokenized: Pretokenized = False,
    beam: Beam = None,
    n_best: NBest = None,
    length_penalty: LengthPenalty = None,
    max_len_ratio: MaxLenRatio = None,
    quiet: Quiet = False,
) -> None:
    """Map each input to an output with a trained model, streamed to stdout in the order of the inputs.

    Example: echo "not good at all" | rnn predict runs/reviews

    Example: echo "the 5th of March, 2021" | rnn predict runs/pairs --beam 5
    """
    console.set_quiet(quiet)
    request = PredictRequest(checkpoint, data, options=options_besides(ctx, "checkpoint", "data", "quiet"))
    for line in tasks.predict(request, console.reporter()).lines:
        console.write_line(line)
