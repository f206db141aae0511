"""A language model's checkpoint: its model config and tokenizer checked, then its weights loaded.

A conditional model's ``condition`` section (its labels and end-of-text id) is
checked against core's ``ConditionDoc`` schema and the model's vocabulary.

The file format and its generic checks are rnncli/core/checkpoint.py's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rnncli.core.checkpoint import check_tensors_match, read_meta, read_tensors, resolve_checkpoint_path
from rnncli.core.documents import validate
from rnncli.core.errors import CheckpointError, UsageError
from rnncli.core.schemas import ConditionDoc
from rnncli.core.settings import ModelConfig, check_impl, model_config_from_dict
from rnncli.core.tokenizers import Tokenizer, tokenizer_from_dict
from rnncli.tasks.language_model.model import LanguageModel, build_model


@dataclass
class Checkpoint:
    """Everything needed to sample, evaluate or inspect a trained model."""

    path: Path
    model: LanguageModel
    tokenizer: Tokenizer
    meta: dict[str, Any]
    labels: list[str] = dataclasses.field(default_factory=list)  # a conditional model's labels, else none

    @property
    def config(self) -> ModelConfig:
        return self.model.config

    @property
    def conditional(self) -> bool:
        return bool(self.labels)

    @property
    def end_id(self) -> int:
        """A conditional model's end-of-text id (one past the tokenizer's symbols)."""
        return self.tokenizer.vocab_size


def load_checkpoint(path: str | Path, *, device: str | torch.device = "cpu", impl: str | None = None) -> Checkpoint:
    """Load and validate a checkpoint; every failure is a ``CheckpointError``.

    ``impl`` (``fused`` or ``reference``) runs the weights on another
    implementation than the one recorded; both read the same tensors.
    """
    path = resolve_checkpoint_path(path)
    meta = read_meta(path)
    if meta.get("task") == "forecast":
        raise CheckpointError(
            f"{path}: a forecasting model; use it with rnn forecast --model {path} or rnn eval CKPT series.csv"
        )
    config, tokenizer = validate_layout(path, meta)
    labels = condition_labels(path, meta, tokenizer)
    if impl is not None:
        config = _with_impl(config, impl)
    tensors = read_tensors(path)
    model = build_model(config, conditions=len(labels))
    model.load_state_dict(tensors)
    model.to(device)
    model.eval()
    return Checkpoint(path=path, model=model, tokenizer=tokenizer, meta=meta, labels=labels)


def read_condition(meta: dict[str, Any], where: str = "checkpoint") -> tuple[Tokenizer, list[str]]:
    """A conditional run's tokenizer and labels from its metadata (``CheckpointError`` when flawed)."""
    tokenizer = tokenizer_from_dict(meta.get("tokenizer"))
    return tokenizer, condition_labels(where, meta, tokenizer)


def condition_labels(path: Path | str, meta: dict[str, Any], tokenizer: Tokenizer) -> list[str]:
    """The labels of a conditional model's ``condition`` section; [] for a plain language model."""
    if meta.get("condition") is None:
        return []
    doc = validate(ConditionDoc, meta["condition"], where=f"{path}: condition", error=CheckpointError)
    if len(set(doc.labels)) != len(doc.labels):
        raise CheckpointError(f"{path}: condition: the labels repeat; each label needs its own row")
    if doc.end_id != tokenizer.vocab_size:
        raise CheckpointError(
            f"{path}: condition: end-of-text id {doc.end_id}, but the tokenizer has {tokenizer.vocab_size} symbols"
        )
    return list(doc.labels)


def validate_layout(path: Path, meta: dict[str, Any]) -> tuple[ModelConfig, Tokenizer]:
    """Check the config, tokenizer and tensor table of ``read_meta``'s result against each other.

    Nothing is allocated from the metadata before its sizes are checked; the
    tensor table must match the config exactly and its byte ranges must tile
    the file, so a truncated or doctored file is refused here, weights unread.
    Pops ``_tensors`` and ``_data_bytes`` from ``meta``.
    """
    try:
        config = model_config_from_dict(meta.get("model"), where=f"{path}: model")
    except UsageError as exc:  # the same checks as for flags, but here the file is at fault
        raise CheckpointError(exc.message) from None
    try:
        tokenizer = tokenizer_from_dict(meta.get("tokenizer"))
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc.message}") from None
    labels = condition_labels(path, meta, tokenizer)
    symbols = tokenizer.vocab_size + (1 if labels else 0)  # a conditional model adds end-of-text
    if symbols != config.vocab_size:
        raise CheckpointError(f"{path}: tokenizer has {symbols} symbols but the model expects {config.vocab_size}")
    check_tensors_match(path, meta, lambda: build_model(config, conditions=len(labels)))
    return config, tokenizer


def _with_impl(config: ModelConfig, impl: str) -> ModelConfig:
    """The stored config with the implementation the user asked for, validated again."""
    check_impl(config.cell, impl)
    return dataclasses.replace(config, impl=impl)
