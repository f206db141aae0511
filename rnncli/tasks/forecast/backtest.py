"""Rolling-origin backtest of a forecaster against the naive baselines, without retraining.

The origins are the last ``windows`` non-overlapping horizons of every series
(the last one ends at the series' end). Every (series, origin) context is
forecast in one batch. Metrics follow the M4 competition's definitions:
MASE is scaled by the in-sample seasonal naive error before the origin,
sMAPE is 200|y-f|/(|y|+|f|); figures are averaged per series, then over series.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from rnncli.core.errors import DataError
from rnncli.tasks.forecast.config import point_forecast
from rnncli.tasks.forecast.forecaster import Forecaster, predict_windows
from rnncli.tasks.forecast.model import step_index
from rnncli.tasks.forecast.series import SeriesSet, format_time, time_grid

METHODS = ("model", "naive", "seasonal_naive", "drift")


def origins(length: int, *, horizon: int, windows: int) -> list[int]:
    return [length - k * horizon for k in range(windows, 0, -1)]


def baselines(history: np.ndarray, *, horizon: int, season: int) -> dict[str, np.ndarray]:
    """Naive (last value), seasonal naive (the last season repeated) and drift (first-to-last slope)."""
    last = history[-1]
    steps = np.arange(1, horizon + 1)
    period = season if season > 1 and len(history) >= season else 1
    seasonal = history[-period:][(steps - 1) % period]
    slope = (history[-1] - history[0]) / max(len(history) - 1, 1)
    return {"naive": np.full(horizon, last), "seasonal_naive": seasonal, "drift": last + slope * steps}


def mase_scale(history: np.ndarray, season: int) -> float:
    """Mean absolute error of the in-sample seasonal naive forecast (lag ``season``; 1 without one)."""
    lag = season if season > 1 and len(history) > season else 1
    errors = np.abs(history[lag:] - history[:-lag])
    scale = float(errors.mean()) if len(errors) else 0.0
    return scale if scale > 0 else float("nan")


def point_metrics(actual: np.ndarray, predicted: np.ndarray, scale: float) -> dict[str, float]:
    error = actual - predicted
    denom = np.abs(actual) + np.abs(predicted)
    smape = np.where(denom > 0, 200 * np.abs(error) / np.where(denom > 0, denom, 1), 0.0)
    return {
        "mae": float(np.abs(error).mean()),
        "rmse": float(np.sqrt((error**2).mean())),
        "smape": float(smape.mean()),
        "mase": float(np.abs(error).mean() / scale),
    }


def interval_pairs(quantiles: list[float]) -> list[tuple[int, int, float]]:
    """(lower index, upper index, nominal coverage) for each symmetric pair of quantiles."""
    pairs = []
    for i, low in enumerate(quantiles):
        for j in range(len(quantiles) - 1, i, -1):
            if abs(low + quantiles[j] - 1) < 1e-9:
                pairs.append((i, j, round(quantiles[j] - low, 6)))
    return pairs


def backtest(forecaster: Forecaster, data: SeriesSet, *, windows: int) -> dict[str, Any]:
    """Metrics of the model and the baselines over the last ``windows`` horizons of every series."""
    config = forecaster.config
    H, L, m = config.horizon, config.lookback, config.season
    needed = L + windows * H + (m if m > 1 else 1)
    short = [s for s in data.series if len(s.values) < needed]
    if short:
        raise DataError(
            f"{data.source}: series {short[0].id!r} has {len(short[0].values)} points; a backtest of "
            f"{windows} window(s) of {H} after a context of {L} (and one season to scale MASE) "
            f"needs at least {needed}; use a smaller --backtest"
        )
    contexts, starts, cases = [], [], []
    for index, series in enumerate(data.series):
        first = step_index(series.start, data.freq)
        for origin in origins(len(series.values), horizon=H, windows=windows):
            contexts.append(series.values[origin - L : origin])
            starts.append(first + origin - L)
            cases.append((index, origin))
    quantiles = predict_windows(forecaster, np.stack(contexts), np.array(starts))  # (N, H, Q)
    points = point_forecast(quantiles, config.quantiles)  # (N, H): the median, as rnn forecast writes it
    pairs = interval_pairs(config.quantiles)
    per_series: dict[int, dict[str, list[dict[str, float]]]] = {}
    coverage: dict[int, dict[float, list[float]]] = {}
    for (index, origin), q, point in zip(cases, quantiles, points, strict=True):
        values = data.series[index].values
        history, actual = values[:origin], values[origin : origin + H]
        scale = mase_scale(history, m)
        forecasts = {"model": point, **baselines(history, horizon=H, season=m)}
        rows = per_series.setdefault(index, {name: [] for name in METHODS})
        for name, predicted in forecasts.items():
            rows[name].append(point_metrics(actual, predicted, scale))
        covered = coverage.setdefault(index, {nominal: [] for _, _, nominal in pairs})
        for low, high, nominal in pairs:
            covered[nominal].append(float(((actual >= q[:, low]) & (actual <= q[:, high])).mean()))
    return _summarise(data, forecaster, per_series, coverage, windows=windows)


def _summarise(data: SeriesSet, forecaster: Forecaster, per_series, coverage, *, windows: int) -> dict[str, Any]:
    """Average per series, then over series; the model's MASE relative to seasonal naive."""
    metrics = {}
    for name in METHODS:
        series_means = [
            {k: float(np.nanmean([r[k] for r in rows[name]])) for k in rows[name][0]} for rows in per_series.values()
        ]
        metrics[name] = {k: float(np.nanmean([s[k] for s in series_means])) for k in series_means[0]}
    nominals = next(iter(coverage.values())).keys() if coverage else []
    covered = {f"{nominal:g}": float(np.mean([np.mean(c[nominal]) for c in coverage.values()])) for nominal in nominals}
    relative = metrics["model"]["mase"] / metrics["seasonal_naive"]["mase"]
    config = forecaster.config
    return {
        "data": data.source,
        "model": str(forecaster.path),
        "series": len(data.series),
        "windows": windows,
        "horizon": config.horizon,
        "lookback": config.lookback,
        "season": config.season,
        "point_forecast": "median",  # the column rnn forecast writes as the point forecast, scored here
        "metrics": metrics,
        "coverage": covered,
        "mase_vs_seasonal_naive": relative,
        "beats_seasonal_naive": bool(relative < 1),
        "overlaps_training": _overlaps(forecaster, data, windows=windows),
    }


