"""Drawing ``inspect`` summaries for people (CLI layer); the facts come from report*.py and gradflow.py.

Terminal pictures are plain character grids printed through rich; image
files use matplotlib, imported only when ``--plot`` asks for one.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from rnncli.cli.console import stdout
from rnncli.core.errors import UsageError

SPARK = "▁▂▃▄▅▆▇█"
CHART_WIDTH, CHART_HEIGHT = 50, 12
TRAIN_GLYPH, VAL_GLYPH, BEST_GLYPH = "·", "•", "★"


def _console(console: Console | None) -> Console:
    return console or stdout()


def _facts(rows: list[tuple[str, str]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for key, value in rows:
        grid.add_row(key, Text(value))
    return grid


# --- checkpoints and runs ---------------------------------------------------------------------


def print_checkpoint_summary(summary: dict[str, Any], console: Console | None = None) -> None:
    console = _console(console)
    console.print(_facts(_checkpoint_rows(summary)))
    curve = summary.get("curve")
    if curve:
        console.print()
        print_curve(curve, console=console)
    table = Table(title="tensors", show_edge=False)
    table.add_column("name")
    table.add_column("parameters", justify="right")
    for name, count in summary["parameters"].items():
        table.add_row(name, f"{count:,}")
    console.print()
    console.print(table)


def _checkpoint_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    model, history = summary.get("model") or {}, summary.get("history") or {}
    data, versions = summary.get("data") or {}, summary.get("versions") or {}
    train, tok = summary.get("train") or {}, summary["tokenizer"]
    steps = history.get("step", 0)
    budget = train.get("steps")
    rows = [
        ("checkpoint", summary["path"]),
        ("task", str(summary.get("task"))),
        ("cell", f"{model.get('cell')} ({model.get('num_layers')} x {model.get('hidden_size')}, "
                 f"embedding {model.get('embed_size')}, dropout {model.get('dropout')})"),
        ("implementation", _implementation(summary.get("implementation") or {})),
        ("parameters", _parameters_line(summary, data)),
        ("tokenizer", f"{tok['kind']}, {tok['vocab_size']} symbols: "
                      + (repr(tok["preview"]) if tok["kind"] == "char" else tok["preview"])),
        ("trained", f"{steps:,} steps{f' of {budget:,}' if budget else ''}, "
                    f"{history.get('tokens_seen', 0):,} tokens{_epochs(history, data)}, "
                    f"{history.get('elapsed_s', 0):.0f} s{_went_on(summary, steps)}"),
        ("best validation", _best(history)),
        ("settings", _settings_line(train)),
        ("data", f"{data.get('source')} ({data.get('num_chars', 0):,} chars) sha256 {str(data.get('sha256'))[:16]}"),
        ("versions", ", ".join(f"{k} {v}" for k, v in versions.items())),
        ("command", " ".join(str(a) for a in summary.get("command") or []) or "-"),
    ]
    verdict = (summary.get("curve") or {}).get("verdict")
    if verdict:
        rows.append(("verdict", verdict["message"]))
    rows.extend(_curve_notes(summary, steps))
    return rows


def _curve_notes(summary: dict[str, Any], steps: int) -> list[tuple[str, str]]:
    """Say why a curve is missing or shorter than the checkpoint's own history."""
    curve = summary.get("curve")
    if not curve:
        if (Path(summary["path"]).parent / "metrics.jsonl").is_file():
            return [("curve", "none: metrics.jsonl beside this checkpoint holds no readable evaluation record")]
        return [("curve", "none: no metrics.jsonl beside this checkpoint (inspect its run folder to see one)")]
    notes = []
    skipped, last = curve.get("skipped_lines", 0), (curve.get("last") or {}).get("step")
    if skipped:
        notes.append(("metrics", f"{skipped} unreadable line(s) of metrics.jsonl skipped (cut short by a crash "
                                 f"or edited?); the curve ends at step {last}"))
    if last is not None and last < steps:
        notes.append(("metrics", f"the checkpoint is at step {steps:,} but metrics.jsonl stops at step {last:,}"))
    return notes


def _went_on(summary: dict[str, Any], steps: int) -> str:
    last = ((summary.get("curve") or {}).get("last") or {}).get("step")
    if last is None or last <= steps:
        return ""
    return f"; the run went on to step {last:,} (this is its best checkpoint; last.safetensors is the latest)"


