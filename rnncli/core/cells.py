"""Recurrent cells written straight from the equations, and a layer that runs them over time.

Every cell does one time step: ``forward(x_t, state) -> state``, where ``x_t``
is ``(B, I)`` and ``state`` is a tuple like everywhere else in rnncli:
``(h,)`` for the Elman RNN and the GRUs, ``(h, c)`` for the LSTM, each ``(B, H)``.

Parameter layout (shared with PyTorch's fused ``nn.RNN``/``nn.LSTM``/``nn.GRU``
so that the same checkpoint tensors load into either implementation):

- ``weight_ih`` ``(G*H, I)`` multiplies the input ``x_t``;
- ``weight_hh`` ``(G*H, H)`` multiplies the previous state ``h_{t-1}``;
- ``bias_ih`` and ``bias_hh`` ``(G*H,)``: only their sum matters; PyTorch keeps
  two (cuDNN's layout) and so do we.

``G`` is the number of gates stacked in rows: 1 for the Elman RNN, 4 for the
LSTM (rows ``i, f, g, o``), 3 for the GRUs (rows ``r, z, n``). The textbook
writes one matrix per gate acting on the concatenation ``[h_{t-1}, x_t]``;
splitting that matrix by columns gives our two::

    W_f [h_{t-1}, x_t] + b_f  ==  W_hf h_{t-1} + W_if x_t + (b_hf + b_if)

where ``W_if`` is the ``f`` block of rows of ``weight_ih`` and ``W_hf`` the
``f`` block of ``weight_hh``. See docs/cells.md for a walk through each line.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

State = tuple[torch.Tensor, ...]


class _Cell(nn.Module):
    """Holds ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` for ``gates`` stacked gates."""

    gates = 1

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        rows = self.gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(rows, input_size))
        self.weight_hh = nn.Parameter(torch.empty(rows, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(rows))
        self.bias_hh = nn.Parameter(torch.empty(rows))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # PyTorch's initialisation, in PyTorch's order: with the same seed a
        # reference layer starts from exactly the weights of the fused one.
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh):
            nn.init.uniform_(weight, -bound, bound)

    def input_part(self, x_t: torch.Tensor) -> torch.Tensor:
        """``W_i* x_t + b_i*`` for every gate at once: (B, I) -> (B, G*H)."""
        return F.linear(x_t, self.weight_ih, self.bias_ih)

    def hidden_part(self, h_prev: torch.Tensor) -> torch.Tensor:
        """``W_h* h_{t-1} + b_h*`` for every gate at once: (B, H) -> (B, G*H)."""
        return F.linear(h_prev, self.weight_hh, self.bias_hh)


class ElmanCell(_Cell):
    """Elman RNN: ``h_t = phi(W_x x_t + W_h h_{t-1} + b)``, phi = tanh or ReLU.

    ``W_x`` is ``weight_ih``, ``W_h`` is ``weight_hh``, ``b = bias_ih + bias_hh``.
    (The output ``y_t = W_y h_t + b_y`` is the model's head, not the cell.)
    """

    def __init__(self, input_size: int, hidden_size: int, *, nonlinearity: str = "tanh"):
        super().__init__(input_size, hidden_size)
        self.phi = torch.tanh if nonlinearity == "tanh" else torch.relu

    def forward(self, x_t: torch.Tensor, state: State) -> State:
        (h_prev,) = state  # (B, H)
        h_t = self.phi(self.input_part(x_t) + self.hidden_part(h_prev))  # (B, H)
        return (h_t,)


class LSTMCell(_Cell):
    """Long short-term memory (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000).

    f_t  = sigma(W_f [h_{t-1}, x_t] + b_f)      forget gate
    i_t  = sigma(W_i [h_{t-1}, x_t] + b_i)      input gate
    C~_t = tanh(W_C [h_{t-1}, x_t] + b_C)       candidate cell (PyTorch calls it g)
    C_t  = f_t * C_{t-1} + i_t * C~_t
    o_t  = sigma(W_o [h_{t-1}, x_t] + b_o)      output gate
    h_t  = o_t * tanh(C_t)

    Rows of ``weight_ih``/``weight_hh`` are in PyTorch's order ``i, f, g, o``.
    """

    gates = 4

    def forward(self, x_t: torch.Tensor, state: State) -> State:
        h_prev, c_prev = state  # (B, H), (B, H)
        pre = self.input_part(x_t) + self.hidden_part(h_prev)  # (B, 4H): W_* [h_{t-1}, x_t] + b_*
        pre_i, pre_f, pre_g, pre_o = pre.chunk(4, dim=1)  # each (B, H)
        f_t = torch.sigmoid(pre_f)
        i_t = torch.sigmoid(pre_i)
        c_tilde = torch.tanh(pre_g)
        c_t = f_t * c_prev + i_t * c_tilde  # (B, H)
        o_t = torch.sigmoid(pre_o)
        h_t = o_t * torch.tanh(c_t)  # (B, H)
        return (h_t, c_t)


class GRUCell(_Cell):
    """The GRU as PyTorch and cuDNN compute it (rows ``r, z, n``).

    r_t = sigma(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
    z_t = sigma(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
    n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}

    Two differences from the textbook GRU (``TextbookGRUCell``): ``z`` keeps
    the old state instead of admitting the new one (a renaming, z <-> 1 - z),
    and the reset gate multiplies ``W_hn h_{t-1} + b_hn`` after the matrix
    product rather than ``h_{t-1}`` before it (a different model).
    """

    gates = 3

    def forward(self, x_t: torch.Tensor, state: State) -> State:
        (h_prev,) = state  # (B, H)
        in_r, in_z, in_n = self.input_part(x_t).chunk(3, dim=1)  # each (B, H)
        hid_r, hid_z, hid_n = self.hidden_part(h_prev).chunk(3, dim=1)  # each (B, H)
        r_t = torch.sigmoid(in_r + hid_r)
        z_t = torch.sigmoid(in_z + hid_z)
        n_t = torch.tanh(in_n + r_t * hid_n)  # reset applied after W_hn
        h_t = (1 - z_t) * n_t + z_t * h_prev  # (B, H)
        return (h_t,)


class TextbookGRUCell(_Cell):
    """The GRU of Cho et al. (2014) as textbooks write it (rows ``r, z, n`` as in PyTorch's layout).

    z_t  = sigma(W_z [h_{t-1}, x_t] + b_z)
    r_t  = sigma(W_r [h_{t-1}, x_t] + b_r)
    h~_t = tanh(W_h [r_t * h_{t-1}, x_t] + b_h)
    h_t  = (1 - z_t) * h_{t-1} + z_t * h~_t

    The candidate's hidden weights act on the reset state ``r_t * h_{t-1}``,
    so that block of ``weight_hh`` cannot share a matrix product with the
    gates: this is why cuDNN (and PyTorch) compute the other form.
    """

    gates = 3

    def forward(self, x_t: torch.Tensor, state: State) -> State:
        (h_prev,) = state  # (B, H)
        in_r, in_z, in_n = self.input_part(x_t).chunk(3, dim=1)  # each (B, H)
        H = self.hidden_size
        w_hr, w_hz, w_hn = self.weight_hh.split(H, dim=0)  # each (H, H)
        b_hr, b_hz, b_hn = self.bias_hh.split(H, dim=0)  # each (H,)
        z_t = torch.sigmoid(in_z + F.linear(h_prev, w_hz, b_hz))
        r_t = torch.sigmoid(in_r + F.linear(h_prev, w_hr, b_hr))
        h_tilde = torch.tanh(in_n + F.linear(r_t * h_prev, w_hn, b_hn))  # reset applied before W_h
        h_t = (1 - z_t) * h_prev + z_t * h_tilde  # (B, H)
        return (h_t,)


def make_cell(cell: str, input_size: int, hidden_size: int) -> _Cell:
    """The reference cell for a ``--cell`` name."""
    if cell == "lstm":
        return LSTMCell(input_size, hidden_size)
    if cell == "gru":
        return GRUCell(input_size, hidden_size)
    if cell == "gru-textbook":
        return TextbookGRUCell(input_size, hidden_size)
    if cell in ("rnn", "rnn-relu"):
        return ElmanCell(input_size, hidden_size, nonlinearity="relu" if cell == "rnn-relu" else "tanh")
    raise ValueError(f"unknown cell {cell!r}")


PARAMETER_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


class ReferenceRecurrent(nn.Module):
    """A stack of reference cells run over time, a drop-in for ``nn.LSTM``/``nn.GRU``/``nn.RNN``.

    Same call as the fused modules with ``batch_first=True``:
    ``forward(x, hx) -> (out, hx)`` with ``x`` ``(B, T, I)``, ``out`` ``(B, T, H)``
    from the last layer, and ``hx`` a tensor ``h`` ``(L, B, H)``, or the pair
    ``(h, c)`` for the LSTM. Dropout is applied to each layer's output except
    the last, as the fused modules do.

    The parameters are registered here under the fused modules' names
    (``weight_ih_l0``, ``bias_hh_l1``, ...), so state dicts are interchangeable.
    The cells are kept in a plain list, not as submodules, so that each
    parameter is registered once; ``forward`` hands the layer's parameters to
    its cells, which keeps them right after ``.to()`` or a ``load_state_dict(assign=True)``.
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, *, num_layers: int = 1, dropout: float = 0.0):
        super().__init__()
        self.cell, self.hidden_size, self.num_layers, self.dropout = cell, hidden_size, num_layers, dropout
        self.cells = [make_cell(cell, input_size if k == 0 else hidden_size, hidden_size) for k in range(num_layers)]
        for k, layer_cell in enumerate(self.cells):
            for name in PARAMETER_NAMES:
                self.register_parameter(f"{name}_l{k}", getattr(layer_cell, name))

    def forward(self, x: torch.Tensor, hx: torch.Tensor | State | None = None):
        states = self._split_state(hx, x)  # per layer: (h,) or (h, c), each (B, H)
        layer_input = x  # (B, T, I)
        finals = []
        for k, layer_cell in enumerate(self.cells):
            self._hand_parameters(k, layer_cell)
            state, outputs = states[k], []
            for x_t in layer_input.unbind(1):  # unbind, not x[:, t]: its backward is linear in T
                state = layer_cell(x_t, state)
                outputs.append(state[0])
            layer_input = torch.stack(outputs, dim=1)  # (B, T, H)
            if k < self.num_layers - 1 and self.dropout > 0:
                layer_input = F.dropout(layer_input, self.dropout, training=self.training)
            finals.append(state)
        return layer_input, self._join_state(finals)

    def _hand_parameters(self, k: int, layer_cell: _Cell) -> None:
        for name in PARAMETER_NAMES:
            layer_cell._parameters[name] = self._parameters[f"{name}_l{k}"]

    def _split_state(self, hx, x: torch.Tensor) -> list[State]:
        if hx is None:
            zeros = x.new_zeros(self.num_layers, x.shape[0], self.hidden_size)
            hx = (zeros, zeros.clone()) if self.cell == "lstm" else zeros
        parts = hx if isinstance(hx, tuple) else (hx,)  # each (L, B, H)
        return [tuple(p[k] for p in parts) for k in range(self.num_layers)]

    def _join_state(self, finals: list[State]):
        joined = tuple(torch.stack(parts, dim=0) for parts in zip(*finals, strict=True))  # each (L, B, H)
        return joined if self.cell == "lstm" else joined[0]

    def extra_repr(self) -> str:
        return f"{self.cell}, hidden_size={self.hidden_size}, num_layers={self.num_layers}, dropout={self.dropout}"
