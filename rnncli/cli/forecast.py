"""rnn forecast: quantile forecasts for every series of a CSV, beside their baselines."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from rnncli.cli import console
from rnncli.cli.failures import user_errors
from rnncli.cli.options import (
    MODEL,
    OUTPUT,
    TRAINING,
    AllowOverlap,
    BacktestStep,
    Decimal,
    Ensemble,
    Freq,
    Horizon,
    IdCol,
    Level,
    Lookback,
    Missing,
    Quantiles,
    Quiet,
    Scaling,
    Season,
    SeriesStrict,
    Thousands,
    TimeCol,
    ValueCol,
    options_besides,
)
from rnncli.cli.progress import TrainProgress

REQUEST_OPTIONS = ("data", "model", "out", "backtest", "step", "baseline", "quiet")
OUTPUT_OPTIONS = ("output_format", "plot", "as_json", "backtest_out", "plot_history")


@user_errors
def forecast(
    ctx: typer.Context,
    data: Annotated[
        str | None,
        typer.Argument(
            metavar="DATA",
            help="A CSV of time series (wide or long), or - for stdin; with --model, the latest history (optional).",
        ),
    ] = None,
    horizon: Horizon = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model", help="Forecast with this trained run or checkpoint instead of training.", rich_help_panel=MODEL
        ),
    ] = None,
    output_format: Annotated[str, typer.Option("--format", help="csv or jsonl.", rich_help_panel=OUTPUT)] = "csv",
    plot: Annotated[
        str | None,
        typer.Option(
            help="Also draw history, forecast and interval to this PNG (needs matplotlib: pip install rnncli[plot]).",
            rich_help_panel=OUTPUT,
        ),
    ] = None,
    backtest: Annotated[
        int | None,
        typer.Option(
            help="Instead of forecasting: train without the last N horizons of each series and backtest on them.",
            rich_help_panel=OUTPUT,
        ),
    ] = None,
    step: BacktestStep = None,
    backtest_out: Annotated[
        str | None,
        typer.Option(
            help="With --backtest: write every window's forecasts as CSV (id,timestamp,cutoff,y,model,baselines...).",
            rich_help_panel=OUTPUT,
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="With --backtest: print one JSON document.", rich_help_panel=OUTPUT)
    ] = False,
    baseline: Annotated[
        str | None,
        typer.Option(
            help="Forecast with seasonal-naive, naive or drift instead of a model (nothing is trained).",
            rich_help_panel=MODEL,
        ),
    ] = None,
    plot_history: Annotated[
        int | None,
        typer.Option(
            help="With --plot: history points drawn before the forecast [default: four horizons, at least 48].",
            rich_help_panel=OUTPUT,
        ),
    ] = None,
    allow_overlap: AllowOverlap = False,
    lookback: Lookback = None,
    quantiles: Quantiles = None,
    level: Level = None,
    season: Season = None,
    scaling: Scaling = None,
    ensemble: Ensemble = None,
    cell: Annotated[
        str | None,
        typer.Option(help="lstm, gru, rnn, rnn-relu, mingru or minlstm [default: lstm].", rich_help_panel=MODEL),
    ] = None,
    hidden_size: Annotated[
        int | None, typer.Option(help="Units of the recurrent layer [default: 64].", rich_help_panel=MODEL)
    ] = None,
    num_layers: Annotated[
        int | None, typer.Option(help="Stacked recurrent layers [default: 1].", rich_help_panel=MODEL)
    ] = None,
    steps: Annotated[
        int | None,
        typer.Option(
            help="Training budget in optimizer steps [default: 1000, with early stopping after 6 validations without improvement].",
            rich_help_panel=TRAINING,
        ),
    ] = None,
    time: Annotated[
        str | None, typer.Option(help="Wall-clock training budget (30s, 2m).", rich_help_panel=TRAINING)
    ] = None,
    lr: Annotated[
        float | None, typer.Option(help="AdamW learning rate [default: 0.003].", rich_help_panel=TRAINING)
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed [default: 1337].", rich_help_panel=TRAINING)] = None,
    device: Annotated[
        str | None, typer.Option(help="auto, cpu, cuda or mps [default: auto].", rich_help_panel=TRAINING)
    ] = None,
    freq: Freq = None,
    time_col: TimeCol = None,
    value_col: ValueCol = None,
    id_col: IdCol = None,
    missing: Missing = None,
    decimal: Decimal = None,
    thousands: Thousands = None,
    strict: SeriesStrict = None,
    out: Annotated[
        str | None,
        typer.Option(help="Keep the trained run in this folder [default: a temporary folder].", rich_help_panel=OUTPUT),
    ] = None,
    quiet: Quiet = False,
) -> None:
    """Forecast every series of a CSV, with quantiles, as tidy CSV on stdout.

    Without --model, first trains a small model on the file (1000 steps at most,
    early stopping; well under a minute on one CPU thread for a few hundred points).

    Example: rnn forecast sample_data/monthly.csv --horizon 12 > forecast.csv
    """
    from rnncli.cli.render.outputs import ForecastOutput, check_forecast_output, write_forecast
    from rnncli.tasks.forecast.predict import run_forecast

    console.set_quiet(quiet)
    output = ForecastOutput(**{name: ctx.params[name] for name in OUTPUT_OPTIONS})
    check_forecast_output(output, backtest=backtest is not None)
    with TrainProgress(console.stderr) as progress:
        result = run_forecast(forecast_request(ctx), progress.reporter())
    write_forecast(result, output)


def forecast_request(ctx: typer.Context):
    """The library's request from the command's options: what to read, train or load, and the model's options."""
    from rnncli.tasks.forecast.predict import ForecastRequest

    given = {name: ctx.params[name] for name in REQUEST_OPTIONS if name != "quiet"}
    options = options_besides(ctx, *REQUEST_OPTIONS, *OUTPUT_OPTIONS)
    return ForecastRequest(**given, command=["rnn", *sys.argv[1:]], options=options)
