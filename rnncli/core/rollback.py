"""Surviving a divergence: back to the last good state with half the learning rate.

A non-finite loss or gradient (or a non-finite model at validation) does not
end the run at once: the trainer returns to the state it kept after the last
good validation and halves the learning rate, up to ``MAX_ROLLBACKS`` times.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rnncli.core.errors import RuntimeFailure
from rnncli.core.history import History
from rnncli.core.precision import Precision
from rnncli.core.resume_state import capture_local_rng, restore_local_rng
from rnncli.core.task import Task

MAX_ROLLBACKS = 3  # divergences survived by rolling back and halving the learning rate


class Rollback:
    """The latest known-good training state, kept in memory (weights, optimizer, task, generators)."""

    def __init__(
        self, model: nn.Module, optimizer: torch.optim.Optimizer, task: Task, precision: Precision, *, last_file: Path
    ):
        self.model, self.optimizer, self.task, self.precision = model, optimizer, task, precision
        self.last_file = last_file  # where the last good weights are on disk, for the final message
        self.good: dict[str, Any] = {}

    def remember(self, history: History) -> None:
        self.good = {
            "model": {k: v.detach().clone() for k, v in self.model.state_dict().items()},
            "optimizer": copy.deepcopy(self.optimizer.state_dict()),
            "task": _clone(self.task.state_dict()),
            "rng": capture_local_rng(self.precision.device),
            "history": history.copy(),
            "scaler": self.precision.state_dict(),
        }

    def restore(self, history: History) -> History:
        """Put the good state back; the history it returns counts the rollback and halves ``lr_scale``.

        ``history`` is the diverged run's; after ``MAX_ROLLBACKS`` this raises ``RuntimeFailure``.
        """
        bad_step, rollbacks = history.step + 1, history.rollbacks + 1
        if rollbacks > MAX_ROLLBACKS:
            raise RuntimeFailure(
                f"training diverged (non-finite loss or gradient at step {bad_step}) after {MAX_ROLLBACKS} "
                f"rollbacks that each halved the learning rate; the last good weights are in {self.last_file}; "
                "try a lower --lr, a smaller --clip or --precision fp32"
            )
        good, device = self.good, self.precision.device
        self.model.load_state_dict(good["model"])
        self.optimizer.load_state_dict(copy.deepcopy(good["optimizer"]))
        self.task.load_state_dict(_clone(good["task"]), device)
        restore_local_rng(good["rng"], device)
        self.precision.load_state_dict(good["scaler"])
        restored = good["history"].copy()
        restored.rollbacks, restored.lr_scale = rollbacks, history.lr_scale * 0.5
        good["history"] = restored.copy()  # a later rollback to the same state keeps the lower rate
        return restored


def rollback_note(bad_step: int, history: History) -> str:
    """What the progress display says after ``Rollback.restore`` returned ``history``."""
    return (
        f"non-finite loss or gradient at step {bad_step}; rolled back to step {history.step} and halved "
        f"the learning rate (rollback {history.rollbacks} of {MAX_ROLLBACKS})"
    )


def _clone(saved: dict[str, Any]) -> dict[str, Any]:
    return {k: v.detach().clone() if isinstance(v, torch.Tensor) else copy.deepcopy(v) for k, v in saved.items()}
