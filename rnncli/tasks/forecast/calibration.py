"""Conformal calibration of a forecaster's quantiles on the validation window it never trained on.

The quantile loss alone gives intervals far from their nominal coverage on
short real series (a global model fits its training windows too well). After
training, every quantile is widened around the point forecast
(the anchor quantile) by one factor, chosen on the held-out last horizon of
every series so that the share of points below it matches its level (never
narrowed: see ``MIN_FACTOR``): a
normalised, split-conformal form of conformalised quantile regression
(Romano, Patterson and Candes, 2019). The factors are stored in the
checkpoint's metadata (``calibration``); a checkpoint without them forecasts
uncalibrated, as it did when it was written.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from rnncli.tasks.forecast.config import median_index

METHOD = "normalised split conformal, pooled over the horizon, on the validation window of every series"
# Widen, never narrow: one validation window per series is too few points to trust a narrowing (on the
# bundled hourly sample it cut the backtest's 80% coverage from 75% to 66%), and a model fitted with the
# quantile loss errs the other way (too narrow out of sample: 17-53% coverage on real series).
MIN_FACTOR, MAX_FACTOR = 1.0, 50.0
TINY = 1e-12


def calibration_factors(quantiles: list[float], predicted: np.ndarray, actual: np.ndarray) -> list[float]:
    """One factor per quantile from forecasts ``predicted`` (N, H, Q) of held-out ``actual`` (N, H).

    A quantile at level ``tau`` above the anchor becomes ``anchor + f (q - anchor)``,
    with ``f`` the conformal ``tau``-quantile of ``(y - anchor) / (q - anchor)``;
    below the anchor the same with the roles mirrored. The anchor keeps factor 1.
    """
    anchor = median_index(quantiles)
    centre = predicted[..., anchor]
    factors = []
    for j, level in enumerate(quantiles):
        if j == anchor:
            factors.append(1.0)
            continue
        above = level > quantiles[anchor]
        gap = predicted[..., j] - centre if above else centre - predicted[..., j]
        reach = actual - centre if above else centre - actual
        scores = (reach / np.maximum(gap, TINY)).ravel()
        factors.append(_conformal_quantile(scores[np.isfinite(scores)], level if above else 1 - level))
    return factors


def _conformal_quantile(scores: np.ndarray, level: float) -> float:
    """The empirical ``level``-quantile of the scores (interpolated: unbiased rather than
    split conformal's conservative rank, which over-covers on a few dozen points), clipped."""
    if len(scores) == 0:
        return 1.0
    value = float(np.quantile(scores, level))
    return float(min(max(value, MIN_FACTOR), MAX_FACTOR))


def apply_calibration(predicted: np.ndarray, calibration: dict[str, Any] | None, quantiles: list[float]) -> np.ndarray:
    """Quantiles (..., Q) widened by the stored factors, re-sorted so they never cross; as is without any."""
    if not calibration:
        return predicted
    factors = np.asarray(calibration["factors"], dtype=np.float64)
    centre = predicted[..., median_index(quantiles)][..., None]
    return np.sort(centre + factors * (predicted - centre), axis=-1)


def check_calibration(calibration: Any, quantiles: list[float]) -> None:
    """A stored calibration fits the model: one finite positive factor per quantile (ValueError if not)."""
    if calibration is None:
        return
    factors = calibration.get("factors") if isinstance(calibration, dict) else None
    if not isinstance(factors, list) or len(factors) != len(quantiles):
        raise ValueError("calibration factors do not match the quantiles")
    if not all(isinstance(f, (int, float)) and math.isfinite(f) and f > 0 for f in factors):
        raise ValueError("calibration factors must be positive numbers")


def validation_windows(arrays: list[np.ndarray], starts: list[int], *, lookback: int, horizon: int):
    """The last horizon of every series (what the trainer validated on) and the context before it."""
    contexts = np.stack([a[len(a) - horizon - lookback : len(a) - horizon] for a in arrays])
    positions = np.array([start + len(a) - horizon - lookback for a, start in zip(arrays, starts, strict=True)])
    actual = np.stack([a[len(a) - horizon :] for a in arrays])
    return contexts, positions, actual
