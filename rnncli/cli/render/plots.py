"""Image files for --plot: every picture is drawn with matplotlib behind one guard, ``require_matplotlib``.

matplotlib is imported only when a plot is asked for. The exit codes are the
catalogue's: without matplotlib, or for a format it cannot write, the option
is unusable (2, checked before any work is done); a file that cannot be
written is a runtime failure (1), like a checkpoint that cannot be written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rnncli.core.errors import RuntimeFailure, UsageError

MAX_PANELS = 12  # series drawn, one panel each


def require_matplotlib(path: str | Path | None = None):
    """pyplot on the file-only Agg backend, or one clear line; with ``path``, also check its format is writable."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only; never open a window
        import matplotlib.pyplot as plt
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install 'rnncli[plot]' (or pip install matplotlib)") from None
    suffix = Path(path).suffix.lower().lstrip(".") if path is not None else ""
    if suffix and suffix not in FigureCanvasBase.get_supported_filetypes():
        raise UsageError(f"--plot {path}: matplotlib cannot write .{suffix} files; use .png, .svg or .pdf")
    return plt


def save_figure(fig, path: str | Path, plt, *, dpi: float | None = None) -> None:
    """Write the figure and close it; a file that cannot be written is a runtime failure."""
    try:
        fig.savefig(path, dpi=dpi if dpi is not None else "figure")
    except OSError as exc:
        raise RuntimeFailure(f"--plot {path}: cannot write the image ({exc.strerror or exc})") from None
    finally:
        plt.close(fig)


def save_curve_plot(curves: list[tuple[str, dict[str, Any]]], path: Path) -> None:
    """Loss curves (best points starred), learning rate and gradient norm, as an image file."""
    plt = require_matplotlib(path)
    fig, (ax_loss, ax_lr, ax_grad) = plt.subplots(
        3, 1, figsize=(8, 7), sharex=True, gridspec_kw={"height_ratios": [3, 1, 1]}
    )
    for i, (name, curve) in enumerate(curves):
        train_colour, val_colour = f"C{2 * i}", f"C{2 * i + 1}"
        records = curve["records"]
        steps = [r["step"] for r in records]
        prefix = f"{name}: " if len(curves) > 1 else ""
        ax_loss.plot(
            steps, [r.get("train_loss") for r in records], label=f"{prefix}train", alpha=0.7, color=train_colour
        )
        ax_loss.plot(
            steps, [r.get("val_loss") for r in records], marker="o", ms=3, label=f"{prefix}validation", color=val_colour
        )
        best = curve.get("best")
        if best and best.get("val_loss") is not None:
            ax_loss.plot(
                [best["step"]],
                [best["val_loss"]],
                marker="*",
                ms=14,
                color="gold",
                markeredgecolor="black",
                linestyle="none",
            )
        ax_lr.plot(steps, [r.get("lr") for r in records], color=val_colour)
        ax_grad.plot(steps, [r.get("grad_norm") for r in records], color=val_colour)
    ax_loss.set_ylabel("loss (nats/token)")
    ax_loss.legend()
    ax_lr.set_ylabel("lr")
    ax_grad.set_ylabel("grad norm")
    ax_grad.set_xlabel("step")
    fig.tight_layout()
    save_figure(fig, path, plt)


def save_frequency_plot(summary: dict[str, Any], path: Path) -> None:
    """The most frequent symbols of a text as a bar chart."""
    plt = require_matplotlib(path)
    top = summary["top_symbols"]
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar([t["shown"] for t in top], [t["share"] for t in top])
    ax.set_ylabel("share of characters")
    ax.set_title(f"{summary['source']}: most frequent symbols")
    fig.tight_layout()
    save_figure(fig, path, plt)


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
    fig.tight_layout()
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
    fig.tight_layout()
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
    fig.tight_layout()
    save_figure(fig, path, plt)


def save_forecast_plot(data, records: list[dict[str, Any]], quantiles: list[float], *, path: str) -> None:
    """History, the point forecast (the median, the column that backtests score) and the widest interval
    band, one panel per series."""
    from rnncli.tasks.forecast.series import time_grid

    plt = require_matplotlib(path)
    shown = data.series[:MAX_PANELS]
    fig, axes = plt.subplots(len(shown), 1, figsize=(9, 2.6 * len(shown)), squeeze=False)
    low, high = f"q{quantiles[0]:g}", f"q{quantiles[-1]:g}"
    for ax, series in zip(axes[:, 0], shown, strict=True):
        rows = [r for r in records if r["id"] == series.id]
        steps = len(series.values)
        times = time_grid(series.start, steps + len(rows), data.freq)
        ax.plot(times[:steps], series.values, color="black", linewidth=1, label="history")
        future = times[steps:]
        ax.plot(future, [r["median"] for r in rows], color="tab:blue", label="median (point forecast)")
        band = f"{quantiles[0]:g}-{quantiles[-1]:g}"
        ax.fill_between(
            future,
            [r[low] for r in rows],
            [r[high] for r in rows],
            color="tab:blue",
            alpha=0.25,
            label=f"{band} quantiles",
        )
        ax.set_title(series.id, fontsize=9)
        ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    save_figure(fig, path, plt, dpi=100)


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
    fig.tight_layout()
    save_figure(fig, path, plt)


def _loss_panel(ax, curve: dict[str, Any]) -> None:
    records = curve["records"]
    steps = [r["step"] for r in records]
    ax.plot(steps, [r.get("train_loss") for r in records], label="train", alpha=0.7)
    ax.plot(steps, [r.get("val_loss") for r in records], marker="o", ms=3, label="validation")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/example)")
    ax.legend()


def _confusion_panel(fig, ax, classes: list[str], confusion: list[list[int]]) -> None:
    image = ax.imshow(confusion, cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8)
    ticks = range(len(classes))
    ax.set_xticks(ticks, classes, rotation=45, ha="right")
    ax.set_yticks(ticks, classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title("validation confusion matrix")
    if len(classes) <= MAX_CONFUSION_CLASSES:
        top = max(1, max(max(row) for row in confusion))
        for i, row in enumerate(confusion):
            for j, n in enumerate(row):
                ax.text(j, i, str(n), ha="center", va="center", color="white" if n > top / 2 else "black")
