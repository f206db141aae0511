"""Rolling-origin backtest of a forecaster against the naive baselines, without retraining.

The origins are the last ``windows`` horizons of every series, ``step`` apart
(a horizon by default: non-overlapping; the last one ends at the series' end). Every (series, origin) context is
forecast in one batch. Metrics follow the M4 competition's definitions:
MASE is scaled by the in-sample seasonal naive error before the origin,
sMAPE is 200|y-f|/(|y|+|f|); the scale-free figures (MASE, sMAPE, MAPE, pinball
loss and CRPS, the last two scaled like MASE) are averaged per series, then over
series; MAE and RMSE, which depend on each series' units, are given per series only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from rnncli.core.errors import DataError
from rnncli.tasks.forecast.baselines import baselines
from rnncli.tasks.forecast.config import point_forecast
from rnncli.tasks.forecast.forecaster import Forecaster, predict_windows
from rnncli.tasks.forecast.model import step_index
from rnncli.tasks.forecast.series import SeriesSet, format_time, time_grid

METHODS = ("model", "naive", "seasonal_naive", "drift")
ROW_ORDER = ("model", "seasonal_naive", "naive", "drift")  # the columns of --backtest-out, as statsforecast's


def origins(length: int, *, horizon: int, windows: int, step: int | None = None) -> list[int]:
    """Where each window starts: the last one ends at the series' end, the others ``step`` apart (a horizon)."""
    step = step or horizon
    return [length - horizon - k * step for k in range(windows - 1, -1, -1)]


def backtest_span(horizon: int, windows: int, step: int | None = None) -> int:
    """Points from the first window's start to the series' end (what a backtest's model must not see)."""
    return horizon + (windows - 1) * (step or horizon)


def mase_scale(history: np.ndarray, season: int) -> float:
    """Mean absolute error of the in-sample seasonal naive forecast (lag ``season``; 1 without one)."""
    lag = season if season > 1 and len(history) > season else 1
    errors = np.abs(history[lag:] - history[:-lag])
    scale = float(errors.mean()) if len(errors) else 0.0
    return scale if scale > 0 else float("nan")


def point_metrics(actual: np.ndarray, predicted: np.ndarray, scale: float) -> dict[str, float]:
    """MAE, RMSE, sMAPE, MAPE (NaN where an actual value is 0) and MASE of one window's point forecast."""
    error = actual - predicted
    denom = np.abs(actual) + np.abs(predicted)
    smape = np.where(denom > 0, 200 * np.abs(error) / np.where(denom > 0, denom, 1), 0.0)
    mape = float(np.mean(100 * np.abs(error) / np.abs(actual))) if np.all(actual != 0) else float("nan")
    return {
        "mae": float(np.abs(error).mean()),
        "rmse": float(np.sqrt((error**2).mean())),
        "smape": float(smape.mean()),
        "mape": mape,
        "mase": float(np.abs(error).mean() / scale),
    }


def quantile_metrics(actual: np.ndarray, predicted: np.ndarray, levels: list[float], scale: float) -> dict[str, float]:
    """Mean pinball loss over the quantiles (H, Q), scaled like MASE, and the CRPS it approximates (twice it).

    A point forecast (the baselines) is every quantile at once: its CRPS is then its absolute error.
    """
    diff = actual[:, None] - predicted
    tau = np.asarray(levels)
    pinball = float(np.maximum(tau * diff, (tau - 1) * diff).mean() / scale)
    return {"pinball": pinball, "crps": 2 * pinball}


def interval_pairs(quantiles: list[float]) -> list[tuple[int, int, float]]:
    """(lower index, upper index, nominal coverage) for each symmetric pair of quantiles."""
    pairs = []
    for i, low in enumerate(quantiles):
        for j in range(len(quantiles) - 1, i, -1):
            if abs(low + quantiles[j] - 1) < 1e-9:
                pairs.append((i, j, round(quantiles[j] - low, 6)))
    return pairs


SCALE_FREE = ("mase", "smape", "mape", "pinball", "crps")  # averaged over series; MAE and RMSE only per series
COVERAGE_TOLERANCE = 0.15  # a backtest's coverage further than this from nominal is warned about


@dataclass
class Backtest:
    """A backtest's figures (JSON-able) and one row per series, window and future step (for --backtest-out)."""

    document: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)


def backtest(forecaster: Forecaster, data: SeriesSet, *, windows: int, step: int | None = None) -> dict[str, Any]:
    """Metrics of the model and the baselines over the last ``windows`` horizons of every series."""
    return run_backtest(forecaster, data, windows=windows, step=step).document


def run_backtest(forecaster: Forecaster, data: SeriesSet, *, windows: int, step: int | None = None) -> Backtest:
    """Every (series, origin) forecast in one batch, scored beside the baselines; the rows kept."""
    config = forecaster.config
    H, L, m = config.horizon, config.lookback, config.season
    span = backtest_span(H, windows, step)
    _check_long_enough(data, needed=L + span + (m if m > 1 else 1), windows=windows, horizon=H, lookback=L)
    contexts, starts, cases = [], [], []
    for index, series in enumerate(data.series):
        first = step_index(series.start, data.freq)
        for origin in origins(len(series.values), horizon=H, windows=windows, step=step):
            contexts.append(series.values[origin - L : origin])
            starts.append(first + origin - L)
            cases.append((index, origin))
    quantiles = predict_windows(forecaster, np.stack(contexts), np.array(starts))  # (N, H, Q)
    points = point_forecast(quantiles, config.quantiles)  # (N, H): the median, as rnn forecast writes it
    scored = _Scored(data, config)
    for (index, origin), q, point in zip(cases, quantiles, points, strict=True):
        scored.add(index, origin, q, point)
    document = _summarise(data, forecaster, scored, windows=windows, step=step or H)
    document["overlaps_training"] = _overlaps(forecaster, data, windows=windows, step=step)
    return Backtest(document=document, rows=scored.rows)


