"""The forecaster's settings (saved in its checkpoint) and their checks, without importing torch.

Kept apart from model.py so that ``rnn forecast`` and ``rnn train``
can check their flags and read the CSV before paying for the torch import.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from rnncli.core.errors import UsageError
from rnncli.core.settings import CELLS

SCALINGS = ("standard", "log", "log1p")


@dataclass
class ForecastConfig:
    """The forecaster's shape and the data facts it depends on (saved in the checkpoint)."""

    horizon: int = 12
    lookback: int = 0  # 0: chosen from the horizon, the season and the data
    quantiles: list[float] = field(default_factory=lambda: [0.1, 0.5, 0.9])
    season: int = 1  # the primary season: seasonal naive and MASE use it
    extra_seasons: list[int] = field(default_factory=list)  # longer seasons, model features only (--season 24,168)
    cell: str = "lstm"
    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.0
    scaling: str = "standard"  # log: log of positive, multiplicative data before scaling; log1p: log(1 + x)
    ensemble: int = 1  # members trained side by side; forecasts take their median
    nonnegative: bool = False  # the training history never went below 0: forecasts are kept at 0 or above

    @property
    def encoder_steps(self) -> int:
        """Steps the recurrent encoder reads: the recent end of the lookback (two seasons or two
        horizons). The linear skip sees the whole lookback, so a long lookback (a week of hours)
        costs little."""
        return min(self.lookback, max(2 * self.horizon, 2 * self.season, 8))

    @property
    def seasons(self) -> list[int]:
        """Every season the model reads the position within: the primary one first."""
        return [self.season, *self.extra_seasons]

    @property
    def num_features(self) -> int:
        return 1 + 2 * len(self.seasons)  # scaled value, sin and cos of the position within each season

    def validate(self, *, where: str = "") -> None:
        label = f"{where} " if where else "--"
        checks = [
            (1 <= self.horizon <= 10_000, "horizon", "a whole number from 1 to 10000"),
            (0 <= self.lookback <= 100_000, "lookback", "a whole number from 1 to 100000"),
            (1 <= self.season <= 100_000, "season", "a whole number from 1 to 100000"),
            (self.cell in CELLS, "cell", f"one of {', '.join(CELLS)}"),
            (1 <= self.hidden_size <= 65_536, "hidden-size", "a whole number from 1 to 65536"),
            (1 <= self.num_layers <= 64, "num-layers", "a whole number from 1 to 64"),
            (0 <= self.dropout < 1, "dropout", "in [0, 1)"),
            (self.scaling in SCALINGS, "scaling", f"one of {', '.join(SCALINGS)}"),
            (1 <= self.ensemble <= 64, "ensemble", "a whole number from 1 to 64"),
            (isinstance(self.nonnegative, bool), "nonnegative", "true or false"),
        ]
        for ok, name, what in checks:
            if not ok:
                raise UsageError(f"{label}{name} must be {what}, got {getattr(self, name.replace('-', '_'))!r}")
        extra = self.extra_seasons
        if len(extra) > 4 or any(not self.season < m <= 100_000 for m in extra) or sorted(set(extra)) != extra:
            raise UsageError(
                f"{label}season: the extra seasons must be at most 4 increasing whole numbers above the first "
                f"(e.g. --season 24,168), got {[self.season, *extra]!r}"
            )
        qs = self.quantiles
        if not qs or len(qs) > 99 or any(not 0 < q < 1 for q in qs) or sorted(set(qs)) != list(qs):
            raise UsageError(f"{label}quantiles must be increasing numbers strictly between 0 and 1, got {qs!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def parse_quantiles(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"--quantiles: cannot read {text!r}; write e.g. 0.1,0.5,0.9") from None
    return sorted(set(values))


def parse_seasons(text: str | int) -> list[int]:
    """``--season 24`` or ``--season 24,168`` (several seasons; the first is the primary one)."""
    if isinstance(text, int):
        return [text]
    try:
        values = [int(part) for part in str(text).split(",") if part.strip()]
    except ValueError:
        values = []
    if not values:
        raise UsageError(f"--season: cannot read {text!r}; write a period in steps, e.g. 12, or several: 24,168")
    return values


def with_median(quantiles: list[float]) -> list[float]:
    """The quantiles to train: the ones asked for, and always the median, which is the point forecast."""
    return sorted(set(quantiles) | {0.5})


def point_forecast(values, quantiles: list[float]):
    """The point forecast from quantile forecasts (..., Q): the median, the one column that is scored.

    Models trained here always have the 0.5 quantile. For an older checkpoint
    trained without it the median is interpolated between the quantiles on
    either side of 0.5, so the point forecast is never a tail quantile (with
    every quantile on one side, the nearest one is the best there is).
    """
    values = np.asarray(values)
    below = [i for i, q in enumerate(quantiles) if q <= 0.5]
    above = [i for i, q in enumerate(quantiles) if q >= 0.5]
    if not below or not above:
        return values[..., median_index(quantiles)]
    low, high = below[-1], above[0]
    if low == high:
        return values[..., low]
    share = (0.5 - quantiles[low]) / (quantiles[high] - quantiles[low])
    return values[..., low] + share * (values[..., high] - values[..., low])


def median_index(quantiles: list[float]) -> int:
    """The position of the quantile nearest 0.5: the point forecast, and the anchor the model's other
    quantiles are offsets from (the first such one on a tie)."""
    return min(range(len(quantiles)), key=lambda i: abs(quantiles[i] - 0.5))


def parse_levels(text: str) -> list[float]:
    """--level 80,95: central interval levels in percent (statsforecast's ``level``), increasing."""
    try:
        values = [float(part) for part in text.replace(" ", ",").split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"--level: cannot read {text!r}; write e.g. 80,95 (percent)") from None
    if not values or any(not 0 < v < 100 for v in values):
        raise UsageError(f"--level: levels are percentages strictly between 0 and 100, got {text!r}; e.g. 80,95")
    return sorted(set(values))


def level_bounds(level: float) -> tuple[float, float]:
    """The quantiles that bound the central ``level``% interval: 80 -> (0.1, 0.9)."""
    low = round((100 - level) / 200, 6)
    return low, round(1 - low, 6)


def level_quantiles(levels: list[float]) -> list[float]:
    """The median and both bounds of every level."""
    return sorted({0.5, *(q for level in levels for q in level_bounds(level))})
