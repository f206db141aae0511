"""What ``rnn inspect`` shows about a language model's checkpoint or run, and about a text: facts, as plain data.

The CLI decides how to draw them. Every summary is JSON-able and its keys are
documented in docs/inspect.md; the text's facts are gathered by ``text_report``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rnncli.core.settings import MIN_CELLS, REFERENCE_ONLY_CELLS, ModelConfig
from rnncli.core.tokenizers import Tokenizer
from rnncli.tasks.requests import Summary
from rnncli.tasks.training_curve import curve_beside

DEFAULT_TOP = 10  # the most frequent symbols and words listed for a text


def summarise_run(path: str | Path) -> dict[str, Any]:
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
    config, tokenizer = validate_layout(file, meta)
    parameters = {name: numel(info.get("shape", [])) for name, info in tensors.items() if isinstance(info, dict)}
    summary = _summary(file, meta, config, tokenizer, parameters)
    summary["curve"] = curve_beside(file)
    return summary


def summarise_text(path: str, top: int | None = None) -> Summary:
    """A text file, a folder of them or stdin, read as ``rnn train`` would read it."""
    from rnncli.tasks.language_model.text_report import inspect_text

    return Summary(inspect_text(path, top=DEFAULT_TOP if top is None else top))


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


def _summary(
    path: Path, meta: dict[str, Any], config: ModelConfig, tokenizer: Tokenizer, parameters: dict[str, int]
) -> dict[str, Any]:
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
        "resume_commands": meta.get("resume_commands") or [],
        # a conditional model's column, labels and end-of-text id
        **({"condition": meta["condition"]} if meta.get("condition") else {}),
    }


def implementation(cell: str, impl: str) -> dict[str, Any]:
    """Which code runs the recurrent layers, and whether a fused twin exists."""
    if cell in MIN_CELLS:
        how = "the parallel log-space scan" if impl == "fused" else "one Python step per token"
        runs_on = f"rnncli/core/min_cells.py, {how}"
    elif impl == "reference":
        runs_on = "rnncli/core/cells.py, one Python step per token"
    else:
        fused = {"lstm": "nn.LSTM", "gru": "nn.GRU"}.get(cell, "nn.RNN")
        runs_on = f"PyTorch {fused}: oneDNN/ATen on CPU, cuDNN on GPU"
    return {"impl": impl, "runs_on": runs_on, "reference_only": cell in REFERENCE_ONLY_CELLS}
