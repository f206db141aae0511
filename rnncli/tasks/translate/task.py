"""The translation task the shared trainer runs: random batches of sentence pairs, teacher forcing,
cross-entropy with label smoothing (Szegedy et al. 2016), padding ignored."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rnncli.core.task import Task
from rnncli.tasks.translate.config import TranslateConfig

Encoded = list[tuple[list[int], list[int]]]  # (source ids, target ids) per pair
MAX_VALIDATION_PAIRS = 2000  # enough for a steady loss; keeps validation short


def pad(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of ids padded on the right into (B, T), and their lengths (B,)."""
    lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)
    out = torch.full((len(rows), max(1, int(lengths.max()))), pad_id, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return out, lengths


def batch_tensors(pairs: Encoded, config: TranslateConfig) -> tuple[torch.Tensor, ...]:
    """Source (B, S), its lengths, the decoder's input (start + target) and what it must predict (target + end)."""
    source, lengths = pad([s for s, _ in pairs], config.source_pad_id)
    target_in, _ = pad([[config.bos_id, *t] for _, t in pairs], config.pad_id)
    target_out, _ = pad([[*t, config.eos_id] for _, t in pairs], config.pad_id)
    return source, lengths, target_in, target_out


def token_loss(model: nn.Module, tensors, device: torch.device, *, smoothing: float, reduction: str = "mean"):
    """Cross-entropy per target token (padding ignored)."""
    source, lengths, target_in, target_out = tensors
    logits = model(source.to(device), lengths.to(device), target_in.to(device))  # (B, T, V)
    pad_id = model.config.pad_id if hasattr(model, "config") else model.module.config.pad_id
    return F.cross_entropy(
        logits.flatten(0, 1).float(),
        target_out.to(device).flatten(),
        ignore_index=pad_id,
        label_smoothing=smoothing,
        reduction=reduction,
    )


class TranslateTask(Task):
    def __init__(self, train: Encoded, val: Encoded, config: TranslateConfig, *, batch_size: int, seed: int):
        self.train, self.val, self.config, self.batch_size = train, val[:MAX_VALIDATION_PAIRS], config, batch_size
        self.generator = torch.Generator().manual_seed(seed)
        self.mean_target = sum(len(t) + 1 for _, t in train) / max(1, len(train))

    @property
    def windows_per_epoch(self) -> int:
        return max(1, len(self.train) // self.batch_size)

    @property
    def items_per_step(self) -> int:
        """Target tokens (the end token included) one step trains on, on average."""
        return max(1, round(self.batch_size * self.mean_target))

    @property
    def text_scale(self) -> None:
        return None

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, saved: dict[str, Any], device: torch.device) -> None:
        self.generator.set_state(saved["generator"].to("cpu", torch.uint8))

    def train_loss(self, model: nn.Module, device: torch.device) -> torch.Tensor:
        pick = torch.randint(len(self.train), (self.batch_size,), generator=self.generator).tolist()
        tensors = batch_tensors([self.train[i] for i in pick], self.config)
        return token_loss(model, tensors, device, smoothing=self.config.label_smoothing)

    @torch.no_grad()
    def validation_loss(self, model: nn.Module, device: torch.device) -> float | None:
        """Mean cross-entropy per target token on the held-out pairs (no smoothing: a true loss)."""
        if not self.val:
            return None
        total, count = 0.0, 0
        for start in range(0, len(self.val), 128):
            part = self.val[start : start + 128]
            total += float(token_loss(model, batch_tensors(part, self.config), device, smoothing=0.0, reduction="sum"))
            count += sum(len(t) + 1 for _, t in part)
        return total / count
