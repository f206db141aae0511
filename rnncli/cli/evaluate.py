"""rnn eval: score a trained model on held-out data."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from rnncli.cli import console
from rnncli.cli.failures import user_errors
from rnncli.cli.options import ImplOverride, Unknown


@user_errors
def evaluate(
    checkpoint: Annotated[str, typer.Argument(help="A run folder or a .safetensors file.")],
    data: Annotated[str, typer.Argument(help="A UTF-8 text file, a folder of them, or - for stdin (a CSV for a forecaster).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    per_line: Annotated[bool, typer.Option("--per-line", help="Score every line on its own: one JSON object per line.")] = False,
    carry: Annotated[bool, typer.Option("--carry", help="With --per-line, carry the state from line to line.")] = False,
    unknown: Unknown = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or mps.")] = "cpu",
    impl: ImplOverride = None,
    backtest: Annotated[int, typer.Option(help="Forecasting models: backtest windows (horizons) per series.")] = 3,
) -> None:
    """Loss, perplexity and bits per character of a model on a text (or a score per line); a backtest for a forecaster.

    Example: rnn eval runs/tinyworld held_out.txt --json
    Example: rnn eval runs/monthly sample_data/monthly.csv --backtest 3
    """
    from rnncli.tasks.forecast.forecaster import is_forecast_checkpoint

    if is_forecast_checkpoint(checkpoint):
        from rnncli.cli.forecast_jobs import SeriesOptions, run_eval

        run_eval(checkpoint, data, windows=backtest, as_json=as_json, series_options=SeriesOptions())
        return
    from rnncli.core.devices import resolve_device
    from rnncli.core.errors import UsageError
    from rnncli.tasks.language_model.checkpoint import load_checkpoint
    from rnncli.tasks.language_model.jobs import evaluate_text, score_lines

    if carry and not per_line:
        raise UsageError("--carry only applies to --per-line scoring; add --per-line")
    ckpt = load_checkpoint(checkpoint, device=resolve_device(device), impl=impl)
    if per_line:
        for record in score_lines(ckpt, data, carry=carry, unknown=unknown):
            console.write_flushed(sys.stdout, json.dumps(record, ensure_ascii=False) + "\n")
        return
    result = evaluate_text(ckpt, data, unknown=unknown)
    if as_json:
        typer.echo(json.dumps(result))
        return
    typer.echo(f"data        {result['data']}")
    typer.echo(f"tokens      {result['tokens']:,}")
    typer.echo(f"loss        {result['loss']:.4f} nats/token")
    typer.echo(f"perplexity  {result['perplexity']:.3f}")
    typer.echo(f"bpc         {result['bpc']:.4f} bits/character")
    typer.echo(f"bpb         {result['bpb']:.4f} bits/byte (UTF-8)")
    if result["unknown_tokens"]:
        typer.echo(f"unknown     {result['unknown_tokens']:,} tokens outside the vocabulary (scored as the unknown token)")


