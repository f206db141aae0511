"""Image files for --plot: every picture is drawn with matplotlib behind one guard, ``require_matplotlib``.

matplotlib is imported only when a plot is asked for. The exit codes are the
catalogue's: without matplotlib, or for a format it cannot write, the option
is unusable (2, checked before any work is done); a file that cannot be
written is a runtime failure (1), like a checkpoint that cannot be written.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from rnncli.core.errors import RuntimeFailure, UsageError

MAX_PANELS = 12  # series drawn, one panel each


def require_matplotlib(path: str | Path | None = None):
    """pyplot on the file-only Agg backend, or one clear line; with ``path``, also check its format is writable."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only; never open a window
        logging.getLogger("matplotlib").setLevel(logging.ERROR)  # its font notes are not for the user
        import matplotlib.pyplot as plt
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install 'rnncli[plot]' (or pip install matplotlib)") from None
    suffix = Path(path).suffix.lower().lstrip(".") if path is not None else ""
    if suffix and suffix not in FigureCanvasBase.get_supported_filetypes():
        raise UsageError(f"--plot {path}: matplotlib cannot write .{suffix} files; use .png, .svg or .pdf")
    return plt


def save_figure(fig, path: str | Path, plt, *, dpi: float | None = None) -> None:
    """Lay the figure out, write it and close it; a file that cannot be written is a runtime failure.

    Text is drawn here, and matplotlib's warnings about it (a glyph missing from a font) are its own
    business: a figure that needs other glyphs chooses its font or labels first (``symbol_labels``).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fig.tight_layout()
            fig.savefig(path, dpi=dpi if dpi is not None else "figure")
    except OSError as exc:
        raise RuntimeFailure(f"--plot {path}: cannot write the image ({exc.strerror or exc})") from None
    finally:
        plt.close(fig)


def save_curve_plot(curves: list[tuple[str, dict[str, Any]]], path: Path, *, loss: str | None = None) -> None:
    """Training curves (best points starred), learning rate and gradient norm, as an image file.

    Language models are drawn in bits per character, the measure runs are ranked by (nats per token would
    make a BPE model look far worse than a char model it beats); each run has one colour, its training
    curve dashed, and a legend names it. A curve of one evaluation is drawn as points, never an empty line. ``loss`` labels
    the loss axis of other curves (a forecaster's is the pinball loss).
    """
    plt = require_matplotlib(path)
    fig, (ax_loss, ax_lr, ax_grad) = plt.subplots(
        3, 1, figsize=(8, 7), sharex=True, gridspec_kw={"height_ratios": [3, 1, 1]}
    )
    scales = [_bits_per_char_scale(curve["records"]) for _, curve in curves]
    in_bits = all(scale is not None for scale in scales)
    for i, (name, curve) in enumerate(curves):
        scale = scales[i] if in_bits else 1.0
        colour, label = f"C{i}", f"{name}: " if len(curves) > 1 else ""
        records = curve["records"]
        steps = [r["step"] for r in records]
        train = [_scaled(r.get("train_loss"), scale) for r in records]
        val = [_scaled(r.get("val_loss"), scale) for r in records]
        dots = {"marker": "o", "ms": 4} if len(records) < 2 else {}
        ax_loss.plot(steps, train, linestyle="--", alpha=0.7, color=colour, label=f"{label}train", **dots)
        ax_loss.plot(steps, val, marker="o", ms=3, color=colour, label=f"{label}validation")
        best = curve.get("best")
        if best and best.get("val_loss") is not None:
            ax_loss.plot([best["step"]], [best["val_loss"] * scale], marker="*", ms=14, color="gold",
                         markeredgecolor="black", linestyle="none")  # fmt: skip
        ax_lr.plot(steps, [r.get("lr") for r in records], color=colour, **dots)
        ax_grad.plot(steps, [r.get("grad_norm") for r in records], color=colour, **dots)
    ax_loss.set_ylabel("bits per character" if in_bits else (loss or "loss (nats/token)"))
    ax_loss.legend()
    ax_lr.set_ylabel("lr")
    ax_grad.set_ylabel("grad norm")
    ax_grad.set_xlabel("step")
    save_figure(fig, path, plt)


def _bits_per_char_scale(records: list[dict[str, Any]]) -> float | None:
    """Bits per character per nat of loss (a language model's records hold both); None for other tasks."""
    for record in records:
        loss, bpc = record.get("val_loss"), record.get("val_bpc")
        if isinstance(loss, (int, float)) and isinstance(bpc, (int, float)) and loss > 0:
            return bpc / loss
    return None


def _scaled(value: Any, scale: float) -> float | None:
    return value * scale if isinstance(value, (int, float)) else None


def save_frequency_plot(summary: dict[str, Any], path: Path) -> None:
    """The most frequent symbols of a text as a bar chart, in a font that has their glyphs (else code points)."""
    plt = require_matplotlib(path)
    top = summary["top_symbols"]
    labels, fonts = symbol_labels([t["shown"] for t in top])
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar(range(len(top)), [t["share"] for t in top])
    ax.set_xticks(range(len(top)), labels, fontfamily=fonts)
    ax.set_ylabel("share of characters")
    (title,), title_fonts = symbol_labels([f"{summary['source']}: most frequent symbols"])
    ax.set_title(title, fontfamily=title_fonts)
    save_figure(fig, path, plt)


def symbol_labels(shown: list[str]) -> tuple[list[str], list[str]]:
    """Tick labels and the font families to draw them in.

    matplotlib's default font lacks CJK and many other scripts (their glyphs come out as boxes): a font of
    the system's that has every missing glyph is added as a fallback, else those symbols are written as
    code points (U+4F60).
    """
    from matplotlib import font_manager, rcParams

    default = font_manager.findfont(font_manager.FontProperties(family=rcParams["font.family"]))
    missing = {c for label in shown for c in label if not _has_glyphs(default, c)}
    if not missing:
        return shown, [font_manager.FontProperties(fname=default).get_name()]
    fallback = _font_with(missing, font_manager)
    if fallback is not None:
        return shown, [font_manager.FontProperties(fname=default).get_name(), fallback]
    return ["".join(f" U+{ord(c):04X} " if c in missing else c for c in label).strip() for label in shown], [
        font_manager.FontProperties(fname=default).get_name()
    ]


def _has_glyphs(font_path: str, chars: str) -> bool:
    charmap = _charmap(font_path)
    return all(ord(c) in charmap for c in chars)


_CHARMAPS: dict[str, dict[int, int]] = {}


def _charmap(font_path: str) -> dict[int, int]:
    if font_path not in _CHARMAPS:
        from matplotlib.ft2font import FT2Font

        try:
            _CHARMAPS[font_path] = FT2Font(font_path).get_charmap()
        except (OSError, RuntimeError, ValueError):
            _CHARMAPS[font_path] = {}
    return _CHARMAPS[font_path]


def _font_with(chars: set[str], font_manager) -> str | None:
    """The family name of an installed font that has every one of ``chars``, if any."""
    for entry in font_manager.fontManager.ttflist:
        if entry.name.startswith("Last Resort"):  # matplotlib's own: a box with the code point for every glyph
            continue
        charmap = _charmap(entry.fname)
        if charmap and all(ord(c) in charmap for c in chars):
            return entry.name
    return None


def save_attention_plot(summary: dict[str, Any], path: Path) -> None:
    """The attention matrix of one translation as a heat map: source tokens across, output tokens down."""
    plt = require_matplotlib(path)
    sources, outputs = summary["source_tokens"], summary["output_tokens"]
    fig, ax = plt.subplots(figsize=(1.2 + 0.32 * len(sources), 1.2 + 0.32 * max(1, len(outputs))))
    image = ax.imshow(summary["weights"] or [[0.0] * len(sources)], cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(sources)), [repr(t)[1:-1] for t in sources], rotation=90, fontsize=8)
    ax.set_yticks(range(len(outputs)), [repr(t)[1:-1] for t in outputs], fontsize=8)
    ax.set_xlabel("source tokens")
    ax.set_ylabel("output tokens")
    ax.set_title(f"{summary['attention_type']} attention", fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.04)
    save_figure(fig, path, plt, dpi=110)


def save_grad_flow_plot(results: list[dict[str, Any]], path: Path) -> None:
    """A log-scale line plot of one or more grad-flow results."""
    plt = require_matplotlib(path)
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
    save_figure(fig, path, plt, dpi=110)


def save_series_plot(data, path: Path) -> None:
    """Every series of a SeriesSet against time, one panel each (at most 12), gaps marked."""
    from rnncli.tasks.forecast.series import series_times

    plt = require_matplotlib(path)
    shown = data.series[:MAX_PANELS]
    fig, axes = plt.subplots(len(shown), 1, figsize=(9, 1.8 * len(shown) + 0.6), squeeze=False)
    for ax, series in zip(axes[:, 0], shown, strict=True):
        times = series_times(series, data.freq)
        ax.plot(times, series.values, lw=1)
        holes = sorted(series.blank_cells + series.gaps)
        if holes:
            ax.plot(times[holes], series.values[holes], "o", ms=3, color="red", label="filled")
            ax.legend(loc="upper left")
        ax.set_ylabel(series.id)
    axes[0, 0].set_title(
        f"{data.source} ({len(data.series)} series"
        + (f", first {MAX_PANELS} shown)" if len(data.series) > MAX_PANELS else ")")
    )
    save_figure(fig, path, plt)


def save_forecast_plot(data, records: list[dict[str, Any]], *, path: str, history: int | None = None) -> None:
    """The recent history (filled points marked), the point forecast (the median, the column that backtests
    score) and the widest interval, one panel per series."""
    from rnncli.tasks.forecast.series import time_grid

    plt = require_matplotlib(path)
    shown = data.series[:MAX_PANELS]
    fig, axes = plt.subplots(len(shown), 1, figsize=(10, 2.6 * len(shown)), squeeze=False)
    point, (low, high, band) = _point_column(records[0]), _band_columns(records[0])
    for ax, series in zip(axes[:, 0], shown, strict=True):
        rows = [r for r in records if r["id"] == series.id]
        steps = len(series.values)
        times = time_grid(series.start, steps + len(rows), data.freq)
        _history(ax, series, times[:steps], _shown_points(history, len(rows), steps))
        future = times[steps:]
        ax.plot(future, [r[point] for r in rows], color="tab:blue", label=f"{point} (point forecast)")
        if low is not None:
            lows, highs = [r[low] for r in rows], [r[high] for r in rows]
            ax.fill_between(future, lows, highs, color="tab:blue", alpha=0.25, label=band)
        ax.set_title(series.id, fontsize=9)
    _legend_outside(axes[0, 0])
    fig.tight_layout()
    save_figure(fig, path, plt, dpi=100)


def save_backtest_plot(data, rows: list[dict[str, Any]], *, path: str, history: int | None = None) -> None:
    """Each backtest window's forecast and interval over what happened, beside seasonal naive, one panel per series."""
    from rnncli.tasks.forecast.series import format_time, series_times

    plt = require_matplotlib(path)
    shown = data.series[:MAX_PANELS]
    fig, axes = plt.subplots(len(shown), 1, figsize=(10, 2.6 * len(shown)), squeeze=False)
    low, high, band = _band_columns(rows[0], prefix="model-")
    for ax, series in zip(axes[:, 0], shown, strict=True):
        times = series_times(series, data.freq)
        where = {format_time(t, data.time_format): i for i, t in enumerate(times)}
        mine = [r for r in rows if r["id"] == series.id]
        first = min(where[r["timestamp"]] for r in mine)
        _history(ax, series, times, _shown_points(history, len(series.values) - first, len(series.values)))
        for k, cutoff in enumerate(dict.fromkeys(r["cutoff"] for r in mine)):
            window = [r for r in mine if r["cutoff"] == cutoff]
            x = times[[where[r["timestamp"]] for r in window]]
            ax.plot(x, [r["model"] for r in window], color="tab:blue", label="model (median)" if k == 0 else None)
            ax.plot(
                x,
                [r["seasonal_naive"] for r in window],
                "--",
                color="tab:orange",
                label="seasonal naive" if k == 0 else None,
            )
            if low is not None:
                ax.fill_between(
                    x,
                    [r[low] for r in window],
                    [r[high] for r in window],
                    color="tab:blue",
                    alpha=0.2,
                    label=band if k == 0 else None,
                )
        ax.set_title(f"{series.id}: backtest windows", fontsize=9)
    _legend_outside(axes[0, 0])
    fig.tight_layout()
    save_figure(fig, path, plt, dpi=100)


def _shown_points(history: int | None, horizon: int, length: int) -> int:
    """--plot-history, else the last four horizons (at least 48 points): recent enough to see the forecast."""
    return min(length, history if history is not None else max(4 * horizon, 48))


def _history(ax, series, times, points: int) -> None:
    """The last ``points`` of a series in black, the values filled in for missing ones marked in red."""
    start = len(series.values) - points
    ax.plot(times[start:], series.values[start:], color="black", linewidth=1, label="history")
    filled = [i for i in sorted(series.blank_cells + series.gaps) if i >= start]
    if filled:
        ax.plot(times[filled], series.values[filled], "o", ms=3, color="red", label="filled (missing)")


def _point_column(record: dict[str, Any]) -> str:
    """The point forecast's column: ``median`` (what rnn forecast writes and backtests score); ``q0.5`` or
    ``mean`` in a table written before the median had its own column."""
    return next((name for name in ("median", "q0.5", "mean") if name in record), "median")


def _band_columns(record: dict[str, Any], prefix: str = "") -> tuple[str | None, str | None, str]:
    """The widest interval in a record: its lower and upper columns and a label (None when there is none)."""
    levels = [float(k[len(prefix) + 3 :]) for k in record if k.startswith(f"{prefix}lo-")]
    if levels:
        widest = f"{max(levels):g}"
        return f"{prefix}lo-{widest}", f"{prefix}hi-{widest}", f"{widest}% interval"
    quantiles = sorted(float(k[len(prefix) + 1 :]) for k in record if k.startswith(f"{prefix}q"))
    if len(quantiles) < 2 or quantiles[0] >= 0.5 or quantiles[-1] <= 0.5:
        return None, None, ""
    low, high = quantiles[0], quantiles[-1]
    return f"{prefix}q{low:g}", f"{prefix}q{high:g}", f"{low:g}-{high:g} quantiles"


def _legend_outside(ax) -> None:
    """The legend to the right of the first panel, off the data."""
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)


