"""The recurrent language model: embedding -> stacked recurrent layers -> head.

The recurrent state is explicit and always a tuple of tensors of shape
``(num_layers, B, H)``: ``(h,)`` for the Elman RNN and the GRU, ``(h, c)`` for
the LSTM. The helpers below are the one place that knows the difference.
"""

from __future__ import annotations

import torch
from torch import nn

from rnncli.cells import ReferenceRecurrent
from rnncli.config import ModelConfig

State = tuple[torch.Tensor, ...]


def state_size(cell: str) -> int:
    """How many tensors make up the recurrent state of ``cell``."""
    return 2 if cell == "lstm" else 1


def detach_state(state: State) -> State:
    """Cut the graph between windows (truncated BPTT) but keep the values."""
    return tuple(t.detach() for t in state)


def build_fused(config: ModelConfig, input_size: int) -> nn.Module:
    """PyTorch's fused module for ``config.cell`` (oneDNN on CPU, cuDNN on GPU)."""
    between_layers = config.dropout if config.num_layers > 1 else 0.0
    common = dict(input_size=input_size, hidden_size=config.hidden_size,
                  num_layers=config.num_layers, dropout=between_layers, batch_first=True)
    if config.cell == "lstm":
        return nn.LSTM(**common)
    if config.cell == "gru":
        return nn.GRU(**common)
    nonlinearity = "relu" if config.cell == "rnn-relu" else "tanh"
    return nn.RNN(nonlinearity=nonlinearity, **common)


def build_reference(config: ModelConfig, input_size: int) -> ReferenceRecurrent:
    """The readable cells of cells.py, stacked; same call, state and tensor names as the fused module."""
    between_layers = config.dropout if config.num_layers > 1 else 0.0
    return ReferenceRecurrent(config.cell, input_size, config.hidden_size,
                              num_layers=config.num_layers, dropout=between_layers)


def build_recurrent(config: ModelConfig, input_size: int) -> nn.Module:
    """The recurrent stack ``config.impl`` asks for: ``fused`` (fast) or ``reference`` (readable)."""
    if config.impl == "reference":
        return build_reference(config, input_size)
    return build_fused(config, input_size)


class LanguageModel(nn.Module):
    """Predicts the next token from the tokens so far.

    ``forward(x, state) -> (logits, state)`` with ``x`` of shape ``(B, T)``
    and logits of shape ``(B, T, V)``.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embed_size)
        self.rnn = build_recurrent(config, config.embed_size)
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden_size, config.vocab_size)

    def init_state(self, batch_size: int, device: torch.device | str | None = None) -> State:
        device = device if device is not None else self.head.weight.device
        shape = (self.config.num_layers, batch_size, self.config.hidden_size)
        return tuple(torch.zeros(shape, device=device) for _ in range(state_size(self.config.cell)))

    def forward(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        if state is None:
            state = self.init_state(x.shape[0], x.device)
        emb = self.embedding(x)  # (B, T, E)
        out, new_state = self.recurrent(emb, state)  # (B, T, H)
        logits = self.head(self.drop(out))  # (B, T, V)
        return logits, new_state

    def recurrent(self, emb: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """Run the recurrent stack on embeddings (B, T, E), state in and out as a tuple."""
        packed = state if len(state) == 2 else state[0]
        out, new_state = self.rnn(emb, packed)  # (B, T, H)
        new_state = tuple(new_state) if isinstance(new_state, tuple) else (new_state,)
        return out, new_state


def build_model(config: ModelConfig) -> LanguageModel:
    return LanguageModel(config)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
