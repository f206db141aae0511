"""rnn forecast: quantile forecasts for every series of a CSV, beside their baselines."""

from __future__ import annotations

from typing import Annotated

import typer

from rnncli.cli import console
from rnncli.cli.failures import user_errors
from rnncli.cli.options import Quiet


@user_errors
def forecast(
    data: Annotated[str | None, typer.Argument(help="A CSV of time series (wide or long), or - for stdin; with --model, the latest history (optional).")] = None,
    horizon: Annotated[int | None, typer.Option(help="Steps ahead to forecast (required unless --model).")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Forecast with this trained run or checkpoint instead of training.")] = None,
    output_format: Annotated[str, typer.Option("--format", help="csv or jsonl.")] = "csv",
    plot: Annotated[str | None, typer.Option(help="Also draw history, forecast and interval to this PNG (needs matplotlib: pip install rnncli[plot]).")] = None,
    backtest: Annotated[int | None, typer.Option(help="Instead of forecasting: train without the last N horizons of each series and backtest on them.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="With --backtest: print one JSON document.")] = False,
    lookback: Annotated[int | None, typer.Option(help="Context steps the model reads [default: max(2 x horizon, 2 x season, 8); a week for long hourly series].")] = None,
    quantiles: Annotated[str | None, typer.Option(help="Quantiles to forecast [default: 0.1,0.5,0.9].")] = None,
    season: Annotated[int | None, typer.Option(help="Seasonal period in steps [default: detected by autocorrelation].")] = None,
    scaling: Annotated[str | None, typer.Option(help="standard, or log for positive multiplicative data [default: standard].")] = None,
    ensemble: Annotated[int | None, typer.Option(help="Models trained side by side, median taken [default: 1].")] = None,
    cell: Annotated[str | None, typer.Option(help="lstm, gru, rnn or rnn-relu [default: lstm].")] = None,
    hidden_size: Annotated[int | None, typer.Option(help="Units of the recurrent layer [default: 64].")] = None,
    num_layers: Annotated[int | None, typer.Option(help="Stacked recurrent layers [default: 1].")] = None,
    steps: Annotated[int | None, typer.Option(help="Training budget in optimizer steps [default: 1000, with early stopping after 6 validations without improvement].")] = None,
    time_budget: Annotated[str | None, typer.Option("--time", help="Wall-clock training budget (30s, 2m).")] = None,
    lr: Annotated[float | None, typer.Option(help="AdamW learning rate [default: 0.003].")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed [default: 1337].")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda or mps [default: auto].")] = None,
    freq: Annotated[str | None, typer.Option(help="pandas frequency (h, D, W, MS, QS, YS, 15min...) [default: inferred].")] = None,
    time_col: Annotated[str | None, typer.Option(help="The time column [default: from the header; none = integer index].")] = None,
    value_col: Annotated[str | None, typer.Option(help="The value column of a long file [default: from the header].")] = None,
    id_col: Annotated[str | None, typer.Option(help="The series id column of a long file [default: from the header].")] = None,
    missing: Annotated[str, typer.Option(help="interpolate gaps and empty cells (with a warning) or error.")] = "interpolate",
    out: Annotated[str | None, typer.Option(help="Keep the trained run in this folder [default: a temporary folder].")] = None,
    quiet: Quiet = False,
) -> None:
    """Forecast every series of a CSV, with quantiles, as tidy CSV on stdout.

    Without --model, first trains a small model on the file (1000 steps at most,
    early stopping; well under a minute on one CPU thread for a few hundred points).

    Example: rnn forecast sample_data/monthly.csv --horizon 12 > forecast.csv
    """
    from rnncli.cli.forecast_jobs import ModelOptions, SeriesOptions, run_forecast

    console.set_quiet(quiet)
    train_overrides = dict(steps=steps, time=time_budget, lr=lr, seed=seed, device=device)
    run_forecast(data, model=model, out=out, output_format=output_format, plot=plot,
                 backtest_windows=backtest, as_json=as_json,
                 series_options=SeriesOptions(time_col=time_col, value_col=value_col, id_col=id_col,
                                              freq=freq, missing=missing),
                 model_options=ModelOptions(horizon=horizon, lookback=lookback, quantiles=quantiles,
                                            season=season, scaling=scaling, ensemble=ensemble, cell=cell,
                                            hidden_size=hidden_size, num_layers=num_layers, train=train_overrides))
