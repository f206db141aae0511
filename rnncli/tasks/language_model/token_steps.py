"""One token per row through the model, with ``torch.addmm`` on the fused module's own weights.

Calling ``nn.LSTM`` once per token pays the fused module's per-call cost (on
CPU oneDNN re-packs the weights each call), which dominates at batch 1. This
module reads the same weights once, by the fused parameter names
(``rnn.weight_ih_l{k}``, ``rnn.weight_hh_l{k}``, ``rnn.bias_ih_l{k}``,
``rnn.bias_hh_l{k}``), and computes each step with a few matrix products.
Layer 0's input projection of every token is precomputed into a table (the
embedding times ``W_ih`` plus bias) when it is small, so that step costs a row
lookup instead of a product. Use it under ``torch.inference_mode()``; it knows
nothing of dropout (sampling runs in eval mode).
"""

from __future__ import annotations

import torch

from rnncli.core.layers import State
from rnncli.core.settings import MIN_CELLS
from rnncli.tasks.language_model.model import LanguageModel

LayerState = tuple[torch.Tensor, ...]  # (h,) or (h, c), each (B, H)
TABLE_LIMIT_BYTES = 64 * 2**20  # above this, layer 0 multiplies the embedding each step instead


class FastStepper:
    """Advances a ``LanguageModel`` one token per row: ``step(tokens (B,), state) -> logits (B, V), state``.

    The state here is a list with one ``LayerState`` per layer, so no step has
    to stack or slice (num_layers, B, H) tensors; ``split_state`` and
    ``join_state`` convert from and to the model's layout.
    """

    def __init__(self, model: LanguageModel):
        self.cell = model.config.cell
        self.num_layers = model.config.num_layers
        params = dict(model.named_parameters())
        with torch.inference_mode():
            self.layers = [self._layer_weights(params, k) for k in range(self.num_layers)]
            self.table = self._input_table(params["embedding.weight"], self.layers[0])
            self.embedding = params["embedding.weight"].detach()
            self.head_weight_t = params["head.weight"].detach().t().contiguous()  # (H, V)
            self.head_bias = params["head.bias"].detach()

    def _layer_weights(self, params: dict, k: int) -> dict[str, torch.Tensor]:
        w_ih, w_hh = params[f"rnn.weight_ih_l{k}"].detach(), params[f"rnn.weight_hh_l{k}"].detach()
        b_ih, b_hh = params[f"rnn.bias_ih_l{k}"].detach(), params[f"rnn.bias_hh_l{k}"].detach()
        layer = {"w_ih_t": w_ih.t().contiguous(), "w_hh_t": w_hh.t().contiguous()}  # (In, G), (H, G)
        if self.cell == "gru":  # reset-after: the hidden bias sits inside r * (...)
            layer.update(b_ih=b_ih, b_hh=b_hh)
        else:
            layer.update(b_ih=b_ih + b_hh, b_hh=None)
        return layer

    def _input_table(self, embedding: torch.Tensor, layer0: dict) -> torch.Tensor | None:
        """Embedding @ W_ih^T + b for every token: (V, G), or None when too big to be worth it."""
        rows, width = embedding.shape[0], layer0["w_ih_t"].shape[1]
        if rows * width * embedding.element_size() > TABLE_LIMIT_BYTES:
            return None
        return torch.addmm(layer0["b_ih"], embedding.detach(), layer0["w_ih_t"])

    def split_state(self, state: State) -> list[LayerState]:
        return [tuple(t[k] for t in state) for k in range(self.num_layers)]

    def join_state(self, layers: list[LayerState]) -> State:
        return tuple(torch.stack([layer[i] for layer in layers]) for i in range(len(layers[0])))

    def select_rows(self, state: list[LayerState], rows: torch.Tensor) -> list[LayerState]:
        """Keep (and reorder) the batch rows ``rows`` of every layer's state, as beam search needs."""
        return [tuple(t.index_select(0, rows) for t in layer) for layer in state]

    def step(self, tokens: torch.Tensor, state: list[LayerState]) -> tuple[torch.Tensor, list[LayerState]]:
        new_state = []
        x = None
        for k, (layer, layer_state) in enumerate(zip(self.layers, state, strict=True)):
            input_gates = self._input_gates(k, layer, tokens, x)  # (B, G)
            layer_state = self._cell(layer, input_gates, layer_state)
            new_state.append(layer_state)
            x = layer_state[0]  # (B, H)
        return torch.addmm(self.head_bias, x, self.head_weight_t), new_state  # (B, V)

    def _input_gates(self, k: int, layer: dict, tokens: torch.Tensor, x: torch.Tensor | None) -> torch.Tensor:
        if k > 0:
            return torch.addmm(layer["b_ih"], x, layer["w_ih_t"])
        if self.table is not None:
            return self.table.index_select(0, tokens)
        return torch.addmm(layer["b_ih"], self.embedding.index_select(0, tokens), layer["w_ih_t"])

    def _cell(self, layer: dict, input_gates: torch.Tensor, layer_state: LayerState) -> LayerState:
        h = layer_state[0]  # (B, H)
        if self.cell == "lstm":
            return _lstm(torch.addmm(input_gates, h, layer["w_hh_t"]), layer_state[1])
        if self.cell == "gru":
            return (_gru(input_gates, torch.addmm(layer["b_hh"], h, layer["w_hh_t"]), h),)
        pre = torch.addmm(input_gates, h, layer["w_hh_t"])  # (B, H)
        return (pre.relu_() if self.cell == "rnn-relu" else pre.tanh_(),)


