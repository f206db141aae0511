"""What ``rnn inspect`` shows about a translation run or a file of pairs: facts, as plain JSON-able data."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from rnncli.tasks.requests import Summary
from rnncli.tasks.training_curve import curve_beside
from rnncli.tasks.translate.pairs import read_pairs

HISTORY_KEYS = ("step", "best_step", "best_val_loss", "best_metric", "metric_name", "tokens_seen", "elapsed_s")


def summarise_run(path: str | Path) -> dict[str, Any]:
    """A translation run folder or checkpoint, from its metadata and tensor table (weights unread)."""
    from rnncli.core.checkpoint import numel, read_meta, resolve_checkpoint_path
    from rnncli.tasks.translate.translator import validate_layout

    file = resolve_checkpoint_path(path)
    meta = read_meta(file)
    tensors = meta["_tensors"]
    config, tokenizer, target = validate_layout(file, meta)  # a damaged run is refused, as by rnn predict
    history = meta.get("history") or {}
    tied = {"out.weight"} if config.tie_embeddings else set()  # the same matrix as target_embed.weight
    return {
        "kind": "translation-run",
        "path": str(file),
        "task": "translate",
        "model": config.to_dict(),
        "train": meta.get("train"),
        "tokenizer": {"kind": tokenizer.kind, "vocab_size": tokenizer.vocab_size, "shared": target is None},
        "target_tokenizer": None if target is None else {"kind": target.kind, "vocab_size": target.vocab_size},
        "data": {k: v for k, v in (meta.get("data") or {}).items() if k != "fingerprint"},
        "total_parameters": sum(numel(tuple(t["shape"])) for name, t in tensors.items() if name not in tied),
        "history": {k: history.get(k) for k in HISTORY_KEYS},
        "curve": curve_beside(file),
        "versions": meta.get("versions"),
    }


def summarise_pairs(path: str, top: int | None = None) -> Summary:
    """A file of pairs: how many, how long (in characters), and what was left out."""
    pairs = read_pairs(path)
    return Summary(
        {
            "kind": "pairs",
            "path": pairs.origin,
            "pairs": len(pairs),
            "left_out_empty": pairs.empty,
            "source_chars": _lengths([len(s) for s in pairs.sources]),
            "target_chars": _lengths([len(t) for t in pairs.targets]),
            "identical": sum(s == t for s, t in zip(pairs.sources, pairs.targets, strict=True)),
            "examples": [{"source": s, "target": t} for s, t in zip(pairs.sources[:3], pairs.targets[:3], strict=True)],
        }
    )


def _lengths(values: list[int]) -> dict[str, Any]:
    ordered = sorted(values)
    return {
        "mean": round(statistics.fmean(values), 2),
        "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        "max": ordered[-1],
    }
