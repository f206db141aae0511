"""What ``rnn inspect`` shows about a checkpoint or a run: facts, as plain data.

The CLI decides how to draw them; this module only gathers them. Every
summary is JSON-able and its keys are documented in the README.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnncli.core.settings import REFERENCE_ONLY_CELLS, ModelConfig
from rnncli.tasks.language_model.tokenizers import Tokenizer

if TYPE_CHECKING:  # torch is imported only when a checkpoint is read, so inspecting data files starts fast
    from rnncli.tasks.language_model.checkpoint import Checkpoint

METRICS_FILE = "metrics.jsonl"
# A validation loss this much (relative) above its best counts as "rising", not noise.
RISE_TOLERANCE = 0.01


def checkpoint_summary(ckpt: Checkpoint, *, run_dir: Path | None = None) -> dict[str, Any]:
    """A JSON-able summary of a loaded checkpoint (the keys are documented in the README)."""
    from rnncli.core.layers import count_parameters

    parameters = {name: p.numel() for name, p in ckpt.model.named_parameters()}
    summary = _summary(ckpt.path, ckpt.meta, ckpt.config, ckpt.tokenizer, parameters)
    summary["total_parameters"] = count_parameters(ckpt.model)
    summary["curve"] = training_curve(run_dir) if run_dir is not None else None
    return summary


def inspect_checkpoint(path: str | Path) -> dict[str, Any]:
    """Summarise a run folder or ``.safetensors`` file without loading its weights.

    Sizes come from the (validated) safetensors header, so this stays fast for
    big models. A run folder, or a checkpoint file inside one, also gets its
    training curve from ``metrics.jsonl``.
    """
    from rnncli.core.checkpoint import numel, read_meta, resolve_checkpoint_path
    from rnncli.tasks.language_model.checkpoint import validate_layout

    file = resolve_checkpoint_path(path)
    meta = read_meta(file)
    tensors = meta["_tensors"]
    run_dir = file.parent if (file.parent / METRICS_FILE).is_file() else None
    if meta.get("task") == "forecast":
        from rnncli.tasks.forecast.forecaster import validate_forecaster_layout
        from rnncli.tasks.forecast.report import forecast_checkpoint_summary

        validate_forecaster_layout(file, meta)  # a damaged forecaster is refused, as by rnn forecast
        summary = forecast_checkpoint_summary(file, meta, tensors)
        summary["curve"] = training_curve(run_dir) if run_dir is not None else None
        return summary
    config, tokenizer = validate_layout(file, meta)
    parameters = {name: numel(info.get("shape", [])) for name, info in tensors.items() if isinstance(info, dict)}
    summary = _summary(file, meta, config, tokenizer, parameters)
    summary["curve"] = training_curve(run_dir) if run_dir is not None else None
    return summary


def vocabulary_preview(tokenizer: Tokenizer, *, count: int = 80) -> str:
    """The start of the vocabulary as text: characters run together, words and BPE pieces spaced.

    A BPE preview skips the 256 byte tokens every byte-level BPE starts with
    and shows what it learned.
    """
    if tokenizer.kind == "char":
        return tokenizer.decode(list(range(min(tokenizer.vocab_size, count))))
    if tokenizer.kind == "byte":
        return "the 256 byte values of UTF-8"
    first = 256 if tokenizer.kind == "bpe" and tokenizer.vocab_size > 256 else 0
    ids = range(first, min(tokenizer.vocab_size, first + count // 4))
    return " ".join(repr(tokenizer.decode([i])) for i in ids)


def _summary(path: Path, meta: dict[str, Any], config: ModelConfig, tokenizer: Tokenizer,
             parameters: dict[str, int]) -> dict[str, Any]:
    preview = vocabulary_preview(tokenizer)
    return {
        "kind": "checkpoint",
        "path": str(path),
        "task": meta.get("task"),
        "model": meta.get("model"),
        "implementation": implementation(config.cell, config.impl),
        "parameters": parameters,
        "total_parameters": sum(parameters.values()),
        "tokenizer": {"kind": tokenizer.kind, "vocab_size": tokenizer.vocab_size, "preview": preview},
        "train": meta.get("train"),
        "text": meta.get("text"),
        "history": meta.get("history"),
        "data": meta.get("data"),
        "versions": meta.get("versions"),
        "command": meta.get("command"),
    }


def implementation(cell: str, impl: str) -> dict[str, Any]:
    """Which code runs the recurrent layers, and whether a fused twin exists."""
    if impl == "reference":
        runs_on = "rnncli/cells.py, one Python step per token"
    else:
        fused = {"lstm": "nn.LSTM", "gru": "nn.GRU"}.get(cell, "nn.RNN")
        runs_on = f"PyTorch {fused}: oneDNN/ATen on CPU, cuDNN on GPU"
    return {"impl": impl, "runs_on": runs_on, "reference_only": cell in REFERENCE_ONLY_CELLS}


def read_metrics(run_dir: Path) -> tuple[list[dict[str, Any]], int]:
    """The evaluation records of a run, sorted by step, and how many lines were unreadable.

    A line cut short by a crash is skipped, not fatal. When a step appears twice
    (a resumed run), the later record wins.
    """
    by_step: dict[int, dict[str, Any]] = {}
    skipped = 0
    try:
        lines = (Path(run_dir) / METRICS_FILE).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return [], 0
    for line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            skipped += 1
            continue
        if isinstance(record, dict) and isinstance(record.get("step"), int):
            by_step[record["step"]] = record
        else:
            skipped += 1
    return [by_step[s] for s in sorted(by_step)], skipped


def training_curve(run_dir: Path) -> dict[str, Any] | None:
    """The curve of a run folder with its best and last points and an overfitting verdict."""
    records, skipped = read_metrics(run_dir)
    if not records:
        return None
    scored = [r for r in records if _number(r.get("val_loss")) is not None]
    best = min(scored, key=lambda r: r["val_loss"]) if scored else None
    last = records[-1]
    return {
        "file": str(Path(run_dir) / METRICS_FILE),
        "records": records,
        "skipped_lines": skipped,
        "best": _point(best),
        "last": _point(last),
        "verdict": overfitting_verdict(records),
    }


def _point(record: dict[str, Any] | None) -> dict[str, Any] | None:
    if record is None:
        return None
    train, val = _number(record.get("train_loss")), _number(record.get("val_loss"))
    gap = val - train if train is not None and val is not None else None
    return {"step": record["step"], "train_loss": train, "val_loss": val,
            "val_bpc": _number(record.get("val_bpc")), "gap": gap}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def overfitting_verdict(records: list[dict[str, Any]]) -> dict[str, str]:
    """Say in words whether validation loss rose while training loss fell after the best point.

    ``status`` is one of ``overfitting``, ``improving`` (the last evaluation is
    the best), ``flat`` (neither) or ``unknown`` (no validation loss recorded).
    """
    scored = [r for r in records if _number(r.get("val_loss")) is not None]
    if len(scored) < 2:
        return {"status": "unknown", "message": "too few validation points to tell"}
    best = min(scored, key=lambda r: r["val_loss"])
    last = scored[-1]
    if last is best:
        return {"status": "improving",
                "message": f"validation loss is still falling (best at the last evaluation, step {last['step']})"}
    rise = last["val_loss"] - best["val_loss"]
    train_best, train_last = _number(best.get("train_loss")), _number(last.get("train_loss"))
    train_fell = train_best is not None and train_last is not None and train_last < train_best
    if rise > RISE_TOLERANCE * abs(best["val_loss"]) and train_fell:
        return {"status": "overfitting",
                "message": (f"overfitting: since step {best['step']} validation loss rose by {rise:.4f} "
                            f"while training loss fell by {train_best - train_last:.4f}; "
                            "model.safetensors keeps the best weights (more data, --dropout or a smaller model help)")}
    return {"status": "flat",
            "message": f"validation loss has levelled off since step {best['step']} (change {rise:+.4f})"}


def compare_checkpoints(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Two checkpoint summaries side by side: the settings that differ and the best losses."""
    flat_a, flat_b = _settings(a), _settings(b)
    keys = sorted(flat_a.keys() | flat_b.keys())
    differences = {k: [flat_a.get(k), flat_b.get(k)] for k in keys if flat_a.get(k) != flat_b.get(k)}
    best_a, best_b = _best(a), _best(b)
    measure = _comparable_measure(a, b, best_a, best_b)
    better = None
    if measure is not None and best_a[measure] != best_b[measure]:
        better = "a" if best_a[measure] < best_b[measure] else "b"
    return {"kind": "comparison", "a": a["path"], "b": b["path"], "differences": differences,
            "same": sorted(k for k in keys if k not in differences),
            "best": {"a": best_a, "b": best_b}, "compared_by": measure, "lower_val_loss": better}


