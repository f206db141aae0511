"""Declared schemas (pydantic) of the documents every task shares: history, checkpoint envelope, resume state, metrics.

Strict: a whole number must be a JSON integer (``64.0`` is refused where a size
is meant), text must be text, and ranges are part of the type. Unknown keys
are allowed where old or newer runs may carry them; task-specific sections
(the model config, the forecaster's series) are checked by their task.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

Count = Annotated[int, Field(ge=0, le=2**62)]


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


Finite = Annotated[float, AfterValidator(_finite)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


class HistoryDoc(_Strict):
    """``core.history.History`` as stored."""

    step: Count = 0
    tokens_seen: Count = 0
    train_loss: float | None = None
    best_val_loss: float | None = None
    best_val_bpc: float | None = None
    best_step: Count | None = None
    elapsed_s: Annotated[float, Field(ge=0)] = 0.0
    tokens_per_s: float | None = None
    lr_scale: Annotated[Finite, Field(gt=0, le=1)] = 1.0
    rollbacks: Count = 0
    evals_since_best: Count = 0
    stop_reason: str | None = None


class CheckpointDoc(_Strict):
    """The parts of a checkpoint's ``rnncli`` document that every task and ``inspect`` read."""

    task: str | None = None
    model: dict[str, Any] = Field(default_factory=dict)
    history: HistoryDoc | None = None
    versions: dict[str, str] | None = None
    command: list[str] | None = None
    train: dict[str, Any] | None = None


class ParamGroupDoc(_Strict):
    """One optimizer parameter group (AdamW's settings)."""

    params: list[Annotated[int, Field(ge=0, le=1_000_000)]]
    lr: Annotated[Finite, Field(ge=0)]
    betas: Annotated[list[Annotated[Finite, Field(ge=0, lt=1)]], Field(min_length=2, max_length=2)] | None = None
    eps: Annotated[Finite, Field(gt=0)] | None = None
    weight_decay: Annotated[Finite, Field(ge=0)] | None = None
    amsgrad: bool = False
    maximize: bool = False
    foreach: bool | None = None
    capturable: bool = False
    differentiable: bool = False
    fused: bool | None = None


class OptimizerDoc(_Strict):
    param_groups: list[ParamGroupDoc]
    scalars: dict[str, dict[str, Any]] = Field(default_factory=dict)


class HostRngDoc(_Strict):
    """Python's and NumPy's generator scalars: ``[version, gauss]`` and ``[kind, pos, has_gauss, cached]``."""

    python: Annotated[list[int | float | None], Field(min_length=2, max_length=2)]
    numpy: Annotated[list[str | int | float], Field(min_length=4, max_length=4)]


class TrainStateDoc(_Strict):
    """``last.state.safetensors``'s JSON document (core/resume_state.py)."""

    step: Count | None = None
    history: HistoryDoc
    checkpoint: dict[str, Any]
    optimizer: OptimizerDoc
    task: dict[str, Any]
    host_rng: HostRngDoc
    world_size: Annotated[int, Field(ge=1, le=65_536)] = 1


class MetricsLineDoc(_Strict):
    """One line of ``metrics.jsonl``: a step and numbers (NaN is allowed: a diverged step is recorded)."""

    step: Count


Label = Annotated[str, Field(min_length=1, max_length=1000)]


class ConditionDoc(_Strict):
    """A conditional language model's ``condition`` section: the label column, the labels and end-of-text's id.

    The labels' order is their rows of the label embedding, so they must be distinct.
    """

    column: Annotated[str, Field(max_length=1000)] | None = None
    labels: Annotated[list[Label], Field(min_length=2, max_length=100_000)]
    end_id: Annotated[int, Field(ge=1, le=2**31)]
