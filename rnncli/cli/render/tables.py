"""Small pieces every drawing uses: a table of facts, a table cell's text, sparklines, short numbers."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from rnncli.cli.console import stdout

SPARK = "▁▂▃▄▅▆▇█"
MAX_VALUE_CHARS = 40  # a longer value is cut short with "..." in a table


def result_console(console: Console | None) -> Console:
    """The given console, or one on stdout (results go to stdout)."""
    return console or stdout()


def facts_table(rows: list[tuple[str, str]]) -> Table:
    """Two columns, name and value, without borders."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for key, value in rows:
        grid.add_row(key, Text(value))
    return grid


def table_value(value: Any) -> str:
    """A value as a table shows it: losses to four places, counts with thousands separators, long text cut."""
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    text = "-" if value is None else str(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."


def sparkline(values: list[Any], *, low: float | None = None, high: float | None = None) -> str:
    """Unicode block characters for ``values``; a missing value is a space."""
    known = [v for v in values if is_finite(v)]
    if not known:
        return " " * len(values)
    low = min(known) if low is None else low
    high = max(known) if high is None else high
    span = high - low
    out = []
    for v in values:
        if not is_finite(v):
            out.append(" ")
        elif span <= 0:
            out.append(SPARK[len(SPARK) // 2])
        else:
            out.append(SPARK[min(len(SPARK) - 1, int((v - low) / span * len(SPARK)))])
    return "".join(out)


def log_sparkline(values: list[float]) -> str:
    """A sparkline on a log scale (gradient norms span many decades); zeros show as spaces."""
    return sparkline([math.log10(v) if v > 0 else None for v in values])


def is_finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def short_number(value: float) -> str:
    return f"{value:.3g}"
