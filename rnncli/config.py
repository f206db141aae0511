"""Typed settings for models and training, with one place for precedence.

Defaults live in the dataclasses below. A YAML file (``--config run.yaml``)
overrides the defaults, and flags given on the command line override the
file: ``resolve_train_settings`` is the only function that applies that rule.
YAML keys are the option names, with ``-`` or ``_`` (``hidden_size`` or
``hidden-size``).
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from rnncli.errors import UsageError

DEFAULT_STEPS = 2000  # the budget when neither --steps nor --epochs is given
CELLS = ("lstm", "gru", "rnn", "rnn-relu", "gru-textbook")
IMPLS = ("fused", "reference")
REFERENCE_ONLY_CELLS = ("gru-textbook",)  # no fused twin in PyTorch or cuDNN
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("fp32", "bf16", "fp16")
LR_SCHEDULES = ("constant", "cosine")
TOKENIZER_KINDS = ("char", "byte", "word", "bpe")
# Options that may change when a run is resumed: budgets and bookkeeping. The
# rest (model shape, windows, optimiser, seed, data split) would make the
# resumed run a different run, so ``--resume`` refuses to change them.
RESUMABLE_OPTIONS = ("steps", "epochs", "time", "eval_every", "eval_batches", "patience", "keep",
                     "device", "precision", "tensorboard")

# Upper bounds that protect us from absurd values, typed or read from an
# untrusted checkpoint, before anything is allocated from them.
MAX_VOCAB = 2_000_000
MAX_WIDTH = 65_536
MAX_LAYERS = 64


@dataclass
class ModelConfig:
    """The shape of a language model; ``vocab_size`` comes from the data."""

    cell: str = "lstm"
    vocab_size: int = 0
    embed_size: int = 64
    hidden_size: int = 256
    num_layers: int = 2
    dropout: float = 0.0
    impl: str = "fused"

    def validate(self, *, where: str | None = None) -> None:
        _choice(self.cell, CELLS, _label("cell", where))
        check_impl(self.cell, self.impl, label=_label("impl", where))
        _int_range(self.vocab_size, 1, MAX_VOCAB, _label("vocab_size", where))
        _int_range(self.embed_size, 1, MAX_WIDTH, _label("embed_size", where))
        _int_range(self.hidden_size, 1, MAX_WIDTH, _label("hidden_size", where))
        _int_range(self.num_layers, 1, MAX_LAYERS, _label("num_layers", where))
        _float_range(self.dropout, 0.0, 1.0, _label("dropout", where), high_open=True)


@dataclass
class TrainConfig:
    """How to train: windows, optimiser, budget and bookkeeping."""

    seq_len: int = 128
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 0.01
    clip: float = 1.0
    steps: int | None = None
    epochs: float | None = None
    eval_every: int = 200
    # 20 windows of every stream (82k tokens at the defaults) estimate the loss well and keep
    # validation to ~2% of training time (benchmarks/train_speed.py).
    eval_batches: int = 20
    val_frac: float = 0.1
    seed: int = 1337
    device: str = "auto"
    time: str | None = None
    lr_schedule: str = "constant"
    warmup: int = 0
    patience: int | None = None
    keep: int = 0
    precision: str = "fp32"
    tensorboard: bool = False

    @property
    def time_budget_s(self) -> float | None:
        """``--time`` in seconds, or None without a wall-clock budget."""
        return parse_duration(self.time, "--time") if self.time is not None else None

    def validate(self) -> None:
        _int_range(self.seq_len, 1, 1_000_000, "--seq-len")
        _int_range(self.batch_size, 1, 1_000_000, "--batch-size")
        _float_range(self.lr, 0.0, 10.0, "--lr", low_open=True)
        _float_range(self.weight_decay, 0.0, 10.0, "--weight-decay")
        _float_range(self.clip, 0.0, 1e9, "--clip")
        if self.steps is not None:
            _int_range(self.steps, 1, 10**12, "--steps")
        if self.epochs is not None:
            _float_range(self.epochs, 0.0, 1e6, "--epochs", low_open=True)
        if self.steps is not None and self.epochs is not None:
            raise UsageError("give either --steps or --epochs, not both")
        _int_range(self.eval_every, 1, 10**12, "--eval-every")
        _int_range(self.eval_batches, 1, 10**9, "--eval-batches")
        _float_range(self.val_frac, 0.0, 0.5, "--val-frac", high_open=False)
        _choice(self.device, DEVICES, "--device")
        _ = self.time_budget_s
        _choice(self.lr_schedule, LR_SCHEDULES, "--lr-schedule")
        _int_range(self.warmup, 0, 10**12, "--warmup")
        if self.patience is not None:
            _int_range(self.patience, 1, 10**9, "--patience")
        _int_range(self.keep, 0, 10**6, "--keep")
        _choice(self.precision, PRECISIONS, "--precision")
        if self.lr_schedule == "cosine" and self.steps is None and self.epochs is None and self.time is not None:
            raise UsageError("--lr-schedule cosine needs a step budget to decay over: add --steps or --epochs")


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
        _choice(self.tokenizer, TOKENIZER_KINDS, "--tokenizer")
        _int_range(self.vocab_size, 257, 1_000_000, "--vocab-size")
        _int_range(self.min_count, 1, 10**12, "--min-count")
        _int_range(self.max_vocab, 1, MAX_VOCAB - 1, "--max-vocab")
        for option, kind in (("vocab_size", "bpe"), ("min_count", "word"), ("max_vocab", "word")):
            if option in given and self.tokenizer != kind:
                raise UsageError(f"--{option.replace('_', '-')} applies to --tokenizer {kind}, "
                                 f"not {self.tokenizer}")
        self.read_settings().validate()

    def read_settings(self):
        from rnncli.data.sources import ReadSettings

        return ReadSettings(glob=self.glob, encoding=self.encoding, errors=self.errors)

    def tokenizer_settings(self):
        from rnncli.tokenizers import TokenizerSettings

        return TokenizerSettings(kind=self.tokenizer, vocab_size=self.vocab_size, min_count=self.min_count,
                                 max_vocab=self.max_vocab)


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
        model = _build(ModelConfig, data.get("model", {}), where=f"{where}: model")
        train = _build(TrainConfig, data.get("train", {}), where=f"{where}: train")
        # runs from before tokenizers could be chosen have no text section: they read UTF-8 into chars
        text = _build(TextConfig, data.get("text", {}), where=f"{where}: text")
        return cls(model=model, train=train, text=text)

    def section_of(self, key: str):
        """The section an option name belongs to (``vocab_size`` is the text section's: the model's is measured)."""
        for section in (self.text, self.train, self.model):
            if key in section.__dataclass_fields__:
                return section
        raise KeyError(key)


def check_impl(cell: str, impl: str, *, label: str = "--impl") -> None:
    """``impl`` must be one of IMPLS, and not ``fused`` for a cell that only exists as reference cells."""
    _choice(impl, IMPLS, label)
    if impl == "fused" and cell in REFERENCE_ONLY_CELLS:
        raise UsageError(f"{label} fused: cell {cell} has no fused implementation "
                         "(PyTorch and cuDNN compute a different GRU); use --impl reference")


def model_config_from_dict(data: Any, *, where: str) -> ModelConfig:
    """Build and validate a ModelConfig read from untrusted input."""
    config = _build(ModelConfig, data, where=where)
    config.validate(where=where)
    return config


def resolve_train_settings(overrides: dict[str, Any], config_file: Path | None) -> RunConfig:
    """Defaults, then the YAML file, then the flags the user actually typed.

    ``overrides`` maps option names to values; ``None`` means "not given".
    """
    values: dict[str, Any] = {}
    from_file = load_yaml_settings(config_file) if config_file is not None else {}
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
        values.update(load_yaml_settings(config_file))
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


def parse_duration(text: str, name: str) -> float:
    """Seconds in ``90``, ``90s``, ``10m``, ``1.5h``, ``1h30m`` or ``2d``."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    cleaned = str(text).strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(\.\d+)?", cleaned):
        seconds = float(cleaned)
    elif re.fullmatch(r"(\d+(\.\d+)?[smhd])+", cleaned):
        seconds = sum(float(n) * units[u] for n, _, u in re.findall(r"(\d+(\.\d+)?)([smhd])", cleaned))
    else:
        raise UsageError(f"{name}: cannot read {text!r} as a duration; write e.g. 90s, 10m, 1h30m or 2d")
    if not seconds > 0:
        raise UsageError(f"{name} must be more than zero, got {text!r}")
    return seconds