def _comparable_measure(a: dict[str, Any], b: dict[str, Any], best_a: dict[str, Any],
                        best_b: dict[str, Any]) -> str | None:
    """Which best loss can rank the two, if any.

    Losses of different tasks (nats per token, pinball loss) never compare;
    language models compare by bits per character, which does not depend on
    the tokenizer, and fall back to nats per token only for the same tokenizer.
    """
    if a.get("task") != b.get("task"):
        return None
    if best_a.get("best_val_bpc") is not None and best_b.get("best_val_bpc") is not None:
        return "best_val_bpc"
    same_tokens = (a.get("tokenizer") or {}).get("kind") == (b.get("tokenizer") or {}).get("kind")
    if same_tokens and best_a["best_val_loss"] is not None and best_b["best_val_loss"] is not None:
        return "best_val_loss"
    return None


def _settings(summary: dict[str, Any]) -> dict[str, Any]:
    """The settings of a checkpoint as flat ``section.key`` names."""
    flat: dict[str, Any] = {"task": summary.get("task")}
    for section in ("model", "train", "text"):
        for key, value in (summary.get(section) or {}).items():
            flat[f"{section}.{key}"] = value
    tok = summary.get("tokenizer") or {}
    flat["tokenizer.kind"], flat["tokenizer.vocab_size"] = tok.get("kind"), tok.get("vocab_size")
    data = summary.get("data") or {}
    flat["data.source"], flat["data.sha256"] = data.get("source"), data.get("sha256")
    flat["total_parameters"] = summary.get("total_parameters")
    return flat


