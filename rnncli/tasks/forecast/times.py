"""Time columns: read strictly in one of a list of formats, and written back the way the input wrote them.

Every cell must match the format's pattern before pandas parses it, so that
pandas never guesses: ``01/02/2020`` is read month first or day first by the
format that reads the whole column (the one whose times run forward in the
file when both do). The chosen format is kept, with unpadded days, months
and hours (``Jan-1-1995``) and quarters (``1959-Q4``), so that forecasts
continue the file in its own spelling.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from rnncli.core.errors import DataError

# Formats tried; every one that reads every cell is a candidate (ISO8601 is the fallback).
TIME_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d",
    "%Y/%m",
    "%Y.%m.%d",
    "%b-%d-%Y",
    "%d-%b-%Y",
    "%b %d %Y",
    "%b %d, %Y",
    "%d %b %Y",
    "%b %Y",
    "%b-%Y",
    "%B %Y",
    "%Y %b",
    "%Y%m%d",
    "%Y%m%d%H",
    "%d.%m.%Y",
    "%d.%m.%Y %H:%M",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M",
    "%m-%d-%Y",
    "%d-%m-%Y",
    "%Y-Q%q",
    "%YQ%q",
    "%Y Q%q",
)
DIRECTIVES = {
    "%Y": r"(?P<Y>\d{4})",
    "%m": r"(?P<m>\d{1,2})",
    "%d": r"(?P<d>\d{1,2})",
    "%H": r"(?P<H>\d{1,2})",
    "%M": r"\d{2}",
    "%S": r"\d{2}",
    "%b": r"[A-Za-z]{3}",
    "%B": r"[A-Za-z]{3,9}",
    "%q": r"(?P<q>[1-4])",
}
UNPADDED = ("m", "d", "H")  # fields a file may write without a leading zero (Jan-1-1995)


def format_regex(fmt: str) -> str:
    """The pattern a cell must match to be read with ``fmt`` (fixed widths where fields touch: 19580329)."""
    parts = re.split(r"(%[A-Za-z])", fmt)
    pattern = "".join(DIRECTIVES.get(part, re.escape(part)) for part in parts if part)
    return pattern.replace(r"\d{1,2}", r"\d{2}") if re.search(r"%[A-Za-z]%[A-Za-z]", fmt) else pattern


def parse_times(frame: pd.DataFrame, time_col: str | None, source: str):
    """Timestamps (or integers for an index) per row, and the format they were written in."""
    if time_col is None:
        return None, None
    cells = frame[time_col].str.strip()
    blank = cells.index[cells == ""]
    if len(blank):
        raise DataError(f"{source}: line {blank[0]}, column {time_col!r}: empty time; every row needs one")
    is_int = cells.str.fullmatch(r"-?\d+").all()
    if is_int and not cells.str.fullmatch(r"\d{8}|\d{10}").all():
        numbers = cells.astype(np.int64)
        if (
            cells.str.fullmatch(r"\d{4}").all()
            and numbers.between(1000, 2999).all()
            and numbers.nunique() > 1
            and _year_like(time_col)
        ):
            return pd.to_datetime(cells, format="%Y"), "%Y"
        return numbers.to_numpy(), None
    parsed, fmt = parse_with_format(cells)
    if parsed is None:
        bad = _first_unparseable(cells)
        raise DataError(
            f"{source}: line {cells.index[bad]}, column {time_col!r}: cannot read {cells.iloc[bad]!r} as a "
            "date or time; use ISO dates (2020-01-31), or --time-col to pick another column"
        )
    return parsed, fmt


def _year_like(name: str) -> bool:
    """Four-digit integers are years unless the column says it is an index (t, index)."""
    return name.lower() not in ("t", "index", "step")


def parse_with_format(cells: pd.Series):
    """(times, format) read strictly; (None, None) when no format reads every cell."""
    cells = cells.str.strip()
    if len(cells) == 0 or cells.str.fullmatch(r"-?\d{1,7}(\.\d*)?").all():
        return None, None
    unique = pd.Series(cells.unique())
    candidates = []
    for fmt in TIME_FORMATS:
        parsed = _read_unique(unique, fmt)
        if parsed is not None:
            candidates.append((fmt, parsed))
    if not candidates:
        return _iso(cells)
    fmt, parsed = min(candidates, key=lambda c: _backward_steps(cells, unique, c[1]))  # stable: list order on ties
    times = pd.Series(pd.DatetimeIndex(parsed), index=unique.to_numpy()).loc[cells.to_numpy()]
    return pd.Series(times.to_numpy(), index=cells.index), written_format(unique, fmt)


def _read_unique(unique: pd.Series, fmt: str):
    matches = unique.str.fullmatch(format_regex(fmt))
    if not matches.all():
        return None
    if "%q" in fmt:
        parts = unique.str.extract(format_regex(fmt))
        return pd.to_datetime(
            {"year": parts["Y"].astype(int), "month": (parts["q"].astype(int) - 1) * 3 + 1, "day": 1}
        ).to_numpy()
    try:
        return pd.to_datetime(unique, format=fmt).to_numpy()
    except (ValueError, TypeError):
        return None


def _backward_steps(cells: pd.Series, unique: pd.Series, parsed) -> int:
    """How often a row's time is earlier than the row before (a day-first reading of month-first dates)."""
    lookup = pd.Series(parsed, index=unique.to_numpy())
    times = lookup.loc[cells.to_numpy()].to_numpy().astype("datetime64[ns]").astype(np.int64)
    return int((np.diff(times) < 0).sum())


def _iso(cells: pd.Series):
    """ISO 8601 in any of its spellings (fractions of seconds, time zones); written back without the zone
    but for a ``Z``, with the time part only where the file has one."""
    try:
        parsed = pd.to_datetime(cells, format="ISO8601")
    except (ValueError, TypeError):
        return None, None
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    if not cells.str.contains(":").any():
        return parsed, "%Y-%m-%d"
    sep = "T" if cells.str.contains(r"\dT\d").all() else " "
    return parsed, f"%Y-%m-%d{sep}%H:%M:%S" + ("Z" if cells.str.endswith("Z").all() else "")


def written_format(unique: pd.Series, fmt: str) -> str:
    """``fmt`` with ``%-d`` (``%-m``, ``%-H``) where the file writes that field without a leading zero."""
    fields = unique.str.extract(format_regex(fmt))
    for name in UNPADDED:
        if name in fields and fields[name].str.len().eq(1).any():
            fmt = fmt.replace(f"%{name}", f"%-{name}")
    return fmt


def _first_unparseable(cells: pd.Series) -> int:
    """The first cell the format that reads most cells cannot read."""
    best = max(TIME_FORMATS, key=lambda fmt: int(cells.str.fullmatch(format_regex(fmt)).sum()))
    bad = np.flatnonzero(~cells.str.fullmatch(format_regex(best)).to_numpy())
    return int(bad[0]) if len(bad) else 0


def format_time(stamp, time_format: str | None) -> str:
    """A time stamp written the way the input wrote it (ISO when unknown)."""
    if isinstance(stamp, (int, np.integer)):
        return str(int(stamp))
    stamp = pd.Timestamp(stamp)
    if time_format is not None:
        fields = {"%-d": str(stamp.day), "%-m": str(stamp.month), "%-H": str(stamp.hour)}
        fields["%q"] = str((stamp.month - 1) // 3 + 1)
        text = time_format
        for directive, value in fields.items():
            text = text.replace(directive, value)
        return stamp.strftime(text)
    if stamp == stamp.normalize():
        return stamp.strftime("%Y-%m-%d")
    return stamp.strftime("%Y-%m-%d %H:%M:%S")
