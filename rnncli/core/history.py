"""What a run remembers of its training: saved in every checkpoint and resume state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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

    def out_of_patience(self, patience: int | None) -> bool:
        """``patience`` validations in a row without a new best (early stopping)."""
        return patience is not None and self.evals_since_best >= patience
