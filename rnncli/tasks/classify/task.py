"""The classification task the trainer runs: length-bucketed batches of encoded examples and cross-entropy.

An epoch shuffles the examples, sorts them by length inside pools of a few
dozen batches (so a batch holds similar lengths and packing wastes little), and
shuffles the batches. The order of epoch ``e`` comes from ``seed + e``, so the
resume state is two numbers: the epoch and the position in it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from rnncli.core.task import Metric, Task

POOL_BATCHES = 50  # batches sorted by length together


class Encoded:
    """Examples as token-id tensors and class indices."""

    def __init__(self, ids: list[list[int]], targets: list[int] | list[list[float]]):
        """``targets``: class indices, or multi-hot rows (N, C) for a multi-label model."""
        self.ids = [torch.tensor(seq or [0], dtype=torch.long) for seq in ids]  # an empty text reads as one token
        self.lengths = torch.tensor([len(t) for t in self.ids], dtype=torch.long)
        multi = bool(targets) and isinstance(targets[0], list)
        self.targets = torch.tensor(targets, dtype=torch.float32 if multi else torch.long)

    def __len__(self) -> int:
        return len(self.ids)

    def batch(self, index: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(ids (B, T) padded with 0, lengths (B,), targets (B,))."""
        ids = nn.utils.rnn.pad_sequence([self.ids[i] for i in index], batch_first=True)
        return ids, self.lengths[index], self.targets[index]

    def by_length(self, batch_size: int) -> list[list[int]]:
        """Batches in order of length (for validation and prediction: least padding)."""
        order = torch.argsort(self.lengths, stable=True).tolist()
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


class ClassifyTask(Task):
    """Cross-entropy over the classes (optionally class-weighted) on length-bucketed batches.

    With multi-hot targets (a multi-label model) the loss is binary cross-entropy
    per label, and ``weights`` weigh each label's positives.
    """

    def __init__(
        self, train: Encoded, val: Encoded | None, *, batch_size: int, seed: int, weights: torch.Tensor | None
    ):
        self.train, self.val = train, val
        self.batch_size = min(batch_size, len(train))
        self.seed, self.weights = seed, weights
        self.multi_label = train.targets.dim() == 2
        self.epoch, self.position = 0, 0
        self._order = self._epoch_order(0)
        self.last_validation: dict[str, Any] = {}

    @property
    def windows_per_epoch(self) -> int:
        return len(self._order)

    @property
    def items_per_step(self) -> int:
        """Examples per step (the throughput the progress bar shows)."""
        return self.batch_size

    @property
    def text_scale(self) -> None:
        return None

    def _epoch_order(self, epoch: int) -> list[list[int]]:
        generator = torch.Generator().manual_seed(self.seed + epoch)
        shuffled = torch.randperm(len(self.train), generator=generator)
        pool = self.batch_size * POOL_BATCHES
        batches = []
        for start in range(0, len(shuffled), pool):
            chunk = shuffled[start : start + pool]
            chunk = chunk[torch.argsort(self.train.lengths[chunk], stable=True)].tolist()
            batches.extend(chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size))
        return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]

    def _next_batch(self) -> list[int]:
        if self.position >= len(self._order):
            self.epoch, self.position = self.epoch + 1, 0
            self._order = self._epoch_order(self.epoch)
        self.position += 1
        return self._order[self.position - 1]

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, saved: dict[str, Any], device: torch.device) -> None:
        self.epoch, self.position = int(saved["epoch"]), int(saved["position"])
        self._order = self._epoch_order(self.epoch)

    def train_loss(self, model: nn.Module, device: torch.device) -> torch.Tensor:
        ids, lengths, targets = self.train.batch(self._next_batch())
        logits = model(ids.to(device), lengths)
        weights = self.weights.to(device) if self.weights is not None else None
        if self.multi_label:
            return F.binary_cross_entropy_with_logits(logits.float(), targets.to(device), pos_weight=weights)
        return F.cross_entropy(logits.float(), targets.to(device), weight=weights)

    @torch.no_grad()
    def validation_loss(self, model: nn.Module, device: torch.device) -> float | None:
        """Mean cross-entropy on the validation split; accuracy and macro F1 are kept in ``last_validation``."""
        self.last_validation = {}
        if self.val is None or len(self.val) == 0:
            return None
        probs = predict_probabilities(model, self.val, device, batch_size=max(self.batch_size, 64))
        from rnncli.tasks.classify.metrics import choose_thresholds, multi_label_scores, scores

        if self.multi_label:
            gold = self.val.targets.numpy() > 0.5
            thresholds = choose_thresholds(gold, probs.numpy())  # as the finished run chooses its own
            predicted = probs.numpy() >= np.asarray(thresholds)
            self.last_validation = {**multi_label_scores(gold, predicted), "thresholds": thresholds}
            return F.binary_cross_entropy(probs.clamp(1e-7, 1 - 1e-7), self.val.targets).item()
        loss = F.nll_loss(torch.log(probs.clamp_min(1e-12)), self.val.targets).item()
        self.last_validation = scores(self.val.targets.tolist(), probs.argmax(1).tolist(), probs.shape[1])
        return loss

    def validation_metric(self, model: nn.Module, device: torch.device) -> Metric | None:
        """Macro F1 of the validation just run (multi-label: micro F1 at the threshold chosen on it)."""
        if not self.last_validation:
            return None
        if self.multi_label:
            return Metric("micro F1", self.last_validation["micro_f1"])
        return Metric("macro F1", self.last_validation["macro_f1"])


def predict_probabilities(model: nn.Module, data: Encoded, device: torch.device, *, batch_size: int) -> torch.Tensor:
    """Class probabilities (N, C) for every example, in the order of ``data``."""
    out = [torch.empty(0)] * len(data)
    for index in data.by_length(batch_size):
        ids, lengths, _ = data.batch(index)
        probs = getattr(model, "module", model).activate(model(ids.to(device), lengths)).cpu()
        for row, i in zip(probs, index, strict=True):
            out[i] = row
    return torch.stack(out)
