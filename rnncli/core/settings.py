"""Settings every task shares: the recurrent model's shape, how to train, and how values are checked.

Defaults live in the dataclasses below. Every task layers its settings the
same way, in ``ChosenOptions``: flags > ``--config`` YAML > the saved run (when
resuming) > defaults. YAML keys are the option names, with ``-`` or ``_``
(``hidden_size`` or ``hidden-size``); ``load_yaml_settings`` reads them,
checked against a task's option types.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from rnncli.core.documents import load_yaml
from rnncli.core.errors import UsageError

DEFAULT_STEPS = 2000  # the budget when neither --steps nor --epochs is given
CELLS = ("lstm", "gru", "rnn", "rnn-relu", "gru-textbook", "mingru", "minlstm")
IMPLS = ("fused", "reference")
REFERENCE_ONLY_CELLS = ("gru-textbook",)  # no fused twin in PyTorch or cuDNN
# Feng et al. 2024 (rnncli/core/min_cells.py): for them ``fused`` is the parallel scan, ``reference`` the step loop.
MIN_CELLS = ("mingru", "minlstm")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("fp32", "bf16", "fp16")
LR_SCHEDULES = ("constant", "cosine")
BEST_BY = ("metric", "loss")  # what picks the best checkpoint: the task's own metric where it has one, or the loss
# Options that may change when a run of any task is resumed: budgets and bookkeeping.
# The rest (model shape, windows, optimiser, seed, data split) would make the
# resumed run a different run, so ``--resume`` refuses to change them.
RESUMABLE_OPTIONS = (
    "steps",
    "epochs",
    "time",
    "eval_every",
    "eval_batches",
    "patience",
    "best_by",
    "keep",
    "device",
    "precision",
    "tensorboard",
)

# Upper bounds that protect us from absurd values, typed or read from an
# untrusted checkpoint, before anything is allocated from them.
MAX_VOCAB = 2_000_000
MAX_WIDTH = 65_536
MAX_LAYERS = 64
MAX_SEED = 2**32 - 1  # torch's and NumPy's generators both take it, with room for seed + i


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
        check_choice(self.cell, CELLS, _label("cell", where))
        check_impl(self.cell, self.impl, label=_label("impl", where))
        check_int(self.vocab_size, 1, MAX_VOCAB, _label("vocab_size", where))
        check_int(self.embed_size, 1, MAX_WIDTH, _label("embed_size", where))
        check_int(self.hidden_size, 1, MAX_WIDTH, _label("hidden_size", where))
        check_int(self.num_layers, 1, MAX_LAYERS, _label("num_layers", where))
        check_float(self.dropout, 0.0, 1.0, _label("dropout", where), high_open=True)


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
    best_by: str = "metric"
    keep: int = 0
    precision: str = "fp32"
    tensorboard: bool = False

    @property
    def time_budget_s(self) -> float | None:
        """``--time`` in seconds, or None without a wall-clock budget."""
        return parse_duration(self.time, "--time") if self.time is not None else None

    def keep_one_budget(self, given: Mapping[str, Any]) -> None:
        """A step or epoch budget the user gives replaces the other one from the layers below."""
        if "steps" in given and "epochs" not in given:
            self.epochs = None
        if "epochs" in given and "steps" not in given:
            self.steps = None

    def validate(self) -> None:
        check_int(self.seq_len, 1, 1_000_000, "--seq-len")
        check_int(self.batch_size, 1, 1_000_000, "--batch-size")
        check_float(self.lr, 0.0, 10.0, "--lr", low_open=True)
        check_float(self.weight_decay, 0.0, 10.0, "--weight-decay")
        check_float(self.clip, 0.0, 1e9, "--clip")
        if self.steps is not None:
            check_int(self.steps, 1, 10**12, "--steps")
        if self.epochs is not None:
            check_float(self.epochs, 0.0, 1e6, "--epochs", low_open=True)
        if self.steps is not None and self.epochs is not None:
            raise UsageError("give either --steps or --epochs, not both")
        check_int(self.eval_every, 1, 10**12, "--eval-every")
        check_int(self.eval_batches, 1, 10**9, "--eval-batches")
        check_float(self.val_frac, 0.0, 0.5, "--val-frac", high_open=False)
        check_int(self.seed, 0, MAX_SEED, "--seed")
        check_choice(self.device, DEVICES, "--device")
        _ = self.time_budget_s
        check_choice(self.lr_schedule, LR_SCHEDULES, "--lr-schedule")
        check_int(self.warmup, 0, 10**12, "--warmup")
        if self.patience is not None:
            check_int(self.patience, 1, 10**9, "--patience")
        check_choice(self.best_by, BEST_BY, "--best-by")
        check_int(self.keep, 0, 10**6, "--keep")
        check_choice(self.precision, PRECISIONS, "--precision")


def train_option_types(*left_out: str) -> dict[str, Any]:
    """The trainer's options a task takes, with their types: every ``TrainConfig`` field but ``left_out``.

    ``eval_batches`` is a language model's (batches of windows); the other tasks validate on whole examples.
    """
    return {f.name: f.type for f in fields(TrainConfig) if f.name not in left_out}


def check_impl(cell: str, impl: str, *, label: str = "--impl") -> None:
    """``impl`` must be one of IMPLS, and not ``fused`` for a cell that only exists as reference cells."""
    check_choice(impl, IMPLS, label)
    if impl == "fused" and cell in REFERENCE_ONLY_CELLS:
        raise UsageError(
            f"{label} fused: cell {cell} has no fused implementation "
            "(PyTorch and cuDNN compute a different GRU); use --impl reference"
        )


def model_config_from_dict(data: Any, *, where: str) -> ModelConfig:
    """Build and validate a ModelConfig read from untrusted input."""
    config = build_section(ModelConfig, data, where=where)
    config.validate(where=where)
    return config


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


def load_yaml_settings(path: Path, types: dict[str, Any]) -> dict[str, Any]:
    """Read a flat YAML mapping of option names, checking names and types.

    ``types`` maps the valid keys to their annotations.
    """
    return read_config_file(path, types)[0]


def read_config_file(path: Path, types: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """``load_yaml_settings``, and whether the file was a run's own (nested) config.yaml."""
    data = load_yaml(path)
    if data is None:
        return {}, False
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a mapping of option names to values")
    record = _flatten_run_record(path, data, types)
    settings: dict[str, Any] = {}
    for raw_key, value in (record if record is not None else data).items():
        key = str(raw_key).replace("-", "_")
        if key not in types:
            valid = ", ".join(sorted(types))
            raise UsageError(f"{path}: unknown key '{raw_key}' (valid keys: {valid})")
        if key == "time" and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)  # a bare number of seconds
        settings[key] = coerce(value, types[key], f"{path}: key '{raw_key}'")
    return settings, record is not None