def _overlaps(forecaster: Forecaster, data: SeriesSet, *, windows: int) -> bool | None:
    reasons = training_overlap(forecaster, data, windows=windows)
    return None if reasons is None else bool(reasons)


def training_overlap(forecaster: Forecaster, data: SeriesSet, *, windows: int) -> list[str] | None:
    """Why the backtest windows overlap the model's training data, one line per series ([]: they do not).

    Decided by time, not by the file's name: a series the model was trained
    on overlaps when its first window starts at or before the last timestamp
    the model saw of it (the checkpoint records it). None: the checkpoint
    does not say, so overlap cannot be checked.
    """
    info = forecaster.meta["series"]
    try:
        trained = {sid: _stamp(last, data.freq) for sid, last in zip(info["ids"], info["last_time"], strict=True)}
    except (KeyError, TypeError, ValueError):
        return None
    reasons = []
    for series in data.series:
        first = len(series.values) - windows * forecaster.config.horizon
        if series.id not in trained or first < 0:
            continue
        start = time_grid(series.start, first + 1, data.freq)[first]
        if _stamp(start, data.freq) <= trained[series.id]:
            reasons.append(
                f"series {series.id!r}: the first backtest window starts at {format_time(start, data.time_format)} "
                f"but the model was trained on it up to {format_time(trained[series.id], data.time_format)}"
            )
    return reasons


def _stamp(value, freq: str):
    return int(value) if freq.startswith("step:") else pd.Timestamp(value)
