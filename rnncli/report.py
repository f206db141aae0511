"""What ``rnn inspect`` shows: facts about a checkpoint, as plain data.

The CLI decides how to draw them; this module only gathers them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from rnncli.checkpoint import Checkpoint
from rnncli.config import REFERENCE_ONLY_CELLS
from rnncli.models import count_parameters


def checkpoint_summary(ckpt: Checkpoint) -> dict[str, Any]:
    """A JSON-able summary of a checkpoint (the keys are documented in the README)."""
    meta = ckpt.meta
    tokenizer = ckpt.tokenizer
    preview = tokenizer.decode(list(range(min(tokenizer.vocab_size, 80))))
    return {
        "path": str(ckpt.path),
        "task": meta.get("task"),
        "model": dataclasses.asdict(ckpt.config),
        "implementation": implementation(ckpt.config.cell, ckpt.config.impl),
        "parameters": {name: p.numel() for name, p in ckpt.model.named_parameters()},
        "total_parameters": count_parameters(ckpt.model),
        "tokenizer": {"kind": tokenizer.kind, "vocab_size": tokenizer.vocab_size, "preview": preview},
        "train": meta.get("train"),
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
