"""Reading time series from CSV: layout, timestamps, frequency, gaps.

Wide files have a time column and one numeric column per series; long files
have an id column, a time column and a value column (Nixtla's
``unique_id,ds,y``). Cells are read as text so that every problem can be
reported with its CSV line number (the header is line 1). pandas does the
date parsing and the calendars.
"""

from __future__ import annotations

import csv
import io
import re
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from rnncli.core.errors import DataError, NotThisKindOfData
from rnncli.tasks.forecast.numbers import (
    MISSING_MARKERS,
    given_convention,
    is_missing,
    normalise_numbers,
    usual_decimal,
)
from rnncli.tasks.forecast.times import format_time, parse_times, parse_with_format

__all__ = ["format_time", "read_series", "series_times", "time_grid", "Series", "SeriesSet"]

TIME_NAMES = (
    "ds",
    "date",
    "datetime",
    "time",
    "timestamp",
    "month",
    "year",
    "period",
    "week",
    "day",
    "hour",
    "t",
    "index",
    "quarter",
)
ID_NAMES = ("unique_id", "id", "series", "series_id", "item_id", "key", "name")
VALUE_NAMES = ("y", "value", "values", "target", "sales", "demand")
MISSING_POLICIES = ("interpolate", "error")
FREQ_NAMES = {
    "h": "hourly",
    "min": "minutely",
    "s": "secondly",
    "D": "daily",
    "B": "business-daily",
    "W": "weekly",
    "M": "monthly",
    "Q": "quarterly",
    "Y": "yearly",
}


@dataclass
class Series:
    """One regular series: values on a complete grid (gaps already filled)."""

    id: str
    values: np.ndarray  # float64, no NaN
    start: object  # pd.Timestamp, or an int for an integer index
    filled: int = 0  # how many points were interpolated
    blank_cells: list[int] = field(default_factory=list)  # grid positions whose cell was empty
    gaps: list[int] = field(default_factory=list)  # grid positions with no row at all


@dataclass
class SeriesSet:
    """Every series of a file, on one frequency."""

    series: list[Series]
    freq: str  # a pandas offset alias, or "step:N" for an integer index
    time_format: str | None  # strftime format of the input (None: integer index or ISO)
    source: str
    layout: str  # "wide" or "long"
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # how the file was read (thousands separators...)
    columns: dict[str, str | None] = field(default_factory=dict)  # roles: time, id, value (long files)

    @property
    def is_integer_index(self) -> bool:
        return self.freq.startswith("step:")


def describe_freq(freq: str) -> str:
    """``monthly (MS)``, ``hourly (h)``, ``a fixed step of 5``..."""
    if freq.startswith("step:"):
        return f"a fixed step of {freq[5:]} (integer index)"
    letters = re.sub(r"[^A-Za-z]", "", freq.split("-")[0])
    base = letters[:-1] if letters.endswith(("S", "E")) and letters[:-1] in FREQ_NAMES else letters
    name = FREQ_NAMES.get(base, "a fixed step")
    return f"{name} ({freq})" if re.match(r"^[A-Za-z]", freq) else f"every {freq}"


# --- reading ----------------------------------------------------------------------


def read_table(source: str) -> pd.DataFrame:
    """The CSV as text cells; ``-`` is stdin."""
    try:
        raw = sys.stdin.read() if source == "-" else _read_file(source)
    except UnicodeDecodeError as exc:
        raise DataError(f"{source}: not valid UTF-8 at byte offset {exc.start}; convert the file to UTF-8") from None
    if not raw.strip():
        raise DataError(f"{source}: the file is empty; give a CSV with a header line")
    if not raw.splitlines()[0].strip():
        raise DataError(f"{source}: line 1 is blank; the first line must be the header (column names)")
    sep = detect_separator(raw)
    try:
        with warnings.catch_warnings():  # pandas only warns (and drops cells) when the first row is too long
            warnings.simplefilter("error", pd.errors.ParserWarning)
            # Blank lines are kept as rows (only trailing ones are dropped) so that row i is CSV line i + 2.
            frame = pd.read_csv(
                io.StringIO(raw.rstrip() + "\n"),
                sep=sep,
                dtype=str,
                keep_default_na=False,
                skipinitialspace=True,
                skip_blank_lines=False,
                index_col=False,
            )
    except (pd.errors.ParserError, pd.errors.ParserWarning, ValueError) as exc:
        match = re.search(r"line (\d+)", str(exc))
        line = match.group(1) if match else _first_long_row(raw, sep)
        where = f" line {line}:" if line else ""
        raise NotThisKindOfData(
            f"{source}:{where} not a well-formed CSV (a row has more cells than the header "
            "line has column names); fix that row or quote cells that contain the separator"
        ) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    _check_names(_header_names(raw, sep), source)  # as written: pandas renames a repeated name to name.1
    _check_names(list(frame.columns), source)  # after stripping spaces
    frame.index = np.arange(len(frame)) + 2  # the CSV line of each row, kept through the filtering below
    frame = frame[frame.apply(lambda col: col.str.strip() != "").any(axis=1)]  # blank lines are no rows
    if len(frame) == 0:
        raise DataError(f"{source}: has a header but no rows; add one row per time stamp below the header")
    frame.attrs["sep"] = sep
    return frame


