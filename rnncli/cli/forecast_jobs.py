"""The CLI side of forecasting: reading the file, training with the progress bar, printing results.

``cli.py`` declares the options of ``rnn forecast`` (and the CSV route of
``rnn train`` and ``rnn eval``) and hands them here; the computing is in
``forecasting.py`` and ``backtest.py``. This module writes results to stdout
and messages to stderr, as the CLI layer may.
"""

from __future__ import annotations

import csv
import json
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnncli.cli import console
from rnncli.core.errors import UsageError
from rnncli.tasks.forecast.config import ForecastConfig, parse_quantiles
from rnncli.tasks.forecast.series import SeriesSet, describe_freq, read_series

# torch (forecasting, training) is imported inside the functions that need it, after the flags are
# checked and the CSV is read: a bad file or flag is reported in about a second, not five.
if TYPE_CHECKING:
    from rnncli.tasks.forecast.forecaster import Forecaster

OUTPUT_FORMATS = ("csv", "jsonl")


@dataclass
class SeriesOptions:
    """How to read a CSV: columns, frequency, missing values."""

    time_col: str | None = None
    value_col: str | None = None
    id_col: str | None = None
    freq: str | None = None
    missing: str = "interpolate"


@dataclass
class ModelOptions:
    """What to train: the forecaster's shape and the trainer's budget (None: defaults)."""

    horizon: int | None = None
    lookback: int | None = None
    quantiles: str | None = None
    season: int | None = None
    scaling: str | None = None
    ensemble: int | None = None
    cell: str | None = None
    hidden_size: int | None = None
    num_layers: int | None = None
    dropout: float | None = None
    train: dict[str, Any] | None = None  # TrainConfig overrides (steps, lr, seed, device, ...)


def load_series(data: str, options: SeriesOptions, *, freq: str | None = None) -> SeriesSet:
    """Read the CSV, report what was found, and warn about every filled gap."""
    series = read_series(data, time_col=options.time_col, value_col=options.value_col, id_col=options.id_col,
                         freq=options.freq or freq, missing=options.missing)
    for note in series.warnings:
        console.warn(note)
    lengths = [len(s.values) for s in series.series]
    span = f"{min(lengths)}" if min(lengths) == max(lengths) else f"{min(lengths)} to {max(lengths)}"
    console.info(f"{series.source}: {len(lengths)} series ({series.layout} layout), {span} points each, "
                 f"{describe_freq(series.freq)}")
    return series


def check_options(options: ModelOptions) -> ForecastConfig:
    """The flags that need no data, checked before the CSV is read (a bad flag is reported first)."""
    if options.horizon is None:
        raise UsageError("--horizon is required to train a forecaster: how many steps ahead to forecast")
    config = ForecastConfig(horizon=options.horizon)
    for name in ("cell", "hidden_size", "num_layers", "dropout", "ensemble"):
        if getattr(options, name) is not None:
            setattr(config, name, getattr(options, name))
    if options.quantiles is not None:
        config.quantiles = parse_quantiles(options.quantiles)
    config.validate()
    return config


def build_config(series: SeriesSet, options: ModelOptions) -> ForecastConfig:
    from rnncli.tasks.forecast.forecaster import choose_lookback, choose_scaling, choose_season

    config = check_options(options)
    config.season = choose_season(series, options.season)
    config.lookback = choose_lookback(config, series, options.lookback)
    config.scaling = choose_scaling(series, options.scaling)
    config.validate()
    how = "given" if options.season is not None else "detected by autocorrelation" if config.season > 1 else \
        "none detected"
    console.info(f"season {config.season} ({how}), lookback {config.lookback}, horizon {config.horizon}, "
                 f"quantiles {','.join(f'{q:g}' for q in config.quantiles)}, scaling {config.scaling}")
    return config


def train(series: SeriesSet, options: ModelOptions, *, out_dir: Path) -> Forecaster:
    """Train with the shared trainer and progress bar; return the best weights (early stopping)."""
    from rnncli.cli.progress import TrainProgress
    from rnncli.core.training import TrainingInterrupted
    from rnncli.tasks.forecast.forecaster import check_lengths, forecast_train_config, load_forecaster, train_forecaster

    config = build_config(series, options)
    check_lengths(series, config)
    cfg = forecast_train_config(options.train or {})
    with TrainProgress(console.stderr, unit="points/s") as progress:
        try:
            history = train_forecaster(series, config, cfg, out_dir=out_dir, on_event=progress.update,
                                       command=["rnn", *sys.argv[1:]])
        except TrainingInterrupted as exc:
            progress.stop()
            raise TrainingInterrupted(f"interrupted at step {exc.step}; resume with: "
                                      f"rnn train --resume {out_dir}", step=exc.step) from None
    why = {"time": "the --time budget is spent; ", "patience": "validation stopped improving; "}
    console.info(f"{why.get(history.stop_reason or '', '')}best validation pinball loss "
                 f"{history.best_val_loss:.4f} at step {history.best_step} of {history.step}")
    return load_forecaster(out_dir)


