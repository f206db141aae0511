"""What ``rnn inspect`` shows about a CSV of time series or a forecasting checkpoint: facts, as plain data.

The series are read by ``rnncli.tasks.forecast.series`` exactly as ``rnn train`` and
``rnn forecast`` read them, and the seasonal period is the one training would
pick, so what ``inspect`` says is what the forecaster will see. Every summary
is JSON-able; the keys are documented in docs/inspect.md.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from rnncli.core.errors import CheckpointError
from rnncli.tasks.forecast.seasons import choose_seasons
from rnncli.tasks.forecast.series import SeriesSet, describe_freq, format_time, read_series, series_times
from rnncli.tasks.requests import Summary
from rnncli.tasks.training_curve import curve_beside

PROFILE_POINTS = 48  # points in each series' profile (the sparkline, and the JSON)
SHOWN_TIMES = 5  # missing timestamps listed per series
SHOWN_SERIES = 10  # series ids listed for a forecasting checkpoint


def summarise_series(source: str, top: int | None = None, **reading: Any) -> Summary:
    """``rnn inspect`` on a CSV of series (``top`` is the language model's; a forecast never gets it).

    ``reading`` holds the options that say how to read the CSV (time_col, decimal...), as train takes them.
    """
    summary, data = inspect_series(source, **reading)
    return Summary(summary, data=data)


def summarise_run(path: str | Path) -> dict[str, Any]:
    """A forecasting run folder or checkpoint, from its metadata and tensor table (weights unread)."""
    from rnncli.core.checkpoint import read_meta, resolve_checkpoint_path
    from rnncli.tasks.forecast.forecaster import validate_forecaster_layout

    file = resolve_checkpoint_path(path)
    meta = read_meta(file)
    tensors = meta["_tensors"]  # the layout check below takes it out of meta
    validate_forecaster_layout(file, meta)  # a damaged forecaster is refused, as by rnn forecast
    summary = forecast_checkpoint_summary(file, meta, tensors)
    summary["curve"] = curve_beside(file)
    return summary


def inspect_series(source: str, **reading: Any) -> tuple[dict[str, Any], SeriesSet]:
    """Read a CSV of series (gaps filled as training would) and summarise it; also return the series."""
    data = read_series(source, **reading)
    return series_summary(data), data


def series_summary(data: SeriesSet) -> dict[str, Any]:
    entries = [_series_entry(s, data) for s in data.series]
    starts = [e["start"] for e in entries]
    ends = [e["end"] for e in entries]
    firsts = [series_times(s, data.freq)[0] for s in data.series]
    lasts = [series_times(s, data.freq)[-1] for s in data.series]
    return {
        "kind": "series",
        "source": data.source,
        "layout": data.layout,
        "columns": data.columns,
        "notes": data.notes,
        "num_series": len(entries),
        "total_points": sum(e["length"] for e in entries),
        "frequency": data.freq,
        "frequency_name": describe_freq(data.freq),
        "season": choose_seasons([s.values for s in data.series], data.freq)[0],
        "time_range": {"start": starts[int(np.argmin(firsts))], "end": ends[int(np.argmax(lasts))]},
        "missing_cells": sum(e["missing_cells"]["count"] for e in entries),
        "gaps": sum(e["gaps"]["count"] for e in entries),
        "series": entries,
    }


def _series_entry(series, data: SeriesSet) -> dict[str, Any]:
    times = series_times(series, data.freq)
    values = series.values
    return {
        "id": series.id,
        "length": len(values),
        "start": format_time(times[0], data.time_format),
        "end": format_time(times[-1], data.time_format),
        "min": float(values.min()),
        "max": float(values.max()),
        "mean": float(values.mean()),
        "missing_cells": _where(series.blank_cells, times, data.time_format),
        "gaps": _where(series.gaps, times, data.time_format),
        "profile": profile(values),
    }


def _where(positions: list[int], times, time_format: str | None) -> dict[str, Any]:
    """How many, and the first few timestamps (written as the file writes them)."""
    return {"count": len(positions), "first": [format_time(times[i], time_format) for i in positions[:SHOWN_TIMES]]}


def profile(values: np.ndarray, points: int = PROFILE_POINTS) -> list[float]:
    """The series shrunk to at most ``points`` bucket means (the shape, not the detail)."""
    if len(values) <= points:
        return [float(v) for v in values]
    edges = np.linspace(0, len(values), points + 1).astype(int)
    return [float(values[a:b].mean()) for a, b in zip(edges[:-1], edges[1:], strict=True)]


# --- forecasting checkpoints ----------------------------------------------------------------


def forecast_checkpoint_summary(path: Path, meta: dict[str, Any], tensors: dict[str, Any]) -> dict[str, Any]:
    """A forecaster's settings, sizes, training and remembered series, read from its metadata only."""
    model = meta.get("model")
    info = meta.get("series")
    if not isinstance(model, dict) or not isinstance(info, dict):
        raise CheckpointError(f"{path}: the forecasting metadata is damaged (no model or series section)")
    parameters = {
        name: math.prod(int(d) for d in t.get("shape", [])) for name, t in tensors.items() if isinstance(t, dict)
    }
    ids, last, length = (_list(info.get(k)) for k in ("ids", "last_time", "length"))
    freq = info.get("freq")
    return {
        "kind": "checkpoint",
        "path": str(path),
        "task": meta.get("task"),
        "model": model,
        "parameters": parameters,
        "total_parameters": sum(parameters.values()),
        "series": {
            "count": len(ids),
            "source": info.get("source"),
            "layout": info.get("layout"),
            "columns": info.get("columns"),  # None for runs saved before the roles were kept
            "frequency": freq,
            "frequency_name": describe_freq(freq) if isinstance(freq, str) else None,
            "ids": ids[:SHOWN_SERIES],
            "last_time": last[:SHOWN_SERIES],
            "length": length[:SHOWN_SERIES],
        },
        "calibration": meta.get("calibration"),  # None: written before intervals were calibrated
        "train": meta.get("train"),
        "history": meta.get("history"),
        "versions": meta.get("versions"),
        "command": meta.get("command"),
        "resume_commands": meta.get("resume_commands") or [],
    }


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []
