"""A forecasting run for ``rnn train`` (and the training inside ``rnn forecast``): series read, model trained.

``train`` starts a run on a CSV, ``resume`` continues one on the same series;
both report through the command's ``Reporter`` and never print.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnncli.core.errors import UsageError
from rnncli.tasks.forecast.config import ForecastConfig, parse_quantiles
from rnncli.tasks.forecast.options import ForecastSettings, SeriesOptions
from rnncli.tasks.forecast.seasons import choose_seasons, natural_seasons
from rnncli.tasks.forecast.series import SeriesSet, describe_freq, describe_roles, read_series
from rnncli.tasks.requests import Reporter, TrainRequest
from rnncli.tasks.resuming import SavedRun, interrupts_explained

# torch (the trainer, the model) is imported inside the functions that train, after the options are
# checked and the CSV is read: a bad file or flag is reported in about a second, not five.
if TYPE_CHECKING:
    from rnncli.core.training import History
    from rnncli.tasks.forecast.forecaster import Forecaster

THROUGHPUT_UNIT = "points/s"
STOP_REASONS = {"time": "the --time budget is spent; ", "patience": "validation stopped improving; "}


def train(request: TrainRequest, reporter: Reporter) -> History:
    """``rnn train series.csv``: train and save a self-describing forecasting run."""
    data = _one_file(request.data)
    settings = ForecastSettings.resolve(request.options, request.config)
    if data is None:
        raise UsageError("missing DATA: give a CSV file (or - for stdin)")
    out_dir = request.fresh_folder(reporter)
    settings.checked_config()  # before the CSV is read: a bad flag is reported first
    series = load_series(data, settings.series, reporter)
    request.announce_folder(reporter)
    forecaster, history = train_series(series, settings, out_dir=out_dir, command=request.command, reporter=reporter)
    reporter.info(
        f"saved {out_dir}/ ({len(series.series)} series, horizon {forecaster.config.horizon}); "
        f"try: rnn forecast --model {out_dir}"
    )
    return history


def resume(request: TrainRequest, saved: SavedRun, reporter: Reporter) -> History:
    """``rnn train --resume RUN`` for a forecaster: the saved settings, the same series, more budget."""
    from rnncli.tasks.forecast.forecaster import train_forecaster

    settings = ForecastSettings.resolve(request.options, request.config)
    config, cfg = settings.resumed(saved.meta)
    info = saved.meta["series"]
    data = _one_file(saved.inputs(request.data, [info.get("source")], what="CSV"))
    series = load_series(data, settings.series, reporter, model=info)
    same = [s.id for s in series.series] == info["ids"] and [len(s.values) for s in series.series] == info["length"]
    if not same:
        raise UsageError(
            f"{data}: not the series this run was trained on (ids or lengths differ); resume with the same file"
        )
    saved.say_resuming(reporter, cfg.steps)
    with interrupts_explained(saved.folder):
        history = train_forecaster(
            series,
            config,
            cfg,
            out_dir=saved.folder,
            on_event=reporter.events(THROUGHPUT_UNIT),
            command=request.command,
            resume=saved.state,
        )
    calibrate_run(saved.folder, series, reporter)
    reporter.info(
        f"saved {saved.folder}/ (best validation pinball loss {history.best_val_loss:.4f} "
        f"at step {history.best_step} of {history.step})"
    )
    return history


def train_series(
    series: SeriesSet,
    settings: ForecastSettings,
    *,
    out_dir: Path,
    command: list[str],
    reporter: Reporter,
    kept: bool = True,
    held_out: int = 0,
) -> tuple[Forecaster, History]:
    """Train with the shared trainer; return the best weights (early stopping) and the history.

    ``held_out``: the points cut from the end of every series for a backtest (recorded in the run).
    """
    from rnncli.tasks.forecast.forecaster import (
        FORECAST_TRAIN_DEFAULTS,
        check_lengths,
        train_forecaster,
    )

    config = build_config(series, settings, Reporter())  # a first look, to know which series are long enough
    need = config.lookback + 2 * config.horizon
    series = leave_out_short(series, need, strict=settings.series.strict, reporter=reporter, why=TRAIN_NEEDS)
    config = build_config(series, settings, reporter)
    check_lengths(series, config)
    cfg = settings.train_config(FORECAST_TRAIN_DEFAULTS)
    with interrupts_explained(out_dir, kept=kept):
        history = train_forecaster(
            series,
            config,
            cfg,
            out_dir=out_dir,
            on_event=reporter.events(THROUGHPUT_UNIT),
            command=command,
            held_out=held_out,
        )
    reporter.info(
        f"{STOP_REASONS.get(history.stop_reason or '', '')}best validation pinball loss "
        f"{history.best_val_loss:.4f} at step {history.best_step} of {history.step}"
    )
    return calibrate_run(out_dir, series, reporter), history


def calibrate_run(out_dir: Path, series: SeriesSet, reporter: Reporter) -> Forecaster:
    """Calibrate the saved best model's quantiles on its validation windows and store the factors in it."""
    from rnncli.core.checkpoint import save_checkpoint
    from rnncli.tasks.forecast.backtest import interval_pairs
    from rnncli.tasks.forecast.calibration import METHOD, apply_calibration, calibration_factors, validation_windows
    from rnncli.tasks.forecast.forecaster import load_forecaster, predict_windows
    from rnncli.tasks.forecast.model import step_index

    forecaster = load_forecaster(out_dir)
    config = forecaster.config
    arrays, starts = [s.values for s in series.series], [step_index(s.start, series.freq) for s in series.series]
    contexts, positions, actual = validation_windows(arrays, starts, lookback=config.lookback, horizon=config.horizon)
    raw = predict_windows(forecaster, contexts, positions, calibrated=False)
    factors = calibration_factors(config.quantiles, raw, actual)
    forecaster.meta["calibration"] = {"method": METHOD, "factors": factors, "points": int(actual.size)}
    save_checkpoint(forecaster.path, forecaster.model, forecaster.meta)
    pairs = interval_pairs(config.quantiles)
    if pairs:
        low, high, nominal = pairs[0]
        calibrated = apply_calibration(raw, forecaster.meta["calibration"], config.quantiles)
        before, after = (float(((actual >= q[..., low]) & (actual <= q[..., high])).mean()) for q in (raw, calibrated))
        reporter.info(
            f"intervals calibrated on the validation windows ({actual.size} points): the {nominal:.0%} interval "
            f"covered {before:.0%} of them before, {after:.0%} after"
        )
    return forecaster


