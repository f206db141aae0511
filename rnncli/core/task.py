"""What the trainer needs from a task (language model, forecaster, ...), and nothing more.

Each task implements ``Task`` explicitly (tasks/*/task.py); the trainer never
asks a task for anything the protocol does not name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import nn

LN2 = math.log(2.0)


@dataclass(frozen=True)
class TextScale:
    """How much raw text one item (a token) stands for, on average over the corpus.

    It turns a loss in nats per token into bits per character and bits per
    UTF-8 byte, which compare models whatever their tokenizers.
    """

    chars_per_item: float
    bytes_per_item: float

    def bits_per_char(self, loss_nats: float) -> float:
        return loss_nats / self.chars_per_item / LN2

    def bits_per_byte(self, loss_nats: float) -> float:
        return loss_nats / self.bytes_per_item / LN2


@dataclass(frozen=True)
class Metric:
    """A task's own validation figure (macro F1, entity F1, chrF, ...): what picks the best checkpoint.

    ``name`` is what a person reads ("macro F1"); ``extra`` holds figures
    measured beside it (chrF's BLEU), recorded in metrics.jsonl but never
    compared.
    """

    name: str
    value: float
    higher_is_better: bool = True
    extra: dict[str, float] = field(default_factory=dict)

    def better_than(self, best: float | None) -> bool:
        """Strictly better than ``best`` (None: nothing yet, so better)."""
        if best is None:
            return True
        return self.value > best if self.higher_is_better else self.value < best


class Task(Protocol):
    """The data, loss and resumable position of one kind of model.

    ``state_dict`` returns tensors and JSON-able scalars (for example the
    carried hidden state and the data position) that ``load_state_dict`` puts
    back, so that a resumed run continues exactly.
    """

    @property
    def windows_per_epoch(self) -> int:
        """Training steps in one pass over the data (what ``--epochs`` counts)."""

    @property
    def items_per_step(self) -> int:
        """Items (tokens, forecast points) one step trains on, in this process: throughput counts them."""

    @property
    def text_scale(self) -> TextScale | None:
        """For a task over text, its scale to bits per character and per byte; None for other data.

        With a scale the metrics carry ``val_bpc`` and ``val_bpb``; without one
        ``val_bpc`` is null and there is no ``val_bpb``.
        """

    def train_loss(self, model: nn.Module, device: torch.device) -> torch.Tensor:
        """The loss of the next training batch, to be back-propagated (the model is in train mode)."""

    def validation_loss(self, model: nn.Module, device: torch.device) -> float | None:
        """The mean loss on held-out data (the model is in eval mode); None when there is none."""

    @property
    def validation_tokens(self) -> int | None:
        """For a task over text, the tokens its latest validation scored (``val_tokens`` in the metrics)."""
        return None

    def limit_validation(self, seconds: float) -> None:
        """Under a ``--time`` budget, fit each validation into about ``seconds``, if the task can.

        The default reads the whole validation data: a task whose held-out
        set is small enough to read whole keeps it so.
        """
        return None

    def validation_metric(self, model: nn.Module, device: torch.device) -> Metric | None:
        """The task's own figure on held-out data, called right after ``validation_loss`` (eval mode).

        A task that has one is judged by it: the best checkpoint and patience
        follow it instead of the loss. The default (None) keeps the loss.
        """
        return None

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, saved: dict[str, Any], device: torch.device) -> None: ...
