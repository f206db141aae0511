"""The training engine: exact resume, divergence rollback, budgets, schedules, step checkpoints."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from conftest import tiny_run_config
from safetensors.torch import load_file

from rnncli.core.errors import RuntimeFailure, UsageError
from rnncli.core.precision import _cpu_runs_bf16_recurrence
from rnncli.core.resume_state import STATE_FILE, load_train_state
from rnncli.core.settings import parse_duration
from rnncli.tasks.language_model.checkpoint import load_checkpoint
from rnncli.tasks.language_model.config import RunConfig, resolve_resume_settings
from rnncli.tasks.language_model.task import LanguageModelTask
from rnncli.tasks.language_model.training import prepare_text, train_text


def _dropout_run(**train) -> RunConfig:
    run = tiny_run_config(**train)
    run.model.num_layers, run.model.dropout = 2, 0.3  # dropout draws random numbers: RNG restore matters
    return run


def _tensors(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


def _metrics(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def test_resumed_run_is_bit_identical_to_a_straight_run(repetitive_file, tmp_path):
    prepared = prepare_text(str(repetitive_file))
    straight, halves = tmp_path / "straight", tmp_path / "halves"
    train_text(prepared, _dropout_run(steps=40, eval_every=10), out_dir=straight, command=["test"])
    train_text(prepared, _dropout_run(steps=20, eval_every=10), out_dir=halves, command=["test"])
    state = load_train_state(halves / STATE_FILE)
    assert state.meta["step"] == 20
    saved = RunConfig.from_dict({k: state.meta["checkpoint"][k] for k in ("model", "train")})
    run = resolve_resume_settings(saved, {"steps": 40}, None)
    history = train_text(prepared, run, out_dir=halves, command=["test"], resume=state)
    assert history.step == 40
    a, b = _tensors(straight / "last.safetensors"), _tensors(halves / "last.safetensors")
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    sa, sb = _tensors(straight / STATE_FILE), _tensors(halves / STATE_FILE)
    for name in sa:  # optimizer moments, carried state and generators too
        assert torch.equal(sa[name], sb[name]), name
    assert [m["step"] for m in _metrics(halves)] == [10, 20, 30, 40]


def test_same_seed_gives_identical_checkpoints(repetitive_file, tmp_path):
    prepared = prepare_text(str(repetitive_file))
    for name in ("one", "two"):
        train_text(prepared, _dropout_run(steps=20, eval_every=10), out_dir=tmp_path / name, command=["test"])
    for file in ("last.safetensors", "model.safetensors"):
        a, b = _tensors(tmp_path / "one" / file), _tensors(tmp_path / "two" / file)
        assert all(torch.equal(a[k], b[k]) for k in a)
    other = _dropout_run(steps=20, eval_every=10, seed=7)
    train_text(prepared, other, out_dir=tmp_path / "three", command=["test"])
    c = _tensors(tmp_path / "three" / "last.safetensors")
    assert not torch.equal(a["head.weight"], c["head.weight"])


def test_resume_refuses_a_different_model_shape():
    saved = tiny_run_config()
    saved.model.vocab_size = 10
    with pytest.raises(UsageError, match="--hidden-size cannot change when resuming"):
        resolve_resume_settings(saved, {"hidden_size": 64, "steps": 100}, None)
    same = resolve_resume_settings(saved, {"hidden_size": saved.model.hidden_size, "steps": 100}, None)
    assert same.train.steps == 100


def _nan_at(calls: set[int] | int, monkeypatch):
    """Make the task's loss NaN on the given calls (a set) or from call N on (an int)."""
    original = LanguageModelTask.train_loss
    count = {"n": 0}

    def poisoned(self, model, device):
        count["n"] += 1
        loss = original(self, model, device)
        bad = count["n"] in calls if isinstance(calls, set) else count["n"] >= calls
        return loss * float("nan") if bad else loss

    monkeypatch.setattr(LanguageModelTask, "train_loss", poisoned)


def test_nan_rolls_back_halves_the_lr_and_continues(repetitive_file, tmp_path, monkeypatch):
    _nan_at({15}, monkeypatch)
    events = []
    run = tiny_run_config(steps=30, eval_every=10, lr=0.004)
    history = train_text(
        prepare_text(str(repetitive_file)), run, out_dir=tmp_path / "run", command=["test"], on_event=events.append
    )
    assert history.step == 30 and history.rollbacks == 1 and history.lr_scale == 0.5
    rollback = [e for e in events if e.kind == "rollback"]
    assert len(rollback) == 1 and rollback[0].step == 10  # back to the last good state
    assert [m["lr"] for m in _metrics(tmp_path / "run")] == [0.004, 0.002, 0.002]
    for name in ("last.safetensors", "model.safetensors", STATE_FILE):
        assert all(torch.isfinite(t).all() for t in _tensors(tmp_path / "run" / name).values() if t.is_floating_point())
    load_checkpoint(tmp_path / "run")


def test_persistent_nan_stops_with_a_clear_failure(repetitive_file, tmp_path, monkeypatch):
    _nan_at(12, monkeypatch)
    run = tiny_run_config(steps=30, eval_every=10)
    with pytest.raises(RuntimeFailure, match="diverged .* after 3 rollbacks"):
        train_text(prepare_text(str(repetitive_file)), run, out_dir=tmp_path / "run", command=["test"])
    assert load_checkpoint(tmp_path / "run" / "last.safetensors").meta["history"]["step"] == 10