MAX_CONFUSION_CLASSES = 30  # classes drawn with their counts written in the cells


def save_classifier_plot(summary: dict[str, Any], path: Path) -> None:
    """A classifier run: its loss curve beside the validation confusion matrix (per-label F1 when multi-label)."""
    plt = require_matplotlib(path)
    curve, validation = summary.get("curve"), summary.get("validation") or {}
    panels = int(bool(curve)) + int(bool(validation))
    if not panels:
        raise UsageError(f"--plot: {summary['path']} has neither a metrics.jsonl nor validation scores to draw")
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 5), squeeze=False)
    axes = list(axes[0])
    if curve:
        _loss_panel(axes.pop(0), curve)
    if validation.get("confusion"):
        _confusion_panel(fig, axes.pop(0), summary["classes"], validation["confusion"])
    elif validation:
        ax = axes.pop(0)
        f1 = [validation["per_class"][c]["f1"] for c in summary["classes"]]
        ax.barh(summary["classes"], f1)
        ax.set_xlim(0, 1)
        ax.set_xlabel("validation F1 per label")
    save_figure(fig, path, plt)


def _loss_panel(ax, curve: dict[str, Any]) -> None:
    records = curve["records"]
    steps = [r["step"] for r in records]
    ax.plot(steps, [r.get("train_loss") for r in records], label="train", alpha=0.7)
    ax.plot(steps, [r.get("val_loss") for r in records], marker="o", ms=3, label="validation")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/example)")
    ax.legend()


