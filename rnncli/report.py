"""What ``rnn inspect`` shows: facts about a checkpoint, as plain data.

The CLI decides how to draw them; this module only gathers them.
"""

from __future__ import annotations

from typing import Any

from rnncli.checkpoint import Checkpoint
from rnncli.models import count_parameters


def checkpoint_summary(ckpt: Checkpoint) -> dict[str, Any]:
    """A JSON-able summary of a checkpoint (the keys are documented in the README)."""
    meta = ckpt.meta
    tokenizer = ckpt.tokenizer
    preview = tokenizer.decode(list(range(min(tokenizer.vocab_size, 80))))
    return {
        "path": str(ckpt.path),
        "task": meta.get("task"),
        "model": meta.get("model"),
        "parameters": {name: p.numel() for name, p in ckpt.model.named_parameters()},
        "total_parameters": count_parameters(ckpt.model),
        "tokenizer": {"kind": tokenizer.kind, "vocab_size": tokenizer.vocab_size, "preview": preview},
        "train": meta.get("train"),
        "history": meta.get("history"),
        "data": meta.get("data"),
        "versions": meta.get("versions"),
        "command": meta.get("command"),
    }
