"""Stacks of recurrent layers for every task: PyTorch's fused modules or the reference cells.

The recurrent state is explicit and always a tuple of tensors of shape
``(num_layers, B, H)``: ``(h,)`` for the Elman RNN, the GRUs, minGRU and minLSTM,
``(h, c)`` for the LSTM. The helpers below are the one place that knows the difference.
"""

from __future__ import annotations

import torch
from torch import nn

from rnncli.core.cells import ReferenceRecurrent
from rnncli.core.min_cells import MinRecurrent
from rnncli.core.settings import MIN_CELLS, ModelConfig

State = tuple[torch.Tensor, ...]


def state_size(cell: str) -> int:
    """How many tensors make up the recurrent state of ``cell``."""
    return 2 if cell == "lstm" else 1


def detach_state(state: State) -> State:
    """Cut the graph between windows (truncated BPTT) but keep the values."""
    return tuple(t.detach() for t in state)


def build_min(config: ModelConfig, input_size: int, *, parallel: bool = True) -> MinRecurrent:
    """minGRU or minLSTM layers: the parallel scan (``fused``) or one step at a time (``reference``)."""
    return MinRecurrent(
        config.cell,
        input_size,
        config.hidden_size,
        num_layers=config.num_layers,
        dropout=config.dropout,
        parallel=parallel,
    )


def build_fused(config: ModelConfig, input_size: int) -> nn.Module:
    """PyTorch's fused module for ``config.cell`` (oneDNN on CPU, cuDNN on GPU); the scan for minGRU and minLSTM."""
    if config.cell in MIN_CELLS:
        return build_min(config, input_size)
    between_layers = config.dropout if config.num_layers > 1 else 0.0
    common = dict(
        input_size=input_size,
        hidden_size=config.hidden_size,
        num_layers=config.num_layers,
        dropout=between_layers,
        batch_first=True,
    )
    if config.cell == "lstm":
        return nn.LSTM(**common)
    if config.cell == "gru":
        return nn.GRU(**common)
    nonlinearity = "relu" if config.cell == "rnn-relu" else "tanh"
    return nn.RNN(nonlinearity=nonlinearity, **common)


def build_reference(config: ModelConfig, input_size: int) -> nn.Module:
    """The readable cells of cells.py, stacked; same call, state and tensor names as the fused module.

    For minGRU and minLSTM: the same layers as ``build_fused``, stepped one token at a time.
    """
    if config.cell in MIN_CELLS:
        return build_min(config, input_size, parallel=False)
    between_layers = config.dropout if config.num_layers > 1 else 0.0
    return ReferenceRecurrent(
        config.cell, input_size, config.hidden_size, num_layers=config.num_layers, dropout=between_layers
    )


def build_recurrent(config: ModelConfig, input_size: int) -> nn.Module:
    """The recurrent stack ``config.impl`` asks for: ``fused`` (fast) or ``reference`` (readable)."""
    if config.impl == "reference":
        return build_reference(config, input_size)
    return build_fused(config, input_size)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
