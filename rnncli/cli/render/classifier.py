"""``rnn inspect`` of a classifier run, for people: its facts, the training curve and the validation confusion matrix."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from rnncli.cli.render.curves import print_curve
from rnncli.cli.render.tables import facts_table, result_console

MAX_TABLE_CLASSES = 20  # a wider confusion matrix is left to --json and --plot


def print_classifier_summary(summary: dict[str, Any], console: Console | None = None) -> None:
    console = result_console(console)
    console.print(facts_table(_rows(summary)))
    if summary.get("curve"):
        console.print()
        print_curve(summary["curve"], console=console)
    validation = summary.get("validation") or {}
    if validation.get("confusion") and len(summary["classes"]) <= MAX_TABLE_CLASSES:
        console.print()
        console.print(_confusion_table(summary["classes"], validation["confusion"]))


def _rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    model, data = summary["model"], summary.get("data") or {}
    history, tok = summary.get("history") or {}, summary["tokenizer"]
    counts = data.get("counts") or {}
    kind = f"multi-label, threshold {summary.get('threshold') or 0.5:.2f}" if summary.get("multi_label") else "one label"
    classes = ", ".join(f"{c} ({counts[c]})" if c in counts else c for c in summary["classes"][:12])
    more = f" and {len(summary['classes']) - 12} more" if len(summary["classes"]) > 12 else ""
    loss = history.get("best_val_loss")
    best = f"loss {loss:.4f} at step {history.get('best_step')}" if isinstance(loss, float | int) else "-"
    return [
        ("checkpoint", summary["path"]),
        ("task", f"classify ({kind})"),
        ("classes", f"{len(summary['classes'])}: {classes}{more}"),
        (
            "model",
            f"{model['cell']} {model['num_layers']} x {model['hidden_size']}"
            f"{' bidirectional' if model.get('bidirectional') else ''}, pool {model['pool']}, "
            f"embedding {model['embed_size']}, dropout {model['dropout']}",
        ),
        ("parameters", f"{summary['total_parameters']:,}"),
        ("tokenizer", f"{tok['kind']}, {tok['vocab_size']} symbols"),
        ("data", f"{data.get('examples', '?')} examples from {data.get('source')} ({data.get('layout')})"),
        ("trained", f"{history.get('step', 0):,} steps, {history.get('elapsed_s', 0):.0f} s"),
        ("best validation", best),
        *_score_rows(summary.get("validation")),
        ("command", " ".join(str(a) for a in summary.get("command") or []) or "-"),
    ]


def _score_rows(validation: dict[str, Any] | None) -> list[tuple[str, str]]:
    if not validation:
        return []
    micro = f", micro F1 {validation['micro_f1']:.3f}" if "micro_f1" in validation else ""
    rows = [
        (
            "validation scores",
            f"accuracy {validation['accuracy']:.1%}{micro}, macro F1 {validation['macro_f1']:.3f} "
            f"on {validation.get('examples')} examples",
        )
    ]
    for name, result in (validation.get("baselines") or {}).items():
        rows.append(("  baseline", f"{name}: accuracy {result['accuracy']:.1%}, macro F1 {result['macro_f1']:.3f}"))
    return rows


def _confusion_table(classes: list[str], confusion: list[list[int]]) -> Table:
    table = Table(title="validation confusion (rows gold, columns predicted)", show_edge=False)
    table.add_column("")
    for name in classes:
        table.add_column(name, justify="right")
    for name, row in zip(classes, confusion, strict=True):
        table.add_row(name, *(str(n) for n in row))
    return table
