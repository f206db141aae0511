"""A run's training curve drawn in the terminal: losses as a character plot, learning rate and gradient norm as sparklines."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

from rnncli.cli.render.tables import facts_table, is_finite, result_console, short_number, sparkline

CHART_WIDTH, CHART_HEIGHT = 50, 12
TRAIN_GLYPH, VAL_GLYPH, BEST_GLYPH = "·", "•", "★"


def print_facts_and_curve(console: Console, rows: list[tuple[str, str]], curve: dict[str, Any] | None) -> None:
    """A run's facts as a table, then its training curve when it has one (every run summary starts so)."""
    console.print(facts_table(rows))
    if curve:
        console.print()
        print_curve(curve, console=console)


def print_curve(
    curve: dict[str, Any], *, console: Console | None = None, width: int = CHART_WIDTH, height: int = CHART_HEIGHT
) -> None:
    """Train and validation loss against steps, best point starred, lr and grad norm below."""
    console = result_console(console)
    records = curve["records"]
    console.print(Text(f"training curve ({len(records)} evaluations, {curve['file']})", style="bold"))
    for line in loss_chart(records, best=curve.get("best"), width=width, height=height):
        console.print(line)
    steps = [r["step"] for r in records]
    for label, key in (("lr", "lr"), ("grad norm", "grad_norm")):
        values = [r.get(key) for r in records]
        console.print(_spark_row(label, steps, values, width=width))
    console.print(_gap_line(curve))


def metric_row(records: list[dict[str, Any]], *, width: int = CHART_WIDTH) -> Text | None:
    """The task's own validation metric (entity F1, macro F1...) at each evaluation; None where none was recorded."""
    name = next((r["metric_name"] for r in records if r.get("metric_name")), None)
    if name is None:
        return None
    values = [r.get("val_metric") for r in records]
    return _spark_row("metric", [r["step"] for r in records], values, width=width).append(f" ({name})")


def loss_chart(
    records: list[dict[str, Any]], *, best: dict[str, Any] | None, width: int = CHART_WIDTH, height: int = CHART_HEIGHT
) -> list[Text]:
    """A character plot: ``·`` train loss, ``•`` validation loss, ``★`` the best validation point."""
    steps = [r["step"] for r in records]
    series = {
        key: [(r["step"], r.get(key)) for r in records if is_finite(r.get(key))] for key in ("train_loss", "val_loss")
    }
    values = [v for points in series.values() for _, v in points]
    if not values:
        return [Text("(no losses recorded)")]
    low, high = min(values), max(values)
    if high - low < 1e-12:
        low, high = low - 0.5, high + 0.5
    grid = [[(" ", "")] * width for _ in range(height)]

    def cell(step: float, value: float) -> tuple[int, int]:
        col = _column(step, steps, width)
        row = round((high - value) / (high - low) * (height - 1))
        return col, min(max(row, 0), height - 1)

    for key, glyph, style in (("train_loss", TRAIN_GLYPH, "cyan"), ("val_loss", VAL_GLYPH, "magenta")):
        for col, row in _trace(series[key], cell):
            grid[row][col] = (glyph, style)
    if best and is_finite(best.get("val_loss")):
        col, row = cell(best["step"], best["val_loss"])
        grid[row][col] = (BEST_GLYPH, "bold yellow")
    lines = []
    for i, row in enumerate(grid):
        value = high - (high - low) * i / (height - 1)
        label = f"{value:8.3f} ┤" if i in (0, height // 2, height - 1) else " " * 8 + " │"
        line = Text(label)
        for glyph, style in row:
            line.append(glyph, style=style or None)
        lines.append(line)
    lines.append(Text(" " * 9 + "└" + "─" * width))
    first, last = f"step {steps[0]:,}", f"{steps[-1]:,}"
    lines.append(Text(" " * 10 + first + " " * max(1, width - len(first) - len(last)) + last))
    legend = Text(" " * 10)
    legend.append(TRAIN_GLYPH, style="cyan").append(" train loss   ")
    legend.append(VAL_GLYPH, style="magenta").append(" validation loss   ")
    legend.append(BEST_GLYPH, style="bold yellow").append(" best" + (f" (step {best['step']:,})" if best else ""))
    lines.append(legend)
    return lines


def _column(step: float, steps: list[int], width: int) -> int:
    span = steps[-1] - steps[0]
    if span <= 0:
        return width // 2
    return min(width - 1, max(0, round((step - steps[0]) / span * (width - 1))))


def _trace(points: list[tuple[int, float]], cell) -> list[tuple[int, int]]:
    """The grid cells of a polyline: every column between two points gets an interpolated value."""
    cells = []
    for (s0, v0), (s1, v1) in zip(points, points[1:], strict=False):
        c0, _ = cell(s0, v0)
        c1, _ = cell(s1, v1)
        for col in range(c0, max(c1, c0 + 1)):
            frac = (col - c0) / max(c1 - c0, 1)
            cells.append((col, cell(s0, v0 + (v1 - v0) * frac)[1]))
    if points:
        cells.append(cell(*points[-1]))
    return cells


def _spark_row(label: str, steps: list[int], values: list[Any], *, width: int) -> Text:
    known = [v for v in values if is_finite(v)]
    line = Text(f"{label:>9} ")
    if not known:
        return line.append("(not recorded)")
    low, high = min(known), max(known)
    if high - low <= 1e-12 * max(abs(high), 1e-30) and len(known) == len(values):
        return line.append(f"constant {short_number(low)}")
    chars = [" "] * width
    for step, value in zip(steps, values, strict=True):
        if is_finite(value):
            chars[_column(step, steps, width)] = sparkline([value], low=low, high=high)
    _fill_gaps(chars)
    line.append("".join(chars), style="green")
    return line.append(f"  {short_number(low)} .. {short_number(high)}")


def _fill_gaps(chars: list[str]) -> None:
    """Carry the last value across columns that fall between evaluations."""
    last = None
    for i, char in enumerate(chars):
        if char != " ":
            last = char
        elif last is not None:
            chars[i] = last


def _gap_line(curve: dict[str, Any]) -> Text:
    parts = []
    for name in ("best", "last"):
        point = curve.get(name)
        if point and point.get("gap") is not None:
            parts.append(
                f"{name:>9} step {point['step']:,}: train {point['train_loss']:.4f}, "
                f"val {point['val_loss']:.4f}, gap (val - train) {point['gap']:+.4f}"
            )
    return Text("\n".join(parts) or "no validation loss recorded")