TRAIN_NEEDS = "a training window and the held-out validation horizon need (lookback + 2 x horizon)"


def leave_out_short(data: SeriesSet, need: int, *, strict: bool, reporter: Reporter, why: str) -> SeriesSet:
    """The series without those shorter than ``need`` points, each named in a warning.

    With --strict, or when every series is too short, nothing is left out: the caller's own check
    then refuses the file, naming the first short series.
    """
    short = [s for s in data.series if len(s.values) < need]
    if not short or strict or len(short) == len(data.series):
        return data
    for series in short:
        reporter.warn(
            f"{data.source}: series {series.id!r} has {len(series.values)} points, fewer than the {need} {why}; "
            "left out (--strict refuses the file instead)"
        )
    return replace(data, series=[s for s in data.series if len(s.values) >= need])


def build_config(series: SeriesSet, settings: ForecastSettings, reporter: Reporter) -> ForecastConfig:
    """The options, and what the data decides: the season, the lookback and the scaling."""
    from rnncli.tasks.forecast.forecaster import choose_lookback, choose_scaling, never_negative

    options = settings.model
    config = settings.checked_config()
    seasons = settings.seasons() or choose_seasons([s.values for s in series.series], series.freq)
    config.season, *config.extra_seasons = seasons
    config.lookback = choose_lookback(config, series, options.lookback)
    config.scaling = choose_scaling(series, options.scaling)
    config.nonnegative = never_negative(series)
    with settings.chosen.blaming_the_file():
        config.validate()
    _describe(config, options, series.freq, reporter)
    return config


def _describe(config: ForecastConfig, options, freq: str, reporter: Reporter) -> None:
    """What was chosen, and why: the season given or detected, the quantiles (0.5 always among them)."""
    if options.season is not None:
        how = "given"
    elif config.season in natural_seasons(freq):
        how = "the calendar's period, seen in the data"
    else:
        how = "the autocorrelation peak" if config.season > 1 else "none detected"
    shown = ",".join(str(m) for m in config.seasons)
    asked = parse_quantiles(options.quantiles) if options.quantiles is not None else config.quantiles
    added = "" if 0.5 in asked else " (0.5 added: the median is the point forecast)"
    reporter.info(
        f"season {shown} ({how}), lookback {config.lookback}, horizon {config.horizon}, "
        f"quantiles {','.join(f'{q:g}' for q in config.quantiles)}{added}, scaling {config.scaling}"
        + (", forecasts kept at 0 or above (no series goes below 0)" if config.nonnegative else "")
    )


def load_series(
    data: str, options: SeriesOptions, reporter: Reporter, *, model: dict[str, Any] | None = None
) -> SeriesSet:
    """Read the CSV, report what was found (and how), and warn about every filled gap.

    ``model`` is the series section of a trained model's checkpoint: the file must have its frequency,
    and the column roles it remembers are used where the flags say nothing.
    """
    model = model or {}
    series = read_series(
        data,
        time_col=options.time_col,
        value_col=options.value_col,
        id_col=options.id_col,
        freq=options.freq,
        missing=options.missing,
        decimal=options.decimal,
        thousands=options.thousands,
        model_freq=model.get("freq"),
        remembered=model.get("columns"),
    )
    for note in series.notes:
        reporter.info(note)
    for note in series.warnings:
        reporter.warn(note)
    lengths = [len(s.values) for s in series.series]
    span = f"{min(lengths)}" if min(lengths) == max(lengths) else f"{min(lengths)} to {max(lengths)}"
    reporter.info(
        f"{series.source}: {len(lengths)} series ({series.layout} layout: {describe_roles(series.columns)}), "
        f"{span} points each, {describe_freq(series.freq)}"
    )
    return series


def _one_file(data: list[str]) -> str | None:
    if len(data) > 1:
        raise UsageError("a forecaster trains on one CSV file; give one DATA")
    return data[0] if data else None
