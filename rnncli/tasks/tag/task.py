"""The tagging task the shared trainer runs: length-bucketed batches of sentences and the per-token loss."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from rnncli.core.distributed import Distributed
from rnncli.core.task import Metric, Task
from rnncli.tasks.tag.batches import length_batches, rows_of, to_device
from rnncli.tasks.tag.config import Vocab
from rnncli.tasks.tag.corpus import Sentence
from rnncli.tasks.tag.metrics import headline, scores


class TagTask(Task):
    """Training batches drawn at random (the task's generator, saved for resuming); validation over all."""

    def __init__(self, train: list[Sentence], val: list[Sentence], vocab: Vocab, *, batch_size: int, seed: int,
                 dist: Distributed | None = None):  # fmt: skip
        self.batches = length_batches(train, batch_size, vocab)
        self.val_batches = length_batches(val, batch_size, vocab)
        self.val_gold = [s.tags for s in sorted(val, key=lambda s: len(s.tokens))]  # the order of val_batches
        self.vocab = vocab
        self.tokens = sum(len(s.tokens) for s in train)
        self.generator = torch.Generator().manual_seed(seed)
        self.dist = dist or Distributed()
        self.decoded: list[list[str]] = []  # the validation sentences' tags, decoded by validation_loss

    @property
    def windows_per_epoch(self) -> int:
        return len(self.batches)

    @property
    def items_per_step(self) -> int:
        """Tokens per batch, on average (the progress bar counts tokens per second)."""
        return max(1, self.tokens // len(self.batches))

    @property
    def text_scale(self) -> None:
        return None  # a loss per tag, not per character of text

    def train_loss(self, model: nn.Module, device: torch.device) -> torch.Tensor:
        batch = self.batches[int(torch.randint(len(self.batches), (1,), generator=self.generator))]
        world, tokens = self.dist.world_size, batch["mask"].sum()
        if world == 1:
            return model(to_device(batch, device), loss_over=tokens.to(device))
        rows = list(range(self.dist.rank, len(batch["lengths"]), world))
        share = rows_of(batch, rows or [0])  # a rank with no sentence still runs the model (DDP needs every rank)
        loss = model(to_device(share, device), loss_over=tokens.to(device)) * world
        return loss if rows else loss * 0.0

    @torch.no_grad()
    def validation_loss(self, model: nn.Module, device: torch.device) -> float | None:
        """The loss per validation token; the same pass decodes the sentences for ``validation_metric``."""
        if not self.val_batches:
            return None
        total, tokens, self.decoded = 0.0, 0, []
        for batch in self.val_batches:
            batch = to_device(batch, device)
            emissions = model.emissions(batch)
            total += float(model.loss_of(emissions, batch))
            tokens += int(batch["mask"].sum())
            paths, _ = model.paths_of(emissions, batch["mask"])
            self.decoded.extend([self.vocab.tags[j] for j in path] for path in paths)
        return total / tokens

    @torch.no_grad()
    def validation_metric(self, model: nn.Module, device: torch.device) -> Metric | None:
        """Entity F1 (micro, CoNLL's) for BIO/BIOES tags, else token accuracy, of the sentences
        ``validation_loss`` just decoded (the trainer calls it right after, on the same weights)."""
        if not self.val_batches:
            return None
        if len(self.decoded) != len(self.val_gold):  # not called right after validation_loss: decode now
            self.validation_loss(model, device)
        name, value = headline(scores(self.val_gold, self.decoded, self.vocab.scheme))
        self.decoded = []
        return Metric(name, value)

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, saved: dict[str, Any], device: torch.device) -> None:
        self.generator.set_state(saved["generator"].to("cpu", torch.uint8))