def _best(summary: dict[str, Any]) -> dict[str, Any]:
    history = summary.get("history") or {}
    last = ((summary.get("curve") or {}).get("last") or {}).get("step")
    return {"run_steps": last if last is not None else history.get("step"),
            "best_val_loss": _number(history.get("best_val_loss")),
            "best_val_bpc": _number(history.get("best_val_bpc")),
            "best_step": history.get("best_step"), "steps": history.get("step"),
            "tokens_seen": history.get("tokens_seen")}


SERIES_SUFFIXES = (".csv", ".tsv")


def path_kind(path: str) -> str:
    """What ``rnn inspect PATH`` is looking at: ``checkpoint``, ``series`` or ``text``.

    A run folder (it holds a checkpoint or ``metrics.jsonl``) or a safetensors
    file is a checkpoint; ``.csv``/``.tsv`` is a time series; anything else,
    a folder of files or ``-`` is text.
    """
    if path == "-":
        return "text"
    p = Path(path)
    if p.is_dir():
        markers = ("model.safetensors", "last.safetensors", METRICS_FILE)
        return "checkpoint" if any((p / m).is_file() for m in markers) else "text"
    if p.suffix.lower() == ".safetensors" or _looks_like_safetensors(p):
        return "checkpoint"
    if p.suffix.lower() in SERIES_SUFFIXES:
        return "series"
    return "text"


def _looks_like_safetensors(path: Path) -> bool:
    """An 8-byte little-endian header length followed by a JSON object."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(9)
    except OSError:
        return False
    return len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < 1 << 32
