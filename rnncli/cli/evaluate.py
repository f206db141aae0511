"""rnn eval: score a trained model on held-out data, as the task its checkpoint records."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rnncli import tasks
from rnncli.cli import console
from rnncli.cli.failures import user_errors
from rnncli.cli.options import (
    FORECASTING,
    OUTPUT,
    SCORING,
    AllowOverlap,
    BacktestStep,
    Beam,
    Decimal,
    EvalSource,
    EvalTarget,
    Freq,
    IdCol,
    ImplOverride,
    LabelCol,
    LengthPenalty,
    MaxLenRatio,
    Missing,
    SeriesStrict,
    TagCol,
    TagField,
    Task,
    TextCol,
    TextEncoding,
    TextErrors,
    Thousands,
    TimeCol,
    Unknown,
    ValueCol,
    options_besides,
)
from rnncli.tasks.requests import EvalRequest


@user_errors
def evaluate(
    ctx: typer.Context,
    checkpoint: Annotated[str, typer.Argument(metavar="CHECKPOINT", help="A run folder or a .safetensors file.")],
    data: Annotated[
        str | None,
        typer.Argument(
            metavar="DATA",
            help="A text file (read as the model's training text was, or by --encoding), a folder of them, or - for stdin (a CSV for a forecaster; a file of pairs for a "
            "translator, or leave it out for --source and --target).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.", rich_help_panel=OUTPUT)] = False,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            help="Classifiers and taggers: also draw this evaluation's confusion matrix (.png, .svg or .pdf). "
            "Needs matplotlib.",
            rich_help_panel=OUTPUT,
        ),
    ] = None,
    per_line: Annotated[
        bool,
        typer.Option(
            "--per-line", help="Score every line on its own: one JSON object per line.", rich_help_panel=SCORING
        ),
    ] = False,
    carry: Annotated[
        bool,
        typer.Option("--carry", help="With --per-line, carry the state from line to line.", rich_help_panel=SCORING),
    ] = False,
    unknown: Unknown = None,
    encoding: TextEncoding = None,
    errors: TextErrors = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda or mps. [default: cpu]")] = None,
    impl: ImplOverride = None,
    backtest: Annotated[
        int | None,
        typer.Option(
            help="Forecasting models: backtest windows (horizons) per series. [default: 3]", rich_help_panel=FORECASTING
        ),
    ] = None,
    step: BacktestStep = None,
    backtest_out: Annotated[
        str | None,
        typer.Option(
            help="Forecasting models: write every backtest window's forecasts as CSV.", rich_help_panel=FORECASTING
        ),
    ] = None,
    allow_overlap: AllowOverlap = False,
    time_col: TimeCol = None,
    value_col: ValueCol = None,
    id_col: IdCol = None,
    freq: Freq = None,
    missing: Missing = None,
    decimal: Decimal = None,
    thousands: Thousands = None,
    strict: SeriesStrict = None,
    tag_col: TagCol = None,
    tag_field: TagField = None,
    beam: Beam = None,
    length_penalty: LengthPenalty = None,
    max_len_ratio: MaxLenRatio = None,
    source: EvalSource = None,
    target: EvalTarget = None,
    task: Task = None,
    text_col: TextCol = None,
    label_col: LabelCol = None,
) -> None:
    """Loss, perplexity and bits per character of a model on a text (or a score per line); a backtest for a forecaster.

    Example: rnn eval runs/tinyworld held_out.txt --json

    Example: rnn eval runs/held sample_data/monthly.csv --backtest 3 (a forecaster kept from rnn forecast --backtest 3 --out runs/held)

    Example: rnn eval runs/pairs sample_data/pairs_test.tsv (a translator: BLEU and chrF beside copying the source)

    Example: rnn eval runs/pairs --source test.en --target test.es (two line-aligned files)

    Example: rnn eval runs/reviews test.csv --plot confusion.png (a classifier's confusion matrix on test.csv)
    """
    from rnncli.cli.render.outputs import write_evaluation
    from rnncli.cli.render.plots import check_plottable, require_matplotlib, save_evaluation_plot

    if plot is not None:  # checked before the evaluation, not after it
        require_matplotlib(plot)
        check_plottable(tasks.detect(checkpoint, task=task).task.name)
    options = options_besides(ctx, "checkpoint", "data", "task", "as_json", "plot")
    evaluation = tasks.evaluate(EvalRequest(checkpoint, data, task=task, options=options), console.reporter())
    write_evaluation(evaluation, as_json=as_json, backtest_out=backtest_out)
    if plot is not None:
        save_evaluation_plot(evaluation.document, plot)
        console.info(f"wrote {plot}")