def _lstm(gates: torch.Tensor, c_prev: torch.Tensor) -> LayerState:
    """PyTorch's gate order i, f, g, o: c = f*c_prev + i*g, h = o*tanh(c)."""
    i, f, g, o = gates.chunk(4, dim=1)  # each (B, H)
    c = torch.addcmul(f.sigmoid() * c_prev, i.sigmoid(), g.tanh())
    return o.sigmoid_() * c.tanh(), c


def _gru(input_gates: torch.Tensor, hidden_gates: torch.Tensor, h_prev: torch.Tensor) -> torch.Tensor:
    """Gate order r, z, n, reset applied after the hidden product: n = tanh(x_n + r*(W_hn h + b_hn))."""
    x_r, x_z, x_n = input_gates.chunk(3, dim=1)
    h_r, h_z, h_n = hidden_gates.chunk(3, dim=1)
    r = (x_r + h_r).sigmoid_()
    z = (x_z + h_z).sigmoid_()
    n = torch.addcmul(x_n, r, h_n).tanh_()
    return torch.lerp(n, h_prev, z)  # (1 - z) * n + z * h_prev


class ModelStepper:
    """The same interface on the model's own ``forward``: for reference cells, which have no fused weights to read.

    Slower than ``FastStepper``, but it runs exactly the cells the user asked
    for (``--impl reference``, and ``gru-textbook``, a different model).
    """

    def __init__(self, model: LanguageModel):
        self.model = model

    def split_state(self, state: State) -> list[State]:
        return [state]

    def join_state(self, layers: list[State]) -> State:
        return layers[0]

    def select_rows(self, state: list[State], rows: torch.Tensor) -> list[State]:
        return [tuple(t.index_select(1, rows) for t in state[0])]  # (num_layers, B, H): batch is dim 1

    def step(self, tokens: torch.Tensor, state: list[State]) -> tuple[torch.Tensor, list[State]]:
        logits, new_state = self.model(tokens.unsqueeze(1), state[0])  # (B, 1, V)
        return logits[:, -1], [new_state]


class MinStepper(FastStepper):
    """minGRU and minLSTM one token at a time: each layer's own sequential step (``advance``), whichever ``--impl``.

    The scan and the step compute the same states (tests/test_min_cells.py); one token needs no scan.
    As in FastStepper, the input products are ``addmm`` on transposed weights read once, and layer 0's
    come from a table of every token's when it is small.
    """

    def __init__(self, model: LanguageModel):
        self.rnn, self.num_layers = model.rnn, model.config.num_layers
        with torch.inference_mode():
            self.layers = [
                {"w_ih_t": c.weight_ih.detach().t().contiguous(), "b_ih": c.bias_ih.detach()} for c in self.rnn.layers
            ]
            self.embedding = model.embedding.weight.detach()
            self.table = self._input_table(self.embedding, self.layers[0])
            self.head_weight_t = model.head.weight.detach().t().contiguous()  # (H, V)
            self.head_bias = model.head.bias.detach()

    def step(self, tokens: torch.Tensor, state: list[LayerState]) -> tuple[torch.Tensor, list[LayerState]]:
        new_state, x = [], None
        for k, (cell, layer, (h,)) in enumerate(zip(self.rnn.layers, self.layers, state, strict=True)):
            branch = None if k == 0 else self.rnn.norms[k - 1](x)  # the residual layers' pre-norm
            h = cell.advance(self._input_gates(k, layer, tokens, branch).chunk(cell.gates, dim=1), h)
            new_state.append((h,))
            x = h if k == 0 else x + h  # (B, H)
        return torch.addmm(self.head_bias, x, self.head_weight_t), new_state  # (B, V)


class ConditionedStepper(ModelStepper):
    """A conditional model's steps through its own ``forward``, each row's label added to every input."""

    def __init__(self, model: LanguageModel, condition: torch.Tensor):
        super().__init__(model)
        self.condition = condition  # (B,) label indices

    def select_rows(self, state: list[State], rows: torch.Tensor) -> list[State]:
        self.condition = self.condition.index_select(0, rows)
        return super().select_rows(state, rows)

    def step(self, tokens: torch.Tensor, state: list[State]) -> tuple[torch.Tensor, list[State]]:
        logits, new_state = self.model(tokens.unsqueeze(1), state[0], condition=self.condition)  # (B, 1, V)
        return logits[:, -1], [new_state]


def make_stepper(
    model: LanguageModel, condition: torch.Tensor | None = None
) -> FastStepper | ModelStepper | ConditionedStepper:
    """FastStepper for PyTorch's fused modules; the model itself for the reference cells and for a conditional
    model (``condition``: each row's label); MinStepper for min cells."""
    if condition is not None:
        return ConditionedStepper(model, condition)
    if model.config.cell in MIN_CELLS:
        return MinStepper(model)
    return FastStepper(model) if model.config.impl == "fused" else ModelStepper(model)
