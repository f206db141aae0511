"""minGRU and minLSTM (Feng et al. 2024): recurrences whose gates read only x_t, so they train with a parallel scan.

Feng, Tung, Ahmed, Bengio and Hajimirsadeghi (2024), "Were RNNs All We
Needed?", drop the previous state from the gates of the GRU and the LSTM.
What is left is a linear recurrence, elementwise in the hidden units::

    h_t = a_t * h_{t-1} + b_t          a_t, b_t computed from x_t alone

minGRU (``--cell mingru``)::

    z_t  = sigma(W_z x_t + b_z)                 update gate
    h~_t = g(W_h x_t + b_h)                     candidate, positive
    h_t  = (1 - z_t) * h_{t-1} + z_t * h~_t     so a_t = 1 - z_t, b_t = z_t * h~_t

minLSTM (``--cell minlstm``)::

    f_t  = sigma(W_f x_t + b_f)                 forget gate
    i_t  = sigma(W_i x_t + b_i)                 input gate
    h~_t = g(W_h x_t + b_h)                     candidate, positive
    f'_t = f_t / (f_t + i_t),  i'_t = i_t / (f_t + i_t)   normalised: f'_t + i'_t = 1
    h_t  = f'_t * h_{t-1} + i'_t * h~_t         so a_t = f'_t, b_t = i'_t * h~_t

with ``g(x) = x + 1/2`` for ``x >= 0`` and ``sigma(x)`` below (continuous,
positive, linear for large inputs). Because ``a_t`` and ``b_t`` do not depend
on ``h_{t-1}``, every ``h_t`` of a window follows from prefix sums:

    h_t = A_t h_0 + sum_{s<=t} (A_t / A_s) b_s,       A_t = a_1 a_2 ... a_t

computed in log space (Heinsen 2023, "Efficient Parallelization of a
Ubiquitous Sequential Computation"): ``log A_t = cumsum(log a)``, and the sum
is ``exp(log A_t + logcumsumexp(log b - log A))``, which needs ``b_t > 0``:
hence the positive ``g``. The first term is added as it is, so ``h_0`` may
have any sign (a translator's decoder starts from a state it did not make).
The window is cut into chunks of ``CHUNK`` steps scanned side by side, and
one short loop carries the state from chunk to chunk: ``log A`` then never
grows past a chunk, which keeps float32 accurate over long windows.

Two implementations, which tests hold equal (outputs and gradients): the
scan (``parallel=True``, ``--impl fused``: training and evaluation) and the
step ``h_t = a_t * h_{t-1} + b_t`` one token at a time (``parallel=False``,
``--impl reference``; and always for a window of one token, which is what
sampling and the translator's decoder feed). The state is ``(h,)`` like the
GRU's. See docs/cells.md.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

CHUNK = 16  # steps scanned in parallel before a loop carries the state on (float32 stays within 1e-5)
NO_INPUT = -1e4  # log b_t at padding (and chunk padding): b_t = exp(-1e4) = 0, finite so no gradient is NaN


def g(x: torch.Tensor) -> torch.Tensor:
    """The paper's positive activation: ``x + 1/2`` for ``x >= 0``, ``sigmoid(x)`` below."""
    return torch.where(x >= 0, x.clamp(min=0) + 0.5, torch.sigmoid(x.clamp(max=0)))


def log_g(x: torch.Tensor) -> torch.Tensor:
    """``log g(x)``: ``log(x + 1/2)`` for ``x >= 0``, ``-softplus(-x)`` (= log sigmoid) below."""
    return torch.where(x >= 0, torch.log(x.clamp(min=0) + 0.5), -F.softplus(-x.clamp(max=0)))


