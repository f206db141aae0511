"""``rnn inspect`` on data files, for people: a text corpus, or a CSV of time series with a sparkline per series."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from rnncli.cli.render.tables import facts_table, result_console, short_number, sparkline


def print_text_summary(summary: dict[str, Any], console: Console | None = None) -> None:
    console = result_console(console)
    vocab, suggestion = summary["vocabulary"], summary["suggested_model"]
    words = f"{vocab['word']:,}{'+' if vocab['word_is_lower_bound'] else ''}"
    files = f" in {summary['files']} files" if summary["files"] > 1 else ""
    rows = [
        ("text", summary["source"] + files),
        ("size", f"{summary['bytes']:,} bytes, {summary['characters']:,} characters, {summary['lines']:,} lines"),
        (
            "vocabulary",
            f"char {vocab['char']:,}, byte 256 ({vocab['byte_values_used']} values used), "
            f"word {words}, bpe as --vocab-size asks",
        ),
        ("entropy", f"{summary['entropy_bits_per_char']:.3f} bits/char (unigram: the baseline a model must beat)"),
    ]
    console.print(facts_table(rows))
    console.print()
    if summary["top_symbols"]:
        console.print(_frequency_table(summary))
    console.print()
    problems = summary["problems"]
    if problems:
        for problem in problems:
            console.print(Text(f"! {problem}", style="yellow"))
    else:
        console.print(Text("nothing unusual: valid UTF-8, no control characters, one line ending"))
    console.print()
    if suggestion is None:
        return
    console.print(
        Text(
            f"suggested model: {suggestion['cell']} {suggestion['num_layers']} x "
            f"{suggestion['hidden_size']}, {suggestion['parameters']:,} parameters "
            f"for {suggestion['target_parameters']:,} characters ({suggestion['rule']})"
        )
    )
    console.print(Text(f"  {suggestion['command']}", style="bold"))


def _frequency_table(summary: dict[str, Any], bar_width: int = 30) -> Table:
    table = Table(show_edge=False, title="most frequent symbols")
    table.add_column("symbol")
    table.add_column("count", justify="right")
    table.add_column("share", justify="right")
    table.add_column("")
    top = summary["top_symbols"]
    peak = top[0]["share"] if top else 1.0
    for entry in top:
        bar = "█" * max(1, round(entry["share"] / peak * bar_width))
        table.add_row(entry["shown"], f"{entry['count']:,}", f"{entry['share']:.1%}", Text(bar, style="blue"))
    return table


def print_series_summary(summary: dict[str, Any], console: Console | None = None) -> None:
    """The facts of a CSV of series, then one line per series with its sparkline."""
    console = result_console(console)
    console.print(facts_table(_series_facts(summary)))
    console.print()
    console.print(_series_table(summary["series"]))
    console.print()
    width = max(len(e["id"]) for e in summary["series"])
    for entry in summary["series"]:
        console.print(
            Text.assemble(
                (f"{entry['id']:>{width}} ", "bold"),
                (sparkline(entry["profile"]), "blue"),
                f" {short_number(entry['min'])} .. {short_number(entry['max'])}",
            )
        )
    for entry in summary["series"]:
        for line in _holes(entry):
            console.print(Text(line, style="yellow"))
    for note in summary.get("notes", []):
        console.print(Text(f"! {note}", style="yellow"))


def _series_facts(summary: dict[str, Any]) -> list[tuple[str, str]]:
    season, span = summary["season"], summary["time_range"]
    shape = " (id, time, value rows)" if summary["layout"] == "long" else " (a time column and one column per series)"
    roles = summary.get("columns") or {}
    if roles.get("id"):
        shape = f" (series in {roles['id']!r}, times in {roles['time']!r}, values in {roles['value']!r})"
    holes = summary["missing_cells"] + summary["gaps"]
    return [
        ("series file", summary["source"]),
        ("layout", summary["layout"] + shape),
        ("series", f"{summary['num_series']}, {summary['total_points']:,} points in all"),
        ("time range", f"{span['start']} to {span['end']}"),
        ("frequency", summary["frequency_name"]),
        ("season", f"{season} steps" if season > 1 else "none detected"),
        (
            "missing",
            f"{summary['missing_cells']} empty cells, {summary['gaps']} missing timestamps"
            + (" (filled by linear interpolation when training)" if holes else ""),
        ),
    ]


def _series_table(series: list[dict[str, Any]]) -> Table:
    table = Table(show_edge=False)
    for name, justify in (
        ("series", "left"),
        ("length", "right"),
        ("from", "left"),
        ("to", "left"),
        ("missing", "right"),
    ):
        table.add_column(name, justify=justify, no_wrap=True)
    for entry in series:
        holes = entry["missing_cells"]["count"] + entry["gaps"]["count"]
        table.add_row(entry["id"], f"{entry['length']:,}", entry["start"], entry["end"], str(holes) if holes else "-")
    return table


def _holes(entry: dict[str, Any]) -> list[str]:
    """Warnings for a series' empty cells and missing timestamps, the first few named."""
    lines = []
    for label, key in (("empty cells", "missing_cells"), ("missing timestamps", "gaps")):
        where = entry[key]
        if where["count"]:
            rest = where["count"] - len(where["first"])
            more = f" and {rest} more" if rest > 0 else ""
            lines.append(f"! {entry['id']}: {where['count']} {label} at {', '.join(where['first'])}{more}")
    return lines


def print_tagged_summary(summary: dict[str, Any], console: Console | None = None) -> None:
    """A tagged file: its sentences and tokens, the scheme, and the tags with their counts."""
    console = result_console(console)
    rows = [
        ("file", f"{summary['source']} ({summary['format']})"),
        (
            "size",
            f"{summary['sentences']:,} sentences, {summary['tokens']:,} tokens, longest "
            f"{summary['longest_sentence']:,}; {summary['distinct_words']:,} distinct words",
        ),  # fmt: skip
        ("tags", f"{len(summary['tags'])}, {summary['scheme']} scheme"),
    ]
    console.print(facts_table(rows))
    console.print()
    table = Table(show_edge=False)
    for name, justify in (("tag", "left"), ("tokens", "right"), ("share", "right")):
        table.add_column(name, justify=justify)
    for tag, count in summary["tags"].items():
        table.add_row(tag, f"{count:,}", f"{count / max(1, summary['tokens']):.1%}")
    console.print(table)
