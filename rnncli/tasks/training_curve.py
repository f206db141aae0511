"""A run's training curve from its ``metrics.jsonl``, with its best and last points and an overfitting verdict.

The same for every task: the trainer writes one record per evaluation.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rnncli.core.documents import check_regular_file, load_json, validate
from rnncli.core.errors import DataError, RnnError
from rnncli.core.run_journal import existing
from rnncli.core.schemas import MetricsLineDoc

METRICS_FILE = "metrics.jsonl"
MAX_METRICS_BYTES = 256 << 20  # read at most this much of a run's metrics (a record is ~300 bytes)
MAX_LINE_CHARS = 64 * 1024
# A validation loss this much (relative) above its best counts as "rising", not noise.
RISE_TOLERANCE = 0.01


def curve_beside(checkpoint: Path) -> dict[str, Any] | None:
    """The curve of the run folder a checkpoint file sits in; None for a file with no metrics beside it."""
    run_dir = checkpoint.parent
    return training_curve(run_dir) if existing(run_dir, METRICS_FILE) is not None else None


def read_metrics(run_dir: Path) -> tuple[list[dict[str, Any]], int]:
    """The evaluation records of a run, sorted by step, and how many lines were unreadable.

    A line cut short by a crash is skipped, not fatal. When a step appears twice
    (a resumed run), the later record wins.
    """
    by_step: dict[int, dict[str, Any]] = {}
    skipped = 0
    path = existing(Path(run_dir), METRICS_FILE)  # as the run's last committed save left it
    if path is None:
        return [], 0
    try:
        check_regular_file(path)
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read(MAX_METRICS_BYTES)
    except (OSError, RnnError):
        return [], 0
    for line in text.splitlines():
        if not line.strip():
            continue
        record = _record(path, line)
        if record is None:
            skipped += 1
        else:
            by_step[record["step"]] = record
    return [by_step[s] for s in sorted(by_step)], skipped


def _record(path: Path, line: str) -> dict[str, Any] | None:
    """One metrics line, parsed with bounds and checked (a mapping with a whole ``step``); None if unusable."""
    try:
        record = load_json(line, where=str(path), what="a line", error=DataError, max_chars=MAX_LINE_CHARS)
        validate(MetricsLineDoc, record, where=str(path), error=DataError)
    except DataError:
        return None
    return record


def training_curve(run_dir: Path) -> dict[str, Any] | None:
    """The curve of a run folder with its best and last points and an overfitting verdict."""
    records, skipped = read_metrics(run_dir)
    if not records:
        return None
    best = best_record(records)
    last = records[-1]
    return {
        "file": str(Path(run_dir) / METRICS_FILE),
        "records": records,
        "skipped_lines": skipped,
        "best": _point(best),
        "last": _point(last),
        "verdict": overfitting_verdict(records),
    }


def best_record(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The best evaluation: by the task's metric where the records carry one (``val_metric``), else the lowest loss.

    As the trainer judges (core/history.py): among equal metrics the lower loss, and the first of equals.
    """
    judged = [r for r in records if finite_number(r.get("val_metric")) is not None]
    if judged and judged[-1].get("best_by", "metric") == "metric":
        sign = -1.0 if judged[-1].get("metric_goal", "max") == "max" else 1.0
        return min(judged, key=lambda r: (sign * r["val_metric"], finite_number(r.get("val_loss")) or math.inf))
    scored = [r for r in records if finite_number(r.get("val_loss")) is not None]
    return min(scored, key=lambda r: r["val_loss"]) if scored else None


def best_words(history: Any) -> str:
    """The best validation in words: the task's metric with the loss beside it, or the loss alone."""
    loss = f"loss {history.best_val_loss:.4f}" if history.best_val_loss is not None else "no loss"
    if history.metric_name is None or history.best_metric is None:
        return f"best validation {loss}"
    return f"best validation {history.metric_name} {history.best_metric:.4f} ({loss})"


def _point(record: dict[str, Any] | None) -> dict[str, Any] | None:
    if record is None:
        return None
    train, val = finite_number(record.get("train_loss")), finite_number(record.get("val_loss"))
    gap = val - train if train is not None and val is not None else None
    return {
        "step": record["step"],
        "train_loss": train,
        "val_loss": val,
        "val_bpc": finite_number(record.get("val_bpc")),
        "gap": gap,
        **(
            {"val_metric": record["val_metric"], "metric_name": record.get("metric_name")}
            if "val_metric" in record
            else {}
        ),
    }


def passes_text(passes: float) -> str:
    """How many passes over the data, readable at any size: 0.05 (never 0.0), 1.5, 12."""
    if passes >= 10:
        return f"{passes:,.0f}"
    if passes >= 1:
        return f"{passes:.1f}"
    return f"{passes:.2g}"


def finite_number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def overfitting_verdict(records: list[dict[str, Any]]) -> dict[str, str]:
    """Say in words whether validation loss rose while training loss fell after the best point.

    ``status`` is one of ``overfitting``, ``improving`` (the last evaluation is
    the best), ``flat`` (neither) or ``unknown`` (no validation loss recorded).
    """
    scored = [r for r in records if finite_number(r.get("val_loss")) is not None]
    if len(scored) < 2:
        return {"status": "unknown", "message": "too few validation points to tell"}
    best = min(scored, key=lambda r: r["val_loss"])
    last = scored[-1]
    if last is best:
        return {
            "status": "improving",
            "message": f"validation loss is still falling (best at the last evaluation, step {last['step']})",
        }
    rise = last["val_loss"] - best["val_loss"]
    train_best, train_last = finite_number(best.get("train_loss")), finite_number(last.get("train_loss"))
    train_fell = train_best is not None and train_last is not None and train_last < train_best
    if rise > RISE_TOLERANCE * abs(best["val_loss"]) and train_fell:
        return {
            "status": "overfitting",
            "message": (
                f"overfitting: since step {best['step']} validation loss rose by {rise:.4f} "
                f"while training loss fell by {train_best - train_last:.4f}; "
                "model.safetensors keeps the best weights (more data, --dropout or a smaller model help)"
            ),
        }
    return {
        "status": "flat",
        "message": f"validation loss has levelled off since step {best['step']} (change {rise:+.4f})",
    }