def held_out(series: SeriesSet, points: int) -> SeriesSet:
    """The series without their last ``points`` (what a backtest's model may be trained on)."""
    cut = [replace(s, values=s.values[:-points]) for s in series.series]
    return replace(series, series=cut, warnings=[])


def run_forecast(data: str | None, *, model: str | None, series_options: SeriesOptions,
                 model_options: ModelOptions, out: str | None, output_format: str, plot: str | None,
                 backtest_windows: int | None, as_json: bool) -> None:
    """``rnn forecast``: train (or load), then forecast or backtest, and print."""
    if output_format not in OUTPUT_FORMATS:
        raise UsageError(f"--format: unknown value '{output_format}' (choose one of: {', '.join(OUTPUT_FORMATS)})")
    if backtest_windows is not None and backtest_windows < 1:
        raise UsageError(f"--backtest must be 1 or more windows, got {backtest_windows}")
    if model is None and data is None:
        raise UsageError("give a CSV file (or - for stdin) to train on, or --model CKPT")
    if plot is not None:
        from rnncli.cli.forecast_plot import require_matplotlib

        require_matplotlib()
    if model is None:
        check_options(model_options)
    series = load_series(data, series_options) if data is not None and model is None else None
    from rnncli.core.training import TrainingInterrupted
    from rnncli.tasks.forecast.forecaster import forecast, load_forecaster

    forecaster = load_forecaster(model) if model is not None else None
    saved_freq = forecaster.meta["series"]["freq"] if forecaster else None
    if forecaster is not None and data is not None:
        series = load_series(data, series_options, freq=saved_freq)
    if forecaster is None:
        horizon = model_options.horizon
        holdout = backtest_windows * horizon if backtest_windows and horizon else 0
        if holdout:
            console.info(f"training on all but the last {backtest_windows} x {horizon} points of each series, "
                         "which the backtest forecasts")
        with _run_folder(out) as folder:
            try:
                forecaster = train(held_out(series, holdout) if holdout else series, model_options, out_dir=folder)
            except TrainingInterrupted as exc:
                if out is not None:
                    raise
                raise TrainingInterrupted(f"interrupted at step {exc.step}; nothing kept (give --out to keep "
                                          "a run that can be resumed)", step=exc.step) from None
    if backtest_windows is not None:
        if series is None:
            raise UsageError("--backtest needs the CSV file to compare the forecasts with")
        print_backtest(forecaster, series, windows=backtest_windows, as_json=as_json)
        return
    records = forecast(forecaster, series)
    write_records(records, output_format)
    if plot is not None:
        from rnncli.cli.forecast_plot import plot_forecast

        plot_forecast(series or forecaster.remembered(), records, forecaster.config.quantiles, path=plot)
        console.info(f"wrote {plot}")


class _run_folder:
    """``--out`` when given (kept), else a temporary folder removed afterwards."""

    def __init__(self, out: str | None):
        self.out, self._tmp = out, None

    def __enter__(self) -> Path:
        if self.out is not None:
            from rnncli.core.runs import choose_run_dir

            folder, _ = choose_run_dir(self.out, self.out, force=False)
            return folder
        self._tmp = tempfile.TemporaryDirectory(prefix="rnn-forecast-")
        return Path(self._tmp.name)

    def __exit__(self, *exc) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()


def write_records(records: list[dict[str, Any]], output_format: str) -> None:
    out = sys.stdout
    if output_format == "jsonl":
        for record in records:
            out.write(json.dumps(record) + "\n")
    else:
        writer = csv.DictWriter(out, fieldnames=list(records[0]), lineterminator="\n")
        writer.writeheader()
        for record in records:
            writer.writerow({k: f"{v:.6g}" if isinstance(v, float) else v for k, v in record.items()})
    out.flush()


def print_backtest(forecaster: Forecaster, series: SeriesSet, *, windows: int, as_json: bool) -> None:
    from rnncli.tasks.forecast.backtest import backtest

    result = backtest(forecaster, series, windows=windows)
    if result["overlaps_training"]:
        console.warn("the model was trained on some of these windows; the figures are optimistic "
                      "(rnn forecast FILE --backtest N trains without them)")
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return
    write_backtest_table(result)


