"""Fine-tuning: a new run that starts from a trained run's weights, model settings and tokenizer.

``rnn train NEW.txt --init-from RUN`` is nanoGPT's ``init_from``: the weights,
the model's shape and the tokenizer are RUN's; the optimizer, the step count and
the training settings are new (defaults < --config < flags). ``--resume`` is
the other way back into a run: it continues RUN itself, exactly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rnncli.core.checkpoint import read_meta, resolve_checkpoint_path
from rnncli.core.errors import CheckpointError, DataError, UsageError
from rnncli.core.settings import ChosenOptions, ModelConfig, TrainConfig, build_section
from rnncli.core.tokenizers import Tokenizer, unseen_characters
from rnncli.core.tokenizers.char import describe_unknown
from rnncli.tasks.language_model.config import RunConfig, TextConfig, run_option_types, use_val_file

# What may differ from the run fine-tuned from: these change no tensor and no token id.
CHANGEABLE = frozenset({"dropout", "impl", "glob", "encoding", "errors"})
TOKENIZER_OPTIONS = frozenset({"tokenizer", "vocab_size", "min_count", "max_vocab"})


@dataclass
class StartingPoint:
    """The trained run a fine-tuning run starts from."""

    given: str  # --init-from as typed
    path: Path  # the checkpoint file read
    weights: dict[str, torch.Tensor]
    tokenizer: Tokenizer
    model: ModelConfig
    text: TextConfig
    meta: dict[str, Any]

    def record(self) -> dict[str, Any]:
        """What the new run records of where it started: the file, its step and what it was trained on."""
        history, data = self.meta.get("history") or {}, self.meta.get("data") or {}
        return {
            "path": str(self.path.resolve()),
            "step": history.get("step"),
            "best_val_loss": history.get("best_val_loss"),
            "data": data.get("source"),
            "data_sha256": data.get("sha256"),
        }


def load_starting_point(given: str) -> StartingPoint:
    """RUN's best checkpoint (a run folder or a .safetensors file), checked to be a language model."""
    from rnncli.tasks.language_model.checkpoint import load_checkpoint

    try:
        path = resolve_checkpoint_path(given)
        task = read_meta(path).get("task") or "language-model"
    except CheckpointError as exc:
        raise CheckpointError(f"--init-from {exc.message}") from None
    if task != "language-model":
        raise UsageError(f"--init-from {given}: a {task} run; fine-tuning starts from a language-model run")
    ckpt = load_checkpoint(path)
    if ckpt.conditional:
        raise UsageError(f"--init-from {given}: a model conditioned on labels; fine-tuning starts from a plain one")
    text = build_section(TextConfig, ckpt.meta.get("text") or {}, where=f"{path}: text")
    text.val = None  # RUN's validation file belongs to RUN's text
    weights = {name: tensor.detach().clone() for name, tensor in ckpt.model.state_dict().items()}
    return StartingPoint(given, path, weights, ckpt.tokenizer, ckpt.config, text, ckpt.meta)


def fine_tune_settings(start: StartingPoint, overrides: dict[str, Any], config_file: Path | None) -> RunConfig:
    """RUN's model and text settings, fresh training settings; a flag that would change a tensor is refused."""
    chosen = ChosenOptions.read(overrides, config_file, types=run_option_types())
    run = RunConfig(model=dataclasses.replace(start.model), train=TrainConfig(), text=dataclasses.replace(start.text))
    for key, value in chosen.values.items():
        if key in CHANGEABLE:
            continue
        section = (
            run.text if key in TOKENIZER_OPTIONS else run.model if key in ModelConfig.__dataclass_fields__ else None
        )
        if section is None or getattr(section, key) == value:
            continue
        what = "tokenizer" if key in TOKENIZER_OPTIONS else "model"
        raise chosen.blamed(
            UsageError(
                f"--{key.replace('_', '-')} cannot change with --init-from: fine-tuning keeps the {what} of "
                f"{start.given} ({getattr(section, key)!r}); leave it out, or train a new model without --init-from"
            )
        )
    chosen.apply(run.text, run.train, run.model)
    with chosen.blaming_the_file():
        run.train.validate()
        run.model.validate()
        run.text.read_settings().validate()
        use_val_file(run, chosen)
    return run


def check_covered(start: StartingPoint, chunks: Callable[[], Iterable[str]], source: str) -> None:
    """A character model can only be fine-tuned on text whose every character it knows: name the others.

    Bytes and BPE cover every text; a word model reads unseen words as <unk> (the training report says how
    much of the text its vocabulary covers).
    """
    missing = unseen_characters(start.tokenizer, chunks)
    if missing:
        raise DataError(
            f"{source}: {_count(len(missing), 'character')} that the vocabulary of {start.given} lacks: "
            f"{describe_unknown(missing)}; fine-tuning keeps that vocabulary, so remove or replace them "
            "in the text, or train a new model on all the text without --init-from"
        )


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"