def _header_names(raw: str, sep: str) -> list[str]:
    """The header's names as written, stripped."""
    try:
        names = next(csv.reader(io.StringIO(raw.splitlines()[0]), delimiter=sep), [])
    except csv.Error:
        return []
    return [name.strip() for name in names]


def _check_names(names: list[str], source: str) -> None:
    """Refuse a header that names a column twice."""
    seen = set()
    for name in names:
        if name in seen:
            raise NotThisKindOfData(
                f"{source}: line 1: the column name {name!r} appears twice; give each column its own name"
            )
        seen.add(name)


def _first_long_row(raw: str, sep: str) -> int | None:
    """The CSV line of the first row with more cells than the header has names."""
    rows = csv.reader(io.StringIO(raw, newline=""), delimiter=sep)
    width = None
    try:
        for row in rows:
            if width is None:
                width = len(row)
            elif len(row) > width:
                return rows.line_num
    except csv.Error:  # a stray carriage return: pandas has already said the file is malformed
        pass
    return None


SEPARATORS = (",", ";", "\t")


def detect_separator(raw: str) -> str:
    """The separator the header line uses most: comma, semicolon (European) or tab."""
    header = raw.lstrip("\ufeff").splitlines()[0]
    counts = {sep: header.count(sep) for sep in SEPARATORS}
    best = max(SEPARATORS, key=lambda sep: counts[sep])  # ties keep the earlier (comma)
    return best if counts[best] > 0 else ","


SNIFFED_ROWS = 20


def looks_like_series(head: str) -> bool:
    """Whether the start of a nameless input (stdin) is a CSV of series: a header with a separator, rows of
    as many cells, and a column of numbers."""
    lines = [line for line in head.lstrip("\ufeff").splitlines()[: SNIFFED_ROWS + 1] if line.strip()]
    if len(lines) < 3:
        return False
    sep = detect_separator(lines[0])
    try:
        rows = list(csv.reader(lines, delimiter=sep))
    except csv.Error:
        return False
    width = len(rows[0])
    if width < 2 or any(len(row) != width for row in rows[1:]):
        return False
    columns = [[row[i].strip() for row in rows[1:]] for i in range(width)]
    return any(all(_number_like(cell) for cell in column) for column in columns)


def _number_like(cell: str) -> bool:
    return cell.lower() in MISSING_MARKERS or bool(re.fullmatch(r"[+-]?[\d.,]*\d", cell))


def _read_file(source: str) -> str:
    path = Path(source)
    if not path.exists():
        raise DataError(f"{source}: no such file; check the path")
    if path.is_dir():
        raise DataError(f"{source}: is a directory; give a CSV file")
    return path.read_bytes().decode("utf-8-sig")