def load_yaml_settings(path: Path, types: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read a flat YAML mapping of option names, checking names and types.

    ``types`` maps the valid keys to their annotations; the default is every
    option of a language-model run.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read config file ({exc.strerror or exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise UsageError(f"{path}:{line} is not valid YAML; check indentation and quoting") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a mapping of option names to values")
    # the model's vocab_size is measured from the data; the key means the BPE vocabulary to learn
    types = types or {f.name: f.type for f in fields(ModelConfig) + fields(TrainConfig) + fields(TextConfig)}
    settings: dict[str, Any] = {}
    for raw_key, value in data.items():
        key = str(raw_key).replace("-", "_")
        if key not in types:
            valid = ", ".join(sorted(types))
            raise UsageError(f"{path}: unknown key '{raw_key}' (valid keys: {valid})")
        if key == "time" and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)  # a bare number of seconds
        settings[key] = _coerce(value, types[key], f"{path}: key '{raw_key}'")
    return settings


def _build(cls, data: Any, *, where: str):
    if not isinstance(data, dict):
        raise UsageError(f"{where}: expected a mapping")
    known = {f.name: f for f in fields(cls)}
    kwargs = {}
    for key, value in data.items():
        if key not in known:
            raise UsageError(f"{where}: unknown key '{key}'")
        kwargs[key] = _coerce(value, known[key].type, f"{where}: key '{key}'")
    return cls(**kwargs)


def _coerce(value: Any, type_name: Any, where: str) -> Any:
    """Check a YAML/JSON value against a dataclass field's annotation."""
    name = str(type_name)
    optional = "None" in name
    if value is None:
        if optional:
            return None
        raise UsageError(f"{where} must not be empty")
    if name.startswith("int"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise UsageError(f"{where} must be a whole number, got {value!r}")
        return value
    if name.startswith("float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UsageError(f"{where} must be a number, got {value!r}")
        return float(value)
    if name.startswith("str"):
        if not isinstance(value, str):
            raise UsageError(f"{where} must be text, got {value!r}")
        return value
    if name.startswith("bool"):
        if not isinstance(value, bool):
            raise UsageError(f"{where} must be true or false, got {value!r}")
        return value
    raise UsageError(f"{where} has an unsupported type")


def _label(name: str, where: str | None) -> str:
    """``--hidden-size`` for a flag, ``run.safetensors: model hidden_size`` for a file."""
    return f"--{name.replace('_', '-')}" if where is None else f"{where} {name}"


def _choice(value: str, choices: tuple[str, ...], name: str) -> None:
    if value not in choices:
        raise UsageError(f"{name}: unknown value '{value}' (choose one of: {', '.join(choices)})")


def _int_range(value: int, low: int, high: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UsageError(f"{name} must be a whole number from {low} to {high}, got {value!r}")


def _float_range(value: float, low: float, high: float, name: str, *,
                 low_open: bool = False, high_open: bool = False) -> None:
    ok = isinstance(value, (int, float)) and math.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        raise UsageError(f"{name} must be in {left}{low}, {high}{right}, got {value!r}")
