"""The recurrent language model: embedding -> stacked recurrent layers -> head.

The recurrent layers and their state come from rnncli/core/layers.py.
"""

from __future__ import annotations

import torch
from torch import nn

from rnncli.core.layers import State, build_recurrent, state_size
from rnncli.core.settings import ModelConfig


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