def read_series(
    source: str,
    *,
    time_col: str | None = None,
    value_col: str | None = None,
    id_col: str | None = None,
    freq: str | None = None,
    missing: str = "interpolate",
    decimal: str | None = None,
    thousands: str | None = None,
    model_freq: str | None = None,
    remembered: dict[str, str | None] | None = None,
) -> SeriesSet:
    """Read a wide or long CSV into regular series, filling (or refusing) gaps.

    ``model_freq`` and ``remembered`` (frequency, column roles) come from the model the series are for.
    """
    if missing not in MISSING_POLICIES:
        raise DataError(f"--missing: unknown value '{missing}' (choose one of: {', '.join(MISSING_POLICIES)})")
    given_convention(decimal, thousands)  # a bad flag is reported before the file is read
    frame = read_table(source)
    sep = frame.attrs.get("sep", ",")
    convention = given_convention(decimal, thousands, custom=usual_decimal(sep))
    frame, notes = normalise_numbers(frame, sep=sep, given=convention, source=source)
    known = {role: name for role, name in (remembered or {}).items() if name in frame.columns}
    layout = detect_layout(
        frame,
        source,
        time_col=time_col or known.get("time"),
        value_col=value_col or known.get("value"),
        id_col=id_col or known.get("id"),
    )
    times, time_format = parse_times(frame, layout.time_col, source)
    groups = _group_rows(frame, layout, times, source)
    freq = _series_freq([t for t, _, _ in groups.values()], freq, model_freq, source)
    result = SeriesSet(series=[], freq=freq, time_format=time_format, source=source, layout=layout.kind, notes=notes)
    result.columns = layout.roles()
    for sid, (stamps, cells, lines) in groups.items():
        values = _numbers(cells, lines, source, column=layout.value_cols[sid])
        stamps, values, lines = _trim_blank_ends(stamps, values, lines, source=source, sid=sid)
        series, note = regularise(
            sid, stamps, values, lines, freq=freq, source=source, missing=missing, time_format=time_format
        )
        result.series.append(series)
        result.warnings.extend([note] if note else [])
    return result


def _series_freq(stamp_lists, freq: str | None, model_freq: str | None, source: str) -> str:
    """--freq, else the inferred frequency; refused when it is not the model's."""
    if freq is None:
        try:
            freq = infer_freq(stamp_lists, source)
        except DataError:
            if model_freq is None:
                raise
            freq = model_freq  # a row or two per series: the model's grid
    _check_freq(freq, source)
    if model_freq is not None and not same_freq(freq, model_freq):
        raise DataError(
            f"{source}: the data is {describe_freq(freq)} but the model was trained on "
            f"{describe_freq(model_freq)} data; give data of the model's frequency, or train a model on this file"
        )
    return model_freq or freq  # the model's spelling of the same grid (W-SUN for W)


def same_freq(a: str, b: str) -> bool:
    """Two aliases of one grid (W and W-SUN, H and h)."""
    if a.startswith("step:") or b.startswith("step:"):
        return a == b
    offset = pd.tseries.frequencies.to_offset
    return offset(a) == offset(b)


@dataclass
class Layout:
    kind: str  # wide or long
    time_col: str | None
    id_col: str | None
    value_cols: dict[str, str]  # series id -> the column holding its values

    def roles(self) -> dict[str, str | None]:
        """The columns' roles, as a checkpoint remembers them (value: the value column of a long file)."""
        value = next(iter(self.value_cols.values()), None) if self.kind == "long" else None
        return {"time": self.time_col, "id": self.id_col, "value": value}


def describe_roles(roles: dict[str, str | None]) -> str:
    """``series in 'symbol', times in 'date', values in 'price'`` (a long file), or the time column of a wide one."""
    time = f"times in {roles['time']!r}" if roles.get("time") else "no time column (rows numbered)"
    if roles.get("id"):
        return f"series in {roles['id']!r}, {time}, values in {roles['value']!r}"
    return time


def detect_layout(
    frame: pd.DataFrame, source: str, *, time_col: str | None, value_col: str | None, id_col: str | None
) -> Layout:
    """Wide or long, from the flags, the header's names, or the data (a text column whose values repeat)."""
    columns = list(frame.columns)
    for flag, name in (("--time-col", time_col), ("--value-col", value_col), ("--id-col", id_col)):
        if name is not None and name not in columns:
            raise DataError(f"{source}: {flag} {name!r} is not a column (columns: {', '.join(columns)})")
    time_col = time_col or _guess_time_col(frame, skip=(id_col, value_col))
    rest = [c for c in columns if c not in (time_col, value_col)]
    if id_col is None:
        id_col = next((c for c in rest if c.lower() in ID_NAMES), None) or _guess_id_col(frame, rest, time_col)
        if id_col is None and value_col is not None:
            id_col = next((c for c in rest if not _mostly_numeric(frame[c])), None)
    if id_col is not None:
        return _long_layout(frame, source, time_col=time_col, id_col=id_col, value_col=value_col)
    return _wide_layout(frame, source, time_col=time_col, values=[value_col] if value_col else rest)


