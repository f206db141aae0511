"""rnn inspect: what a run, a checkpoint or a data file holds, or two runs side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from rnncli.cli.failures import user_errors
from rnncli.cli.options import (
    GRAD_FLOW,
    OUTPUT,
    AttentionText,
    Decimal,
    Freq,
    GradFlowData,
    GradFlowImpl,
    GradFlowSeed,
    IdCol,
    Json,
    Missing,
    StepsBack,
    Task,
    Thousands,
    TimeCol,
    UntrainedCell,
    UntrainedEmbedSize,
    UntrainedHiddenSize,
    UntrainedNumLayers,
    ValueCol,
    Windows,
    options_besides,
)

OWN_OPTIONS = ("paths", "as_json", "plot", "top", "task", "grad_flow", "attention")
READING = ("time_col", "value_col", "id_col", "freq", "missing", "decimal", "thousands")  # a CSV of series


@user_errors
def inspect(
    ctx: typer.Context,
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="PATH [PATH_B]",
            help="A run folder or .safetensors checkpoint (language model or forecaster), a .csv/.tsv of time series, a text file, a folder of text files or - (stdin); two checkpoints to compare them (leave out with --grad-flow --cell ... for an untrained model).",
        ),
    ] = None,
    as_json: Json = False,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            help="Also write a picture (.png, .svg or .pdf): the training curve of a run, the symbol frequencies of a text, the series of a CSV, the --attention heat map, or the --grad-flow curve. Needs matplotlib.",
            rich_help_panel=OUTPUT,
        ),
    ] = None,
    top: Annotated[
        int | None,
        typer.Option(help="How many of the most frequent symbols and words of a text to list. [default: 10]"),
    ] = None,
    task: Task = None,
    attention: AttentionText = None,
    grad_flow: Annotated[
        bool,
        typer.Option(
            "--grad-flow",
            help="Show the norm of d loss_T / d h_{T-k} for each distance k back (the same as rnn grad-flow).",
            rich_help_panel=GRAD_FLOW,
        ),
    ] = False,
    data: GradFlowData = None,
    steps_back: StepsBack = None,
    windows: Windows = None,
    seed: GradFlowSeed = None,
    impl: GradFlowImpl = None,
    cell: UntrainedCell = None,
    hidden_size: UntrainedHiddenSize = None,
    num_layers: UntrainedNumLayers = None,
    embed_size: UntrainedEmbedSize = None,
    time_col: TimeCol = None,
    value_col: ValueCol = None,
    id_col: IdCol = None,
    freq: Freq = None,
    missing: Missing = None,
    decimal: Decimal = None,
    thousands: Thousands = None,
) -> None:
    """Explain what a checkpoint, a run or a data file holds, or how far back a model's gradients reach.

    Example: rnn inspect runs/tinyworld --plot curve.png

    Example: rnn inspect sample_data/monthly.csv --plot series.png

    Example: rnn inspect runs/dates --attention "May 7, 1999" --plot attention.png

    Example: rnn inspect runs/tinyworld --grad-flow (the same as rnn grad-flow runs/tinyworld)
    """
    from rnncli.cli.render.outputs import write_grad_flow, write_inspection
    from rnncli.tasks.inspection import InspectRequest, inspect_paths

    if grad_flow:  # the alias of rnn grad-flow
        from rnncli.tasks.language_model.gradient_report import GradFlowRequest, measure_gradient_flow

        request = GradFlowRequest.from_options(options_besides(ctx, *OWN_OPTIONS), paths=paths)
        write_grad_flow(measure_gradient_flow(request), as_json=as_json, plot=plot)
        return
    request = InspectRequest(paths or [], task=task, top=top, attention=attention, **_other_options(ctx))
    write_inspection(inspect_paths(request), as_json=as_json, plot=plot)


def _other_options(ctx: typer.Context) -> dict[str, dict[str, Any]]:
    """The options --grad-flow reads (refused without it), and those that say how to read a CSV of series."""
    return {
        "grad_flow_options": options_besides(ctx, *OWN_OPTIONS, *READING),
        "reading": {name: ctx.params[name] for name in READING},
    }
