"""`inspect --grad-flow` measures d loss_T / d h_{T-k}, and either implementation runs any checkpoint."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import REPETITIVE
from typer.testing import CliRunner

from rnncli.cli import app
from rnncli.core.settings import ModelConfig
from rnncli.tasks.language_model.checkpoint import load_checkpoint
from rnncli.tasks.language_model.gradient_flow import gradient_norms, untrained_model

runner = CliRunner()
TINY = [
    "--hidden-size",
    "16",
    "--num-layers",
    "2",
    "--embed-size",
    "8",
    "--seq-len",
    "16",
    "--batch-size",
    "4",
    "--steps",
    "10",
    "--eval-every",
    "10",
    "--device",
    "cpu",
    "--quiet",
]


def _model(cell: str, impl: str = "fused"):
    config = ModelConfig(cell=cell, impl=impl, hidden_size=12, num_layers=2, embed_size=6)
    return untrained_model(config, None, seed=0)


def test_distance_zero_is_the_head_gradient():
    model, ids, _ = _model("rnn")
    norms = gradient_norms(model, ids, steps_back=3, windows=1, seed=5)
    # Rebuild the one window and differentiate loss_T by hand through the head:
    # d loss / d h_T = W_head^T (softmax(logits) - onehot(y)).
    start = int(torch.randint(0, len(ids) - 4, (1,), generator=torch.Generator().manual_seed(5)))
    x, y = ids[start : start + 4].view(1, -1), ids[start + 4]
    model = model.double()
    with torch.no_grad():
        emb = model.embedding(x)
        out, _ = model.recurrent(emb, tuple(s.double() for s in model.init_state(1)))
        probs = torch.softmax(model.head(out[0, -1]), dim=-1)
        probs[y] -= 1
        expected = (model.head.weight.T @ probs).norm().item()
    assert norms[0] == pytest.approx(expected, rel=1e-9)


def test_fused_and_reference_measure_the_same_gradient_flow():
    fused, ids, _ = _model("lstm")
    reference, _, _ = _model("lstm", impl="reference")
    reference.load_state_dict(fused.state_dict())
    a = gradient_norms(fused, ids, steps_back=12, windows=3)
    b = gradient_norms(reference, ids, steps_back=12, windows=3)
    assert len(a) == 13
    assert b == pytest.approx(a, rel=1e-9)


def test_elman_gradient_vanishes_geometrically_at_initialisation():
    model, ids, _ = _model("rnn")
    norms = gradient_norms(model, ids, steps_back=30, windows=4)
    assert all(later < earlier for earlier, later in zip(norms[1:-1], norms[2:], strict=True))
    assert norms[30] / norms[1] < 1e-4


def test_grad_flow_cli_on_an_untrained_model_json_and_table(tmp_path):
    result = runner.invoke(
        app,
        [
            "inspect",
            "--grad-flow",
            "--cell",
            "gru",
            "--hidden-size",
            "8",
            "--steps-back",
            "50",
            "--windows",
            "2",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["trained"] is False and report["model"]["cell"] == "gru"
    assert len(report["norms"]) == 51
    assert report["ratio_50_to_1"] == pytest.approx(report["norms"][50] / report["norms"][1])
    assert "random tokens" in report["text"]
    human = runner.invoke(
        app,
        [
            "inspect",
            "--grad-flow",
            "--cell",
            "gru-textbook",
            "--hidden-size",
            "8",
            "--steps-back",
            "5",
            "--windows",
            "2",
        ],
    )
    assert human.exit_code == 0, human.output
    assert "gru-textbook (reference" in human.stdout and "relative to k=1" in human.stdout


def test_grad_flow_plot_is_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "flow.png"
    result = runner.invoke(
        app,
        [
            "inspect",
            "--grad-flow",
            "--cell",
            "rnn",
            "--hidden-size",
            "8",
            "--steps-back",
            "10",
            "--windows",
            "2",
            "--plot",
            str(png),
        ],
    )
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_grad_flow_on_a_checkpoint_uses_the_runs_validation_text(trained_run):
    result = runner.invoke(
        app, ["inspect", str(trained_run), "--grad-flow", "--steps-back", "20", "--windows", "2", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["trained"] is True and "validation part" in report["text"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["inspect"], "give a PATH"),
        (["inspect", "--cell", "rnn"], "add --grad-flow"),
        (["inspect", "somewhere", "--grad-flow", "--cell", "rnn"], "leave it out"),
        (["inspect", "--grad-flow", "--cell", "gru-textbook", "--impl", "fused"], "no fused implementation"),
        (["inspect", "--grad-flow", "--cell", "rnn", "--steps-back", "0"], "--steps-back"),
        # grad-flow settings without --grad-flow would be silently ignored
        (["inspect", "somewhere", "--steps-back", "5"], "--steps-back applies to --grad-flow"),
        (["inspect", "somewhere", "--windows", "4"], "--windows applies to --grad-flow"),
        (["inspect", "somewhere", "--seed", "3"], "--seed applies to --grad-flow"),
    ],
)
def test_grad_flow_usage_errors(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(REPETITIVE, encoding="utf-8")
    return path


def test_a_model_trained_with_one_implementation_runs_with_the_other(corpus, tmp_path):
    out = tmp_path / "ref"
    result = runner.invoke(
        app, ["train", str(corpus), "--out", str(out), "--cell", "gru", "--impl", "reference", *TINY]
    )
    assert result.exit_code == 0, result.output
    assert load_checkpoint(out).config.impl == "reference"
    assert load_checkpoint(out, impl="fused").model.rnn.__class__ is torch.nn.GRU
    losses = {}
    for impl in ("reference", "fused"):
        result = runner.invoke(app, ["eval", str(out), str(corpus), "--json", "--impl", impl])
        assert result.exit_code == 0, result.output
        losses[impl] = json.loads(result.stdout)["loss"]
    assert losses["fused"] == pytest.approx(losses["reference"], rel=1e-5)
    samples = [
        runner.invoke(app, ["sample", str(out), "--length", "40", "--seed", "3", "--temp", "0", "--impl", impl]).stdout
        for impl in ("fused", "reference")
    ]
    assert samples[0] == samples[1] and len(samples[0]) == 41
    summary = json.loads(runner.invoke(app, ["inspect", str(out), "--json"]).stdout)
    assert summary["implementation"]["impl"] == "reference"


def test_textbook_gru_trains_on_reference_cells_and_refuses_fused(corpus, tmp_path):
    out = tmp_path / "textbook"
    result = runner.invoke(app, ["train", str(corpus), "--out", str(out), "--cell", "gru-textbook", *TINY[:-1]])
    assert result.exit_code == 0, result.output
    assert "--impl reference" in result.stderr
    human = runner.invoke(app, ["inspect", str(out)])
    assert "reference-only" in human.stdout
    refused = runner.invoke(app, ["sample", str(out), "--impl", "fused"])
    assert refused.exit_code == 2 and "no fused implementation" in refused.stderr
    refused = runner.invoke(app, ["train", str(corpus), "--cell", "gru-textbook", "--impl", "fused", *TINY])
    assert refused.exit_code == 2 and "use --impl reference" in refused.stderr
