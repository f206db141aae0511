"""Numbers as CSV files write them: decimal marks, thousands separators (1.090 in a European file) and NA markers.

Every column is looked at on its own. A mark (``.`` or ``,``) that is followed
by exactly three digits in every cell of a column, where the file's custom
uses the other mark as the decimal (a ``;`` file writes decimal commas), or
that appears twice in one number, is a thousands separator; a cell with both
marks says which is which by their order. What was decided is said in a note,
and ``--decimal`` and ``--thousands`` state it instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from rnncli.core.errors import UsageError

# Cells that mean "no value" (compared without case): missing values, not errors.
MISSING_MARKERS = frozenset({"", "na", "n/a", "#n/a", "nan", "null", "none"})
DECIMAL_MARKS = (".", ",")
THOUSANDS_MARKS = {".": ".", ",": ",", "space": " ", "'": "'", "none": ""}
SPACES = "\u00a0\u202f"  # no-break spaces, as French and Swiss numbers group digits


@dataclass(frozen=True)
class Convention:
    """How a column writes its numbers: the decimal mark and the thousands separator ('' for none)."""

    decimal: str = "."
    thousands: str = ""

    def pattern(self) -> re.Pattern[str]:
        grouped = rf"\d{{1,3}}(?:{re.escape(self.thousands)}\d{{3}})+|" if self.thousands else ""
        return re.compile(rf"[+-]?(?:{grouped}\d+)(?:{re.escape(self.decimal)}\d+)?|[+-]?{re.escape(self.decimal)}\d+")

    def describe(self) -> str:
        shown = {" ": "a space", "'": "an apostrophe"}.get(self.thousands, f"'{self.thousands}'")
        return f"{shown} as the thousands separator and '{self.decimal}' as the decimal mark"


def given_convention(decimal: str | None, thousands: str | None, *, custom: str = ".") -> Convention | None:
    """--decimal and --thousands, checked (None: detect each column's); ``custom`` is the file's usual decimal
    mark (a comma in a ``;`` file), the decimal when only a space or apostrophe separator is given."""
    if decimal is None and thousands is None:
        return None
    if decimal is not None and decimal not in DECIMAL_MARKS:
        raise UsageError(f"--decimal must be . or , (the mark before the fractional digits), got {decimal!r}")
    if thousands is not None and thousands not in THOUSANDS_MARKS:
        raise UsageError(f"--thousands must be one of {', '.join(THOUSANDS_MARKS)}, got {thousands!r}")
    decimal = decimal or {".": ",", ",": "."}.get(thousands or "", custom)
    mark = THOUSANDS_MARKS[thousands] if thousands is not None else ("." if decimal == "," else "")
    if mark == decimal:
        raise UsageError(f"--decimal and --thousands are both {decimal!r}; they must differ")
    return Convention(decimal, mark)


def usual_decimal(sep: str) -> str:
    """The decimal mark a file separated by ``sep`` usually writes: a comma in a ``;`` file (Europe)."""
    return "," if sep == ";" else "."


def is_missing(cells: pd.Series) -> pd.Series:
    """True for empty cells and NA markers (NA, N/A, nan, null...)."""
    return cells.str.strip().str.lower().isin(MISSING_MARKERS)


def normalise_numbers(
    frame: pd.DataFrame, *, sep: str, given: Convention | None, source: str
) -> tuple[pd.DataFrame, list[str]]:
    """Numbers rewritten with a decimal point and no separators; a note for every column read unusually."""
    notes = []
    custom = usual_decimal(sep)
    frame = frame.copy()
    for column in frame.columns:
        cells = frame[column].str.strip().str.replace(f"[{SPACES}]", " ", regex=True)
        convention = given or detect_convention(cells, custom)
        if convention is None or convention == Convention():
            continue
        pattern = convention.pattern()
        fits = cells.str.fullmatch(pattern.pattern)
        if not fits.any():
            continue
        plain = cells[fits].str.replace(convention.thousands, "", regex=False) if convention.thousands else cells[fits]
        frame.loc[fits, column] = plain.str.replace(convention.decimal, ".", regex=False)
        if given is None and convention.thousands:
            example = cells[fits & cells.str.contains(re.escape(convention.thousands))].iloc[0]
            value = float(example.replace(convention.thousands, "").replace(convention.decimal, "."))
            notes.append(
                f"{source}: column {column!r}: read {convention.describe()} ({example} is {value:g}); "
                "give --decimal and --thousands if that is wrong"
            )
    return frame, notes


NUMBERISH = re.compile(r"[+-]?[\d.,' ]*\d")


def detect_convention(cells: pd.Series, custom: str) -> Convention | None:
    """The convention of a column's numbers with marks in them, or None (no marks, or no numbers)."""
    marked = cells[cells.str.fullmatch(NUMBERISH.pattern) & cells.str.contains(r"[.,]")]
    if marked.empty:
        return None
    both = marked[marked.str.contains(r"\.") & marked.str.contains(",")]
    if not both.empty:
        first = "." if both.iloc[0].index(".") < both.iloc[0].index(",") else ","
        candidate = Convention(decimal="," if first == "." else ".", thousands=first)
        return candidate if marked.str.fullmatch(candidate.pattern().pattern).all() else None
    mark = "." if marked.str.contains(r"\.").any() else ","
    if marked.str.contains(r"\.").any() and marked.str.contains(",").any():
        return None  # some cells with one mark, some with the other: leave them to be reported
    grouped = marked.str.fullmatch(rf"[+-]?\d{{1,3}}(?:{re.escape(mark)}\d{{3}})+")
    twice = marked.str.count(re.escape(mark)) > 1
    other = "," if mark == "." else "."
    if grouped.all() and (twice.any() or mark != custom):
        return Convention(decimal=other, thousands=mark)
    if mark == "," and marked.str.fullmatch(r"[+-]?\d*,\d+").all():
        return Convention(decimal=",")
    return None
