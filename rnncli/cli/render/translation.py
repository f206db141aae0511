"""``rnn inspect`` for the translation task, for people: a translation run's facts and curve, a file of pairs."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from rnncli.cli.render.curves import print_facts_and_curve
from rnncli.cli.render.tables import facts_table, result_console


def print_translation_run(summary: dict[str, Any], console: Console | None = None) -> None:
    console = result_console(console)
    print_facts_and_curve(console, _run_rows(summary), summary.get("curve"))


def _run_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    data, history = summary.get("data") or {}, summary.get("history") or {}
    inputs = " + ".join(str(i) for i in data.get("inputs") or []) or "-"
    pairs = data.get("pairs")
    return [
        ("checkpoint", summary["path"]),
        ("task", "translate (encoder-decoder)"),
        ("model", _model_line(summary["model"])),
        ("parameters", f"{summary['total_parameters']:,}"),
        ("tokenizer", _tokenizer_line(summary)),
        ("data", f"{pairs:,} pairs from {inputs}" if isinstance(pairs, int) else inputs),
        ("trained", _trained_line(summary.get("train") or {}, history)),
        ("best validation", _best_line(summary, history)),
        ("versions", ", ".join(f"{k} {v}" for k, v in (summary.get("versions") or {}).items()) or "-"),
    ]


def _model_line(model: dict[str, Any]) -> str:
    layers, width = model["num_layers"], model["hidden_size"]
    attention = "no attention" if model["attention"] == "none" else f"{model['attention']} attention, input feeding"
    tied = ", tied decoder embeddings" if model.get("tie_embeddings") else ""
    copies = model.get("copy") and model["attention"] != "none" and not model.get("target_vocab_size")
    attention += ", copying from the source" if copies else ""
    return (
        f"{model['cell']} ({model['impl']}): bidirectional encoder {layers} x 2 x {width // 2}, decoder {layers} x "
        f"{width}, {attention}; embedding {model['embed_size']}{tied}, dropout {model['dropout']}, "
        f"label smoothing {model['label_smoothing']}"
    )


def _tokenizer_line(summary: dict[str, Any]) -> str:
    source, target = summary["tokenizer"], summary.get("target_tokenizer")
    if target is None:
        return f"{source['kind']}, {source['vocab_size']:,} symbols, shared by source and target"
    return (
        f"source {source['kind']} of {source['vocab_size']:,} symbols, "
        f"target {target['kind']} of {target['vocab_size']:,} (one per side)"
    )


def _trained_line(train: dict[str, Any], history: dict[str, Any]) -> str:
    budget = [f"of {train['steps']:,}"] if train.get("steps") else []
    budget += [f"--time {train['time']}"] if train.get("time") else []
    return (
        f"{history.get('step') or 0:,} steps{' (' + ', '.join(budget) + ')' if budget else ''}, "
        f"{history.get('tokens_seen') or 0:,} target tokens, {history.get('elapsed_s') or 0:.0f} s"
        f"{', batch ' + str(train['batch_size']) + ' pairs, lr ' + str(train['lr']) if train else ''}"
    )


def _best_line(summary: dict[str, Any], history: dict[str, Any]) -> str:
    """chrF, BLEU (from the curve's record of that step) and the loss of the kept checkpoint."""
    loss, metric, step = history.get("best_val_loss"), history.get("best_metric"), history.get("best_step")
    if not isinstance(loss, float | int):
        return "-"
    records = (summary.get("curve") or {}).get("records") or []
    bleu = next((r.get("val_bleu") for r in records if r.get("step") == step), None)
    scores = f"chrF {metric:.2f}" if isinstance(metric, float | int) else ""
    scores += f", BLEU {bleu:.2f}" if isinstance(bleu, float | int) else ""
    scores += "; " if scores else ""
    return f"{scores}loss {loss:.4f} nats/token at step {step} (greedy, on up to 200 validation pairs)"


def print_pairs_summary(summary: dict[str, Any], console: Console | None = None) -> None:
    console = result_console(console)
    count = summary["pairs"]
    identical = summary["identical"]
    rows = [
        (
            "pairs",
            f"{summary['path']}: {count:,} pairs ({summary['left_out_empty']:,} left out: empty source or target)",
        ),
        ("source", _length_line(summary["source_chars"])),
        ("target", _length_line(summary["target_chars"])),
        (
            "identical",
            f"{identical:,} of {count:,} pairs ({identical / max(1, count):.1%}) have the source as their target "
            "(copying the source is the baseline rnn eval reports)",
        ),
    ]
    console.print(facts_table(rows))
    if summary.get("examples"):
        table = Table(title="the first pairs", show_edge=False)
        table.add_column("source")
        table.add_column("target")
        for example in summary["examples"]:
            table.add_row(Text(example["source"]), Text(example["target"]))  # text, not markup
        console.print()
        console.print(table)


def _length_line(lengths: dict[str, Any]) -> str:
    return (
        f"characters per line: mean {lengths['mean']:.1f}, 95th percentile {lengths['p95']:,}, max {lengths['max']:,}"
    )
