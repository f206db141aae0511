"""The conditional language-modelling task the trainer runs: whole labelled sequences, each from its label's state.

A batch is ``batch_size`` examples in a shuffled order (a new order each
epoch, drawn from the seed and the epoch, so a resumed run sees the same
batches); each is fed as end-of-text then its tokens, padded to the longest,
and the padding is left out of the loss. Validation scores every held-out
example once.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch.nn import functional as F

from rnncli.core.task import Task, TextScale
from rnncli.tasks.language_model.conditional import Sequences
from rnncli.tasks.language_model.model import LanguageModel

IGNORE = -100  # the target of a padded position: cross_entropy leaves it out


def batch_tensors(seqs: Sequences, rows: list[int], end_id: int, device) -> tuple[torch.Tensor, ...]:
    """(inputs, targets, labels) of the examples ``rows``: inputs start with end-of-text, targets are padded."""
    width = max(len(seqs.ids[i]) for i in rows)
    x = torch.full((len(rows), width), end_id, dtype=torch.long)
    y = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    for r, i in enumerate(rows):
        seq = torch.tensor(seqs.ids[i], dtype=torch.long)
        y[r, : len(seq)] = seq
        x[r, 1 : len(seq)] = seq[:-1]
    labels = torch.tensor([seqs.labels[i] for i in rows], dtype=torch.long)
    return x.to(device), y.to(device), labels.to(device)


def sequence_loss(model: LanguageModel, x, y, labels, reduction: str = "mean") -> torch.Tensor:
    logits, _ = model(x, condition=labels)  # (B, T, V)
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=IGNORE, reduction=reduction
    )


class ConditionalTask(Task):
    """Next-token prediction over labelled sequences; with several processes each takes its share of a batch."""

    def __init__(
        self,
        train: Sequences,
        val: Sequences | None,
        *,
        end_id: int,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
    ):
        self.train, self.val, self.end_id = train, val, end_id
        self.batch_size, self.seed = min(batch_size, len(train.ids)), seed
        self.rank, self.world_size = rank, world_size
        self.position = 0  # training batches taken so far, over all epochs
        self.scored: int | None = None
        scale = val if val is not None and val.num_tokens else train
        self.scale = TextScale(scale.num_chars / scale.num_tokens, scale.num_bytes / scale.num_tokens)

    @property
    def windows_per_epoch(self) -> int:
        return math.ceil(len(self.train.ids) / self.batch_size)

    @property
    def items_per_step(self) -> int:
        return max(1, round(self.train.num_tokens / self.windows_per_epoch / self.world_size))

    @property
    def text_scale(self) -> TextScale:
        """Bits per character (and UTF-8 byte) of the texts, end-of-text counted as one of each."""
        return self.scale

    def _rows(self) -> list[int]:
        epoch, within = divmod(self.position, self.windows_per_epoch)
        order = torch.randperm(len(self.train.ids), generator=torch.Generator().manual_seed(self.seed + epoch))
        rows = order[within * self.batch_size : (within + 1) * self.batch_size].tolist()
        return rows[self.rank :: self.world_size] or rows[:1]

    def train_loss(self, model: LanguageModel, device: torch.device) -> torch.Tensor:
        rows = self._rows()
        self.position += 1
        return sequence_loss(model, *batch_tensors(self.train, rows, self.end_id, device))

    @property
    def validation_tokens(self) -> int | None:
        return self.scored

    @torch.no_grad()
    def validation_loss(self, model: LanguageModel, device: torch.device) -> float | None:
        """Mean loss per token over every held-out example."""
        if self.val is None or not self.val.ids:
            return None
        total, tokens = 0.0, 0
        for start in range(0, len(self.val.ids), self.batch_size):
            rows = list(range(start, min(start + self.batch_size, len(self.val.ids))))
            x, y, labels = batch_tensors(self.val, rows, self.end_id, device)
            total += sequence_loss(model, x, y, labels, reduction="sum").item()
            tokens += int((y != IGNORE).sum())
        self.scored = tokens
        return total / tokens

    def state_dict(self) -> dict[str, Any]:
        return {"position": self.position}

    def load_state_dict(self, saved: dict[str, Any], device: torch.device) -> None:
        self.position = int(saved["position"])