def _check_long_enough(data: SeriesSet, *, needed: int, windows: int, horizon: int, lookback: int) -> None:
    short = [s for s in data.series if len(s.values) < needed]
    if short:
        raise DataError(
            f"{data.source}: series {short[0].id!r} has {len(short[0].values)} points; a backtest of "
            f"{windows} window(s) of {horizon} after a context of {lookback} (and one season to scale MASE) "
            f"needs at least {needed}; use a smaller --backtest (or --step)"
        )


class _Scored:
    """Per-window scores of every method, coverage of every central interval, and the per-window rows."""

    def __init__(self, data: SeriesSet, config):
        self.data, self.config = data, config
        self.pairs = interval_pairs(config.quantiles)
        self.metrics: dict[int, dict[str, list[dict[str, float]]]] = {}
        self.coverage: dict[int, dict[float, list[float]]] = {}
        self.rows: list[dict[str, Any]] = []
        self.times = {}

    def add(self, index: int, origin: int, q: np.ndarray, point: np.ndarray) -> None:
        H, m, levels = self.config.horizon, self.config.season, self.config.quantiles
        values = self.data.series[index].values
        history, actual = values[:origin], values[origin : origin + H]
        scale = mase_scale(history, m)
        forecasts = {"model": point, **baselines(history, horizon=H, season=m)}
        rows = self.metrics.setdefault(index, {name: [] for name in METHODS})
        for name, predicted in forecasts.items():
            spread = q if name == "model" else np.repeat(predicted[:, None], len(levels), axis=1)
            rows[name].append(
                {**point_metrics(actual, predicted, scale), **quantile_metrics(actual, spread, levels, scale)}
            )
        covered = self.coverage.setdefault(index, {nominal: [] for _, _, nominal in self.pairs})
        for low, high, nominal in self.pairs:
            covered[nominal].append(float(((actual >= q[:, low]) & (actual <= q[:, high])).mean()))
        self._rows(index, origin, actual, forecasts, q)

    def _rows(self, index: int, origin: int, actual: np.ndarray, forecasts: dict[str, np.ndarray], q) -> None:
        series, fmt = self.data.series[index], self.data.time_format
        if index not in self.times:
            self.times[index] = time_grid(series.start, len(series.values), self.data.freq)
        times = self.times[index]
        cutoff = format_time(times[origin - 1], fmt)
        for h, y in enumerate(actual):
            row = {"id": series.id, "timestamp": format_time(times[origin + h], fmt), "cutoff": cutoff, "y": float(y)}
            row.update({name: float(forecasts[name][h]) for name in ROW_ORDER})
            row.update({f"model-q{level:g}": float(q[h, j]) for j, level in enumerate(self.config.quantiles)})
            self.rows.append(row)


def _mean(values: list[float]) -> float | None:
    """The mean of the defined values (None when none is: MAPE of a series that touches zero)."""
    finite = [v for v in values if v == v]
    return float(np.mean(finite)) if finite else None


def _per_series(scored: _Scored) -> list[dict[str, Any]]:
    entries = []
    for index, methods in scored.metrics.items():
        metrics = {name: {k: _mean([r[k] for r in rows]) for k in rows[0]} for name, rows in methods.items()}
        coverage = {f"{nominal:g}": float(np.mean(c)) for nominal, c in scored.coverage[index].items()}
        entries.append({"id": scored.data.series[index].id, "metrics": metrics, "coverage": coverage})
    return entries


def _summarise(data: SeriesSet, forecaster: Forecaster, scored: _Scored, *, windows: int, step: int) -> dict[str, Any]:
    """Scale-free figures averaged per series, then over series; the model's MASE relative to seasonal naive."""
    per_series = _per_series(scored)
    metrics = {
        name: {
            k: _mean([e["metrics"][name][k] for e in per_series if e["metrics"][name][k] is not None])
            for k in SCALE_FREE
        }
        for name in METHODS
    }
    nominals = [f"{nominal:g}" for _, _, nominal in scored.pairs]
    covered = {n: float(np.mean([e["coverage"][n] for e in per_series])) for n in nominals}
    relative = metrics["model"]["mase"] / metrics["seasonal_naive"]["mase"]
    config = forecaster.config
    return {
        "data": data.source,
        "model": str(forecaster.path),
        "series": len(data.series),
        "windows": windows,
        "step": step,
        "horizon": config.horizon,
        "lookback": config.lookback,
        "season": config.season,
        "point_forecast": "median",  # the column rnn forecast writes as the point forecast, scored here
        "calibrated": bool(forecaster.meta.get("calibration")),
        "metrics": metrics,
        "coverage": covered,
        "coverage_off": [n for n in nominals if abs(covered[n] - float(n)) > COVERAGE_TOLERANCE],
        "mase_vs_seasonal_naive": relative,
        "beats_seasonal_naive": bool(relative < 1),
        "per_series": per_series,
    }


def _overlaps(forecaster: Forecaster, data: SeriesSet, *, windows: int, step: int | None) -> bool | None:
    reasons = training_overlap(forecaster, data, windows=windows, step=step)
    return None if reasons is None else bool(reasons)


def training_overlap(
    forecaster: Forecaster, data: SeriesSet, *, windows: int, step: int | None = None
) -> list[str] | None:
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
        first = len(series.values) - backtest_span(forecaster.config.horizon, windows, step)
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
