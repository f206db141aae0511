"""The reference cells compute exactly what the fused kernels compute, and the textbook GRU what its equations say."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_run_config

from rnncli.core.cells import GRUCell, TextbookGRUCell
from rnncli.core.layers import build_fused, build_reference
from rnncli.core.settings import ModelConfig
from rnncli.tasks.language_model.training import prepare_text, train_text

FUSED_TWINS = ["lstm", "gru", "rnn", "rnn-relu"]


def _pair(cell: str, num_layers: int, *, input_size: int = 5, hidden_size: int = 6):
    """A fused module and a reference layer (different random init) holding the same float64 weights."""
    config = ModelConfig(cell=cell, hidden_size=hidden_size, num_layers=num_layers)
    torch.manual_seed(1)
    fused = build_fused(config, input_size).double()
    torch.manual_seed(2)
    reference = build_reference(config, input_size).double()
    assert not torch.equal(fused.weight_ih_l0, reference.weight_ih_l0)
    reference.load_state_dict(fused.state_dict())
    return fused, reference


def _run(module, x, hx):
    """Outputs, final state and the gradients of a loss that touches all of them."""
    module.zero_grad()
    x = x.clone().requires_grad_(True)
    out, final = module(x, hx)
    finals = final if isinstance(final, tuple) else (final,)
    torch.manual_seed(3)  # the same random projection for both modules (randn_like would follow their strides)
    loss = sum((t * torch.randn(t.shape, dtype=t.dtype)).sum() for t in (out, *finals))
    loss.backward()
    grads = {name: p.grad.clone() for name, p in module.named_parameters()}
    return out.detach(), [f.detach() for f in finals], grads, x.grad


@pytest.mark.parametrize("num_layers", [1, 3])
@pytest.mark.parametrize("cell", FUSED_TWINS)
def test_reference_matches_fused_outputs_states_and_gradients(cell, num_layers):
    fused, reference = _pair(cell, num_layers)
    assert list(fused.state_dict()) == list(reference.state_dict())  # same checkpoint tensor names
    batch, steps, hidden = 4, 9, 6
    x = torch.randn(batch, steps, 5, dtype=torch.float64)
    h0 = torch.randn(num_layers, batch, hidden, dtype=torch.float64)
    hx = (h0, torch.randn_like(h0)) if cell == "lstm" else h0
    out_f, final_f, grads_f, dx_f = _run(fused, x, hx)
    out_r, final_r, grads_r, dx_r = _run(reference, x, hx)
    assert out_r.shape == (batch, steps, hidden)
    torch.testing.assert_close(out_r, out_f, rtol=0, atol=1e-10)
    for got, want in zip(final_r, final_f, strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-10)
    assert grads_r.keys() == grads_f.keys()
    for name in grads_f:
        torch.testing.assert_close(grads_r[name], grads_f[name], rtol=0, atol=1e-10, msg=name)
    torch.testing.assert_close(dx_r, dx_f, rtol=0, atol=1e-10)


@pytest.mark.parametrize("cell", FUSED_TWINS)
def test_same_seed_gives_the_same_initial_weights(cell):
    config = ModelConfig(cell=cell, hidden_size=8, num_layers=2)
    torch.manual_seed(0)
    fused = build_fused(config, 3).state_dict()
    torch.manual_seed(0)
    reference = build_reference(config, 3).state_dict()
    assert all(torch.equal(fused[name], reference[name]) for name in fused)


def test_textbook_gru_step_follows_its_equations():
    torch.manual_seed(0)
    cell = TextbookGRUCell(3, 4).double()
    x, h = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64)
    sig = torch.sigmoid
    # The textbook's one matrix per gate over [h_{t-1}, x_t], assembled from PyTorch's row blocks r, z, n.
    w_ir, w_iz, w_in = cell.weight_ih.detach().split(4)
    w_hr, w_hz, w_hn = cell.weight_hh.detach().split(4)
    b = (cell.bias_ih + cell.bias_hh).detach()
    b_r, b_z, b_h = b.split(4)
    W_z, W_r, W_h = (torch.cat([wh, wi], dim=1) for wh, wi in ((w_hz, w_iz), (w_hr, w_ir), (w_hn, w_in)))
    z = sig(torch.cat([h, x], dim=1) @ W_z.T + b_z)
    r = sig(torch.cat([h, x], dim=1) @ W_r.T + b_r)
    h_tilde = torch.tanh(torch.cat([r * h, x], dim=1) @ W_h.T + b_h)
    expected = (1 - z) * h + z * h_tilde
    (got,) = cell(x, (h,))
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)
    # and it is a different model from PyTorch's GRU with the very same weights
    pytorch_gru = GRUCell(3, 4).double()
    pytorch_gru.load_state_dict(cell.state_dict())
    (other,) = pytorch_gru(x, (h,))
    assert (other - got).abs().max() > 1e-3


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_seeded_training_gives_the_same_losses_with_either_implementation(cell, repetitive_file, tmp_path):
    prepared = prepare_text(str(repetitive_file))
    losses = {}
    for impl in ("fused", "reference"):
        run = tiny_run_config(steps=30, eval_every=30, seq_len=16, batch_size=4, lr=0.01)
        run.model.cell, run.model.impl, run.model.hidden_size, run.model.num_layers = cell, impl, 16, 2
        seen = []
        train_text(
            prepared,
            run,
            out_dir=tmp_path / impl,
            command=["test"],
            on_event=lambda e, seen=seen: seen.append(e.train_loss) if e.kind == "step" else None,
        )
        losses[impl] = seen
    assert len(losses["fused"]) == 30
    assert losses["fused"][-1] < losses["fused"][0] - 0.5  # it learned something
    assert losses["reference"] == pytest.approx(losses["fused"], rel=1e-4, abs=1e-5)
