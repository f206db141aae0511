"""The trainer's choice of the best checkpoint by a task's own metric (core/task.py's ``validation_metric``)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import tiny_run_config

from rnncli.core.checkpoint import read_meta
from rnncli.core.history import History
from rnncli.core.task import Metric
from rnncli.tasks.language_model.task import LanguageModelTask
from rnncli.tasks.language_model.training import prepare_text, train_text
from rnncli.tasks.training_curve import training_curve


def _script(monkeypatch, losses: list[float], metrics: list[float]) -> None:
    """The language model's validation, scripted: these losses and, beside them, these metric values."""
    loss_values, metric_values = iter(losses), iter(metrics)
    monkeypatch.setattr(LanguageModelTask, "validation_loss", lambda self, model, device: next(loss_values))
    monkeypatch.setattr(
        LanguageModelTask, "validation_metric", lambda self, model, device: Metric("score", next(metric_values))
    )


def _records(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def test_the_best_checkpoint_follows_the_metric_where_it_and_the_loss_disagree(repetitive_file, tmp_path, monkeypatch):
    _script(monkeypatch, [1.0, 0.9, 0.8, 0.7, 0.6], [0.5, 0.9, 0.7, 0.8, 0.6])  # lowest loss at 50, best metric at 20
    run = tiny_run_config(steps=50, eval_every=10, keep=1)
    history = train_text(prepare_text(str(repetitive_file)), run, out_dir=tmp_path / "run", command=["test"])
    assert (history.best_step, history.best_metric, history.best_val_loss) == (20, 0.9, 0.9)
    saved = read_meta(tmp_path / "run" / "model.safetensors")["history"]
    assert saved["step"] == 20 and saved["metric_name"] == "score"  # the weights of step 20, not of step 50
    assert (tmp_path / "run" / "step-00000020.safetensors").is_file()  # --keep 1 still keeps the best
    records = _records(tmp_path / "run")
    assert [r["val_metric"] for r in records] == [0.5, 0.9, 0.7, 0.8, 0.6]
    assert {(r["metric_name"], r["metric_goal"], r["best_by"]) for r in records} == {("score", "max", "metric")}
    assert training_curve(tmp_path / "run")["best"]["step"] == 20


def test_patience_counts_evaluations_without_a_better_metric(repetitive_file, tmp_path, monkeypatch):
    _script(monkeypatch, [1.0, 0.9, 0.8, 0.7, 0.6, 0.5], [0.5, 0.9, 0.7, 0.8, 0.95, 0.99])
    run = tiny_run_config(steps=60, eval_every=10, patience=2)
    history = train_text(prepare_text(str(repetitive_file)), run, out_dir=tmp_path / "run", command=["test"])
    assert history.step == 40 and history.stop_reason == "patience" and history.best_step == 20


def test_equal_metrics_go_to_the_lower_loss_and_a_worse_one_never_wins():
    history = History(step=10)
    assert history.record_metric(Metric("F1", 1.0), 0.5, None)
    history.step = 20
    assert history.record_metric(Metric("F1", 1.0), 0.3, None) and history.best_step == 20  # a tie: lower loss
    history.step = 30
    assert not history.record_metric(Metric("F1", 1.0), 0.4, None)
    assert not history.record_metric(Metric("F1", 0.9), 0.1, None) and history.evals_since_best == 2
    lower = History(step=10)
    assert lower.record_metric(Metric("error", 0.2, higher_is_better=False), 1.0, None)
    lower.step = 20
    assert lower.record_metric(Metric("error", 0.1, higher_is_better=False), 2.0, None) and lower.best_step == 20


def test_a_history_from_before_the_metric_reads_and_switches_to_the_metric_when_resumed():
    old = {"step": 40, "best_val_loss": 0.7, "best_val_bpc": None, "best_step": 30, "evals_since_best": 1}
    history = History.from_dict(old)
    assert (history.metric_name, history.best_metric, history.best_step) == (None, None, 30)
    history.step = 50
    assert history.record_metric(Metric("macro F1", 0.6), 0.9, None)  # the first metric starts the best afresh
    assert (history.best_step, history.best_metric, history.best_val_loss) == (50, 0.6, 0.9)


def test_a_non_finite_metric_falls_back_to_the_loss(repetitive_file, tmp_path, monkeypatch):
    _script(monkeypatch, [1.0, 0.5], [float("nan"), float("nan")])
    history = train_text(
        prepare_text(str(repetitive_file)), tiny_run_config(steps=20, eval_every=10), out_dir=tmp_path / "r",
        command=["test"],
    )  # fmt: skip
    assert history.best_step == 20 and history.metric_name is None
    assert [r["val_metric"] for r in _records(tmp_path / "r")] == [None, None]  # JSON null, not NaN


def test_best_by_loss_keeps_the_lowest_loss_and_still_records_the_metric(repetitive_file, tmp_path, monkeypatch):
    _script(monkeypatch, [1.0, 0.9, 0.8, 0.7, 0.6], [0.5, 0.9, 0.7, 0.8, 0.6])
    run = tiny_run_config(steps=50, eval_every=10, best_by="loss")
    history = train_text(prepare_text(str(repetitive_file)), run, out_dir=tmp_path / "run", command=["test"])
    assert history.best_step == 50 and history.metric_name is None
    assert read_meta(tmp_path / "run" / "model.safetensors")["history"]["step"] == 50
    assert [r["val_metric"] for r in _records(tmp_path / "run")] == [0.5, 0.9, 0.7, 0.8, 0.6]
    assert training_curve(tmp_path / "run")["best"]["step"] == 50


def test_an_unknown_best_by_is_refused_in_one_line(repetitive_file, tmp_path):
    from typer.testing import CliRunner

    from rnncli.cli import app

    result = CliRunner().invoke(app, ["train", str(repetitive_file), "--out", str(tmp_path / "r"), "--best-by", "f1"])
    assert result.exit_code == 2 and "--best-by: unknown value 'f1' (choose one of: metric, loss)" in result.stderr