# What a run's config.yaml records beside its options: sizes measured from the data, and trainer
# settings that a task does not take (a forecaster has no --seq-len).
MEASURED = {("model", "vocab_size"), ("model", "num_classes"), ("model", "num_tags")}
RECORDED = frozenset(f.name for f in fields(TrainConfig))


def _flatten_run_record(path: Path, data: dict, types: dict[str, Any]) -> dict[str, Any] | None:
    """A run's own config.yaml (sections ``model:``, ``train:``, ... of settings) as flat options.

    None for a flat file of option names. Each section's options are taken; what the run measured or a
    task does not take is skipped, so the file a run wrote is a valid ``--config`` for the same task.
    """
    sections = [(str(k), v) for k, v in data.items()]
    if any(k.replace("-", "_") in types or not isinstance(v, dict) for k, v in sections):
        return None
    flat: dict[str, Any] = {}
    for section, values in sections:
        for raw_key, value in values.items():
            key = str(raw_key).replace("-", "_")
            if (section, key) in MEASURED or (key not in types and key in RECORDED):
                continue
            if key in flat:
                raise UsageError(f"{path}: key '{key}' appears in two sections; keep one")
            is_list = isinstance(value, list) and str(types.get(key, "")).startswith("str")
            flat[key] = ",".join(str(v) for v in value) if is_list else value
    return flat


