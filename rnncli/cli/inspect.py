"""rnn inspect: what a checkpoint, a run or a data file holds, or how far back gradients reach."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from rnncli.cli import console
from rnncli.cli.failures import user_errors
from rnncli.core.settings import REFERENCE_ONLY_CELLS

GRAD_FLOW_STEPS_BACK, GRAD_FLOW_WINDOWS = 100, 16


@user_errors
def inspect(
    paths: Annotated[list[str] | None, typer.Argument(metavar="[PATH] [PATH_B]", help="A run folder or .safetensors checkpoint (language model or forecaster), a .csv/.tsv of time series, a text file, a folder of text files or - (stdin); two checkpoints to compare them (leave out with --grad-flow --cell ... for an untrained model).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    plot: Annotated[Path | None, typer.Option("--plot", help="Also write a picture (.png, .svg or .pdf): the training curve of a run, the symbol frequencies of a text, the series of a CSV, or the --grad-flow curve. Needs matplotlib.")] = None,
    top: Annotated[int, typer.Option(help="How many of the most frequent symbols and words of a text to list.")] = 10,
    grad_flow: Annotated[bool, typer.Option("--grad-flow", help="Show the norm of d loss_T / d h_{T-k} for each distance k back.")] = False,
    data: Annotated[str | None, typer.Option(help="Text to measure --grad-flow on [default: the run's validation text; random tokens for an untrained model].")] = None,
    steps_back: Annotated[int | None, typer.Option(help="How many steps back --grad-flow follows the gradient. [default: 100]")] = None,
    windows: Annotated[int | None, typer.Option(help="Windows of text the --grad-flow norms are averaged over. [default: 16]")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for the --grad-flow windows and the untrained model. [default: 0]")] = None,
    impl: Annotated[str | None, typer.Option(help="fused or reference: the implementation to run --grad-flow on.")] = None,
    cell: Annotated[str | None, typer.Option(help="Untrained model for --grad-flow: lstm, gru, rnn, rnn-relu or gru-textbook.")] = None,
    hidden_size: Annotated[int | None, typer.Option(help="Untrained model for --grad-flow: units per layer.")] = None,
    num_layers: Annotated[int | None, typer.Option(help="Untrained model for --grad-flow: stacked layers.")] = None,
    embed_size: Annotated[int | None, typer.Option(help="Untrained model for --grad-flow: embedding size.")] = None,
) -> None:
    """Explain what a checkpoint, a run or a data file holds, or how far back a model's gradients reach.

    Example: rnn inspect runs/tinyworld --plot curve.png
    Example: rnn inspect runs/tinyworld --grad-flow
    Example: rnn inspect sample_data/monthly.csv --plot series.png
    Example: rnn inspect --grad-flow --cell rnn --hidden-size 128 --data sample_data/tinyworld.txt
    """
    from rnncli.core.errors import UsageError
    from rnncli.tasks.inspection import path_kind

    paths = paths or []
    shape = dict(cell=cell, hidden_size=hidden_size, num_layers=num_layers, embed_size=embed_size)
    given = [f"--{k.replace('_', '-')}" for k, v in shape.items() if v is not None]
    if grad_flow:
        if len(paths) > 1:
            raise UsageError(f"--grad-flow looks at one checkpoint; got {len(paths)} paths")
        path = paths[0] if paths else None
        if path is not None and given:
            raise UsageError(f"{given[0]} describes an untrained model; leave it out when inspecting {path}")
        _inspect_grad_flow(path, shape, data=data, impl=impl, as_json=as_json, plot=plot,
                           steps_back=GRAD_FLOW_STEPS_BACK if steps_back is None else steps_back,
                           windows=GRAD_FLOW_WINDOWS if windows is None else windows,
                           seed=0 if seed is None else seed)
        return
    for flag, value in (("--data", data), ("--impl", impl), ("--steps-back", steps_back),
                        ("--windows", windows), ("--seed", seed)):
        if value is not None:
            raise UsageError(f"{flag} applies to --grad-flow; add --grad-flow")
    if given:
        raise UsageError(f"{given[0]} describes an untrained model for --grad-flow; add --grad-flow")
    if not paths:
        raise UsageError("give a PATH (checkpoint, run folder or text), or --grad-flow --cell CELL for an untrained model")

    if len(paths) > 2:
        raise UsageError(f"inspect takes one PATH, or two checkpoints to compare; got {len(paths)}")
    if top < 1:
        raise UsageError(f"--top must be 1 or more, got {top}")
    if len(paths) == 2:
        _inspect_comparison(paths, as_json=as_json, plot=plot)
        return
    kind = path_kind(paths[0])
    if kind == "checkpoint":
        _inspect_checkpoint(paths[0], as_json=as_json, plot=plot)
    elif kind == "series":
        _inspect_series(paths[0], as_json=as_json, plot=plot)
    else:
        _inspect_text(paths[0], as_json=as_json, plot=plot, top=top)


def _inspect_checkpoint(path: str, *, as_json: bool, plot: Path | None) -> None:
    from rnncli.cli.render import print_checkpoint_summary, print_forecast_summary, save_curve_plot
    from rnncli.core.errors import UsageError
    from rnncli.tasks.inspection import inspect_checkpoint

    summary = inspect_checkpoint(path)
    if plot is not None:
        if not summary["curve"]:
            raise UsageError(f"--plot: {path} has no metrics.jsonl beside it, so there is no curve to draw")
        save_curve_plot([(path, summary["curve"])], plot)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    elif summary["task"] == "forecast":
        print_forecast_summary(summary)
    else:
        print_checkpoint_summary(summary)


def _inspect_series(path: str, *, as_json: bool, plot: Path | None) -> None:
    from rnncli.cli.render import print_series_summary, save_series_plot
    from rnncli.tasks.forecast.report import inspect_series

    summary, data = inspect_series(path)
    if plot is not None:
        save_series_plot(data, plot)
    if as_json:
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        print_series_summary(summary)


def _inspect_grad_flow(path: str | None, shape: dict[str, Any], *, data: str | None, impl: str | None,
                       as_json: bool, plot: Path | None, steps_back: int, windows: int, seed: int) -> None:
    from rnncli.cli.render import print_grad_flow, write_grad_flow_plot
    from rnncli.core.errors import UsageError
    from rnncli.tasks.language_model import gradient_flow as gradflow
    from rnncli.tasks.language_model.checkpoint import load_checkpoint

    if not 1 <= steps_back <= 10_000:
        raise UsageError(f"--steps-back must be a whole number from 1 to 10000, got {steps_back}")
    if not 1 <= windows <= 10_000:
        raise UsageError(f"--windows must be a whole number from 1 to 10000, got {windows}")
    if path is not None:
        ckpt = load_checkpoint(path, impl=impl)
        ids, source = gradflow.checkpoint_text(ckpt, data)
        model, trained = ckpt.model, True
    else:
        model, ids, source = gradflow.untrained_model(_untrained_config(shape, impl), data, seed=seed)
        trained = False
    result = gradflow.report(model, ids, source=source, steps_back=steps_back, windows=windows,
                             seed=seed, trained=trained)
    result["checkpoint"] = str(ckpt.path) if path is not None else None
    if plot is not None:
        write_grad_flow_plot([result], plot)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        print_grad_flow(result)
        if plot is not None:
            console.info(f"wrote {plot}")


def _untrained_config(shape: dict[str, Any], impl: str | None):
    """Defaults of config.py, the shape flags given, and the only implementation gru-textbook has."""
    from rnncli.core.settings import ModelConfig

    config = ModelConfig(**{k: v for k, v in shape.items() if v is not None})
    if impl is not None:
        config.impl = impl
    elif config.cell in REFERENCE_ONLY_CELLS:
        config.impl = "reference"
    return config


def _inspect_comparison(paths: list[str], *, as_json: bool, plot: Path | None) -> None:
    from rnncli.cli.render import print_comparison, save_curve_plot
    from rnncli.core.errors import UsageError
    from rnncli.tasks.inspection import compare_checkpoints, inspect_checkpoint, path_kind

    for path in paths:
        if path_kind(path) != "checkpoint":
            raise UsageError(f"{path}: not a run folder or .safetensors file; only checkpoints can be compared")
    a, b = (inspect_checkpoint(p) for p in paths)
    if plot is not None:
        curves = [(label, s["curve"]) for label, s in (("A", a), ("B", b)) if s["curve"]]
        if not curves:
            raise UsageError("--plot: neither checkpoint has a metrics.jsonl beside it, so there is no curve to draw")
        save_curve_plot(curves, plot)
    result = compare_checkpoints(a, b)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        print_comparison(result)


def _inspect_text(path: str, *, as_json: bool, plot: Path | None, top: int) -> None:
    from rnncli.cli.render import print_text_summary, save_frequency_plot
    from rnncli.tasks.language_model.text_report import inspect_text

    summary = inspect_text(path, top=top)
    if plot is not None:
        save_frequency_plot(summary, plot)
    if as_json:
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        print_text_summary(summary)
