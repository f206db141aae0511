"""The translation options as the commands give them, layered like every task's (flags > --config > saved
run > defaults, core's ``ChosenOptions``). Nothing here imports torch, so a bad flag is reported at once."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from rnncli.core.errors import UsageError
from rnncli.core.settings import ChosenOptions, TrainConfig, check_choice, check_int, train_option_types
from rnncli.core.tokenizer_settings import KINDS, TokenizerSettings
from rnncli.tasks.translate.config import TranslateConfig

MODEL_KEYS = tuple(f.name for f in fields(TranslateConfig) if f.name not in ("vocab_size", "target_vocab_size"))
# The trainer's defaults for a translator: sentence pairs per batch, a learning rate an attention model
# trains well with, and validation often enough to see it learn.
TRAIN_DEFAULTS = dict(batch_size=64, lr=3e-3, eval_every=100, steps=1000, val_frac=0.1)


@dataclass
class DataOptions:
    """Where the pairs come from and how they become tokens (one tokenizer learnt on both sides, or one per side)."""

    source: str | None = None
    target: str | None = None
    max_len: int = 100
    tokenizer: str = "bpe"  # byte-level BPE on both sides: real sentences train ~2.5x faster than chars
    vocab_size: int = TokenizerSettings.vocab_size
    min_count: int = TokenizerSettings.min_count
    max_vocab: int = TokenizerSettings.max_vocab
    shared_vocab: bool = True

    def validate(self) -> None:
        check_int(self.max_len, 1, 100_000, "--max-len")
        check_choice(self.tokenizer, KINDS, "--tokenizer")
        check_int(self.vocab_size, 257, 1_000_000, "--vocab-size")
        check_int(self.min_count, 1, 10**12, "--min-count")
        check_int(self.max_vocab, 1, 2_000_000, "--max-vocab")
        if (self.source is None) != (self.target is None):
            raise UsageError("give --source and --target together: two line-aligned files, one sentence per line")

    def tokenizer_settings(self) -> TokenizerSettings:
        return TokenizerSettings(
            kind=self.tokenizer, vocab_size=self.vocab_size, min_count=self.min_count, max_vocab=self.max_vocab
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def option_types() -> dict[str, Any]:
    """Every option of a translation run (its flags and its --config keys), with its type."""
    train = train_option_types("seq_len", "eval_batches")  # no token windows; whole examples validate
    model = {f.name: f.type for f in fields(TranslateConfig) if f.name in MODEL_KEYS}
    return {**model, **{f.name: f.type for f in fields(DataOptions)}, **train}


@dataclass
class TranslateSettings:
    """A translation run's options: the model's shape, the data, and the trainer's settings."""

    model: TranslateConfig
    data: DataOptions
    chosen: ChosenOptions

    @classmethod
    def resolve(cls, options: dict[str, Any], config_file: Path | None = None) -> TranslateSettings:
        chosen = ChosenOptions.read(options, config_file, types=option_types())
        model, data = TranslateConfig(copy=True), DataOptions()  # a new run copies unless told not to
        chosen.apply(model, data)
        with chosen.blaming_the_file():
            model.validate()
            data.validate()
        return cls(model=model, data=data, chosen=chosen)

    def train_config(self) -> TrainConfig:
        cfg = TrainConfig(**TRAIN_DEFAULTS)
        self.chosen.apply(cfg)
        if cfg.time is not None and not {"steps", "epochs"} & set(self.chosen.values):
            cfg.steps = None  # --time alone decides, as --help says: the default step count is not a second budget
        with self.chosen.blaming_the_file():
            cfg.validate()
        return cfg

    def resumed(self, saved: dict[str, Any]) -> tuple[TranslateConfig, TrainConfig]:
        """A saved run's shape and trainer settings, with the changes a resume allows (budgets, bookkeeping)."""
        config, cfg = TranslateConfig(**saved["model"]), TrainConfig(**saved["train"])
        data = DataOptions(**saved["data_options"])
        self.chosen.apply(config, data, cfg, resuming=True)
        with self.chosen.blaming_the_file():
            cfg.validate()
        return config, cfg
