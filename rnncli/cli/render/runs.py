"""``rnn inspect`` on runs and checkpoints, for people: a language model's or a forecaster's facts, two runs compared."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from rnncli.cli.render.curves import metric_row, print_facts_and_curve
from rnncli.cli.render.tables import facts_table, result_console, table_value
from rnncli.tasks.training_curve import passes_text


def print_checkpoint_summary(summary: dict[str, Any], console: Console | None = None) -> None:
    console = result_console(console)
    print_facts_and_curve(console, _checkpoint_rows(summary), summary.get("curve"))
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
        (
            "cell",
            f"{model.get('cell')} ({model.get('num_layers')} x {model.get('hidden_size')}, "
            f"embedding {model.get('embed_size')}, dropout {model.get('dropout')})",
        ),
        ("implementation", _implementation(summary.get("implementation") or {})),
        ("parameters", _parameters_line(summary, data)),
        (
            "tokenizer",
            f"{tok['kind']}, {tok['vocab_size']} symbols: "
            + (repr(tok["preview"]) if tok["kind"] == "char" else tok["preview"]),
        ),
        (
            "trained",
            f"{steps:,} steps{f' of {budget:,}' if budget else ''}, "
            f"{history.get('tokens_seen', 0):,} tokens{_epochs(history, data)}, "
            f"{history.get('elapsed_s', 0):.0f} s{_went_on(summary, steps)}",
        ),
        ("best validation", _best(history)),
        *_condition_rows(summary.get("condition")),
        ("settings", _settings_line(train)),
        ("data", f"{data.get('source')} ({data.get('num_chars', 0):,} chars) sha256 {str(data.get('sha256'))[:16]}"),
        ("versions", ", ".join(f"{k} {v}" for k, v in versions.items())),
        ("command", " ".join(str(a) for a in summary.get("command") or []) or "-"),
        *_resume_rows(summary),
    ]
    verdict = (summary.get("curve") or {}).get("verdict")
    if verdict:
        rows.append(("verdict", verdict["message"]))
    rows.extend(_curve_notes(summary, steps))
    return rows


def _condition_rows(condition: dict[str, Any] | None) -> list[tuple[str, str]]:
    """A conditional language model's labels (rnn sample --condition takes one of them)."""
    if not condition:
        return []
    labels = [str(label) for label in condition.get("labels") or []]
    shown = ", ".join(labels[:30]) + (f" and {len(labels) - 30} more" if len(labels) > 30 else "")
    column = f" from column {condition['column']!r}" if condition.get("column") else ""
    return [("condition", f"{len(labels)} labels{column}: {shown}")]


def _implementation(impl: dict[str, Any]) -> str:
    text = f"{impl.get('impl')} ({impl.get('runs_on')})"
    if impl.get("reference_only"):
        text += "; this cell is reference-only: PyTorch has no fused kernel for it"
    return text


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
        notes.append(
            (
                "metrics",
                f"{skipped} unreadable line(s) of metrics.jsonl skipped (cut short by a crash "
                f"or edited?); the curve ends at step {last}",
            )
        )
    if last is not None and last < steps:
        notes.append(("metrics", f"the checkpoint is at step {steps:,} but metrics.jsonl stops at step {last:,}"))
    return notes


def _went_on(summary: dict[str, Any], steps: int) -> str:
    last = ((summary.get("curve") or {}).get("last") or {}).get("step")
    if last is None or last <= steps:
        return ""
    return f"; the run went on to step {last:,} (this is its best checkpoint; last.safetensors is the latest)"


def _resume_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """A row per ``--resume`` of the run, after the command that started it."""
    return [("resumed with", " ".join(str(a) for a in command)) for command in summary.get("resume_commands") or []]


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
    return f" ({passes_text(history.get('tokens_seen', 0) / tokens)} passes over the data)"


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


def print_forecast_summary(summary: dict[str, Any], console: Console | None = None) -> None:
    console = result_console(console)
    rows = _forecaster_rows(summary)
    verdict = (summary.get("curve") or {}).get("verdict")
    if verdict:
        rows.append(("verdict", verdict["message"]))
    print_facts_and_curve(console, rows, summary.get("curve"))


def _seasons(season: Any, extra: Any) -> str:
    """``12 steps``, ``24, 168 steps`` (the first is the one seasonal naive uses), or ``none``."""
    if not isinstance(season, int) or season <= 1:
        return "none"
    return ", ".join(str(m) for m in [season, *(extra if isinstance(extra, list) else [])]) + " steps"


