"""The tagging options as the commands give them, layered like every task's (flags > --config > saved run >
defaults, core's ``ChosenOptions``), and turned into the tagger's shape and the trainer's settings.

Nothing here imports torch, so a bad flag or config file is reported before the data is read.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from rnncli.core.errors import UsageError
from rnncli.core.settings import ChosenOptions, TrainConfig, check_int, train_option_types
from rnncli.tasks.tag.config import TagConfig

READ_KEYS = ("tag_col", "tag_field", "min_count", "val")
MODEL_KEYS = ("cell", "impl", "embed_size", "hidden_size", "num_layers", "dropout", "word_dropout", "crf")
# Tagging trains on whole sentences; a few hundred steps of 16 sentences learn a small corpus.
TAG_TRAIN_DEFAULTS = dict(steps=600, batch_size=16, lr=3e-3, eval_every=100, seq_len=1, val_frac=0.1)
VALIDATION_RATIO = 3  # train on at least 3 x the validation tokens between two validations


@dataclass
class ReadOptions:
    """How to read tagged data: the tag column of CoNLL files, the field of CoNLL-U, rare words."""

    tag_col: int | None = None
    tag_field: str | None = None
    min_count: int = 2  # a word seen once is the unknown word: its own embedding would only fit that once
    val: str | None = None  # a file of validation sentences instead of the last --val-frac


@dataclass
class ShapeOptions:
    """The tagger's shape as the user gives it (None: the default)."""

    cell: str | None = None
    impl: str | None = None
    embed_size: int | None = None
    hidden_size: int | None = None
    num_layers: int | None = None
    dropout: float | None = None
    word_dropout: float | None = None
    crf: bool | None = None


def option_types() -> dict[str, Any]:
    """Every option of a tagging run (its flags and its --config keys), with its type."""
    train = train_option_types("seq_len", "eval_batches")  # no token windows; whole examples validate
    return {**{f.name: f.type for f in fields(ShapeOptions) + fields(ReadOptions)}, **train}


@dataclass
class TagSettings:
    shape: ShapeOptions
    read: ReadOptions
    chosen: ChosenOptions

    @classmethod
    def resolve(cls, options: dict[str, Any], config_file: Path | None = None) -> TagSettings:
        chosen = ChosenOptions.read(options, config_file, types=option_types())
        shape, read = ShapeOptions(), ReadOptions()
        chosen.apply(shape, read)
        with chosen.blaming_the_file():
            check_int(read.min_count, 1, 10**9, "--min-count")
            if read.tag_col is not None:
                check_int(read.tag_col, 2, 1000, "--tag-col")
        return cls(shape, read, chosen)

    def checked_config(self) -> TagConfig:
        """The shape from the options; the sizes of the vocabularies come from the data later."""
        config = TagConfig()
        for name in MODEL_KEYS:
            if getattr(self.shape, name) is not None:
                setattr(config, name, getattr(self.shape, name))
        with self.chosen.blaming_the_file():
            config.validate()
        return config

    def train_config(self) -> TrainConfig:
        cfg = TrainConfig(**TAG_TRAIN_DEFAULTS)
        if "time" in self.chosen.values or "epochs" in self.chosen.values:
            cfg.steps = None  # a time or epoch budget replaces the default steps (--steps still caps it)
        self.chosen.apply(cfg)
        with self.chosen.blaming_the_file():
            cfg.validate()
        return cfg

    def follow_the_data(self, cfg: TrainConfig, *, val_tokens: int, tokens_per_step: float) -> None:
        """Validate less often when the validation sentences are many (unless --eval-every says): every
        validation decodes all of them, so between two the model trains on at least ``VALIDATION_RATIO``
        times their tokens (in whole hundreds of steps), and validation stays a small share of the time."""
        if "eval_every" not in self.chosen.values and tokens_per_step > 0:
            steps = math.ceil(VALIDATION_RATIO * val_tokens / tokens_per_step / 100) * 100
            cfg.eval_every = max(cfg.eval_every, steps)

    def resumed(self, saved: dict[str, Any]) -> tuple[TagConfig, TrainConfig]:
        """A saved run's shape and trainer settings, with the changes a resume allows (budgets, bookkeeping)."""
        config, cfg = TagConfig(**saved["model"]), TrainConfig(**saved["train"])
        values = {k: v for k, v in self.chosen.values.items() if k not in dataclasses.asdict(ReadOptions())}
        dataclasses.replace(self.chosen, values=values).apply(config, cfg, resuming=True)
        read = saved["data"]
        for name in READ_KEYS:
            if name in self.chosen.values and self.chosen.values[name] != read.get(name):
                raise UsageError(f"--{name.replace('_', '-')} cannot change when resuming; leave it out")
        with self.chosen.blaming_the_file():
            cfg.validate()
        return config, cfg
