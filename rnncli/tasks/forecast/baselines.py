"""The naive, seasonal naive and drift forecasts, as the backtest's yardsticks and as forecasts in their own right.

``rnn forecast FILE --baseline NAME`` writes them in the model's output format,
without training anything. Their quantiles come from normal prediction
intervals around the point forecast, with the standard deviation of the
method's own in-sample one-step residuals grown with the horizon as
Hyndman and Athanasopoulos derive for each method (FPP3, section 5.5).
Nothing here imports torch.
"""

from __future__ import annotations

from statistics import NormalDist
from typing import Any

import numpy as np

from rnncli.core.errors import UsageError
from rnncli.tasks.forecast.series import SeriesSet, format_time, time_grid

BASELINES = {"naive": "naive", "seasonal-naive": "seasonal_naive", "drift": "drift"}  # flag value -> key


def baselines(history: np.ndarray, *, horizon: int, season: int) -> dict[str, np.ndarray]:
    """Naive (last value), seasonal naive (the last season repeated) and drift (first-to-last slope)."""
    last = history[-1]
    steps = np.arange(1, horizon + 1)
    period = season if season > 1 and len(history) >= season else 1
    seasonal = history[-period:][(steps - 1) % period]
    slope = (history[-1] - history[0]) / max(len(history) - 1, 1)
    return {"naive": np.full(horizon, last), "seasonal_naive": seasonal, "drift": last + slope * steps}


def check_baseline(name: str) -> str:
    """The backtest's key for a --baseline value (seasonal-naive -> seasonal_naive), or a usage error."""
    key = BASELINES.get(name) or (name if name in BASELINES.values() else None)
    if key is None:
        raise UsageError(f"--baseline: unknown method {name!r} (choose one of: {', '.join(BASELINES)})")
    return key


def baseline_spread(history: np.ndarray, *, method: str, horizon: int, season: int) -> np.ndarray:
    """The standard deviation of the method's h-step forecast errors, for h = 1..horizon."""
    h = np.arange(1, horizon + 1)
    period = season if season > 1 and len(history) > season else 1
    if method == "seasonal_naive":
        residuals = history[period:] - history[:-period]
        growth = np.sqrt(np.floor((h - 1) / period) + 1)
    else:
        residuals = np.diff(history)
        if method == "drift":
            residuals = residuals - residuals.mean()
        growth = np.sqrt(h * (1 + h / len(history))) if method == "drift" else np.sqrt(h)
    sigma = float(np.sqrt(np.mean(residuals**2))) if len(residuals) else 0.0
    return sigma * growth


def baseline_quantiles(
    history: np.ndarray, *, method: str, horizon: int, season: int, quantiles: list[float]
) -> np.ndarray:
    """(horizon, Q): the method's point forecast plus the normal quantile of each level times its spread."""
    point = baselines(history, horizon=horizon, season=season)[method]
    spread = baseline_spread(history, method=method, horizon=horizon, season=season)
    z = np.array([NormalDist().inv_cdf(q) for q in quantiles])
    return point[:, None] + spread[:, None] * z[None, :]


def _point(history: np.ndarray, *, method: str, horizon: int, season: int) -> np.ndarray:
    return baselines(history, horizon=horizon, season=season)[method]


def baseline_forecast(
    data: SeriesSet, *, method: str, horizon: int, season: int, quantiles: list[float], nonnegative: bool = False
) -> list[dict[str, Any]]:
    """One record per series and future step, as the model's forecasts are written: id, timestamp, median
    (the point forecast: the normal's centre), quantiles; with ``nonnegative`` all kept at 0 or above."""
    records = []
    floor = 0.0 if nonnegative else -np.inf
    for series in data.series:
        q = baseline_quantiles(series.values, method=method, horizon=horizon, season=season, quantiles=quantiles)
        q = np.maximum(q, floor)
        point = np.maximum(_point(series.values, method=method, horizon=horizon, season=season), floor)
        future = time_grid(series.start, len(series.values) + horizon, data.freq)[len(series.values) :]
        for step, stamp in enumerate(future):
            record = {"id": series.id, "timestamp": format_time(stamp, data.time_format), "median": float(point[step])}
            record.update({f"q{level:g}": float(q[step, j]) for j, level in enumerate(quantiles)})
            records.append(record)
    return records