def _wide_layout(frame: pd.DataFrame, source: str, *, time_col: str | None, values: list[str]) -> Layout:
    """A time column and one numeric column per series."""
    columns = list(frame.columns)
    if not values:
        raise DataError(f"{source}: no value column; a series file needs at least one numeric column")
    if not any(_mostly_numeric(frame[c]) for c in values):
        raise NotThisKindOfData(
            f"{source}: no numeric column (columns: {', '.join(columns)}); a series file needs "
            "a time column and at least one column of numbers"
        )
    for column in values:
        if not _mostly_numeric(frame[column]) and (~is_missing(frame[column])).any():
            raise DataError(
                f"{source}: column {column!r} is not numeric; if it names the series (a long file), "
                f"give --id-col {column}, or --time-col {column} if it holds the times"
            )
    return Layout("wide", time_col, None, {c: c for c in values})


def _long_layout(
    frame: pd.DataFrame, source: str, *, time_col: str | None, id_col: str, value_col: str | None
) -> Layout:
    """Rows of (id, time, value): the value column named by the flag, by its name, or the only numeric one left."""
    columns = list(frame.columns)
    values = [c for c in columns if c not in (time_col, id_col)]
    numeric = [c for c in values if _mostly_numeric(frame[c])]
    if not values or (value_col is None and not numeric):
        raise NotThisKindOfData(
            f"{source}: no numeric column (columns: {', '.join(columns)}); a series file needs "
            "a column of numbers besides the time and the series id"
        )
    value_col = value_col or next((c for c in values if c.lower() in VALUE_NAMES), None)
    if value_col is None:
        if len(numeric) != 1:
            raise DataError(
                f"{source}: long layout (id column {id_col!r}) with several value columns "
                f"({', '.join(numeric)}); say which with --value-col"
            )
        value_col = numeric[0]
    ids = list(dict.fromkeys(frame[id_col].astype(str)))
    return Layout("long", time_col, id_col, {sid: value_col for sid in ids})


def _guess_time_col(frame: pd.DataFrame, skip: tuple[str | None, ...] = ()) -> str | None:
    """A column named like a time, else the first text column of dates; None means an integer index."""
    named = [c for c in frame.columns if c.lower() in TIME_NAMES and c not in skip]
    if named:
        return named[0]
    if len(frame.columns) < 2:
        return None
    for column in frame.columns:
        readable = column not in skip and not _mostly_numeric(frame[column])
        if readable and parse_with_format(frame[column])[0] is not None:
            return column
    return None


def _guess_id_col(frame: pd.DataFrame, candidates: list[str], time_col: str | None) -> str | None:
    """A text column, filled in every row, whose values repeat (in blocks, preferably): the series ids.

    Several series share times, so with more than one id some time must repeat: a weekday column beside
    unique dates is a label of a wide file, not the ids of seven weekly series.
    """
    times_repeat = time_col is None or frame[time_col].str.strip().duplicated().any()
    texts = [
        c
        for c in candidates
        if not _mostly_numeric(frame[c])
        and not is_missing(frame[c]).any()
        and frame[c].nunique() < len(frame)
        and (times_repeat or frame[c].nunique() == 1)
    ]
    if not texts:
        return None
    blocks = [c for c in texts if (frame[c] != frame[c].shift()).sum() == frame[c].nunique()]
    return (blocks or texts)[0]


def _mostly_numeric(column: pd.Series) -> bool:
    cells = column[~is_missing(column)]
    return len(cells) > 0 and pd.to_numeric(cells, errors="coerce").notna().mean() > 0.5


# --- rows --------------------------------------------------------------------------