CONFUSION_TASKS = ("classify", "tag")


def check_plottable(task: str, *, drawable: bool = True) -> None:
    """``rnn eval --plot`` draws a confusion matrix, which only classifiers and taggers have."""
    if task not in CONFUSION_TASKS or not drawable:
        raise UsageError(
            "--plot: rnn eval draws the confusion matrix of a classifier or a tagger (a multi-label classifier has "
            "none); for a training curve use rnn inspect RUN --plot"
        )


def save_evaluation_plot(document: dict[str, Any] | None, path: Path) -> None:
    """The confusion matrix of an evaluation: a classifier's (its classes in order) or a tagger's (its tags)."""
    found = _evaluation_confusion(document or {})
    check_plottable("classify", drawable=found is not None)
    plt = require_matplotlib(path)
    labels, matrix = found
    side = min(14, 4 + 0.4 * len(labels))
    fig, ax = plt.subplots(figsize=(side + 1, side))
    _confusion_panel(fig, ax, labels, matrix, title=f"confusion matrix: {Path(str(document['data'])).name}")
    save_figure(fig, path, plt)


def _evaluation_confusion(document: dict[str, Any]) -> tuple[list[str], list[list[int]]] | None:
    model = document.get("model")
    if isinstance(model, dict) and model.get("confusion") and model.get("classes"):
        return list(model["classes"]), model["confusion"]
    table = document.get("confusion")
    if isinstance(table, dict) and table:  # a tagger's {gold: {predicted: count}}
        tags = sorted(set(table) | {tag for row in table.values() for tag in row})
        return tags, [[table.get(gold, {}).get(tag, 0) for tag in tags] for gold in tags]
    return None


def _confusion_panel(
    fig, ax, classes: list[str], confusion: list[list[int]], *, title: str = "validation confusion matrix"
) -> None:
    image = ax.imshow(confusion, cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8)
    ticks = range(len(classes))
    ax.set_xticks(ticks, classes, rotation=45, ha="right")
    ax.set_yticks(ticks, classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title)
    if len(classes) <= MAX_CONFUSION_CLASSES:
        top = max(1, max(max(row) for row in confusion))
        for i, row in enumerate(confusion):
            for j, n in enumerate(row):
                ax.text(j, i, str(n), ha="center", va="center", color="white" if n > top / 2 else "black")