def write_backtest_table(result: dict[str, Any]) -> None:
    lines = [f"backtest: {result['series']} series x {result['windows']} window(s) of {result['horizon']} steps "
             f"(lookback {result['lookback']}, season {result['season']})",
             f"{'method':<16}{'MAE':>12}{'RMSE':>12}{'sMAPE':>9}{'MASE':>9}"]
    for name, m in result["metrics"].items():
        lines.append(f"{name:<16}{m['mae']:>12.4g}{m['rmse']:>12.4g}{m['smape']:>9.2f}{m['mase']:>9.3f}")
    for nominal, share in result["coverage"].items():
        lines.append(f"coverage of the {float(nominal):.0%} interval: {share:.1%}")
    relative = result["mase_vs_seasonal_naive"]
    lines.append(f"model MASE / seasonal naive MASE: {relative:.3f}")
    if not result["beats_seasonal_naive"]:
        lines.append("the model does NOT beat seasonal naive on this data: use seasonal naive, or train longer "
                     "or with more data")
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def run_train(data: str, *, series_options: SeriesOptions, model_options: ModelOptions, out_dir: Path) -> None:
    """``rnn train series.csv``: train and save a self-describing forecasting run."""
    check_options(model_options)
    series = load_series(data, series_options)
    forecaster = train(series, model_options, out_dir=out_dir)
    console.info(f"saved {out_dir}/ ({len(series.series)} series, horizon {forecaster.config.horizon}); "
                 f"try: rnn forecast --model {out_dir}")


def run_eval(checkpoint: str, data: str, *, windows: int, as_json: bool, series_options: SeriesOptions) -> None:
    """``rnn eval CKPT series.csv``: a rolling-origin backtest without retraining."""
    from rnncli.tasks.forecast.forecaster import load_forecaster

    forecaster = load_forecaster(checkpoint)
    series = load_series(data, series_options, freq=forecaster.meta["series"]["freq"])
    print_backtest(forecaster, series, windows=windows, as_json=as_json)


RESUMABLE = ("steps", "epochs", "time", "eval_every", "patience", "keep", "device", "precision", "tensorboard")


def is_forecast_run(folder: Path) -> bool:
    """Whether ``rnn train --resume FOLDER`` continues a forecasting run."""
    from rnncli.core.resume_state import STATE_FILE, load_train_state

    path = Path(folder) / STATE_FILE
    return path.is_file() and load_train_state(path).meta.get("checkpoint", {}).get("task") == "forecast"


def run_resume(folder: Path, data: str | None, *, train_overrides: dict[str, Any],
               series_options: SeriesOptions) -> None:
    """``rnn train --resume RUN`` for a forecaster: the saved settings, the same series, more budget."""
    import dataclasses

    from rnncli.core.resume_state import STATE_FILE, load_train_state
    from rnncli.core.settings import TrainConfig
    from rnncli.tasks.forecast.forecaster import train_forecaster

    state = load_train_state(Path(folder) / STATE_FILE)
    saved = state.meta["checkpoint"]
    changed = [k for k, v in train_overrides.items() if v is not None and k not in RESUMABLE
               and v != saved["train"].get(k)]
    if changed:
        raise UsageError(f"--{changed[0].replace('_', '-')} cannot change when resuming; leave it out")
    cfg = dataclasses.replace(TrainConfig(**saved["train"]),
                              **{k: v for k, v in train_overrides.items() if v is not None})
    cfg.validate()
    data = data or saved["series"]["source"]
    if data == "-":
        raise UsageError(f"--resume {folder}: the run read its CSV from stdin; give DATA (- for stdin) again")
    series = load_series(data, series_options, freq=saved["series"]["freq"])
    same = [s.id for s in series.series] == saved["series"]["ids"] and \
        [len(s.values) for s in series.series] == saved["series"]["length"]
    if not same:
        raise UsageError(f"{data}: not the series this run was trained on (ids or lengths differ); "
                         "resume with the same file")
    config = ForecastConfig(**saved["model"])
    from rnncli.cli.progress import TrainProgress

    with TrainProgress(console.stderr, unit="points/s") as progress:
        history = train_forecaster(series, config, cfg, out_dir=Path(folder), on_event=progress.update,
                                   command=["rnn", *sys.argv[1:]], resume=state)
    console.info(f"saved {folder}/ (best validation pinball loss {history.best_val_loss:.4f} "
                 f"at step {history.best_step} of {history.step})")