def _group_rows(frame: pd.DataFrame, layout: Layout, times, source: str):
    """series id -> (time stamps, value cells, CSV line numbers), checked for order and duplicates."""
    lines = frame.index.to_numpy()
    stamps = times
    groups = {}
    for sid, column in layout.value_cols.items():
        if layout.id_col is not None:
            mask = (frame[layout.id_col].astype(str) == sid).to_numpy()
        else:
            mask = np.ones(len(frame), dtype=bool)
        rows = lines[mask]
        cells = frame[column].to_numpy()[mask]
        if stamps is None:
            own = np.arange(len(rows), dtype=np.int64)
        else:
            own = pd.Index(stamps)[mask] if not isinstance(stamps, np.ndarray) else stamps[mask]
        _check_order(own, rows, source=source, sid=sid, layout=layout)
        groups[sid] = (own, cells, rows)
    return groups


def _check_order(stamps, rows: np.ndarray, *, source: str, sid: str, layout: Layout) -> None:
    values = np.asarray(stamps.asi8 if isinstance(stamps, pd.Index) and hasattr(stamps, "asi8") else stamps)
    if len(values) < 2:
        return
    steps = np.diff(values)
    same = np.flatnonzero(steps == 0)
    back = np.flatnonzero(steps < 0)
    label = f" of series {sid!r}" if layout.kind == "long" or len(layout.value_cols) > 1 else ""
    if len(same):
        i = same[0]
        raise DataError(
            f"{source}: line {rows[i + 1]}: duplicate timestamp{label} (same as line {rows[i]}); "
            "each time may appear once per series"
        )
    if len(back):
        i = back[0]
        raise DataError(
            f"{source}: line {rows[i + 1]}: rows are not sorted by time{label} (earlier than line "
            f"{rows[i]}); sort the file by time"
        )


def infer_freq(stamp_lists, source: str) -> str:
    """The frequency shared by the series: pandas' inference, else the commonest step."""
    longest = max(stamp_lists, key=len)
    if isinstance(longest, np.ndarray):
        steps = np.concatenate([np.diff(s) for s in stamp_lists if len(s) > 1] or [np.array([1])])
        step = int(np.gcd.reduce(steps)) if len(steps) else 1
        return f"step:{max(step, 1)}"
    for stamps in sorted(stamp_lists, key=len, reverse=True):
        if len(stamps) >= 3:
            with warnings.catch_warnings():  # pandas 3 announces offsets instead of strings
                warnings.simplefilter("ignore")
                guess = pd.infer_freq(pd.DatetimeIndex(stamps))
            if guess is not None:
                return _normalise_alias(getattr(guess, "freqstr", guess))
    return _freq_from_steps(pd.DatetimeIndex(longest), source)


def _normalise_alias(alias: str) -> str:
    return {"H": "h", "T": "min", "S": "s", "A-DEC": "YE-DEC", "AS-JAN": "YS-JAN"}.get(alias, alias)


def _freq_from_steps(stamps: pd.DatetimeIndex, source: str) -> str:
    """With gaps pandas cannot infer; use the smallest common step and the calendar."""
    if len(stamps) < 2:
        raise DataError(
            f"{source}: a single row of data per series; a time series needs many rows, one per time "
            "stamp (and --freq to name the step when it cannot be inferred)"
        )
    days = np.diff(stamps.as_unit("ns").asi8) / 86_400e9
    smallest = float(np.min(days))
    if 27 <= smallest <= 31:
        return "MS" if (stamps.day == 1).all() else "ME" if stamps.is_month_end.all() else "MS"
    if 89 <= smallest <= 92:
        return "QS" if (stamps.day == 1).all() else "QE"
    if 365 <= smallest <= 366:
        return "YS" if (stamps.day == 1).all() else "YE"
    if smallest == 7:
        return f"W-{stamps[0].day_name()[:3].upper()}"
    step = pd.Timedelta(days=smallest)
    return pd.tseries.frequencies.to_offset(step).freqstr


def _check_freq(freq: str, source: str) -> None:
    if freq.startswith("step:"):
        if not freq[5:].isdigit() or int(freq[5:]) < 1:
            raise DataError(f"{source}: bad frequency {freq!r}")
        return
    try:
        pd.tseries.frequencies.to_offset(freq)
    except ValueError:
        raise DataError(f"--freq {freq!r}: not a pandas frequency; use e.g. h, D, W, MS, QS, YS or 15min") from None


