"""The forecasting options as the commands give them, and how they become the forecaster's and the trainer's settings.

They are layered like every task's (core's ``ChosenOptions``: flags > --config
> saved run > defaults). Nothing here imports torch, so a bad flag or config
file is reported before the CSV is read.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from rnncli.core.errors import UsageError
from rnncli.core.settings import ChosenOptions, TrainConfig, train_option_types
from rnncli.tasks.forecast.config import (
    ForecastConfig,
    level_quantiles,
    parse_levels,
    parse_quantiles,
    parse_seasons,
    with_median,
)


@dataclass
class SeriesOptions:
    """How to read a CSV: columns, frequency, missing values."""

    time_col: str | None = None
    value_col: str | None = None
    id_col: str | None = None
    freq: str | None = None
    missing: str = "interpolate"
    decimal: str | None = None  # None: detected per column
    thousands: str | None = None
    strict: bool = False  # a series too short for the model is an error, not left out


@dataclass
class ForecastOptions:
    """The forecaster's shape as the user gives it (None: chosen from the data, or the default)."""

    horizon: int | None = None
    lookback: int | None = None
    quantiles: str | None = None
    level: str | None = None  # central intervals in percent (80,95): their bounds are quantiles too
    season: int | str | None = None  # 12, or several seasons: 24,168
    scaling: str | None = None
    ensemble: int | None = None
    cell: str | None = None
    hidden_size: int | None = None
    num_layers: int | None = None
    dropout: float | None = None


def option_types() -> dict[str, Any]:
    """Every option of a forecasting run (its flags and its --config keys), with its type."""
    # no token windows (--seq-len); validation is the last horizon of every series (no --val-frac)
    train = train_option_types("seq_len", "eval_batches", "val_frac")
    return {**{f.name: f.type for f in fields(ForecastOptions) + fields(SeriesOptions)}, **train}


@dataclass
class ForecastSettings:
    """A forecasting run's options, layered: the shape, how to read the CSV, and the rest for the trainer."""

    model: ForecastOptions
    series: SeriesOptions
    chosen: ChosenOptions

    @classmethod
    def resolve(cls, options: dict[str, Any], config_file: Path | None = None) -> ForecastSettings:
        chosen = ChosenOptions.read(options, config_file, types=option_types())
        model, series = ForecastOptions(), SeriesOptions()
        chosen.apply(model, series)
        return cls(model=model, series=series, chosen=chosen)

    def checked_config(self) -> ForecastConfig:
        """The options that need no data, checked before the CSV is read (a bad flag is reported first)."""
        if self.model.horizon is None:
            raise UsageError("--horizon is required to train a forecaster: how many steps ahead to forecast")
        config = ForecastConfig(horizon=self.model.horizon)
        for name in ("cell", "hidden_size", "num_layers", "dropout", "ensemble"):
            if getattr(self.model, name) is not None:
                setattr(config, name, getattr(self.model, name))
        with self.chosen.blaming_the_file():
            config.quantiles = self.quantiles(config.quantiles)
            if self.model.season is not None:
                config.season, *config.extra_seasons = parse_seasons(self.model.season)
            config.validate()
        return config

    def quantiles(self, default: list[float]) -> list[float]:
        """--quantiles and the bounds of every --level, always with the median (the point forecast);
        the default without either."""
        given = parse_quantiles(self.model.quantiles) if self.model.quantiles is not None else []
        levels = parse_levels(self.model.level) if self.model.level is not None else []
        if not given and not levels:
            return default
        return with_median([*given, *level_quantiles(levels)])

    def seasons(self) -> list[int] | None:
        """--season as a list (the primary season first), or None: detect it from the data."""
        return None if self.model.season is None else parse_seasons(self.model.season)

    def train_config(self, defaults: dict[str, Any]) -> TrainConfig:
        """The trainer's settings: forecasting's defaults, then the options."""
        cfg = TrainConfig(**defaults)
        self.chosen.apply(cfg)
        with self.chosen.blaming_the_file():
            cfg.validate()
        return cfg

    def resumed(self, saved: dict[str, Any]) -> tuple[ForecastConfig, TrainConfig]:
        """A saved run's shape and trainer settings, with the changes a resume allows (budgets, bookkeeping)."""
        config, cfg = ForecastConfig(**saved["model"]), TrainConfig(**saved["train"])
        values = dict(self.chosen.values)
        if isinstance(values.get("quantiles"), str):
            values["quantiles"] = with_median(parse_quantiles(values["quantiles"]))  # compared with the saved list
        if values.get("season") is not None and parse_seasons(values.pop("season")) != config.seasons:
            shown = ",".join(str(m) for m in config.seasons)
            raise self.chosen.blamed(
                UsageError(
                    f"--season cannot change when resuming (this run was trained with {shown}); "
                    "leave it out, or start a new run with --out"
                )
            )
        dataclasses.replace(self.chosen, values=values).apply(config, cfg, resuming=True)
        with self.chosen.blaming_the_file():
            cfg.validate()
        return config, cfg