def _forecaster_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    model, series = summary["model"], summary["series"]
    season = model.get("season")
    return [
        ("checkpoint", summary["path"]),
        ("task", "forecast"),
        (
            "cell",
            f"{model.get('cell')} ({model.get('num_layers')} x {model.get('hidden_size')}, "
            f"dropout {model.get('dropout')}, ensemble {model.get('ensemble', 1)})",
        ),
        ("parameters", f"{summary['total_parameters']:,}"),
        ("horizon", f"{model.get('horizon')} steps ahead, lookback {model.get('lookback')}"),
        ("quantiles", ", ".join(str(q) for q in model.get("quantiles") or [])),
        ("intervals", _calibration_line(summary.get("calibration"))),
        ("frequency", str(series.get("frequency_name"))),
        ("season", _seasons(season, model.get("extra_seasons"))),
        ("scaling", str(model.get("scaling"))),
        ("series", _forecast_series_line(series)),
        *_forecaster_training_rows(summary),
        ("versions", ", ".join(f"{k} {v}" for k, v in (summary.get("versions") or {}).items())),
        ("command", " ".join(str(a) for a in summary.get("command") or []) or "-"),
        *_resume_rows(summary),
    ]


def _calibration_line(calibration: dict[str, Any] | None) -> str:
    if not calibration:
        return "uncalibrated (the model's own quantiles)"
    factors = ", ".join(f"{f:.2f}" for f in calibration.get("factors", []))
    return f"calibrated on {calibration.get('points')} validation points (widths x {factors})"


def _forecast_series_line(series: dict[str, Any]) -> str:
    ids = ", ".join(
        f"{i} (last {str(t).removesuffix('T00:00:00')})"
        for i, t in zip(series["ids"], series["last_time"], strict=False)
    )
    more = f" and {series['count'] - len(series['ids'])} more" if series["count"] > len(series["ids"]) else ""
    return f"{series['count']} from {series.get('source')} ({series.get('layout')}): {ids}{more}"


def _forecaster_training_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    history, train = summary.get("history") or {}, summary.get("train") or {}
    steps, budget, loss = history.get("step", 0), train.get("steps"), history.get("best_val_loss")
    trained = f"{steps:,} steps{f' of {budget:,}' if budget else ''}, {history.get('elapsed_s', 0):.0f} s"
    best = (
        f"pinball loss {loss:.4f} (scaled units), at step {history.get('best_step')}"
        if isinstance(loss, (int, float))
        else "-"
    )
    return [("trained", trained + _went_on(summary, steps)), ("best validation", best)]


def print_comparison(result: dict[str, Any], console: Console | None = None) -> None:
    console = result_console(console)
    best = result["best"]
    table = Table(show_edge=False, title="best losses")
    table.add_column("")
    table.add_column("A", justify="right")
    table.add_column("B", justify="right")
    for key in ("best_val_loss", "best_val_bpc", "best_step", "steps", "tokens_seen", "run_steps"):
        table.add_row(key, table_value(best["a"][key]), table_value(best["b"][key]))
    console.print(Text(f"A: {result['a']}\nB: {result['b']}"))
    console.print(table)
    if result["lower_val_loss"]:
        measure = "bits per character" if result["compared_by"] == "best_val_bpc" else "loss"
        console.print(Text(f"{result['lower_val_loss'].upper()} has the lower best validation {measure}"))
    elif result["compared_by"] is None:
        console.print(
            Text("their losses do not compare (different tasks, or different tokenizers without bits per character)")
        )
    diff = Table(show_edge=False, title="settings that differ")
    diff.add_column("setting")
    diff.add_column("A")
    diff.add_column("B")
    for key, (a, b) in result["differences"].items():
        diff.add_row(key, table_value(a), table_value(b))
    console.print(diff if result["differences"] else Text("the settings are the same"))


# --- a classifier run ---------------------------------------------------------------

MAX_TABLE_CLASSES = 20  # a wider confusion matrix is left to --json and --plot


def print_classifier_summary(summary: dict[str, Any], console: Console | None = None) -> None:
    console = result_console(console)
    print_facts_and_curve(console, _classifier_rows(summary), summary.get("curve"))
    validation = summary.get("validation") or {}
    if validation.get("confusion") and len(summary["classes"]) <= MAX_TABLE_CLASSES:
        console.print()
        console.print(_confusion_table(summary["classes"], validation["confusion"]))


