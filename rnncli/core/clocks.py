"""The three things that end or measure a run: the step budget, the wall clock, and throughput.

``--steps`` and ``--epochs`` both become a ``StepBudget`` (epochs count
passes over the task's training windows); ``--time`` is a ``WallClock``,
which also carries the training time of earlier sessions of a resumed run;
``Throughput`` counts items (tokens, forecast points) per second between
validations. Every reading of the time goes through ``now``, so a test can
run the trainer on a fake clock.

The ``--time`` budget covers the closing validation and save as well as the
steps: the clock keeps the latest step's duration and the latest
validation's (with its save) and stops the run when the next step and a
closing validation would no longer fit. Until a validation has been timed it
keeps ``VALIDATION_SHARE`` of the training time for it, the allowance a task
fits its validation into (``Task.limit_validation``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from rnncli.core.settings import DEFAULT_STEPS, TrainConfig

# One validation (and its save) may take this share of the budget, or of the training between two
# validations when that is shorter: 3% keeps validation cheap, and 1 minute still affords ~2 s of it.
VALIDATION_SHARE = 0.03


def now() -> float:
    """Seconds on the trainer's clock (a monotonic counter); tests replace it with a fake."""
    return time.perf_counter()


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
    """Seconds since this session started, against the ``--time`` budget (None: no budget).

    ``step_s`` and ``closing_s`` are what the trainer measured: the latest
    step, and the latest validation with its save (None until one is timed).
    """

    def __init__(
        self, budget_s: float | None, *, earlier_s: float = 0.0, eval_every: int = 1, started: float | None = None
    ):
        self.budget_s, self.earlier_s = budget_s, earlier_s  # earlier sessions of a resumed run
        self.eval_every = eval_every
        self.started = now() if started is None else started  # the command's start, when the caller knows it
        self.step_s = 0.0
        self.closing_s: float | None = None

    def session_s(self) -> float:
        return now() - self.started

    def expired(self) -> bool:
        """True when the next step and the closing validation and save would overrun the budget."""
        return self.budget_s is not None and self.session_s() + self.step_s + self.reserve_s() >= self.budget_s

    def reserve_s(self) -> float:
        """What the closing validation and save are expected to take: the latest one, else its allowance."""
        if self.closing_s is not None:
            return self.closing_s
        return self.validation_allowance_s() or 0.0

    def validation_allowance_s(self) -> float | None:
        """How long one validation may take: ``VALIDATION_SHARE`` of the budget or of the steps between two."""
        if self.budget_s is None:
            return None
        return VALIDATION_SHARE * min(self.budget_s, self.eval_every * self.step_s)

    def progress(self) -> float | None:
        """The share of the budget this session has used (what a cosine schedule over --time follows)."""
        return None if self.budget_s is None else min(1.0, self.session_s() / self.budget_s)

    def elapsed_s(self) -> float:
        """Training time of the whole run, earlier sessions included."""
        return self.earlier_s + self.session_s()


class Throughput:
    """Items per second since the last restart (a validation or a rollback)."""

    def __init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        self.items, self.since = 0, now()

    def add(self, items: int) -> None:
        self.items += items

    def per_second(self) -> float:
        return self.items / max(now() - self.since, 1e-9)
