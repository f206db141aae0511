"""rnn grad-flow: how far back a language model's gradients reach (also rnn inspect --grad-flow)."""

from __future__ import annotations

from typing import Annotated

import typer

from rnncli.cli.failures import user_errors
from rnncli.cli.options import (
    GradFlowData,
    GradFlowImpl,
    GradFlowSeed,
    Json,
    Plot,
    StepsBack,
    UntrainedCell,
    UntrainedEmbedSize,
    UntrainedHiddenSize,
    UntrainedNumLayers,
    Windows,
    options_besides,
)


@user_errors
def grad_flow(
    ctx: typer.Context,
    path: Annotated[
        str | None,
        typer.Argument(
            metavar="PATH",
            help="A run folder or .safetensors checkpoint of a language model; leave out (with --cell ...) for an untrained model.",
        ),
    ] = None,
    data: GradFlowData = None,
    steps_back: StepsBack = None,
    windows: Windows = None,
    seed: GradFlowSeed = None,
    impl: GradFlowImpl = None,
    cell: UntrainedCell = None,
    hidden_size: UntrainedHiddenSize = None,
    num_layers: UntrainedNumLayers = None,
    embed_size: UntrainedEmbedSize = None,
    as_json: Json = False,
    plot: Plot = None,
) -> None:
    """Show the norm of d loss_T / d h_{T-k} for each distance k back: how far back the gradients reach.

    Example: rnn grad-flow runs/tinyworld

    Example: rnn grad-flow --cell rnn --hidden-size 128 --data sample_data/tinyworld.txt
    """
    from rnncli.cli.render.outputs import write_grad_flow
    from rnncli.tasks.language_model.gradient_report import GradFlowRequest, measure_gradient_flow

    request = GradFlowRequest.from_options(options_besides(ctx, "as_json", "plot"))
    write_grad_flow(measure_gradient_flow(request), as_json=as_json, plot=plot)
