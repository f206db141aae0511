"""Season detection: the calendar's natural period when the data shows it, else the autocorrelation peak.

A smooth seasonal series has a high autocorrelation at lags next to its
period too (hourly temperatures: 0.998 at 24, 0.915 at 23), so "the shortest
lag nearly as good as the best" picks 23, 11 or 3. Here the calendar's
periods come first (24 and 168 for hourly data, 7 for daily, 5 for business
days, 52 for weekly, 12 for monthly, 4 for quarterly): the shortest one that
is a local peak of the autocorrelation of the differenced series, clear of
noise, wins. Without one, the highest peak wins, or the shortest of its
divisors that scores nearly as well (a yearly cycle also peaks at 24 months).
Nothing here imports torch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NO_CALENDAR_LAGS = 48  # lags searched when the frequency has no natural period (an integer index, 15 s steps...)
MAX_LAGS = 20_000
DIVISOR_SHARE = 0.9  # a divisor of the peak lag scoring this share of the peak is the period
NATURAL_SHARE = 0.5  # a natural period must score at least this share of the best lag


def natural_seasons(freq: str) -> list[int]:
    """The calendar's periods for a frequency, shortest first ([] for yearly data and integer indexes)."""
    if freq.startswith("step:"):
        return []
    offset = pd.tseries.frequencies.to_offset(freq)
    name, n = type(offset).__name__, max(getattr(offset, "n", 1), 1)
    by_name = (("Month", [12]), ("Quarter", [4]), ("Year", []), ("Week", [52]), ("BusinessDay", [5]))
    for part, periods in by_name:
        if part in name:
            return [p // n for p in periods if p % n == 0 and p // n > 1]
    if name == "Day" and n == 1:
        return [7, 365]
    try:
        nanos = offset.nanos
    except ValueError:  # another calendar offset
        return []
    day, week = 86_400 * 10**9, 7 * 86_400 * 10**9
    return [period // nanos for period in (day, week) if nanos < period and period % nanos == 0]


def choose_seasons(arrays: list[np.ndarray], freq: str) -> list[int]:
    """The primary season of the series (a one-element list; [1]: none), detected from the data."""
    if _is_yearly(freq):
        return [1]  # no calendar period below a year, and too few years to find another
    natural = natural_seasons(freq)
    shortest = min(len(a) for a in arrays)
    # A calendar period needs two cycles of data to be checked; a free search, three.
    max_lag = min(2 * max(natural) if natural else NO_CALENDAR_LAGS, (shortest - 1) // 2, MAX_LAGS)
    if max_lag < 2:
        return [1]
    changes = autocorrelations([np.diff(np.asarray(a, dtype=np.float64)) for a in arrays], max_lag=max_lag)
    levels = _levels(arrays, max_lag) if natural else None
    for period in natural:
        if period + 1 < max_lag and (_supported(changes, period) or _supported(levels, period)):
            return [period]
    return [peak_season(None if changes is None else changes[: max(shortest // 3, 2) + 1])]


def _levels(arrays: list[np.ndarray], max_lag: int) -> np.ndarray | None:
    """Autocorrelations of the series less their straight-line trend: a slow season (52 weeks, a day of
    15-minute steps) drowns in the noise of the differences but stands out in the levels."""
    detrended = []
    for values in arrays:
        values = np.asarray(values, dtype=np.float64)
        t = np.arange(len(values))
        detrended.append(values - np.polyval(np.polyfit(t, values, 1), t))
    return autocorrelations(detrended, max_lag=max_lag)


def _is_yearly(freq: str) -> bool:
    return not freq.startswith("step:") and "Year" in type(pd.tseries.frequencies.to_offset(freq)).__name__


def autocorrelations(arrays: list[np.ndarray], *, max_lag: int) -> np.ndarray | None:
    """Autocorrelation at lags 0..max_lag averaged over the arrays (weighted by length), with lags 0
    and 1 zeroed and everything under the noise level set to zero. None: nothing long enough."""
    scores, weight, counted = np.zeros(max_lag + 1), 0.0, 0
    for values in arrays:
        if len(values) < 2 * max_lag or values.std() == 0:
            continue
        scores += len(values) * _acf(values, max_lag)
        weight += len(values)
        counted += 1
    if weight == 0:
        return None
    scores /= weight
    scores[:2] = 0
    # Noise alone gives autocorrelations of about 1/sqrt(n): demand a clear peak above that.
    floor = max(0.3, 3.5 / np.sqrt(weight / counted))
    return np.where(scores >= floor, scores, 0.0)


def _acf(values: np.ndarray, max_lag: int) -> np.ndarray:
    """Autocorrelations at lags 0..max_lag by FFT (as np.correlate would give them, divided by lag 0)."""
    centred = values - values.mean()
    size = 1 << int(2 * len(centred) - 1).bit_length()
    spectrum = np.fft.rfft(centred, size)
    full = np.fft.irfft(spectrum * np.conj(spectrum), size)[: max_lag + 1]
    return full / full[0]


def _supported(scores: np.ndarray | None, period: int) -> bool:
    """The autocorrelation peaks within one step of ``period`` (real years are 52.18 weeks) among the
    lags three either side, clear of noise and at least half as high as the best lag."""
    if scores is None or scores.max() <= 0:
        return False
    low, high = max(period - 3, 2), min(period + 3, len(scores) - 1)
    peak = low + int(np.argmax(scores[low : high + 1]))
    return abs(peak - period) <= 1 and scores[peak] >= NATURAL_SHARE * scores.max() and peak not in (low, high)


def peak_season(scores: np.ndarray | None) -> int:
    """The lag of the highest autocorrelation, or its shortest divisor scoring nearly as well (1: none)."""
    if scores is None or scores.max() <= 0:
        return 1
    best = float(scores.max())
    peak = int(np.argmax(scores))
    divisors = [d for d in range(2, peak) if peak % d == 0 and scores[d] >= DIVISOR_SHARE * best]
    return divisors[0] if divisors else peak