def _classifier_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    model, data = summary["model"], summary.get("data") or {}
    history, tok = summary.get("history") or {}, summary["tokenizer"]
    counts = data.get("counts") or {}
    each = summary.get("thresholds") or {}
    thresholds = ", ".join(f"{name} {value:.2f}" for name, value in list(each.items())[:12])
    kind = f"multi-label, thresholds {thresholds}" if summary.get("multi_label") else "one label"
    classes = ", ".join(f"{c} ({counts[c]})" if c in counts else c for c in summary["classes"][:12])
    more = f" and {len(summary['classes']) - 12} more" if len(summary["classes"]) > 12 else ""
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
        ("best validation", _best_judged(history)),
        *_score_rows(summary.get("validation")),
        ("command", " ".join(str(a) for a in summary.get("command") or []) or "-"),
        *_resume_rows(summary),
    ]


def _best_judged(history: dict[str, Any]) -> str:
    """The best step by the task's own metric where the run recorded one, else by the loss."""
    loss, metric, name = history.get("best_val_loss"), history.get("best_metric"), history.get("metric_name")
    if not isinstance(loss, float | int):
        return "-"
    at = f"at step {history.get('best_step')}"
    if isinstance(metric, float | int) and name:
        return f"{name} {metric:.4f} {at} (loss {loss:.4f}; the checkpoint is chosen by {name})"
    return f"loss {loss:.4f} {at}"


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


# --- a tagger run -------------------------------------------------------------------


def print_tagger_summary(summary: dict[str, Any], console: Console | None = None) -> None:
    """A tagging run: its tags and scheme, the model, the data, the best validation and the training curve."""
    console = result_console(console)
    curve = summary.get("curve")
    print_facts_and_curve(console, _tagger_rows(summary), curve)
    if curve:
        metric = metric_row(curve["records"])
        if metric is not None:
            console.print(metric)


def _tagger_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    model, data = summary["model"], summary.get("data") or {}
    history, counts = summary.get("history") or {}, summary.get("tag_counts") or {}
    tags = summary["tags"]
    listed = ", ".join(f"{t} ({_number(counts[t])})" if t in counts else t for t in tags[:15])
    more = f" and {len(tags) - 15} more" if len(tags) > 15 else ""
    column = f", tags in column {data['tag_col']}" if data.get("tag_col") else ""
    field = f", tags from {data['tag_field']}" if data.get("tag_field") else ""
    return [
        ("checkpoint", summary["path"]),
        ("task", f"tag, {summary['scheme']} scheme, {'CRF' if model.get('crf') else 'softmax'} head"),
        ("tags", f"{len(tags)}: {listed}{more}"),
        (
            "model",
            f"{model['cell']} bidirectional {model['num_layers']} x {model['hidden_size']} per direction, "
            f"word embedding {model['embed_size']}, "
            f"characters: {model['cell']} bidirectional 1 x {model['char_hidden_size']}, "
            f"dropout {model['dropout']}, word dropout {model['word_dropout']}",
        ),
        ("parameters", f"{summary['total_parameters']:,}"),
        (
            "vocabulary",
            f"{summary['words']:,} words (--min-count {data.get('min_count', 1)}), "
            f"{summary['characters']:,} characters",
        ),  # fmt: skip
        (
            "data",
            f"{_number(data.get('sentences'))} sentences, {_number(data.get('tokens'))} tokens from "
            f"{data.get('source')} ({data.get('format')}{column}{field}); validated on "
            f"{_number(data.get('val_sentences'))} sentences" + (f" of {data['val']}" if data.get("val") else ""),
        ),
        ("trained", f"{_number(history.get('step'))} steps, {_number(history.get('elapsed_s'))} s"),
        ("best validation", _best_judged(history)),
        ("baseline", f"the most frequent tag of each of {summary['baseline_words']:,} words"),
        ("command", " ".join(str(a) for a in summary.get("command") or []) or "-"),
        *_resume_rows(summary),
    ]


def _number(value: Any) -> str:
    """A count from a checkpoint's metadata (untrusted): with thousands separators, or '?' if not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "?"
    return f"{value:,.0f}"


# --- a translator's attention ---------------------------------------------------------


def print_attention(summary: dict[str, Any], console: Console | None = None) -> None:
    """A translation and, per output token, the source token it attends to most (``rnn inspect --attention``)."""
    console = result_console(console)
    rows = [
        ("checkpoint", summary["path"]),
        ("source", summary["source"]),
        ("translation", summary["translation"]),
        ("attention", f"{summary['attention_type']}, {len(summary['source_tokens'])} source tokens"),
    ]
    console.print(facts_table(rows))
    table = Table(title="each output token and the source token it attends to most", show_edge=False)
    for name, justify in (("output", "left"), ("source", "left"), ("position", "right"), ("weight", "right")):
        table.add_column(name, justify=justify)
    for row in summary["attends_to"]:
        table.add_row(repr(row["output"]), repr(row["source"]), str(row["position"]), f"{row['weight']:.2f}")
    console.print()
    console.print(table)
