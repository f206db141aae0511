"""The sequence classifier: embedding -> (bi)recurrent encoder -> pooling -> dropout -> linear over the classes.

Each layer and direction is its own one-layer recurrent module (core's
``build_recurrent``), so every ``--cell`` and both implementations work, and a
checkpoint loads into either. The fused modules run over packed sequences; the
reference cells run over the padded batch, which gives the same values at the
real positions because padding only ever comes after them. The backward
direction reads each sequence reversed within its own length. So padding costs
no accuracy: an example gets the same probabilities alone and in a batch.

On the CPU a fused layer's two directions run as one bidirectional call of
PyTorch's module (the two modules' own weights lent to a weightless twin), which
saves a pass over the batch; the parameters, and so the checkpoints, stay the same.
"""

from __future__ import annotations

import functools

import torch
from torch import nn
from torch.func import functional_call
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnncli.core.layers import build_recurrent
from rnncli.core.settings import ModelConfig
from rnncli.tasks.classify.config import ClassifierConfig


class Classifier(nn.Module):
    """Token ids (B, T) and their lengths (B,) -> class logits (B, C)."""

    def __init__(self, config: ClassifierConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embed_size)
        width = config.hidden_size * config.directions
        one_layer = [
            ModelConfig(cell=config.cell, impl=config.impl, hidden_size=config.hidden_size, num_layers=1, vocab_size=1)
            for _ in range(config.directions)
        ]
        self.layers = nn.ModuleList(
            nn.ModuleList(build_recurrent(c, config.embed_size if k == 0 else width) for c in one_layer)
            for k in range(config.num_layers)
        )
        self.attention = nn.Linear(width, 1) if config.pool == "attention" else None
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(width, config.num_classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        steps = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0)  # (1, T)
        mask = steps < lengths.to(ids.device).unsqueeze(1)  # (B, T)
        x = self.dropout(self.embedding(ids))  # (B, T, E)
        for k, directions in enumerate(self.layers):
            if self._fuse_directions(directions, x):
                x = self._run_both(directions, x, lengths)  # (B, T, 2*H)
            else:
                outs = [self._run(rnn, x, lengths, reverse=d == 1) for d, rnn in enumerate(directions)]
                x = torch.cat(outs, dim=-1)  # (B, T, D*H)
            if k < len(self.layers) - 1:
                x = self.dropout(x)
        pooled = self._pool(x, mask, lengths)  # (B, D*H)
        return self.head(self.dropout(pooled))  # (B, C)

    def _run(self, rnn: nn.Module, x: torch.Tensor, lengths: torch.Tensor, *, reverse: bool) -> torch.Tensor:
        """One layer in one direction; outputs at the padded positions are zero."""
        if reverse:
            x = reverse_within(x, lengths)
        if self.config.impl == "fused":
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            out, _ = rnn(packed)
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])  # (B, T, H)
        else:
            out, _ = rnn(x)
            keep = torch.arange(x.shape[1], device=x.device).unsqueeze(0) < lengths.to(x.device).unsqueeze(1)
            out = out * keep.unsqueeze(-1)
        return reverse_within(out, lengths) if reverse else out

    def _fuse_directions(self, directions: nn.ModuleList, x: torch.Tensor) -> bool:
        """Both directions of a fused LSTM/GRU/RNN layer on the CPU (on a GPU the twin's weights would
        not be one contiguous block for cuDNN, so there the two calls stay)."""
        return len(directions) == 2 and x.device.type == "cpu" and isinstance(directions[0], nn.RNNBase)

    def _run_both(self, directions: nn.ModuleList, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        forward, backward = directions
        weights = dict(forward.named_parameters())
        weights.update({f"{name}_reverse": w for name, w in backward.named_parameters()})
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = functional_call(bidirectional_twin(forward), weights, (packed,))
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        return out

    def _pool(self, x: torch.Tensor, mask: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        pool, H = self.config.pool, self.config.hidden_size
        if pool == "last":  # the forward direction's real last token, the backward direction's first
            last = (lengths.to(x.device) - 1).clamp(min=0)
            forward_end = x[torch.arange(x.shape[0], device=x.device), last, :H]  # (B, H)
            return torch.cat([forward_end, x[:, 0, H:]], dim=-1) if self.config.bidirectional else forward_end
        if pool == "mean":
            return (x * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        if pool == "max":
            return x.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(1)
        scores = self.attention(x).squeeze(-1).masked_fill(~mask, float("-inf"))  # (B, T)
        return (torch.softmax(scores, dim=1).unsqueeze(-1) * x).sum(1)

    def activate(self, logits: torch.Tensor) -> torch.Tensor:
        """Probabilities from logits: a sigmoid per label (multi-label), else a softmax over the classes."""
        return torch.sigmoid(logits.float()) if self.config.multi_label else torch.softmax(logits.float(), dim=-1)

    @torch.inference_mode()
    def probabilities(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.activate(self(ids, lengths))


def bidirectional_twin(module: nn.RNNBase) -> nn.RNNBase:
    """A bidirectional module of ``module``'s kind and sizes with no storage (on the meta device)."""
    nonlinearity = module.nonlinearity if isinstance(module, nn.RNN) else None
    return _twin(type(module), module.input_size, module.hidden_size, nonlinearity)


@functools.cache
def _twin(kind: type, input_size: int, hidden_size: int, nonlinearity: str | None) -> nn.RNNBase:
    options = dict(batch_first=True, bidirectional=True, device="meta")
    if nonlinearity is not None:
        options["nonlinearity"] = nonlinearity
    return kind(input_size, hidden_size, **options)


def reverse_within(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Each sequence of ``x`` (B, T, F) reversed within its own length; the padding stays at the end."""
    T = x.shape[1]
    steps = torch.arange(T, device=x.device).unsqueeze(0)  # (1, T)
    lengths = lengths.to(x.device).unsqueeze(1)  # (B, 1)
    index = torch.where(steps < lengths, lengths - 1 - steps, steps)  # (B, T)
    return x.gather(1, index.unsqueeze(-1).expand_as(x))


def check_training_fits(config: ClassifierConfig, *, batch_size: int, ids: list[list[int]], max_len: int) -> None:
    """The classifier, its optimizer and a batch of the longest examples (``ids``) fit in memory, before it is built."""
    from rnncli.core.memory import check_batch_fits, check_model_fits, widest_flag

    batch_size, longest = min(batch_size, len(ids)), max(map(len, ids), default=1)

    flag = widest_flag(embed=config.embed_size, hidden=config.hidden_size)
    params = check_model_fits(lambda: Classifier(config), flag=flag)
    check_batch_fits(
        params,
        floats=batch_size * longest * _floats_per_token(config),
        flag=f"{flag} with --batch-size",
        what=f"training on {batch_size:,} examples of {longest:,} tokens (--max-len {max_len})",
    )


def check_prediction_fits(model: Classifier, *, rows: int, longest: int) -> None:
    """A batch of ``rows`` texts of ``longest`` tokens fits beside the loaded model (eval and predict)."""
    from rnncli.core.memory import check_batch_fits

    check_batch_fits(
        sum(p.numel() for p in model.parameters()),
        floats=rows * longest * _floats_per_token(model.config, training=False),
        flag="the input",
        what=f"a batch of {rows:,} texts of {longest:,} tokens",
        training=False,
        advice="shorten the longest texts",
    )


def _floats_per_token(config: ClassifierConfig, *, training: bool = True) -> int:
    from rnncli.core.memory import floats_per_token

    return floats_per_token(
        embed=config.embed_size,
        hidden=config.hidden_size,
        layers=config.num_layers,
        directions=config.directions,
        training=training,
    )
