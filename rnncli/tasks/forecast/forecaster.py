"""The forecasting jobs behind ``rnn train`` (CSV), ``rnn forecast`` and ``rnn eval`` (backtest).

From a read ``SeriesSet`` and settings to a trained run folder, a forecast
table or backtest figures; progress goes through a callback, nothing prints.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from rnncli.core.checkpoint import check_tensors_match, read_meta, read_tensors, resolve_checkpoint_path
from rnncli.core.errors import CheckpointError, DataError, UsageError
from rnncli.core.resume_state import TrainState, command_record
from rnncli.core.settings import TrainConfig
from rnncli.core.training import History, Trainer, TrainEvent
from rnncli.tasks.forecast.calibration import apply_calibration, check_calibration
from rnncli.tasks.forecast.config import point_forecast
from rnncli.tasks.forecast.meta_schema import check_forecaster_meta
from rnncli.tasks.forecast.model import (
    ForecastConfig,
    ForecastModel,
    apply_scaling,
    check_training_fits,
    model_inputs,
    step_index,
    undo_scaling,
)
from rnncli.tasks.forecast.series import Series, SeriesSet, describe_freq, format_time, time_grid
from rnncli.tasks.forecast.task import ForecastTask

TASK_FORECAST = "forecast"
# The budget of `rnn forecast` without --model (also the defaults of `rnn train` on a CSV).
FORECAST_TRAIN_DEFAULTS = dict(steps=1000, batch_size=64, lr=3e-3, eval_every=50, patience=6, seq_len=1)


def forecast_train_config(overrides: dict[str, Any]) -> TrainConfig:
    """The trainer's settings for a forecaster: forecasting defaults, then the user's flags."""
    cfg = TrainConfig(**FORECAST_TRAIN_DEFAULTS)
    for key, value in overrides.items():
        if value is not None:
            setattr(cfg, key, value)
    if overrides.get("epochs") is not None and overrides.get("steps") is None:
        cfg.steps = None
    cfg.validate()
    return cfg


WEEK_OF_HOURS = 168


def choose_lookback(config: ForecastConfig, data: SeriesSet, lookback: int | None) -> int:
    """--lookback, else two seasons or two horizons, whichever is longer (N-BEATS used 2-7 horizons).

    Hourly data usually has a weekly cycle besides the daily one, and
    ``--season 24,168`` names a longer season: the lookback then covers the
    longest of them when every series is long enough for it.
    """
    if lookback:
        return lookback
    chosen = max(2 * config.horizon, 2 * config.season, 8)
    hourly = data.freq in ("h", "1h", "H")
    shortest = min(len(s.values) for s in data.series)
    for longer in sorted({*config.extra_seasons, *([WEEK_OF_HOURS] if hourly else [])}, reverse=True):
        if chosen < longer and shortest >= 2 * longer + 2 * config.horizon:
            return longer
    return chosen


def check_lengths(data: SeriesSet, config: ForecastConfig, *, extra: int = 0, what: str = "train on") -> None:
    need = config.lookback + 2 * config.horizon + extra
    for series in data.series:
        if len(series.values) < need:
            raise DataError(
                f"{data.source}: series {series.id!r} has {len(series.values)} points; to {what} it with "
                f"--horizon {config.horizon} and --lookback {config.lookback} it needs at least {need} "
                f"(lookback + horizon for a training window + horizon held out for validation"
                + (f" + {extra} backtest points" if extra else "")
                + "); use a shorter --lookback or --horizon"
            )


def choose_scaling(data: SeriesSet, scaling: str | None) -> str:
    if scaling == "log" and any((s.values <= 0).any() for s in data.series):
        zeros_only = all((s.values >= 0).all() for s in data.series)
        hint = "; --scaling log1p takes log(1 + x), which handles zeros" if zeros_only else ""
        raise UsageError(f"--scaling log needs positive values; some series hold zeros or negatives{hint}")
    if scaling == "log1p" and any((s.values < 0).any() for s in data.series):
        raise UsageError("--scaling log1p needs values of 0 or more; some series hold negatives")
    return scaling or "standard"


def never_negative(data: SeriesSet) -> bool:
    """True when no series of the training history goes below 0 (counts, sales): forecasts are then clipped at 0."""
    return all((s.values >= 0).all() for s in data.series)


def series_meta(data: SeriesSet, config: ForecastConfig, held_out: int = 0) -> dict[str, Any]:
    """What forecasting needs without the file: ids, last times and the last context of each series.

    ``last_time`` is the last training timestamp of each series (what backtests check overlap against);
    ``held_out`` the points a backtest cut from the end of each series of the file before training.
    """
    return {
        "held_out": held_out,
        "freq": data.freq,
        "time_format": data.time_format,
        "layout": data.layout,
        "columns": data.columns,  # the roles of the CSV's columns (time, id, value), used again on new files
        "source": data.source,
        "ids": [s.id for s in data.series],
        "last_time": [_stamp_to_json(time_grid(s.start, len(s.values), data.freq)[-1]) for s in data.series],
        "length": [len(s.values) for s in data.series],
        "context": [s.values[-config.lookback :].tolist() for s in data.series],
    }


def _stamp_to_json(stamp) -> Any:
    return int(stamp) if isinstance(stamp, (int, np.integer)) else pd.Timestamp(stamp).isoformat()


def train_forecaster(
    data: SeriesSet,
    config: ForecastConfig,
    cfg: TrainConfig,
    *,
    out_dir: Path,
    on_event: Callable[[TrainEvent], None] | None = None,
    command: list[str] | None = None,
    resume: TrainState | None = None,
    held_out: int = 0,
) -> History:
    """Train a global forecaster on every series of ``data`` and write its run folder.

    With ``resume`` (the run's saved state) training continues exactly where it stopped.
    """
    import dataclasses

    from rnncli.core.checkpoint import versions
    from rnncli.core.devices import resolve_device

    config.validate()
    check_lengths(data, config)
    torch.manual_seed(cfg.seed)
    arrays = [apply_scaling(s.values, config.scaling) for s in data.series]
    starts = [step_index(s.start, data.freq) for s in data.series]
    task = ForecastTask(arrays, starts, config, batch_size=cfg.batch_size, seed=cfg.seed)
    check_training_fits(config, batch_size=cfg.batch_size)
    settings = {"model": config.to_dict(), "train": dataclasses.asdict(cfg)}
    meta = {
        "task": TASK_FORECAST,
        **settings,
        "series": series_meta(data, config, held_out),
        "versions": versions(),
        **command_record(command if command is not None else sys.argv, resume),
    }
    trainer = Trainer(
        ForecastModel(config),
        task,
        cfg,
        out_dir=out_dir,
        meta=meta,
        config=settings,
        device=resolve_device(cfg.device),
        on_event=on_event,
    )
    if resume is not None:
        trainer.restore(resume)
    return trainer.fit()


# --- loading ---------------------------------------------------------------------------


@dataclass
class Forecaster:
    """A trained forecaster and the history it remembers."""

    path: Path
    model: ForecastModel
    config: ForecastConfig
    meta: dict[str, Any]

    def remembered(self) -> SeriesSet:
        """The last context window of every training series, as a SeriesSet."""
        info = self.meta["series"]
        freq, series = info["freq"], []
        for sid, last, context in zip(info["ids"], info["last_time"], info["context"], strict=False):
            values = np.asarray(context, dtype=np.float64)
            start = _first_time(last, len(values), freq)
            series.append(Series(id=sid, values=values, start=start))
        return SeriesSet(
            series=series,
            freq=freq,
            time_format=info.get("time_format"),
            source=str(self.path),
            layout=info.get("layout", "wide"),
            columns=info.get("columns") or {},  # runs saved before the roles were kept have none
        )


def _first_time(last, count: int, freq: str):
    if freq.startswith("step:"):
        return int(last) - int(freq[5:]) * (count - 1)
    offset = pd.tseries.frequencies.to_offset(freq)
    return pd.Timestamp(last) - (count - 1) * offset


def is_forecast_checkpoint(path: str | Path) -> bool:
    try:
        return read_meta(resolve_checkpoint_path(path)).get("task") == TASK_FORECAST
    except CheckpointError:
        return False


def load_forecaster(path: str | Path) -> Forecaster:
    """Load and validate a forecasting checkpoint (safetensors only; nothing unpickled)."""
    path = resolve_checkpoint_path(path)
    meta = read_meta(path)
    config = validate_forecaster_layout(path, meta)
    model = ForecastModel(config)
    model.load_state_dict(read_tensors(path))
    model.eval()
    return Forecaster(path=path, model=model, config=config, meta=meta)


def validate_forecaster_layout(path: Path, meta: dict[str, Any]) -> ForecastConfig:
    """Check a forecaster's metadata and tensor table against each other, weights unread.

    As the language model's ``validate_layout``: sizes are checked
    before anything is allocated, and a truncated or doctored file is refused.
    Pops ``_tensors`` and ``_data_bytes`` from ``meta``.
    """
    if meta.get("task") != TASK_FORECAST:
        raise CheckpointError(
            f"{path}: not a forecasting model (task {meta.get('task')!r}); "
            "train one with: rnn train series.csv --horizon 12"
        )
    check_forecaster_meta(path, meta)
    try:
        config = ForecastConfig(**meta["model"])
        config.validate(where=f"{path}: model")
        check_calibration(meta.get("calibration"), config.quantiles)
    except (KeyError, TypeError, ValueError, UsageError) as exc:
        raise CheckpointError(f"{path}: the forecasting metadata is damaged ({exc})") from None
    check_tensors_match(path, meta, lambda: ForecastModel(config))
    return config


# --- forecasting -----------------------------------------------------------------------


def predict_windows(
    forecaster: Forecaster, contexts: np.ndarray, starts: np.ndarray, *, calibrated: bool = True
) -> np.ndarray:
    """Quantiles in original units for context windows (N, L) whose first points sit at ``starts``:
    widened by the checkpoint's calibration (when it has one), then kept at 0 or above for data that never
    went negative. ``calibrated=False``: the model's raw quantiles, neither widened nor clipped."""
    config = forecaster.config
    values = torch.as_tensor(apply_scaling(contexts, config.scaling), dtype=torch.float32)
    positions = torch.as_tensor(starts, dtype=torch.long).unsqueeze(1) + torch.arange(config.lookback)
    x, loc, scale = model_inputs(values, positions, config.seasons)
    scaled = forecaster.model.predict(x)  # (N, H, Q)
    out = scaled * scale.unsqueeze(-1) + loc.unsqueeze(-1)
    values = undo_scaling(out.double().numpy(), config.scaling)
    if not calibrated:
        return values  # the model's own quantiles: what the calibration is fitted on
    values = apply_calibration(values, forecaster.meta.get("calibration"), config.quantiles)
    return np.maximum(values, 0.0) if config.nonnegative else values  # calibrated first, then kept at 0 or above


def forecast(forecaster: Forecaster, data: SeriesSet | None = None) -> list[dict[str, Any]]:
    """One record per series and future step: id, timestamp, the median (the point forecast) and the quantiles."""
    data = data or forecaster.remembered()
    config = forecaster.config
    if data.freq != forecaster.meta["series"]["freq"]:
        raise DataError(
            f"{data.source}: the data is {describe_freq(data.freq)} but the model was trained on "
            f"{describe_freq(forecaster.meta['series']['freq'])} data"
        )
    short = [s.id for s in data.series if len(s.values) < config.lookback]
    if short:
        raise DataError(
            f"{data.source}: series {short[0]!r} has fewer than the {config.lookback} points of context the model reads"
        )
    contexts = np.stack([s.values[-config.lookback :] for s in data.series])
    starts = np.array([step_index(s.start, data.freq) + len(s.values) - config.lookback for s in data.series])
    quantiles = predict_windows(forecaster, contexts, starts)  # (S, H, Q)
    _check_finite(quantiles, data)
    points = point_forecast(quantiles, config.quantiles)  # (S, H): the median, what backtests score
    records = []
    for series, q, point in zip(data.series, quantiles, points, strict=False):
        future = time_grid(series.start, len(series.values) + config.horizon, data.freq)[len(series.values) :]
        for step, stamp in enumerate(future):
            record = {"id": series.id, "timestamp": format_time(stamp, data.time_format), "median": float(point[step])}
            record.update({f"q{_label(level)}": float(q[step, j]) for j, level in enumerate(config.quantiles)})
            records.append(record)
    return records


def _check_finite(quantiles: np.ndarray, data: SeriesSet) -> None:
    """A forecast that overflowed (values too large for the model's scaling) is an error, never ``nan`` rows."""
    bad = ~np.isfinite(quantiles).reshape(len(quantiles), -1).all(axis=1)
    if bad.any():
        sid = data.series[int(np.argmax(bad))].id
        raise DataError(
            f"{data.source}: the forecast of series {sid!r} is not a finite number "
            "(its values overflow the model's scaling); check the series' values"
        )


def _label(level: float) -> str:
    return f"{level:g}"