def test_keep_limits_step_checkpoints_but_keeps_the_best(repetitive_file, tmp_path, monkeypatch):
    scores = iter([1.0, 0.5, 0.9, 0.8, 0.7, 0.6])  # the best evaluation is the second

    def scripted(self, model, device):
        return next(scores)

    monkeypatch.setattr(LanguageModelTask, "validation_loss", scripted)
    run = tiny_run_config(steps=60, eval_every=10, keep=2)
    history = train_text(prepare_text(str(repetitive_file)), run, out_dir=tmp_path / "run", command=["test"])
    assert history.best_step == 20
    names = sorted(p.name for p in (tmp_path / "run").glob("step-*.safetensors"))
    assert names == ["step-00000020.safetensors", "step-00000050.safetensors", "step-00000060.safetensors"]


def test_patience_stops_when_validation_stops_improving(repetitive_file, tmp_path, monkeypatch):
    scores = iter([1.0, 0.9, 0.95, 0.97, 0.5, 0.4])
    monkeypatch.setattr(LanguageModelTask, "validation_loss", lambda self, model, device: next(scores))
    run = tiny_run_config(steps=60, eval_every=10, patience=2)
    history = train_text(prepare_text(str(repetitive_file)), run, out_dir=tmp_path / "run", command=["test"])
    assert history.step == 40 and history.stop_reason == "patience" and history.best_step == 20


def test_time_budget_validates_and_saves(repetitive_file, tmp_path):
    run = tiny_run_config(steps=None, eval_every=100000, time="1s")
    history = train_text(prepare_text(str(repetitive_file)), run, out_dir=tmp_path / "run", command=["test"])
    assert history.stop_reason == "time" and history.step > 0
    assert _metrics(tmp_path / "run")[-1]["step"] == history.step
    assert load_train_state(tmp_path / "run" / STATE_FILE).meta["step"] == history.step


@pytest.mark.parametrize("text, seconds", [("90", 90), ("90s", 90), ("10m", 600), ("1h30m", 5400), ("1.5h", 5400)])
def test_durations(text, seconds):
    assert parse_duration(text, "--time") == seconds


@pytest.mark.parametrize("text", ["soon", "10 minutes", "0s", "-5m"])
def test_bad_durations_name_the_option(text):
    with pytest.raises(UsageError, match="--time"):
        parse_duration(text, "--time")


def test_cosine_schedule_warms_up_and_decays(repetitive_file, tmp_path):
    run = tiny_run_config(steps=40, eval_every=10, lr=0.01, lr_schedule="cosine", warmup=20)
    train_text(prepare_text(str(repetitive_file)), run, out_dir=tmp_path / "run", command=["test"])
    lrs = [m["lr"] for m in _metrics(tmp_path / "run")]
    assert lrs[0] == pytest.approx(0.01 * 10 / 20)  # step 10 of a 20-step warm-up
    assert lrs[1] == pytest.approx(0.01)  # warm-up done
    assert lrs[1] > lrs[2] > lrs[3] >= 0.001  # cosine decay towards 0.1 x lr
    assert lrs[3] == pytest.approx(0.001 + 0.009 * 0.5 * (1 + math.cos(math.pi * 19 / 20)))


def test_bf16_on_cpu_trains_and_saves_float32(repetitive_file, tmp_path):
    run = tiny_run_config(steps=20, eval_every=10, precision="bf16")
    if not _cpu_runs_bf16_recurrence():  # no AVX-512 bf16: the one clear refusal instead
        with pytest.raises(UsageError, match="cannot run PyTorch's recurrent layers in bfloat16"):
            train_text(prepare_text(str(repetitive_file)), run, out_dir=tmp_path / "run", command=["test"])
        return
    history = train_text(prepare_text(str(repetitive_file)), run, out_dir=tmp_path / "run", command=["test"])
    assert math.isfinite(history.best_val_loss)
    assert all(t.dtype == torch.float32 for t in _tensors(tmp_path / "run" / "model.safetensors").values())


def test_fp16_on_cpu_is_refused(repetitive_file, tmp_path):
    with pytest.raises(UsageError, match="fp16 needs a CUDA device"):
        train_text(
            prepare_text(str(repetitive_file)),
            tiny_run_config(precision="fp16"),
            out_dir=tmp_path / "run",
            command=["test"],
        )


def test_tensorboard_without_the_package_names_it(repetitive_file, tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "torch.utils.tensorboard", None)  # as if not installed
    with pytest.raises(UsageError, match="pip install tensorboard"):
        train_text(
            prepare_text(str(repetitive_file)),
            tiny_run_config(tensorboard=True),
            out_dir=tmp_path / "run",
            command=["test"],
        )


def test_tensorboard_writes_events_where_installed(repetitive_file, tmp_path):
    pytest.importorskip("tensorboard")
    run = tiny_run_config(steps=10, eval_every=5, tensorboard=True)
    train_text(prepare_text(str(repetitive_file)), run, out_dir=tmp_path / "run", command=["test"])
    assert list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
