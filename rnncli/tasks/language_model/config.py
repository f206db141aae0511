"""A language-model run's settings: the text section, and the model, train and text sections together.

The model and train sections, their checks and the YAML reader are the core's
(rnncli/core/settings.py); this module adds how a corpus becomes tokens.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from rnncli.core.errors import UsageError
from rnncli.core.settings import (
    MAX_VOCAB,
    REFERENCE_ONLY_CELLS,
    ChosenOptions,
    ModelConfig,
    TrainConfig,
    build_section,
    check_choice,
    check_int,
)
from rnncli.core.tokenizer_settings import KINDS, TokenizerSettings

TOKENIZER_KINDS = KINDS


@dataclass
class TextConfig:
    """How a corpus becomes tokens: which files, how they decode, which tokenizer."""

    tokenizer: str = TokenizerSettings.kind
    vocab_size: int = TokenizerSettings.vocab_size  # bpe only: the vocabulary to learn
    min_count: int = TokenizerSettings.min_count  # word only: rarer words become the unknown token
    max_vocab: int = TokenizerSettings.max_vocab  # word only: keep at most this many words
    glob: str | None = None
    encoding: str = "utf-8"
    errors: str = "strict"
    val: str | None = None  # validation text from this file instead of the last --val-frac of DATA
    condition_col: str | None = None  # a labelled file: one sequence per example, started from its label
    text_col: str | None = None  # with condition_col: the text column [default: from the header]

    def validate(self, *, given: set[str] = frozenset()) -> None:
        """Check values; ``given`` (the options the user set) catches options the tokenizer ignores."""
        check_choice(self.tokenizer, TOKENIZER_KINDS, "--tokenizer")
        check_int(self.vocab_size, 257, 1_000_000, "--vocab-size")
        check_int(self.min_count, 1, 10**12, "--min-count")
        check_int(self.max_vocab, 1, MAX_VOCAB - 1, "--max-vocab")
        for option, kind in (("vocab_size", "bpe"), ("min_count", "word"), ("max_vocab", "word")):
            if option in given and self.tokenizer != kind:
                raise UsageError(f"--{option.replace('_', '-')} applies to --tokenizer {kind}, not {self.tokenizer}")
        if self.text_col is not None and self.condition_col is None:
            raise UsageError("--text-col names the text column of a labelled file: add --condition-col LABEL_COLUMN")
        if self.condition_col is not None and self.glob is not None:
            raise UsageError("--glob picks text files of a folder; with --condition-col a folder holds one per class")
        self.read_settings().validate()

    def read_settings(self):
        from rnncli.tasks.language_model.data.sources import ReadSettings

        return ReadSettings(glob=self.glob, encoding=self.encoding, errors=self.errors)

    def tokenizer_settings(self) -> TokenizerSettings:
        return TokenizerSettings(
            kind=self.tokenizer, vocab_size=self.vocab_size, min_count=self.min_count, max_vocab=self.max_vocab
        )


@dataclass
class RunConfig:
    """Everything ``rnn train`` needs, as saved in ``config.yaml``."""

    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    text: TextConfig = field(default_factory=TextConfig)
    chosen: dict[str, Any] = field(default_factory=dict)  # what rnn chose for a --time budget (sizing.py)

    def to_dict(self) -> dict[str, Any]:
        sections = {
            "model": dataclasses.asdict(self.model),
            "train": dataclasses.asdict(self.train),
            "text": dataclasses.asdict(self.text),
        }
        return {**sections, "chosen": dict(self.chosen)} if self.chosen else sections

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "config") -> RunConfig:
        model = build_section(ModelConfig, data.get("model", {}), where=f"{where}: model")
        train = build_section(TrainConfig, data.get("train", {}), where=f"{where}: train")
        # runs from before tokenizers could be chosen have no text section: they read UTF-8 into chars
        text = build_section(TextConfig, data.get("text", {}), where=f"{where}: text")
        chosen = data.get("chosen")  # a record of what a --time budget chose, kept as it was
        return cls(model=model, train=train, text=text, chosen=dict(chosen) if isinstance(chosen, dict) else {})


def resolve_train_settings(overrides: dict[str, Any], config_file: Path | None) -> RunConfig:
    """Defaults, then the YAML file, then the flags the user actually typed (``None``: not given)."""
    chosen = ChosenOptions.read(overrides, config_file, types=run_option_types())
    run = RunConfig()
    chosen.apply(run.text, run.train, run.model)
    if run.model.cell in REFERENCE_ONLY_CELLS and "impl" not in chosen.values:
        run.model.impl = "reference"  # the only implementation it has; an explicit --impl fused is refused
    with chosen.blaming_the_file():
        dataclasses.replace(run.model, vocab_size=1).validate()  # the real vocabulary comes from the data
        run.train.validate()
        run.text.validate(given=chosen.given)
        use_val_file(run, chosen)
    return run


def use_val_file(run: RunConfig, chosen: ChosenOptions) -> None:
    """``--val FILE`` replaces ``--val-frac``: all of DATA trains, and the run records a fraction of 0."""
    if run.text.val is None:
        return
    if "val_frac" in chosen.values:
        raise UsageError("give --val FILE or --val-frac, not both: --val holds the validation text apart")
    run.train.val_frac = 0.0


def resolve_resume_settings(saved: RunConfig, overrides: dict[str, Any], config_file: Path | None) -> RunConfig:
    """A saved run's settings, with the changes that keep a resume meaningful (core's ``RESUMABLE_OPTIONS``)."""
    chosen = ChosenOptions.read(overrides, config_file, types=run_option_types())
    run = RunConfig(
        model=dataclasses.replace(saved.model),
        train=dataclasses.replace(saved.train),
        text=dataclasses.replace(saved.text),
        chosen=dict(saved.chosen),
    )
    chosen.apply(run.text, run.train, run.model, resuming=True)
    with chosen.blaming_the_file():
        run.train.validate()
    return run


def given_options(overrides: dict[str, Any], config_file: Path | None) -> set[str]:
    """The names of the options the user set, by flag or in the ``--config`` file."""
    return set(ChosenOptions.read(overrides, config_file, types=run_option_types()).values)


def run_option_types() -> dict[str, Any]:
    """Every option a config file may set for a language-model run, with its type.

    The model's ``vocab_size`` is measured from the data: the key means the text section's BPE vocabulary.
    """
    return {f.name: f.type for f in fields(ModelConfig) + fields(TrainConfig) + fields(TextConfig)}