@dataclass
class ChosenOptions:
    """The options a user set for a run, flags over the ``--config`` file: the one precedence of every task.

    ``apply`` lays them over a fresh run's defaults or a resumed run's saved
    settings, so the order is always flags > YAML > saved run > defaults.
    """

    values: dict[str, Any] = field(default_factory=dict)
    from_file: frozenset[str] = frozenset()  # the names whose value came from the file, to blame it for them
    config_file: Path | None = None
    from_record: bool = False  # the file is a run's own config.yaml

    @property
    def given(self) -> set[str]:
        """The options set on purpose: flags, and a flat --config; a run's own record sets every option."""
        return set(self.values) - (set(self.from_file) if self.from_record else set())

    @classmethod
    def read(cls, flags: Mapping[str, Any], config_file: Path | None, *, types: Mapping[str, Any]) -> ChosenOptions:
        """Flags (None: not given) over the YAML file, for the option names in ``types``."""
        from_file, record = read_config_file(config_file, dict(types)) if config_file is not None else ({}, False)
        given = {k: v for k, v in flags.items() if v is not None and k in types}
        return cls({**from_file, **given}, frozenset(from_file) - frozenset(given), config_file, record)

    def apply(self, *sections: Any, resuming: bool = False) -> None:
        """Set each value on the first section that has the option; a saved run changes only RESUMABLE_OPTIONS."""
        for key, value in self.values.items():
            section = next((s for s in sections if key in s.__dataclass_fields__), None)
            if section is None:
                continue  # an option of another section (the caller applies it elsewhere)
            current = getattr(section, key)
            if resuming and key not in RESUMABLE_OPTIONS and value != current:
                raise self.blamed(
                    UsageError(
                        f"--{key.replace('_', '-')} cannot change when resuming (this run was trained with "
                        f"{current!r}); leave it out, or start a new run with --out"
                    )
                )
            setattr(section, key, value)
        for section in sections:
            if isinstance(section, TrainConfig):
                section.keep_one_budget(self.values)

    @contextmanager
    def blaming_the_file(self) -> Iterator[None]:
        """Checks inside this block name the config file for a bad value that came from there."""
        try:
            yield
        except UsageError as exc:
            raise self.blamed(exc) from None

    def blamed(self, exc: UsageError) -> UsageError:
        """Point a bad value at the config file when the value came from there, not from a flag."""
        flag = re.match(r"--([a-z][a-z-]*)", exc.message)
        key = flag.group(1).replace("-", "_") if flag else None
        if self.config_file is None or key not in self.from_file:
            return exc
        rest = exc.message[flag.end() :].lstrip(":").lstrip()
        return UsageError(f"{self.config_file}: key '{key}': {rest}")


def build_section(cls, data: Any, *, where: str):
    if not isinstance(data, dict):
        raise UsageError(f"{where}: expected a mapping")
    known = {f.name: f for f in fields(cls)}
    kwargs = {}
    for key, value in data.items():
        if key not in known:
            raise UsageError(f"{where}: unknown key '{key}'")
        kwargs[key] = coerce(value, known[key].type, f"{where}: key '{key}'")
    return cls(**kwargs)


def coerce(value: Any, type_name: Any, where: str) -> Any:
    """Check a YAML/JSON value against a dataclass field's annotation."""
    name = str(type_name)
    optional = "None" in name
    if value is None:
        if optional:
            return None
        raise UsageError(f"{where} must not be empty")
    if name.startswith("int | str"):  # a number or a list of them as text (--season 24,168)
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise UsageError(f"{where} must be a whole number or text such as 24,168, got {value!r}")
        return value
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


def check_choice(value: str, choices: tuple[str, ...], name: str) -> None:
    if value not in choices:
        raise UsageError(f"{name}: unknown value '{value}' (choose one of: {', '.join(choices)})")


def check_int(value: int, low: int, high: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UsageError(f"{name} must be a whole number from {low} to {high}, got {value!r}")


def check_float(
    value: float, low: float, high: float, name: str, *, low_open: bool = False, high_open: bool = False
) -> None:
    ok = isinstance(value, (int, float)) and math.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        raise UsageError(f"{name} must be in {left}{low}, {high}{right}, got {value!r}")
