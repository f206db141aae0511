"""The recurrent language model: embedding -> stacked recurrent layers -> head.

The recurrent layers and their state come from rnncli/core/layers.py. A
conditional model (``--condition-col``) also learns one embedding per label,
projected to the initial state (``h0``, and ``c0`` for an LSTM) of every layer,
and a second one added to every input token's embedding: the initial state alone
is washed out within a few tokens (measured: the same loss with the labels
swapped), the input keeps the label in view at every step.
"""

from __future__ import annotations

import torch
from torch import nn

from rnncli.core.layers import State, build_recurrent, state_size
from rnncli.core.settings import ModelConfig


class LanguageModel(nn.Module):
    """Predicts the next token from the tokens so far.

    ``forward(x, state) -> (logits, state)`` with ``x`` of shape ``(B, T)``
    and logits of shape ``(B, T, V)``. With ``conditions`` labels, ``forward(x,
    condition=labels)`` starts from the labels' states (``labels`` of shape ``(B,)``).
    """

    def __init__(self, config: ModelConfig, conditions: int = 0):
        super().__init__()
        self.config = config
        self.conditions = conditions
        self.embedding = nn.Embedding(config.vocab_size, config.embed_size)
        self.rnn = build_recurrent(config, config.embed_size)
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden_size, config.vocab_size)
        if conditions:  # only conditional models have these tensors: old checkpoints load unchanged
            parts = state_size(config.cell) * config.num_layers * config.hidden_size
            self.condition_embedding = nn.Embedding(conditions, config.embed_size)
            self.condition_to_state = nn.Linear(config.embed_size, parts)
            self.condition_input = nn.Embedding(conditions, config.embed_size)

    def init_state(
        self, batch_size: int, device: torch.device | str | None = None, condition: torch.Tensor | None = None
    ) -> State:
        """Zeros, or for a conditional model the initial state each label of ``condition`` (B,) projects to."""
        device = device if device is not None else self.head.weight.device
        if condition is not None:
            return self.condition_state(condition)
        shape = (self.config.num_layers, batch_size, self.config.hidden_size)
        return tuple(torch.zeros(shape, device=device) for _ in range(state_size(self.config.cell)))

    def condition_state(self, condition: torch.Tensor) -> State:
        """tanh(W e_label + b) cut into (num_layers, B, H) pieces: h0 (and c0) of every layer."""
        if not self.conditions:
            raise ValueError("this language model was trained without a condition")
        cfg = self.config
        flat = torch.tanh(self.condition_to_state(self.condition_embedding(condition)))  # (B, S*L*H)
        parts = flat.view(condition.shape[0], state_size(cfg.cell), cfg.num_layers, cfg.hidden_size)
        return tuple(part.transpose(0, 1).contiguous() for part in parts.unbind(1))

    def forward(
        self, x: torch.Tensor, state: State | None = None, condition: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, State]:
        if state is None:
            state = self.init_state(x.shape[0], x.device, condition)
        emb = self.embedding(x)  # (B, T, E)
        if condition is not None:
            emb = emb + self.condition_input(condition).unsqueeze(1)  # the label at every step
        out, new_state = self.recurrent(emb, state)  # (B, T, H)
        logits = self.head(self.drop(out))  # (B, T, V)
        return logits, new_state

    def recurrent(self, emb: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """Run the recurrent stack on embeddings (B, T, E), state in and out as a tuple."""
        packed = state if len(state) == 2 else state[0]
        out, new_state = self.rnn(emb, packed)  # (B, T, H)
        new_state = tuple(new_state) if isinstance(new_state, tuple) else (new_state,)
        return out, new_state


def build_model(config: ModelConfig, conditions: int = 0) -> LanguageModel:
    return LanguageModel(config, conditions)
