"""Drawing ``inspect`` summaries for people (CLI layer); the facts come from report.py and gradflow.py."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


def print_checkpoint_summary(summary: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console(highlight=False)
    model, history = summary.get("model") or {}, summary.get("history") or {}
    data, versions = summary.get("data") or {}, summary.get("versions") or {}
    tok = summary["tokenizer"]
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    rows = [
        ("checkpoint", summary["path"]),
        ("task", str(summary.get("task"))),
        ("cell", f"{model.get('cell')} ({model.get('num_layers')} x {model.get('hidden_size')}, "
                 f"embedding {model.get('embed_size')}, dropout {model.get('dropout')})"),
        ("implementation", _implementation(summary.get("implementation") or {})),
        ("parameters", f"{summary['total_parameters']:,}"),
        ("tokenizer", f"{tok['kind']}, {tok['vocab_size']} symbols: {tok['preview']!r}"),
        ("trained", f"{history.get('step', 0):,} steps, {history.get('tokens_seen', 0):,} tokens, "
                    f"{history.get('elapsed_s', 0):.0f} s"),
        ("best validation", _best(history)),
        ("data", f"{data.get('source')} ({data.get('num_chars', 0):,} chars) sha256 {str(data.get('sha256'))[:16]}"),
        ("versions", ", ".join(f"{k} {v}" for k, v in versions.items())),
    ]
    for key, value in rows:
        facts.add_row(key, value)
    console.print(facts)
    table = Table(title="tensors", show_edge=False)
    table.add_column("name")
    table.add_column("parameters", justify="right")
    for name, count in summary["parameters"].items():
        table.add_row(name, f"{count:,}")
    console.print(table)


def _best(history: dict[str, Any]) -> str:
    loss = history.get("best_val_loss")
    if loss is None:
        return "-"
    bpc = history.get("best_val_bpc")
    return f"loss {loss:.4f} nats, {bpc:.3f} bits/char, at step {history.get('best_step')}"


def _implementation(impl: dict[str, Any]) -> str:
    text = f"{impl.get('impl')} ({impl.get('runs_on')})"
    if impl.get("reference_only"):
        text += "; this cell is reference-only: PyTorch has no fused kernel for it"
    return text


SPARKS = "▁▂▃▄▅▆▇█"
TABLE_DISTANCES = (0, 1, 2, 5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500, 1000)


def sparkline(values: list[float]) -> str:
    """One block character per value, on a log scale; zeros show as spaces."""
    logs = [math.log10(v) if v > 0 else None for v in values]
    finite = [v for v in logs if v is not None]
    if not finite:
        return " " * len(values)
    low, high = min(finite), max(finite)
    span = (high - low) or 1.0
    return "".join(" " if v is None else SPARKS[round((v - low) / span * (len(SPARKS) - 1))] for v in logs)


def print_grad_flow(result: dict[str, Any], console: Console | None = None) -> None:
    """A title line, a log-scale sparkline of the norms and a table at a few distances."""
    console = console or Console(highlight=False)
    model, norms = result["model"], result["norms"]
    state = "trained" if result["trained"] else "untrained"
    console.print(f"gradient flow: {model['cell']} ({model['impl']}, {model['num_layers']} x "
                  f"{model['hidden_size']}), {state}; {result['windows']} windows of "
                  f"{result['text']}", markup=False)
    console.print(f"|d loss_T / d h_(T-k)|, k = 0..{len(norms) - 1}, log scale:", markup=False)
    console.print(sparkline(norms), markup=False)
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
    from rnncli.errors import UsageError

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
