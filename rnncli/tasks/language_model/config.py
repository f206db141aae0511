"""A language-model run's settings: the text section, and the model, train and text sections together.

The model and train sections, their checks and the YAML reader are the core's
(rnncli/core/settings.py); this module adds how a corpus becomes tokens.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from rnncli.core.errors import UsageError
from rnncli.core.settings import (
    MAX_VOCAB,
    REFERENCE_ONLY_CELLS,
    RESUMABLE_OPTIONS,
    ModelConfig,
    TrainConfig,
    build_section,
    check_choice,
    check_int,
    load_yaml_settings,
)

TOKENIZER_KINDS = ("char", "byte", "word", "bpe")


@dataclass
class TextConfig:
    """How a corpus becomes tokens: which files, how they decode, which tokenizer."""

    tokenizer: str = "char"
    vocab_size: int = 1024  # bpe only: the vocabulary to learn
    min_count: int = 1  # word only: rarer words become the unknown token
    max_vocab: int = 50_000  # word only: keep at most this many words
    glob: str | None = None
    encoding: str = "utf-8"
    errors: str = "strict"

    def validate(self, *, given: set[str] = frozenset()) -> None:
        """Check values; ``given`` (the options the user set) catches options the tokenizer ignores."""
        check_choice(self.tokenizer, TOKENIZER_KINDS, "--tokenizer")
        check_int(self.vocab_size, 257, 1_000_000, "--vocab-size")
        check_int(self.min_count, 1, 10**12, "--min-count")
        check_int(self.max_vocab, 1, MAX_VOCAB - 1, "--max-vocab")
        for option, kind in (("vocab_size", "bpe"), ("min_count", "word"), ("max_vocab", "word")):
            if option in given and self.tokenizer != kind:
                raise UsageError(f"--{option.replace('_', '-')} applies to --tokenizer {kind}, "
                                 f"not {self.tokenizer}")
        self.read_settings().validate()

    def read_settings(self):
        from rnncli.tasks.language_model.data.sources import ReadSettings

        return ReadSettings(glob=self.glob, encoding=self.encoding, errors=self.errors)

    def tokenizer_settings(self) -> TokenizerSettings:
        return TokenizerSettings(kind=self.tokenizer, vocab_size=self.vocab_size, min_count=self.min_count,
                                 max_vocab=self.max_vocab)


@dataclass
class TokenizerSettings:
    """What ``tokenizers.train_tokenizer`` needs besides the text; each kind reads the fields it uses.

    It lives here, beside the defaults it takes from ``TextConfig``, so that the tokenizers import
    the settings and not the other way round.
    """

    kind: str = TextConfig.tokenizer
    vocab_size: int = TextConfig.vocab_size  # bpe: the target vocabulary
    min_count: int = TextConfig.min_count  # word: rarer words become the unknown token
    max_vocab: int = TextConfig.max_vocab  # word: at most this many words (the most frequent)


@dataclass
class RunConfig:
    """Everything ``rnn train`` needs, as saved in ``config.yaml``."""

    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    text: TextConfig = field(default_factory=TextConfig)

    def to_dict(self) -> dict[str, Any]:
        return {"model": dataclasses.asdict(self.model), "train": dataclasses.asdict(self.train),
                "text": dataclasses.asdict(self.text)}

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "config") -> RunConfig:
        model = build_section(ModelConfig, data.get("model", {}), where=f"{where}: model")
        train = build_section(TrainConfig, data.get("train", {}), where=f"{where}: train")
        # runs from before tokenizers could be chosen have no text section: they read UTF-8 into chars
        text = build_section(TextConfig, data.get("text", {}), where=f"{where}: text")
        return cls(model=model, train=train, text=text)

    def section_of(self, key: str):
        """The section an option name belongs to (``vocab_size`` is the text section's: the model's is measured)."""
        for section in (self.text, self.train, self.model):
            if key in section.__dataclass_fields__:
                return section
        raise KeyError(key)


def resolve_train_settings(overrides: dict[str, Any], config_file: Path | None) -> RunConfig:
    """Defaults, then the YAML file, then the flags the user actually typed.

    ``overrides`` maps option names to values; ``None`` means "not given".
    """
    values: dict[str, Any] = {}
    from_file = load_yaml_settings(config_file, run_option_types()) if config_file is not None else {}
    values.update(from_file)
    flags = {k: v for k, v in overrides.items() if v is not None}
    values.update(flags)
    run = RunConfig()
    for key, value in values.items():
        setattr(run.section_of(key), key, value)
    if run.model.cell in REFERENCE_ONLY_CELLS and "impl" not in values:
        run.model.impl = "reference"  # the only implementation it has; an explicit --impl fused is refused
    try:
        dataclasses.replace(run.model, vocab_size=1).validate()  # the real vocabulary comes from the data
        run.train.validate()
        run.text.validate(given=set(values))
    except UsageError as exc:
        raise _blame_file(exc, config_file, set(from_file) - set(flags)) from None
    return run


def _blame_file(exc: UsageError, config_file: Path | None, file_keys: set[str]) -> UsageError:
    """Point a bad value at the config file when the value came from there, not from a flag."""
    flag = re.match(r"--([a-z][a-z-]*)", exc.message)
    key = flag.group(1).replace("-", "_") if flag else None
    if config_file is None or key not in file_keys:
        return exc
    rest = exc.message[flag.end():].lstrip(":").lstrip()
    return UsageError(f"{config_file}: key '{key}': {rest}")


def resolve_resume_settings(saved: RunConfig, overrides: dict[str, Any], config_file: Path | None) -> RunConfig:
    """A saved run's settings, with the changes that keep a resume meaningful.

    Budgets and bookkeeping may change (``RESUMABLE_OPTIONS``); any other
    option given with a value other than the saved one is refused.
    """
    values: dict[str, Any] = {}
    if config_file is not None:
        values.update(load_yaml_settings(config_file, run_option_types()))
    values.update({k: v for k, v in overrides.items() if v is not None})
    run = RunConfig(model=dataclasses.replace(saved.model), train=dataclasses.replace(saved.train),
                    text=dataclasses.replace(saved.text))
    for key, value in values.items():
        section = run.section_of(key)
        current = getattr(section, key)
        if key in RESUMABLE_OPTIONS:
            setattr(section, key, value)
        elif value != current:
            flag = "--" + key.replace("_", "-")
            raise UsageError(f"{flag} cannot change when resuming (this run was trained with {current!r}); "
                             "leave it out, or start a new run with --out")
    if "steps" in values and "epochs" not in values:
        run.train.epochs = None
    if "epochs" in values and "steps" not in values:
        run.train.steps = None
    run.train.validate()
    return run


def run_option_types() -> dict[str, Any]:
    """Every option a config file may set for a language-model run, with its type.

    The model's ``vocab_size`` is measured from the data: the key means the text section's BPE vocabulary.
    """
    return {f.name: f.type for f in fields(ModelConfig) + fields(TrainConfig) + fields(TextConfig)}