def _parameters_line(summary: dict[str, Any], data: dict[str, Any]) -> str:
    total = summary["total_parameters"]
    chars = data.get("num_chars")
    if not chars:
        return f"{total:,}"
    return f"{total:,} ({total / chars:.2g} per training character)"


def _epochs(history: dict[str, Any], data: dict[str, Any]) -> str:
    tokens = data.get("num_tokens")
    if not tokens:
        return ""
    return f" ({history.get('tokens_seen', 0) / tokens:.1f} passes over the data)"


def _settings_line(train: dict[str, Any]) -> str:
    keys = ("seq_len", "batch_size", "lr", "weight_decay", "clip", "seed")
    return ", ".join(f"{k} {train[k]}" for k in keys if k in train) or "-"


def _best(history: dict[str, Any]) -> str:
    loss = history.get("best_val_loss")
    if loss is None:
        return "-"
    bpc = history.get("best_val_bpc")
    bits = f", {bpc:.3f} bits/char" if bpc is not None else ""
    return f"loss {loss:.4f} nats{bits}, at step {history.get('best_step')}"


def print_curve(curve: dict[str, Any], *, console: Console | None = None,
                width: int = CHART_WIDTH, height: int = CHART_HEIGHT) -> None:
    """Train and validation loss against steps, best point starred, lr and grad norm below."""
    console = _console(console)
    records = curve["records"]
    console.print(Text(f"training curve ({len(records)} evaluations, {curve['file']})", style="bold"))
    for line in loss_chart(records, best=curve.get("best"), width=width, height=height):
        console.print(line)
    steps = [r["step"] for r in records]
    for label, key in (("lr", "lr"), ("grad norm", "grad_norm")):
        values = [r.get(key) for r in records]
        console.print(_spark_row(label, steps, values, width=width))
    console.print(_gap_line(curve))


def loss_chart(records: list[dict[str, Any]], *, best: dict[str, Any] | None,
               width: int = CHART_WIDTH, height: int = CHART_HEIGHT) -> list[Text]:
    """A character plot: ``·`` train loss, ``•`` validation loss, ``★`` the best validation point."""
    steps = [r["step"] for r in records]
    series = {key: [(r["step"], r.get(key)) for r in records if _finite(r.get(key))]
              for key in ("train_loss", "val_loss")}
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
    if best and _finite(best.get("val_loss")):
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
    known = [v for v in values if _finite(v)]
    line = Text(f"{label:>9} ")
    if not known:
        return line.append("(not recorded)")
    low, high = min(known), max(known)
    if high - low <= 1e-12 * max(abs(high), 1e-30) and len(known) == len(values):
        return line.append(f"constant {_short(low)}")
    chars = [" "] * width
    for step, value in zip(steps, values, strict=True):
        if _finite(value):
            chars[_column(step, steps, width)] = sparkline([value], low=low, high=high)
    _fill_gaps(chars)
    line.append("".join(chars), style="green")
    return line.append(f"  {_short(low)} .. {_short(high)}")


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
            parts.append(f"{name:>9} step {point['step']:,}: train {point['train_loss']:.4f}, "
                         f"val {point['val_loss']:.4f}, gap (val - train) {point['gap']:+.4f}")
    return Text("\n".join(parts) or "no validation loss recorded")


