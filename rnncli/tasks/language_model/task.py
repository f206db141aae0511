"""The language-modelling task the trainer runs: windows, loss and validation for text.

The trainer is task-agnostic: it asks a task, through the ``Task`` protocol
(core/task.py), for the loss of the next batch and for a validation loss.
This task carries the recurrent state from one window to the next
(truncated BPTT), detached, and resets it each epoch.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F

from rnncli.core.errors import UsageError
from rnncli.core.layers import State, detach_state
from rnncli.core.task import Task, TextScale
from rnncli.tasks.language_model.data.windows import WindowStream
from rnncli.tasks.language_model.model import LanguageModel


class LanguageModelTask(Task):
    """Next-token prediction over a token stream laid out as parallel streams.

    ``chars_per_token`` and ``bytes_per_token`` convert nats per token into
    bits per character and per byte of the raw text, so models with different
    tokenizers can be compared. With
    several processes (``world_size``), rank ``r`` trains on its own share of
    the ``batch_size`` streams, so the processes together see exactly the
    windows one process would.
    """

    def __init__(
        self,
        train_ids: torch.Tensor,
        val_ids: torch.Tensor,
        *,
        batch_size: int,
        seq_len: int,
        eval_batches: int,
        chars_per_token: float = 1.0,
        bytes_per_token: float = 1.0,
        source: str = "data",
        val_source: str | None = None,
        rank: int = 0,
        world_size: int = 1,
    ):
        self.train = WindowStream(train_ids, batch_size=batch_size, seq_len=seq_len, source=source)
        if world_size > 1:
            if batch_size % world_size:
                raise UsageError(
                    f"--batch-size {batch_size} must be a multiple of the number of "
                    f"processes ({world_size}): each takes an equal share of the streams"
                )
            share = batch_size // world_size
            self.train.streams = self.train.streams[rank * share : (rank + 1) * share]
        self.val = (
            WindowStream.for_validation(val_ids, batch_size=batch_size, seq_len=seq_len, source=source, own=val_source)
            if len(val_ids) > 0
            else None
        )
        self.eval_batches = eval_batches
        self.chars_per_token = chars_per_token
        self.bytes_per_token = bytes_per_token
        self.state: State | None = None

    @property
    def windows_per_epoch(self) -> int:
        return self.train.windows_per_epoch

    @property
    def items_per_step(self) -> int:
        """Tokens consumed by one training step (for throughput)."""
        return self.train.tokens_per_window

    @property
    def text_scale(self) -> TextScale:
        """Characters and UTF-8 bytes per token: validation losses in bits per character and per byte."""
        return TextScale(chars_per_item=self.chars_per_token, bytes_per_item=self.bytes_per_token)

    def state_dict(self) -> dict[str, Any]:
        """What resuming needs: the stream position and the carried state (tensors)."""
        saved: dict[str, Any] = {"position": self.train.position}
        for i, tensor in enumerate(self.state or ()):
            saved[f"state.{i}"] = tensor.detach()
        return saved

    def load_state_dict(self, saved: dict[str, Any], device: torch.device) -> None:
        self.train.position = int(saved["position"])
        parts = sorted((k for k in saved if k.startswith("state.")), key=lambda k: int(k.split(".")[1]))
        self.state = tuple(saved[k].to(device) for k in parts) if parts else None

    def train_loss(self, model: LanguageModel, device: torch.device) -> torch.Tensor:
        x, y, new_epoch = self.train.next()
        # the token file stores ids as uint8/16/32 to save memory; the model wants int64
        x, y = x.to(device, non_blocking=True).long(), y.to(device, non_blocking=True).long()  # (B, T)
        if self.state is None or new_epoch:
            self.state = getattr(model, "module", model).init_state(x.shape[0], device)  # DDP wraps it
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
            x, y = (t.to(device).long() for t in self.val.window(i))
            logits, state = model(x, state)
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)).item()
        return total / windows