class _MinCell(nn.Module):
    """One layer's input projection: ``weight_ih`` ``(G*H, I)`` and ``bias_ih`` ``(G*H,)``, no ``weight_hh``."""

    gates = 2

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = nn.Parameter(torch.empty(self.gates * hidden_size, input_size))
        self.bias_ih = nn.Parameter(torch.empty(self.gates * hidden_size))
        bound = 1.0 / math.sqrt(hidden_size)  # PyTorch's initialisation of its recurrent layers
        nn.init.uniform_(self.weight_ih, -bound, bound)
        nn.init.uniform_(self.bias_ih, -bound, bound)

    def pre(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The pre-activations of every gate, each ``(..., H)``."""
        return F.linear(x, self.weight_ih, self.bias_ih).chunk(self.gates, dim=-1)


class MinGRUCell(_MinCell):
    """minGRU: ``z = sigma(W_z x)``, ``h~ = g(W_h x)``, ``h_t = (1 - z) * h_{t-1} + z * h~`` (rows ``z, h``)."""

    gates = 2

    def step(self, x_t: torch.Tensor, h_prev: torch.Tensor) -> torch.Tensor:
        """One token: (B, I), (B, H) -> (B, H)."""
        return self.advance(self.pre(x_t), h_prev)

    def advance(self, pre: tuple[torch.Tensor, ...], h_prev: torch.Tensor) -> torch.Tensor:
        """``h_t`` from the gates' pre-activations ``pre`` (each (B, H)) and ``h_{t-1}``."""
        pre_z, pre_h = pre
        return torch.lerp(h_prev, g(pre_h), torch.sigmoid(pre_z))  # h + z * (h~ - h)

    def log_coefficients(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``log a = log(1 - z) = -softplus(k)``, ``log b = log z + log h~`` with ``log z = -softplus(-k)``."""
        pre_z, pre_h = self.pre(x)
        return -F.softplus(pre_z), -F.softplus(-pre_z) + log_g(pre_h)


class MinLSTMCell(_MinCell):
    """minLSTM: ``f' = f / (f + i)``, ``i' = i / (f + i)``, ``h_t = f' * h_{t-1} + i' * g(W_h x)`` (rows ``f, i, h``).

    ``f' = sigma(log f - log i)`` and ``i' = 1 - f'``, so in log space
    ``log f' = -softplus(d)`` and ``log i' = -softplus(-d)`` with ``d = log i - log f``.
    """

    gates = 3

    def _difference(self, pre_f: torch.Tensor, pre_i: torch.Tensor) -> torch.Tensor:
        """``d = log i - log f = softplus(-pre_f) - softplus(-pre_i)``."""
        return F.softplus(-pre_f) - F.softplus(-pre_i)

    def step(self, x_t: torch.Tensor, h_prev: torch.Tensor) -> torch.Tensor:
        """One token: (B, I), (B, H) -> (B, H)."""
        return self.advance(self.pre(x_t), h_prev)

    def advance(self, pre: tuple[torch.Tensor, ...], h_prev: torch.Tensor) -> torch.Tensor:
        """``h_t`` from the gates' pre-activations ``pre`` (each (B, H)) and ``h_{t-1}``."""
        pre_f, pre_i, pre_h = pre
        i_norm = torch.sigmoid(self._difference(pre_f, pre_i))  # i' = i / (f + i)
        return torch.lerp(h_prev, g(pre_h), i_norm)  # f' * h + i' * h~

    def log_coefficients(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pre_f, pre_i, pre_h = self.pre(x)
        d = self._difference(pre_f, pre_i)
        return -F.softplus(d), -F.softplus(-d) + log_g(pre_h)


def make_min_cell(cell: str, input_size: int, hidden_size: int) -> _MinCell:
    """The cell for ``mingru`` or ``minlstm``."""
    if cell == "mingru":
        return MinGRUCell(input_size, hidden_size)
    if cell == "minlstm":
        return MinLSTMCell(input_size, hidden_size)
    raise ValueError(f"unknown cell {cell!r}")


def scan(log_a: torch.Tensor, log_b: torch.Tensor, h0: torch.Tensor, *, chunk: int = CHUNK) -> torch.Tensor:
    """Every ``h_t = a_t * h_{t-1} + b_t`` of a window at once: log_a, log_b (B, T, H), h0 (B, H) -> (B, T, H)."""
    B, T, H = log_a.shape
    chunk = min(chunk, T)
    n = -(-T // chunk)
    if n * chunk > T:  # the last chunk is filled with a = 1, b = 0, which changes nothing
        log_a = F.pad(log_a, (0, 0, 0, n * chunk - T))
        log_b = F.pad(log_b, (0, 0, 0, n * chunk - T), value=NO_INPUT)
    log_a, log_b = log_a.reshape(B, n, chunk, H), log_b.reshape(B, n, chunk, H)
    a_star = log_a.cumsum(dim=2)  # log A_t within each chunk
    from_zero = torch.exp(a_star + torch.logcumsumexp(log_b - a_star, dim=2))  # each chunk started from h = 0
    decay = torch.exp(a_star)  # A_t within each chunk: how much of the chunk's starting state is left
    starts, h = [], h0
    # n = T / chunk elementwise steps carry the state from chunk to chunk; unbind, not [:, j]: its backward is linear
    for end_from_zero, end_decay in zip(from_zero[:, :, -1].unbind(1), decay[:, :, -1].unbind(1), strict=True):
        starts.append(h)
        h = torch.addcmul(end_from_zero, end_decay, h)
    out = torch.addcmul(from_zero, decay, torch.stack(starts, dim=1).unsqueeze(2))  # (B, n, chunk, H)
    return out.reshape(B, n * chunk, H)[:, :T]


class MinRecurrent(nn.Module):
    """A stack of minGRU or minLSTM layers, a drop-in for ``nn.GRU(batch_first=True)``.

    ``forward(x, h0) -> (out, h_n)``: ``x`` ``(B, T, I)`` or a ``PackedSequence``, ``h0`` and ``h_n``
    ``(L, B, H)``, ``out`` the last layer's ``(B, T, H)`` (packed when ``x`` is). Packed sequences
    are masked: over padding ``a_t = 1`` and ``b_t = 0``, so ``h`` is carried unchanged and ``h_n``
    is each sequence's state after its own last token, as with the fused modules.

    Layers after the first are residual with a pre-norm, as the paper stacks them:
    ``x_{k+1} = x_k + minRNN(dropout(LayerNorm(x_k)))``. The first layer changes the width
    (embedding or features to ``H``) and reads its input as it is (a forecaster's one feature
    would be normalised to zero). ``dropout`` falls on every layer's input but the first's, as
    the fused modules drop every layer's output but the last's.
    """

    def __init__(
        self, cell: str, input_size: int, hidden_size: int, *, num_layers: int = 1, dropout: float = 0.0, parallel=True
    ):
        super().__init__()
        self.cell, self.hidden_size, self.num_layers = cell, hidden_size, num_layers
        self.dropout, self.parallel = dropout, parallel
        sizes = [input_size] + [hidden_size] * (num_layers - 1)
        self.layers = nn.ModuleList(make_min_cell(cell, n, hidden_size) for n in sizes)
        self.norms = nn.ModuleList(nn.LayerNorm(hidden_size) for _ in range(num_layers - 1))

    def forward(self, x, hx: torch.Tensor | None = None):
        if isinstance(x, PackedSequence):
            padded, lengths = pad_packed_sequence(x, batch_first=True)  # original batch order, like hx
            mask = torch.arange(padded.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)  # (B, T)
            out, h_n = self._run(padded, hx, mask.to(padded.device))
            return pack_padded_sequence(out, lengths, batch_first=True, enforce_sorted=False), h_n
        return self._run(x, hx, None)

    def _run(self, x: torch.Tensor, hx: torch.Tensor | None, mask: torch.Tensor | None):
        if hx is None:
            hx = x.new_zeros(self.num_layers, x.shape[0], self.hidden_size)
        finals = []
        for k, layer in enumerate(self.layers):
            branch = x if k == 0 else F.dropout(self.norms[k - 1](x), self.dropout, training=self.training)
            h = self._layer(layer, branch, hx[k], mask)  # (B, T, H)
            finals.append(h[:, -1])  # over padding h is carried, so this is the state after the last real token
            x = h if k == 0 else x + h
        return x, torch.stack(finals)

    def _layer(self, layer: _MinCell, x: torch.Tensor, h0: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        if not self.parallel or x.shape[1] == 1:
            return _steps(layer, x, h0, mask)
        log_a, log_b = layer.log_coefficients(x)  # each (B, T, H)
        if log_a.dtype in (torch.float16, torch.bfloat16):  # the scan wants float32's range and precision
            log_a, log_b, h0 = log_a.float(), log_b.float(), h0.float()
        if mask is not None:
            keep = mask.unsqueeze(-1)
            log_a, log_b = log_a.masked_fill(~keep, 0.0), log_b.masked_fill(~keep, NO_INPUT)
        return scan(log_a, log_b, h0.to(log_a.dtype)).to(x.dtype)

    def extra_repr(self) -> str:
        how = "parallel scan" if self.parallel else "one step at a time"
        return f"{self.cell}, hidden_size={self.hidden_size}, num_layers={self.num_layers}, {how}"


def _steps(layer: _MinCell, x: torch.Tensor, h: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """The recurrence one token at a time (B, T, I) -> (B, T, H); where ``mask`` is False, h is carried."""
    outputs = []
    for t, x_t in enumerate(x.unbind(1)):
        h_new = layer.step(x_t, h)
        h = h_new if mask is None else torch.where(mask[:, t : t + 1], h_new, h)
        outputs.append(h)
    return torch.stack(outputs, dim=1)
