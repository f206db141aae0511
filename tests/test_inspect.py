"""`rnn inspect` on run folders, checkpoint files and pairs of checkpoints."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from conftest import REPETITIVE, tiny_run_config
from typer.testing import CliRunner

from rnncli.cli import app
from rnncli.core.layers import count_parameters
from rnncli.tasks.language_model.checkpoint import load_checkpoint
from rnncli.tasks.language_model.training import prepare_text, train_text
from rnncli.tasks.training_curve import overfitting_verdict, read_metrics

runner = CliRunner()

CHECKPOINT_KEYS = {
    "kind",
    "path",
    "task",
    "model",
    "implementation",
    "parameters",
    "total_parameters",
    "tokenizer",
    "train",
    "text",
    "history",
    "data",
    "versions",
    "command",
    "resume_commands",
    "curve",
}
CURVE_KEYS = {"file", "records", "skipped_lines", "best", "last", "verdict"}
POINT_KEYS = {"step", "train_loss", "val_loss", "val_bpc", "gap"}


def inspect_json(*args: str) -> dict:
    result = runner.invoke(app, ["inspect", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_run_folder_json_has_the_documented_keys_and_the_curve(trained_run):
    summary = inspect_json(str(trained_run))
    assert summary.keys() == CHECKPOINT_KEYS
    assert summary["kind"] == "checkpoint"
    curve = summary["curve"]
    assert curve.keys() == CURVE_KEYS
    lines = (trained_run / "metrics.jsonl").read_text().splitlines()
    assert [r["step"] for r in curve["records"]] == [json.loads(line)["step"] for line in lines]
    assert curve["best"].keys() == POINT_KEYS
    # model.safetensors is the best checkpoint: its history and the curve agree on where that was
    assert curve["best"]["step"] == summary["history"]["best_step"]
    assert curve["best"]["val_loss"] == pytest.approx(summary["history"]["best_val_loss"])
    assert curve["last"]["step"] == 150
    best = curve["best"]
    assert best["gap"] == pytest.approx(best["val_loss"] - best["train_loss"])
    assert curve["verdict"]["status"] in {"overfitting", "improving", "flat"}


def test_parameter_counts_from_the_header_match_the_loaded_model(trained_run):
    summary = inspect_json(str(trained_run))
    model = load_checkpoint(trained_run).model
    assert summary["total_parameters"] == count_parameters(model)
    assert summary["parameters"] == {name: p.numel() for name, p in model.named_parameters()}


def test_run_folder_for_people_draws_the_curve_with_the_best_point(trained_run):
    result = runner.invoke(app, ["inspect", str(trained_run)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for expected in (
        "training curve (3 evaluations",
        "★",
        "grad norm",
        "lr ",
        "gap (val - train)",
        "best validation",
        "verdict",
        "rnn.weight_hh_l0",
    ):
        assert expected in out, expected


def test_a_checkpoint_file_alone_has_no_curve(trained_run, tmp_path):
    lone = tmp_path / "copy.safetensors"
    shutil.copy(trained_run / "model.safetensors", lone)
    summary = inspect_json(str(lone))
    assert summary["curve"] is None and summary["history"]["step"] == 150
    result = runner.invoke(app, ["inspect", str(lone), "--plot", str(tmp_path / "c.png")])
    assert result.exit_code == 2 and "no metrics.jsonl" in result.stderr


def test_plot_writes_an_image(trained_run, tmp_path):
    pytest.importorskip("matplotlib")
    image = tmp_path / "curve.png"
    result = runner.invoke(app, ["inspect", str(trained_run), "--plot", str(image)])
    assert result.exit_code == 0, result.output
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_says_how_to_install_it(trained_run, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    result = runner.invoke(app, ["inspect", str(trained_run), "--plot", str(tmp_path / "c.png")])
    assert result.exit_code == 2
    assert "--plot needs matplotlib: pip install 'rnncli[plot]'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def _records(train: list[float], val: list[float]) -> list[dict]:
    pairs = enumerate(zip(train, val, strict=True))
    return [{"step": 10 * (i + 1), "train_loss": t, "val_loss": v} for i, (t, v) in pairs]


def test_verdict_names_overfitting_when_val_rises_while_train_falls():
    verdict = overfitting_verdict(_records([2.0, 1.5, 1.0, 0.6, 0.3], [2.1, 1.6, 1.3, 1.4, 1.6]))
    assert verdict["status"] == "overfitting"
    assert "since step 30" in verdict["message"] and "rose by 0.3000" in verdict["message"]
    assert overfitting_verdict(_records([2.0, 1.5, 1.0], [2.1, 1.6, 1.2]))["status"] == "improving"
    assert overfitting_verdict(_records([2.0, 1.5, 1.5], [2.1, 1.2, 1.2001]))["status"] == "flat"
    assert overfitting_verdict(_records([2.0], [2.1]))["status"] == "unknown"


def test_metrics_reader_survives_a_cut_line_and_a_resumed_run(tmp_path):
    lines = [{"step": 10, "val_loss": 2.0}, {"step": 20, "val_loss": 1.5}, {"step": 20, "val_loss": 1.4}]
    text = "\n".join(json.dumps(r) for r in lines) + '\n{"step": 30, "val_lo'
    (tmp_path / "metrics.jsonl").write_text(text)
    records, skipped = read_metrics(tmp_path)
    assert [r["step"] for r in records] == [10, 20] and records[1]["val_loss"] == 1.4
    assert skipped == 1


@pytest.fixture(scope="module")
def second_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("second")
    data = folder / "repeat.txt"
    data.write_text(REPETITIVE, encoding="utf-8")
    run = tiny_run_config(steps=40, eval_every=20, lr=0.01)
    run.model.hidden_size = 24
    train_text(prepare_text(str(data)), run, out_dir=folder / "run", command=["test"])
    return folder / "run"


def test_compare_two_runs(trained_run, second_run):
    result = inspect_json(str(trained_run), str(second_run))
    assert result.keys() == {"kind", "a", "b", "differences", "same", "best", "compared_by", "lower_val_loss"}
    assert result["kind"] == "comparison"
    assert result["differences"]["model.hidden_size"] == [32, 24]
    assert result["differences"]["train.steps"] == [150, 40]
    assert "model.cell" in result["same"] and "model.cell" not in result["differences"]
    a, b = result["best"]["a"], result["best"]["b"]
    assert a.keys() == {"run_steps", "best_val_loss", "best_val_bpc", "best_step", "steps", "tokens_seen"}
    assert (a["run_steps"], b["run_steps"]) == (150, 40)
    assert result["compared_by"] == "best_val_bpc"  # bits per character do not depend on the tokenizer
    assert result["lower_val_loss"] == ("a" if a["best_val_bpc"] < b["best_val_bpc"] else "b")
    human = runner.invoke(app, ["inspect", str(trained_run), str(second_run)])
    assert human.exit_code == 0
    assert "settings that differ" in human.stdout and "model.hidden_size" in human.stdout


def test_compare_ranks_only_losses_that_compare():
    from rnncli.tasks.inspection import compare_checkpoints

    def summary(task, tokenizer, loss, bpc):
        return {
            "path": task,
            "task": task,
            "tokenizer": {"kind": tokenizer},
            "history": {"best_val_loss": loss, "best_val_bpc": bpc, "step": 10},
        }

    lm, forecaster = summary("language-model", "char", 1.2, 1.7), summary("forecast", None, 0.3, None)
    assert compare_checkpoints(lm, forecaster)["lower_val_loss"] is None  # nats vs pinball loss
    # a BPE model has the higher loss per token but the lower bits per character: it is the better model
    bpe = summary("language-model", "bpe", 3.0, 1.5)
    result = compare_checkpoints(lm, bpe)
    assert (result["compared_by"], result["lower_val_loss"]) == ("best_val_bpc", "b")


def test_compare_refuses_a_text_file_and_three_paths(trained_run, repetitive_file):
    result = runner.invoke(app, ["inspect", str(trained_run), str(repetitive_file)])
    assert result.exit_code == 2 and "only checkpoints can be compared" in result.stderr
    result = runner.invoke(app, ["inspect", str(trained_run), str(trained_run), str(trained_run)])
    assert result.exit_code == 2 and "got 3" in result.stderr


def test_a_damaged_checkpoint_is_one_line(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    result = runner.invoke(app, ["inspect", str(bad)])
    assert result.exit_code == 2 and "corrupted" in result.stderr
    assert "Traceback" not in result.output


def test_a_checkpoint_file_alone_says_why_there_is_no_curve(trained_run, tmp_path):
    lone = tmp_path / "copy.safetensors"
    shutil.copy(trained_run / "model.safetensors", lone)
    result = runner.invoke(app, ["inspect", str(lone)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "no metrics.jsonl beside this checkpoint" in " ".join(result.stdout.split())


def test_a_truncated_metrics_file_is_named_and_the_shorter_curve_explained(trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    metrics = run / "metrics.jsonl"
    metrics.write_bytes(metrics.read_bytes()[:-20])  # the last record cut mid-line, as by a crash
    summary = inspect_json(str(run))
    assert summary["curve"]["skipped_lines"] == 1 and summary["curve"]["last"]["step"] == 100
    result = runner.invoke(app, ["inspect", str(run)], terminal_width=200)
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())  # rich wraps long rows
    assert "1 unreadable line(s)" in out and "the curve ends at step 100" in out
    assert "the checkpoint is at step 150 but metrics.jsonl stops at step 100" in out


def test_an_empty_metrics_file_is_named_not_called_missing(trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    (run / "metrics.jsonl").write_text("", encoding="utf-8")
    assert inspect_json(str(run))["curve"] is None
    result = runner.invoke(app, ["inspect", str(run)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "metrics.jsonl beside this checkpoint holds no readable evaluation record" in " ".join(result.stdout.split())
