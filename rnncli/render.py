"""Drawing ``inspect`` summaries for people (CLI layer); the facts come from report.py."""

from __future__ import annotations

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
