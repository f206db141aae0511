"""The translation task the shared trainer runs: random batches of sentence pairs, teacher forcing,
cross-entropy with label smoothing (Szegedy et al. 2016), padding ignored."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rnncli.core.task import Metric, Task
from rnncli.tasks.translate.config import TranslateConfig

Encoded = list[tuple[list[int], list[int]]]  # (source ids, target ids) per pair
MAX_VALIDATION_PAIRS = 2000  # enough for a steady loss; keeps validation short
METRIC_PAIRS = 200  # validation pairs translated (greedy) at each evaluation for chrF and BLEU: a bounded cost
METRIC_BATCH = 64
METRIC_LEN_RATIO = 2.0  # the output bound of rnn predict's default


@dataclass
class References:
    """What chrF during training needs beside the ids: each validation pair's target text, and ids -> text."""

    targets: list[str]  # in the order of the validation pairs
    decode: Callable[[list[int]], str]


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
    """Teacher-forced training; validation by loss, and by the chrF of greedy translations given ``references``."""

    def __init__(self, train: Encoded, val: Encoded, config: TranslateConfig, *, batch_size: int, seed: int,
                 references: References | None = None):  # fmt: skip
        self.train, self.val, self.config, self.batch_size = train, val[:MAX_VALIDATION_PAIRS], config, batch_size
        self.references = references
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

    def validation_metric(self, model: nn.Module, device: torch.device) -> Metric | None:
        """chrF (and BLEU beside it) of greedy translations of the first ``METRIC_PAIRS`` validation pairs."""
        if self.references is None:
            return None
        chosen = [(ids, ref) for (ids, _), ref in zip(self.val, self.references.targets, strict=False) if ids]
        chosen = chosen[:METRIC_PAIRS]
        if not chosen:
            return None
        from rnncli.tasks.translate.scores import corpus_scores

        outputs = greedy_ids(model, [ids for ids, _ in chosen], self.config, device)
        scored = corpus_scores([self.references.decode(o) for o in outputs], [ref for _, ref in chosen])
        return Metric("chrF", scored["chrf"], extra={"chrf": scored["chrf"], "bleu": scored["bleu"]})


def greedy_ids(model: nn.Module, sources: list[list[int]], config: TranslateConfig, device) -> list[list[int]]:
    """The greedy output ids of each source, batched by length, in the order given."""
    from rnncli.tasks.translate.decoding import greedy

    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    found: dict[int, list[int]] = {}
    for start in range(0, len(order), METRIC_BATCH):
        rows = order[start : start + METRIC_BATCH]
        source, lengths = pad([sources[i] for i in rows], config.source_pad_id)
        hyps = greedy(model, source.to(device), lengths.to(device), ratio=METRIC_LEN_RATIO)
        found.update((i, h.tokens) for i, h in zip(rows, hyps, strict=True))
    return [found[i] for i in range(len(sources))]