def sparkline(values: list[Any], *, low: float | None = None, high: float | None = None) -> str:
    """Unicode block characters for ``values``; a missing value is a space."""
    known = [v for v in values if _finite(v)]
    if not known:
        return " " * len(values)
    low = min(known) if low is None else low
    high = max(known) if high is None else high
    span = high - low
    out = []
    for v in values:
        if not _finite(v):
            out.append(" ")
        elif span <= 0:
            out.append(SPARK[len(SPARK) // 2])
        else:
            out.append(SPARK[min(len(SPARK) - 1, int((v - low) / span * len(SPARK)))])
    return "".join(out)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _short(value: float) -> str:
    return f"{value:.3g}"


# --- comparison -------------------------------------------------------------------------------


def print_comparison(result: dict[str, Any], console: Console | None = None) -> None:
    console = _console(console)
    best = result["best"]
    table = Table(show_edge=False, title="best losses")
    table.add_column("")
    table.add_column("A", justify="right")
    table.add_column("B", justify="right")
    for key in ("best_val_loss", "best_val_bpc", "best_step", "steps", "tokens_seen", "run_steps"):
        table.add_row(key, _cell(best["a"][key]), _cell(best["b"][key]))
    console.print(Text(f"A: {result['a']}\nB: {result['b']}"))
    console.print(table)
    if result["lower_val_loss"]:
        measure = "bits per character" if result["compared_by"] == "best_val_bpc" else "loss"
        console.print(Text(f"{result['lower_val_loss'].upper()} has the lower best validation {measure}"))
    elif result["compared_by"] is None:
        console.print(Text("their losses do not compare (different tasks, or different tokenizers without "
                           "bits per character)"))
    diff = Table(show_edge=False, title="settings that differ")
    diff.add_column("setting")
    diff.add_column("A")
    diff.add_column("B")
    for key, (a, b) in result["differences"].items():
        diff.add_row(key, _cell(a), _cell(b))
    console.print(diff if result["differences"] else Text("the settings are the same"))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    text = "-" if value is None else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --- text corpora -----------------------------------------------------------------------------


def print_text_summary(summary: dict[str, Any], console: Console | None = None) -> None:
    console = _console(console)
    vocab, suggestion = summary["vocabulary"], summary["suggested_model"]
    words = f"{vocab['word']:,}{'+' if vocab['word_is_lower_bound'] else ''}"
    files = f" in {summary['files']} files" if summary["files"] > 1 else ""
    rows = [
        ("text", summary["source"] + files),
        ("size", f"{summary['bytes']:,} bytes, {summary['characters']:,} characters, {summary['lines']:,} lines"),
        ("vocabulary", f"char {vocab['char']:,}, byte 256 ({vocab['byte_values_used']} values used), "
                       f"word {words}, bpe as --vocab-size asks"),
        ("entropy", f"{summary['entropy_bits_per_char']:.3f} bits/char (unigram: the baseline a model must beat)"),
    ]
    console.print(_facts(rows))
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
    console.print(Text(f"suggested model: {suggestion['cell']} {suggestion['num_layers']} x "
                       f"{suggestion['hidden_size']}, {suggestion['parameters']:,} parameters "
                       f"for {suggestion['target_parameters']:,} characters ({suggestion['rule']})"))
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


# --- image files ------------------------------------------------------------------------------


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install rnncli[plot]") from None
    matplotlib.use("Agg")  # files only; never open a window
    import matplotlib.pyplot as plt

    return plt


def save_curve_plot(curves: list[tuple[str, dict[str, Any]]], path: Path) -> None:
    """Loss curves (best points starred), learning rate and gradient norm, as an image file."""
    plt = _pyplot()
    fig, (ax_loss, ax_lr, ax_grad) = plt.subplots(3, 1, figsize=(8, 7), sharex=True,
                                                  gridspec_kw={"height_ratios": [3, 1, 1]})
    for i, (name, curve) in enumerate(curves):
        train_colour, val_colour = f"C{2 * i}", f"C{2 * i + 1}"
        records = curve["records"]
        steps = [r["step"] for r in records]
        prefix = f"{name}: " if len(curves) > 1 else ""
        ax_loss.plot(steps, [r.get("train_loss") for r in records], label=f"{prefix}train", alpha=0.7,
                     color=train_colour)
        ax_loss.plot(steps, [r.get("val_loss") for r in records], marker="o", ms=3, label=f"{prefix}validation",
                     color=val_colour)
        best = curve.get("best")
        if best and best.get("val_loss") is not None:
            ax_loss.plot([best["step"]], [best["val_loss"]], marker="*", ms=14, color="gold",
                         markeredgecolor="black", linestyle="none")
        ax_lr.plot(steps, [r.get("lr") for r in records], color=val_colour)
        ax_grad.plot(steps, [r.get("grad_norm") for r in records], color=val_colour)
    ax_loss.set_ylabel("loss (nats/token)")
    ax_loss.legend()
    ax_lr.set_ylabel("lr")
    ax_grad.set_ylabel("grad norm")
    ax_grad.set_xlabel("step")
    fig.tight_layout()
    _save(fig, path, plt)


def save_frequency_plot(summary: dict[str, Any], path: Path) -> None:
    """The most frequent symbols of a text as a bar chart."""
    plt = _pyplot()
    top = summary["top_symbols"]
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar([t["shown"] for t in top], [t["share"] for t in top])
    ax.set_ylabel("share of characters")
    ax.set_title(f"{summary['source']}: most frequent symbols")
    fig.tight_layout()
    _save(fig, path, plt)


def _save(fig, path: Path, plt) -> None:
    try:
        fig.savefig(path)
    except (OSError, ValueError) as exc:
        raise UsageError(f"--plot {path}: cannot write the image ({exc})") from None


def _implementation(impl: dict[str, Any]) -> str:
    text = f"{impl.get('impl')} ({impl.get('runs_on')})"
    if impl.get("reference_only"):
        text += "; this cell is reference-only: PyTorch has no fused kernel for it"
    return text


TABLE_DISTANCES = (0, 1, 2, 5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500, 1000)


def log_sparkline(values: list[float]) -> str:
    """A sparkline on a log scale (gradient norms span many decades); zeros show as spaces."""
    return sparkline([math.log10(v) if v > 0 else None for v in values])


def print_grad_flow(result: dict[str, Any], console: Console | None = None) -> None:
    """A title line, a log-scale sparkline of the norms and a table at a few distances."""
    console = _console(console)
    model, norms = result["model"], result["norms"]
    state = "trained" if result["trained"] else "untrained"
    console.print(f"gradient flow: {model['cell']} ({model['impl']}, {model['num_layers']} x "
                  f"{model['hidden_size']}), {state}; {result['windows']} windows of "
                  f"{result['text']}", markup=False)
    console.print(f"|d loss_T / d h_(T-k)|, k = 0..{len(norms) - 1}, log scale:", markup=False)
    console.print(log_sparkline(norms), markup=False)
    table = Table(show_edge=False)
    for name in ("k steps back", "mean norm", "relative to k=1"):
        table.add_column(name, justify="right")
    for k in TABLE_DISTANCES:
        if k < len(norms):
            rel = norms[k] / norms[1] if len(norms) > 1 and norms[1] > 0 else float("nan")
            table.add_row(str(k), f"{norms[k]:.3e}", f"{rel:.3e}")
    console.print(table)


def write_grad_flow_plot(results: list[dict[str, Any]], path: Path) -> None:
    """A log-scale line plot of one or more grad-flow results; matplotlib is imported only here."""
    from rnncli.core.errors import UsageError

    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt
    except ImportError:
        raise UsageError("--plot needs matplotlib; install it with: pip install 'rnncli[plot]'") from None
    fig, ax = plt.subplots(figsize=(7, 4))
    for result in results:
        model = result["model"]
        label = f"{model['cell']} {model['num_layers']}x{model['hidden_size']}"
        label += "" if result["trained"] else " (untrained)"
        norms = result["norms"]
        ks = [k for k, v in enumerate(norms) if v > 0]
        ax.plot(ks, [norms[k] for k in ks], label=label)
    ax.set_yscale("log")
    ax.set_xlabel("k (steps back)")
    ax.set_ylabel("mean |d loss_T / d h_(T-k)|")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=110)
    except OSError as exc:
        raise UsageError(f"--plot {path}: cannot write ({exc.strerror or exc})") from None
    finally:
        plt.close(fig)


# --- CSV time series and forecasters ------------------------------------------------------------


def print_series_summary(summary: dict[str, Any], console: Console | None = None) -> None:
    """The facts of a CSV of series, then one line per series with its sparkline."""
    console = _console(console)
    season = summary["season"]
    span = summary["time_range"]
    rows = [
        ("series file", summary["source"]),
        ("layout", summary["layout"] + (" (id, time, value rows)" if summary["layout"] == "long"
                                        else " (a time column and one column per series)")),
        ("series", f"{summary['num_series']}, {summary['total_points']:,} points in all"),
        ("time range", f"{span['start']} to {span['end']}"),
        ("frequency", summary["frequency_name"]),
        ("season", f"{season} steps" if season > 1 else "none detected"),
        ("missing", f"{summary['missing_cells']} empty cells, {summary['gaps']} missing timestamps"
                    + (" (filled by linear interpolation when training)" if summary["missing_cells"]
                       + summary["gaps"] else "")),
    ]
    console.print(_facts(rows))
    console.print()
    table = Table(show_edge=False)
    for name, justify in (("series", "left"), ("length", "right"), ("from", "left"), ("to", "left"),
                          ("missing", "right")):
        table.add_column(name, justify=justify, no_wrap=True)
    for entry in summary["series"]:
        holes = entry["missing_cells"]["count"] + entry["gaps"]["count"]
        table.add_row(entry["id"], f"{entry['length']:,}", entry["start"], entry["end"], str(holes) if holes else "-")
    console.print(table)
    console.print()
    width = max(len(e["id"]) for e in summary["series"])
    for entry in summary["series"]:
        console.print(Text.assemble((f"{entry['id']:>{width}} ", "bold"), (sparkline(entry["profile"]), "blue"),
                                    f" {_short(entry['min'])} .. {_short(entry['max'])}"))
    for entry in summary["series"]:
        for label, key in (("empty cells", "missing_cells"), ("missing timestamps", "gaps")):
            where = entry[key]
            if where["count"]:
                rest = where["count"] - len(where["first"])
                more = f" and {rest} more" if rest > 0 else ""
                console.print(Text(f"! {entry['id']}: {where['count']} {label} at {', '.join(where['first'])}{more}",
                                   style="yellow"))


def save_series_plot(data, path: Path) -> None:
    """Every series of a SeriesSet against time, one panel each (at most 12), gaps marked."""
    from rnncli.tasks.forecast.series import series_times

    plt = _pyplot()
    shown = data.series[:12]
    fig, axes = plt.subplots(len(shown), 1, figsize=(9, 1.8 * len(shown) + 0.6), squeeze=False)
    for ax, series in zip(axes[:, 0], shown, strict=True):
        times = series_times(series, data.freq)
        ax.plot(times, series.values, lw=1)
        holes = sorted(series.blank_cells + series.gaps)
        if holes:
            ax.plot(times[holes], series.values[holes], "o", ms=3, color="red", label="filled")
            ax.legend(loc="upper left")
        ax.set_ylabel(series.id)
    axes[0, 0].set_title(f"{data.source} ({len(data.series)} series"
                         + (", first 12 shown)" if len(data.series) > 12 else ")"))
    fig.tight_layout()
    _save(fig, path, plt)


def print_forecast_summary(summary: dict[str, Any], console: Console | None = None) -> None:
    console = _console(console)
    model, series = summary["model"], summary["series"]
    history, train = summary.get("history") or {}, summary.get("train") or {}
    versions = summary.get("versions") or {}
    steps, budget = history.get("step", 0), train.get("steps")
    ids = ", ".join(f"{i} (last {str(t).removesuffix('T00:00:00')})"
                    for i, t in zip(series["ids"], series["last_time"], strict=False))
    more = f" and {series['count'] - len(series['ids'])} more" if series["count"] > len(series["ids"]) else ""
    loss = history.get("best_val_loss")
    season = model.get("season")
    rows = [
        ("checkpoint", summary["path"]),
        ("task", "forecast"),
        ("cell", f"{model.get('cell')} ({model.get('num_layers')} x {model.get('hidden_size')}, "
                 f"dropout {model.get('dropout')}, ensemble {model.get('ensemble', 1)})"),
        ("parameters", f"{summary['total_parameters']:,}"),
        ("horizon", f"{model.get('horizon')} steps ahead, lookback {model.get('lookback')}"),
        ("quantiles", ", ".join(str(q) for q in model.get("quantiles") or [])),
        ("frequency", str(series.get("frequency_name"))),
        ("season", f"{season} steps" if isinstance(season, int) and season > 1 else "none"),
        ("scaling", str(model.get("scaling"))),
        ("series", f"{series['count']} from {series.get('source')} ({series.get('layout')}): {ids}{more}"),
        ("trained", f"{steps:,} steps{f' of {budget:,}' if budget else ''}, {history.get('elapsed_s', 0):.0f} s"
                    + _went_on(summary, steps)),
        ("best validation", f"pinball loss {loss:.4f} (scaled units), at step {history.get('best_step')}"
         if isinstance(loss, (int, float)) else "-"),
        ("versions", ", ".join(f"{k} {v}" for k, v in versions.items())),
        ("command", " ".join(str(a) for a in summary.get("command") or []) or "-"),
    ]
    verdict = (summary.get("curve") or {}).get("verdict")
    if verdict:
        rows.append(("verdict", verdict["message"]))
    console.print(_facts(rows))
    if summary.get("curve"):
        console.print()
        print_curve(summary["curve"], console=console)
