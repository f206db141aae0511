"""What a run remembers of its training: saved in every checkpoint and resume state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rnncli.core.task import Metric


@dataclass
class History:
    step: int = 0
    tokens_seen: int = 0
    train_loss: float | None = None
    best_val_loss: float | None = None
    best_val_bpc: float | None = None
    best_step: int | None = None
    elapsed_s: float = 0.0
    tokens_per_s: float | None = None
    lr_scale: float = 1.0  # halved by each rollback after a divergence
    rollbacks: int = 0
    evals_since_best: int = 0
    stop_reason: str | None = None
    # A task with its own validation metric (core/task.py) is judged by it: ``best_step`` is the step of
    # ``best_metric``, and ``best_val_loss`` the loss at that step. None: judged by the lowest loss.
    best_metric: float | None = None
    metric_name: str | None = None
    metric_higher_is_better: bool = True

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})

    def copy(self) -> History:
        return History.from_dict(self.to_dict())

    def record_score(self, score: float, bits: float | None) -> bool:
        """Note a validation score (lower is better); True if it is the best so far."""
        if self.best_val_loss is not None and not score < self.best_val_loss:
            self.evals_since_best += 1
            return False
        self.best_val_loss, self.best_step, self.best_val_bpc = score, self.step, bits
        self.evals_since_best = 0
        return True

    def record_metric(self, metric: Metric, score: float, bits: float | None) -> bool:
        """Note a validation metric and the loss beside it; True if this is the best step so far.

        The best has the best metric; among equal metrics (a small validation set
        gives coarse ones, often a perfect 1.0) the lower loss. A run that was
        judged by another measure (an older run resumed) starts its best afresh.
        """
        if self.metric_name != metric.name:
            self.best_metric = None
        self.metric_name, self.metric_higher_is_better = metric.name, metric.higher_is_better
        tie = metric.value == self.best_metric and self.best_val_loss is not None and score < self.best_val_loss
        if not (metric.better_than(self.best_metric) or tie):
            self.evals_since_best += 1
            return False
        self.best_metric, self.best_val_loss, self.best_val_bpc = metric.value, score, bits
        self.best_step, self.evals_since_best = self.step, 0
        return True

    def out_of_patience(self, patience: int | None) -> bool:
        """``patience`` validations in a row without a new best (early stopping)."""
        return patience is not None and self.evals_since_best >= patience
