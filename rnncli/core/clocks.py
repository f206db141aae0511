"""The three things that end or measure a run: the step budget, the wall clock, and throughput.

``--steps`` and ``--epochs`` both become a ``StepBudget`` (epochs count
passes over the task's training windows); ``--time`` is a ``WallClock``,
which also carries the training time of earlier sessions of a resumed run;
``Throughput`` counts items (tokens, forecast points) per second between
validations.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from rnncli.core.settings import DEFAULT_STEPS, TrainConfig


@dataclass(frozen=True)
class StepBudget:
    """The run's total number of steps; None when only the wall clock ends it."""

    total: int | None

    @classmethod
    def of(cls, cfg: TrainConfig, windows_per_epoch: int) -> StepBudget:
        """--steps, else --epochs passes over the data, else the default unless --time alone decides."""
        if cfg.steps is not None:
            return cls(cfg.steps)
        if cfg.epochs is not None:
            return cls(max(1, math.ceil(cfg.epochs * windows_per_epoch)))
        if cfg.time is not None:
            return cls(None)
        return cls(DEFAULT_STEPS)

    def spent(self, step: int) -> bool:
        return self.total is not None and step >= self.total

    def is_last(self, step: int) -> bool:
        return step == self.total


class WallClock:
    """Seconds since this session started, against the ``--time`` budget (None: no budget)."""

    def __init__(self, budget_s: float | None, *, earlier_s: float = 0.0):
        self.budget_s, self.earlier_s = budget_s, earlier_s  # earlier sessions of a resumed run
        self.started = time.perf_counter()

    def expired(self) -> bool:
        return self.budget_s is not None and time.perf_counter() - self.started >= self.budget_s

    def elapsed_s(self) -> float:
        """Training time of the whole run, earlier sessions included."""
        return self.earlier_s + time.perf_counter() - self.started


class Throughput:
    """Items per second since the last restart (a validation or a rollback)."""

    def __init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        self.items, self.since = 0, time.perf_counter()

    def add(self, items: int) -> None:
        self.items += items

    def per_second(self) -> float:
        return self.items / max(time.perf_counter() - self.since, 1e-9)