# --- values and gaps -------------------------------------------------------------------


def _numbers(cells: np.ndarray, lines: np.ndarray, source: str, *, column: str) -> np.ndarray:
    text = pd.Series(cells, dtype=str).str.strip()
    missing = is_missing(text)
    values = pd.to_numeric(text.where(~missing), errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(np.isnan(values) & ~missing.to_numpy() | np.isinf(values))
    if len(bad):
        i = bad[0]
        raise DataError(f"{source}: line {lines[i]}, column {column!r}: {text.iloc[i]!r} is not a number")
    return values


def _trim_blank_ends(stamps, values: np.ndarray, lines: np.ndarray, *, source: str, sid: str):
    """A series starts at its first number and ends at its last (wide files of unequal lengths)."""
    known = np.flatnonzero(~np.isnan(values))
    if len(known) == 0:
        raise DataError(f"{source}: series {sid!r} has no numbers at all")
    keep = slice(known[0], known[-1] + 1)
    return stamps[keep], values[keep], lines[keep]


def time_grid(start, periods: int, freq: str):
    """``periods`` time stamps from ``start`` on ``freq`` (integers for an integer index)."""
    if freq.startswith("step:"):
        step = int(freq[5:])
        return np.asarray(start, dtype=np.int64) + step * np.arange(periods, dtype=np.int64)
    return pd.date_range(start=start, periods=periods, freq=freq)


def regularise(
    sid: str,
    stamps,
    values: np.ndarray,
    lines: np.ndarray,
    *,
    freq: str,
    source: str,
    missing: str,
    time_format: str | None,
) -> tuple[Series, str | None]:
    """Put a series on its complete grid; fill gaps and empty cells by interpolation."""
    if freq.startswith("step:"):
        step = int(freq[5:])
        positions = (np.asarray(stamps) - stamps[0]) / step
    else:
        grid = pd.date_range(start=stamps[0], end=stamps[-1], freq=freq)
        if len(grid) == 0 or grid[0] != stamps[0]:
            raise DataError(
                f"{source}: line {lines[0]}: {stamps[0]} is not on the {describe_freq(freq)} grid; check --freq"
            )
        positions = grid.get_indexer(pd.DatetimeIndex(stamps)).astype(float)
    off = np.flatnonzero((positions < 0) | (positions != np.round(positions)))
    if len(off):
        i = off[0]
        raise DataError(
            f"{source}: line {lines[i]}: {stamps[i]} does not fall on the {describe_freq(freq)} "
            "grid of the other rows; fix the time or give --freq"
        )
    positions = positions.astype(np.int64)
    full = np.full(int(positions[-1]) + 1, np.nan)
    full[positions] = values
    holes = np.flatnonzero(np.isnan(full))
    blank = positions[np.isnan(values)]
    gaps = np.setdiff1d(np.arange(len(full)), positions)
    note = None
    if len(holes):
        where = _describe_holes(holes, stamps[0], freq, time_format)
        if missing == "error":
            raise DataError(
                f"{source}: series {sid!r} has {len(holes)} missing value(s) ({where}); "
                "fill them, or drop --missing error to interpolate"
            )
        known = np.flatnonzero(~np.isnan(full))
        if len(known) == 0:
            raise DataError(f"{source}: series {sid!r} has no numbers at all")
        full[holes] = np.interp(holes, known, full[known])
        note = f"{source}: series {sid!r}: {len(holes)} missing value(s) filled by linear interpolation ({where})"
    start = int(stamps[0]) if freq.startswith("step:") else pd.Timestamp(stamps[0])
    return Series(
        id=sid, values=full, start=start, filled=len(holes), blank_cells=blank.tolist(), gaps=gaps.tolist()
    ), note


def _describe_holes(holes: np.ndarray, start, freq: str, time_format: str | None, limit: int = 5) -> str:
    stamps = time_grid(start, int(holes.max()) + 1, freq)
    shown = [format_time(stamps[i], time_format) for i in holes[:limit]]
    more = f" and {len(holes) - limit} more" if len(holes) > limit else ""
    return "at " + ", ".join(shown) + more


def series_times(series: Series, freq: str):
    return time_grid(series.start, len(series.values), freq)
