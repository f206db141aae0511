"""The classification options as the commands give them, layered like every task's.

The order is flags > --config > saved run > defaults.

Nothing here imports torch, so a bad flag or config file is reported before the data is read.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from rnncli.core.settings import ChosenOptions, TrainConfig, check_choice, check_int, train_option_types
from rnncli.core.tokenizer_settings import KINDS, TokenizerSettings
from rnncli.tasks.classify.config import ClassifierConfig

MODEL_KEYS = ("cell", "impl", "embed_size", "hidden_size", "num_layers", "dropout", "bidirectional", "pool")
# The budget of a classifier when none is given: a few passes over the examples, validated after each.
TRAIN_DEFAULTS = dict(epochs=10.0, batch_size=32, lr=3e-3, patience=4)
CLASS_WEIGHTS = ("none", "balanced")


@dataclass
class DataOptions:
    """How the examples are read and encoded."""

    text_col: str | None = None
    label_col: str | None = None
    val: str | None = None  # a validation file instead of --val-frac
    strict: bool = False
    max_len: int = 512  # tokens; longer examples are cut (with a warning)
    class_weight: str = "none"
    tokenizer: str = "word"
    vocab_size: int = TokenizerSettings.vocab_size
    min_count: int = 2
    max_vocab: int = TokenizerSettings.max_vocab

    def validate(self) -> None:
        check_choice(self.tokenizer, KINDS, "--tokenizer")
        check_choice(self.class_weight, CLASS_WEIGHTS, "--class-weight")
        check_int(self.max_len, 1, 1_000_000, "--max-len")
        check_int(self.vocab_size, 257, 1_000_000, "--vocab-size")
        check_int(self.min_count, 1, 10**12, "--min-count")
        check_int(self.max_vocab, 1, 2_000_000, "--max-vocab")

    def tokenizer_settings(self) -> TokenizerSettings:
        return TokenizerSettings(self.tokenizer, self.vocab_size, self.min_count, self.max_vocab)


def option_types() -> dict[str, Any]:
    """Every option of a classification run (its flags and its --config keys), with its type."""
    model = {f.name: f.type for f in fields(ClassifierConfig) if f.name in MODEL_KEYS}
    train = train_option_types("seq_len", "eval_batches")  # no token windows; whole examples validate
    return {**model, **{f.name: f.type for f in fields(DataOptions)}, **train}


@dataclass
class ClassifySettings:
    """A classification run's options: the model's shape, how to read the data, and the trainer's settings."""

    model: ClassifierConfig
    data: DataOptions
    train: TrainConfig
    chosen: ChosenOptions

    @classmethod
    def resolve(cls, options: dict[str, Any], config_file: Path | None = None) -> ClassifySettings:
        chosen = ChosenOptions.read(options, config_file, types=option_types())
        model, data, train = ClassifierConfig(), DataOptions(), TrainConfig(**TRAIN_DEFAULTS)
        if "steps" in chosen.values or "time" in chosen.values:
            train.epochs = None  # a step or time budget replaces the default epochs
        chosen.apply(model, data, train)
        if model.cell == "gru-textbook" and "impl" not in chosen.values:
            model.impl = "reference"  # the only implementation it has
        with chosen.blaming_the_file():
            dataclasses.replace(model, vocab_size=1, num_classes=2).validate()
            data.validate()
            train.validate()
        return cls(model=model, data=data, train=train, chosen=chosen)

    def eval_every(self, steps_per_epoch: int) -> None:
        """Validate once an epoch unless --eval-every says otherwise."""
        if "eval_every" not in self.chosen.values:
            self.train.eval_every = max(1, steps_per_epoch)

    def resumed(self, saved: dict[str, Any]) -> tuple[ClassifierConfig, DataOptions, TrainConfig]:
        """A saved run's settings, with the changes a resume allows (budgets, bookkeeping)."""
        model = ClassifierConfig(**saved["model"])
        data, train = DataOptions(**saved["data_options"]), TrainConfig(**saved["train"])
        self.chosen.apply(model, data, train, resuming=True)
        with self.chosen.blaming_the_file():
            train.validate()
        return model, data, train
