"""minGRU and minLSTM: the parallel scan equals the sequential step, padding never leaks, every task runs them."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from conftest import tiny_run_config
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from typer.testing import CliRunner

from rnncli.cli import app
from rnncli.core.min_cells import MinRecurrent, g, log_g, scan
from rnncli.core.settings import ModelConfig
from rnncli.tasks.language_model.model import build_model
from rnncli.tasks.language_model.token_steps import MinStepper, make_stepper

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
MIN_CELLS = ["mingru", "minlstm"]
TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}


def run(*args, input=None):
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


def _twins(cell: str, dtype: torch.dtype, num_layers: int = 2) -> tuple[MinRecurrent, MinRecurrent]:
    torch.manual_seed(0)
    parallel = MinRecurrent(cell, 5, 8, num_layers=num_layers).to(dtype)
    steps = MinRecurrent(cell, 5, 8, num_layers=num_layers, parallel=False).to(dtype)
    steps.load_state_dict(parallel.state_dict())
    return parallel, steps


def _outputs_and_gradients(model: MinRecurrent, x: torch.Tensor, h0: torch.Tensor) -> list[torch.Tensor]:
    out, h_n = model(x, h0)
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=out.dtype)
    loss = (out * weights).sum() + (h_n * h_n).sum()
    return [out, h_n, *torch.autograd.grad(loss, [x, h0, *model.parameters()])]


def _assert_relatively_close(ours: list[torch.Tensor], theirs: list[torch.Tensor], tolerance: float) -> None:
    for a, b in zip(ours, theirs, strict=True):
        scale = b.abs().max().clamp(min=1.0)  # gradients summed over the window are large: compare relatively
        assert ((a - b).abs().max() / scale).item() < tolerance


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("length", [1, 2, 17, 70])
@pytest.mark.parametrize("cell", MIN_CELLS)
def test_the_parallel_scan_equals_the_sequential_step_in_outputs_and_gradients(cell, length, dtype):
    parallel, steps = _twins(cell, dtype)
    x = torch.randn(3, length, 5, dtype=dtype, requires_grad=True)
    h0 = torch.randn(2, 3, 8, dtype=dtype, requires_grad=True)  # a carried state, of either sign
    _assert_relatively_close(
        _outputs_and_gradients(parallel, x, h0), _outputs_and_gradients(steps, x, h0), TOLERANCE[dtype]
    )


@pytest.mark.parametrize("cell", MIN_CELLS)
def test_windows_that_carry_the_state_equal_one_long_window(cell):
    parallel, _ = _twins(cell, torch.float64)
    x = torch.randn(2, 50, 5, dtype=torch.float64)
    whole, h_whole = parallel(x)
    first, h = parallel(x[:, :23])
    second, h_end = parallel(x[:, 23:], h)  # truncated BPTT carries h from window to window
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(h_end, h_whole, rtol=1e-10, atol=1e-10)


def test_the_log_space_scan_is_the_linear_recurrence_and_g_is_positive():
    log_a, log_b = torch.randn(2, 40, 3, dtype=torch.float64) - 1, torch.randn(2, 40, 3, dtype=torch.float64)
    h0 = torch.randn(2, 3, dtype=torch.float64)
    h, expected = h0, []
    for t in range(40):
        h = log_a[:, t].exp() * h + log_b[:, t].exp()
        expected.append(h)
    torch.testing.assert_close(scan(log_a, log_b, h0), torch.stack(expected, dim=1), rtol=1e-12, atol=1e-12)
    x = torch.linspace(-30, 30, 601, dtype=torch.float64)
    assert (g(x) > 0).all() and torch.allclose(log_g(x), g(x).log())
    assert g(torch.tensor(0.0)) == 0.5 and torch.allclose(g(torch.tensor([3.0])), torch.tensor([3.5]))


@pytest.mark.parametrize("parallel", [True, False])
@pytest.mark.parametrize("cell", MIN_CELLS)
def test_padding_in_a_packed_batch_never_reaches_the_state(cell, parallel):
    torch.manual_seed(0)
    model = MinRecurrent(cell, 4, 6, num_layers=2, parallel=parallel).eval()
    lengths = torch.tensor([3, 7, 1])
    x = torch.randn(3, 7, 4)
    x[0, 3:], x[2, 1:] = 100.0, -100.0  # padding with values that would show if read
    h0 = torch.rand(2, 3, 6)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, h_n = model(packed, h0)
    out, _ = pad_packed_sequence(out, batch_first=True)
    for row, n in enumerate(lengths.tolist()):
        alone, h_alone = model(x[row : row + 1, :n], h0[:, row : row + 1])
        torch.testing.assert_close(out[row : row + 1, :n], alone, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(h_n[:, row : row + 1], h_alone, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cell", MIN_CELLS)
def test_sampling_steps_the_same_model_the_scan_trains(cell):
    torch.manual_seed(0)
    model = build_model(ModelConfig(cell=cell, vocab_size=11, embed_size=5, hidden_size=7, num_layers=2)).eval()
    tokens = torch.randint(0, 11, (3, 30))
    with torch.inference_mode():
        start = tuple(torch.rand_like(t) for t in model.init_state(3))
        full, final = model(tokens, start)  # the scan over the window
        stepper = make_stepper(model)
        assert isinstance(stepper, MinStepper)
        state = stepper.split_state(start)
        for t in range(tokens.shape[1]):
            logits, state = stepper.step(tokens[:, t], state)
            torch.testing.assert_close(logits, full[:, t], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(stepper.join_state(state)[0], final[0], rtol=1e-5, atol=1e-5)


def test_mingru_learns_a_learnable_sequence_well_below_uniform(repetitive_file, tmp_path):
    from rnncli.tasks.language_model.training import prepare_text, train_text

    prepared = prepare_text(str(repetitive_file))
    config = tiny_run_config(steps=150, eval_every=50, lr=0.01)
    config.model.cell, config.model.hidden_size = "mingru", 64
    history = train_text(prepared, config, out_dir=tmp_path / "run", command=["test"])
    uniform = math.log2(prepared.tokenizer.vocab_size)
    assert history.best_val_bpc < uniform / 2, (history.best_val_bpc, uniform)


# --- every task, through the command line -----------------------------------------------------------------

LM = ["--hidden-size", 16, "--embed-size", 8, "--seq-len", 16, "--batch-size", 4, "--num-layers", 2]
SMALL = ["--hidden-size", 16, "--embed-size", 8, "--device", "cpu"]


@pytest.mark.parametrize("cell", MIN_CELLS)
def test_language_model_trains_samples_evaluates_and_shows_its_gradient_flow(cell, tmp_path):
    text = tmp_path / "t.txt"
    text.write_text((SAMPLE / "tinyworld.txt").read_text(encoding="utf-8")[:4000], encoding="utf-8")
    trained = run("train", text, "--cell", cell, "--out", tmp_path / "lm", "--steps", 6, "--device", "cpu", *LM)
    assert trained.exit_code == 0, trained.output
    sampled = run("sample", tmp_path / "lm", "--length", 30, "--seed", 1)
    assert sampled.exit_code == 0 and len(sampled.stdout) >= 30, sampled.output
    scored = [
        json.loads(run("eval", tmp_path / "lm", text, "--json", *i).stdout) for i in ([], ["--impl", "reference"])
    ]
    assert scored[0]["loss"] == pytest.approx(scored[1]["loss"], rel=1e-5)  # scan and step score alike
    flow = run("inspect", "--grad-flow", tmp_path / "lm", "--steps-back", 12, "--windows", 2, "--json")
    assert flow.exit_code == 0, flow.output
    measured = json.loads(flow.stdout)
    assert measured["model"]["cell"] == cell and len(measured["norms"]) == 13 and measured["norms"][12] > 0
    assert "d h_t / d h_(t-1) = diag(a_t)" in measured["note"]  # why the curve looks as it does, said beside it


@pytest.mark.parametrize("cell", MIN_CELLS)
def test_forecaster_trains_and_forecasts(cell, tmp_path):
    trained = run("train", SAMPLE / "monthly.csv", "--cell", cell, "--horizon", 3, "--num-layers", 2,
                  "--steps", 8, "--out", tmp_path / "fc", "--device", "cpu")  # fmt: skip
    assert trained.exit_code == 0, trained.output
    forecast = run("forecast", "--model", tmp_path / "fc", SAMPLE / "monthly.csv")
    assert forecast.exit_code == 0 and forecast.stdout.count("\n") >= 3, forecast.output
    # the file it trained on: eval refuses to score training windows unless told it knows
    assert run("eval", tmp_path / "fc", SAMPLE / "monthly.csv", "--allow-overlap").exit_code == 0


@pytest.mark.parametrize("cell", MIN_CELLS)
def test_classifier_trains_evaluates_and_predicts_bidirectionally(cell, tmp_path):
    trained = run("train", SAMPLE / "reviews.csv", "--task", "classify", "--cell", cell, "--bidirectional",
                  "--num-layers", 2, "--steps", 8, "--out", tmp_path / "cl", *SMALL)  # fmt: skip
    assert trained.exit_code == 0, trained.output
    assert run("eval", tmp_path / "cl", SAMPLE / "reviews_test.csv").exit_code == 0
    predicted = run("predict", tmp_path / "cl", "-", input="the script was truly moving\nboring\n")
    assert predicted.exit_code == 0 and predicted.stdout.count("\n") == 2, predicted.output


@pytest.mark.parametrize("cell", MIN_CELLS)
def test_tagger_trains_evaluates_and_predicts_with_a_character_encoder_of_the_cell(cell, tmp_path):
    trained = run("train", SAMPLE / "ner.conll", "--task", "tag", "--cell", cell, "--steps", 8,
                  "--out", tmp_path / "tg", *SMALL)  # fmt: skip
    assert trained.exit_code == 0, trained.output
    assert run("eval", tmp_path / "tg", SAMPLE / "ner_test.conll").exit_code == 0
    predicted = run("predict", tmp_path / "tg", "-", input="Carl works in Paris\n")
    assert predicted.exit_code == 0 and predicted.stdout.count("/") == 4, predicted.output


@pytest.mark.parametrize("cell", MIN_CELLS)
def test_translator_trains_evaluates_and_predicts(cell, tmp_path):
    trained = run("train", SAMPLE / "pairs.tsv", "--task", "translate", "--cell", cell, "--steps", 8,
                  "--out", tmp_path / "tr", *SMALL)  # fmt: skip
    assert trained.exit_code == 0, trained.output
    assert run("eval", tmp_path / "tr", SAMPLE / "pairs_test.tsv").exit_code == 0
    predicted = run("predict", tmp_path / "tr", "-", "--beam", 2, input="17 May 1971\n29.04.2007\n")
    assert predicted.exit_code == 0 and predicted.stdout.count("\n") == 2, predicted.output


@pytest.mark.parametrize("cell", MIN_CELLS)
def test_a_checkpoint_round_trips_and_loads_by_the_cell_it_records(cell, tmp_path):
    from rnncli.tasks.language_model.checkpoint import load_checkpoint

    text = tmp_path / "t.txt"
    text.write_text("abcab cabca " * 80, encoding="utf-8")
    trained = run("train", text, "--cell", cell, "--out", tmp_path / "lm", "--steps", 3, "--device", "cpu", *LM)
    assert trained.exit_code == 0, trained.output
    loaded = load_checkpoint(tmp_path / "lm")
    assert loaded.config.cell == cell and isinstance(loaded.model.rnn, MinRecurrent) and loaded.model.rnn.parallel
    stepped = load_checkpoint(tmp_path / "lm", impl="reference")
    assert not stepped.model.rnn.parallel
    for (name, ours), (_, theirs) in zip(
        loaded.model.state_dict().items(), stepped.model.state_dict().items(), strict=True
    ):
        assert torch.equal(ours, theirs), name
    summary = json.loads(run("inspect", tmp_path / "lm", "--json").stdout)
    assert summary["model"]["cell"] == cell and "scan" in json.dumps(summary)


def test_a_min_cell_run_resumes_where_it_stopped(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("abcab cabca " * 80, encoding="utf-8")
    first = run("train", text, "--cell", "minlstm", "--out", tmp_path / "lm", "--steps", 4, "--device", "cpu", *LM)
    assert first.exit_code == 0, first.output
    again = run("train", "--resume", tmp_path / "lm", "--steps", 6)
    assert again.exit_code == 0, again.output
    assert json.loads((tmp_path / "lm" / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 6
