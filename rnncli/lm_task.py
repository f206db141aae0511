"""The language-modelling task the trainer runs: windows, loss and validation for text.

The trainer is task-agnostic: it asks a task for the loss of the next batch
and for a validation loss. This task carries the recurrent state from one
window to the next (truncated BPTT), detached, and resets it each epoch.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from rnncli.data.text import WindowStream
from rnncli.metrics import LN2
from rnncli.models import LanguageModel, State, detach_state


class LanguageModelTask:
    """Next-token prediction over a token stream laid out as parallel streams.

    ``chars_per_token`` converts nats per token into bits per character of the
    raw text, so models with different tokenizers can be compared.
    """

    def __init__(self, train_ids: torch.Tensor, val_ids: torch.Tensor, *, batch_size: int,
                 seq_len: int, eval_batches: int, chars_per_token: float = 1.0, source: str = "data"):
        self.train = WindowStream(train_ids, batch_size=batch_size, seq_len=seq_len, source=source)
        self.val = (WindowStream.for_validation(val_ids, batch_size=batch_size, seq_len=seq_len, source=source)
                    if len(val_ids) > 0 else None)
        self.eval_batches = eval_batches
        self.chars_per_token = chars_per_token
        self.state: State | None = None

    @property
    def windows_per_epoch(self) -> int:
        return self.train.windows_per_epoch

    @property
    def items_per_step(self) -> int:
        """Tokens consumed by one training step (for throughput)."""
        return self.train.tokens_per_window

    def bits(self, loss_nats: float) -> float:
        """Bits per character of the raw text for a mean loss in nats per token."""
        return loss_nats / self.chars_per_token / LN2

    def train_loss(self, model: LanguageModel, device: torch.device) -> torch.Tensor:
        x, y, new_epoch = self.train.next()
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)  # (B, T)
        if self.state is None or new_epoch:
            self.state = model.init_state(x.shape[0], device)
        logits, state = model(x, detach_state(self.state))  # (B, T, V)
        self.state = state
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))

    @torch.no_grad()
    def validation_loss(self, model: LanguageModel, device: torch.device) -> float | None:
        """Mean loss over the validation windows, state carried from window to window."""
        if self.val is None:
            return None
        windows = min(self.eval_batches, self.val.windows_per_epoch)
        state = model.init_state(self.val.streams.shape[0], device)
        total = 0.0
        for i in range(windows):
            x, y = (t.to(device) for t in self.val.window(i))
            logits, state = model(x, state)
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)).item()
        return total / windows
