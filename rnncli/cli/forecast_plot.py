"""``--plot``: history, median forecast and the widest interval band, one panel per series."""

from __future__ import annotations

from typing import Any

from rnncli.core.errors import RuntimeFailure, UsageError
from rnncli.tasks.forecast.series import SeriesSet, time_grid

MAX_PANELS = 12


def require_matplotlib():
    """pyplot on the file-only Agg backend, or a clear error (checked before any training)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install 'rnncli[plot]' (or pip install matplotlib)") from None
    return plt


def plot_forecast(data: SeriesSet, records: list[dict[str, Any]], quantiles: list[float], *, path: str) -> None:
    plt = require_matplotlib()
    shown = data.series[:MAX_PANELS]
    fig, axes = plt.subplots(len(shown), 1, figsize=(9, 2.6 * len(shown)), squeeze=False)
    low, mid, high = f"q{quantiles[0]:g}", f"q{_middle(quantiles):g}", f"q{quantiles[-1]:g}"
    for ax, series in zip(axes[:, 0], shown, strict=True):
        rows = [r for r in records if r["id"] == series.id]
        steps = len(series.values)
        times = time_grid(series.start, steps + len(rows), data.freq)
        ax.plot(times[:steps], series.values, color="black", linewidth=1, label="history")
        future = times[steps:]
        ax.plot(future, [r[mid] for r in rows], color="tab:blue", label="median forecast")
        band = f"{quantiles[0]:g}-{quantiles[-1]:g}"
        ax.fill_between(future, [r[low] for r in rows], [r[high] for r in rows], color="tab:blue", alpha=0.25,
                        label=f"{band} quantiles")
        ax.set_title(series.id, fontsize=9)
        ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=100)
    except OSError as exc:
        raise RuntimeFailure(f"{path}: cannot write the plot ({exc.strerror or exc})") from None
    finally:
        plt.close(fig)


def _middle(quantiles: list[float]) -> float:
    return min(quantiles, key=lambda q: abs(q - 0.5))
