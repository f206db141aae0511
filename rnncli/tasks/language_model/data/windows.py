"""Cutting a corpus's token ids into windows for truncated BPTT.

A corpus is tokenised once into one flat integer tensor. Batches are views of
that tensor: it is laid out as ``batch_size`` contiguous streams, and window
``i`` of every stream follows window ``i - 1``, so the hidden state can be
carried from one window to the next (char-rnn, word_language_model).
"""

from __future__ import annotations

import torch

from rnncli.core.errors import DataError


def split_train_val(ids: torch.Tensor, val_frac: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Contiguous split: the last ``val_frac`` of the tokens is validation."""
    n_val = int(len(ids) * val_frac)
    return ids[: len(ids) - n_val], ids[len(ids) - n_val :]


class WindowStream:
    """Consecutive (input, target) windows over ``batch_size`` parallel streams.

    ``position`` is the index of the next window; it is all the state needed to
    resume exactly where a run stopped.
    """

    def __init__(self, ids: torch.Tensor, *, batch_size: int, seq_len: int, source: str = "data"):
        stream_len = len(ids) // batch_size
        if stream_len < seq_len + 1:
            need = batch_size * (seq_len + 1)
            raise DataError(
                f"{source}: {len(ids)} tokens are too few for one window of --seq-len {seq_len} "
                f"in each of {batch_size} streams (need at least {need}); "
                "use a smaller --seq-len or --batch-size, or more text"
            )
        self.seq_len = seq_len
        self.streams = ids[: stream_len * batch_size].view(batch_size, stream_len)  # (B, L)
        self.windows_per_epoch = (stream_len - 1) // seq_len
        self.position = 0

    @classmethod
    def for_validation(cls, ids: torch.Tensor, *, batch_size: int, seq_len: int, source: str, own: str | None = None):
        """As many streams as the (smaller) validation text can fill, at most ``batch_size``.

        ``own`` names a validation file of its own (--val); else the text is the last part of ``source``.
        """
        streams = max(1, min(batch_size, len(ids) // (seq_len + 1)))
        return cls(ids, batch_size=streams, seq_len=seq_len, source=own or f"{source} (validation part)")

    @property
    def tokens_per_window(self) -> int:
        return self.streams.shape[0] * self.seq_len

    def window(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        start = (index % self.windows_per_epoch) * self.seq_len
        x = self.streams[:, start : start + self.seq_len]  # (B, T)
        y = self.streams[:, start + 1 : start + 1 + self.seq_len]  # (B, T)
        return x, y

    def next(self) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """The next window, and whether it starts a new epoch (reset the state)."""
        starts_epoch = self.position % self.windows_per_epoch == 0
        x, y = self.window(self.position)
        self.position += 1
        return x, y, starts_epoch
