"""The declared schema (pydantic) of a forecaster's checkpoint metadata: its shape and the series it remembers.

``check_forecaster_meta`` runs for ``rnn inspect`` and ``rnn forecast --model``
alike, so both accept and refuse the same files: whole numbers must be JSON
integers, every context value a finite number, the frequency one that pandas
reads (or ``step:N``), every last time stamp a date the forecast can extend by
its horizon, and every series id printable text.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from rnncli.core.documents import validate
from rnncli.core.errors import CheckpointError
from rnncli.core.schemas import Finite

FREQ_PATTERN = re.compile(r"step:[1-9]\d{0,11}|\d{0,6}[A-Za-z]{1,8}(-[A-Za-z]{3})?")
Int = Annotated[int, Field(ge=0, le=10**12)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


class ForecastModelDoc(_Strict):
    horizon: Annotated[int, Field(ge=1, le=10_000)]
    lookback: Annotated[int, Field(ge=1, le=100_000)]
    quantiles: Annotated[list[Annotated[Finite, Field(gt=0, lt=1)]], Field(min_length=1, max_length=99)]
    season: Annotated[int, Field(ge=1, le=100_000)]
    cell: str
    hidden_size: Annotated[int, Field(ge=1, le=65_536)]
    num_layers: Annotated[int, Field(ge=1, le=64)]
    dropout: Annotated[Finite, Field(ge=0, lt=1)]
    scaling: str
    ensemble: Annotated[int, Field(ge=1, le=64)] = 1


def _printable(sid: str) -> str:
    if not sid.isprintable():
        raise ValueError("must not hold control characters")
    return sid


SeriesId = Annotated[str, Field(min_length=1, max_length=1000), AfterValidator(_printable)]


class SeriesDoc(_Strict):
    ids: list[SeriesId]
    freq: Annotated[str, Field(max_length=32)]
    last_time: list[str | int]
    context: list[list[Finite]]
    time_format: Annotated[str, Field(max_length=64)] | None = None
    layout: Literal["wide", "long"] = "wide"

    @field_validator("freq")
    @classmethod
    def _frequency(cls, freq: str) -> str:
        if not FREQ_PATTERN.fullmatch(freq):
            raise ValueError("must be a pandas frequency (D, h, MS, W-SUN, ...) or step:N")
        if not freq.startswith("step:"):
            try:
                pd.tseries.frequencies.to_offset(freq)
            except ValueError:
                raise ValueError("is not a frequency pandas knows") from None
        return freq


class ForecasterDoc(_Strict):
    model: ForecastModelDoc
    series: SeriesDoc


def check_forecaster_meta(path: Path, meta: dict[str, Any]) -> None:
    """Raise ``CheckpointError`` naming the field for metadata a forecast could not use."""
    where = f"{path}: the forecasting metadata"
    doc = validate(ForecasterDoc, meta, where=where, error=CheckpointError)
    series = doc.series
    if not len(series.ids) == len(series.last_time) == len(series.context):
        raise CheckpointError(f"{where}: 'series.ids', 'series.last_time' and 'series.context' differ in length")
    for i, (context, last) in enumerate(zip(series.context, series.last_time, strict=True)):
        if len(context) != doc.model.lookback:
            raise CheckpointError(
                f"{where}: field 'series.context.{i}' holds {len(context)} values, the lookback is {doc.model.lookback}"
            )
        _check_time(f"{where}: field 'series.last_time.{i}'", last, series.freq, doc.model)


def _check_time(where: str, last: str | int, freq: str, model: ForecastModelDoc) -> None:
    """The stored last time stamp, and the forecast's last one, are times this tool can compute and print."""
    if freq.startswith("step:"):
        if not isinstance(last, int) or abs(last) > 10**15:
            raise CheckpointError(f"{where} must be a whole number for a step index, got {last!r}")
        return
    try:
        stamp = pd.Timestamp(last)
        offset = pd.tseries.frequencies.to_offset(freq)
        first = (stamp - model.lookback * offset).as_unit("ns")
        end = (stamp + model.horizon * offset).as_unit("ns")
        ok = isinstance(last, str) and first.year >= 1700 and end.year <= 2200
    except (ValueError, TypeError, OverflowError, pd.errors.OutOfBoundsDatetime):
        ok = False
    if not ok:
        raise CheckpointError(f"{where} must be a date from 1700 to 2200 that the horizon can extend, got {last!r:.40}")
