"""`rnn train` as a user drives it: config files, resume, signals, kill -9 and several processes."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from conftest import REPETITIVE
from safetensors.torch import load_file
from typer.testing import CliRunner

from rnncli.cli import app
from rnncli.core.resume_state import STATE_FILE, load_train_state
from rnncli.core.run_journal import current
from rnncli.tasks.language_model.checkpoint import load_checkpoint

runner = CliRunner()
SMALL = [
    "--hidden-size",
    "32",
    "--num-layers",
    "1",
    "--embed-size",
    "16",
    "--seq-len",
    "32",
    "--batch-size",
    "8",
    "--device",
    "cpu",
]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text(REPETITIVE, encoding="utf-8")
    return path


def test_flags_override_the_config_file_which_overrides_defaults(corpus, tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text(
        "hidden_size: 24\nsteps: 10\neval-every: 5\nlr_schedule: cosine\npatience: 3\n"
        "time: 600\nkeep: 1\nnum_layers: 1\nembed_size: 16\nseq_len: 32\nbatch_size: 8\n"
        "device: cpu\n"
    )
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", str(corpus), "--config", str(config), "--steps", "12", "--out", str(out)])
    assert result.exit_code == 0, result.output
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["model"]["hidden_size"] == 24  # from the file
    assert saved["train"]["steps"] == 12  # the flag wins
    assert saved["train"]["lr"] == 0.002  # the default
    assert (saved["train"]["lr_schedule"], saved["train"]["patience"], saved["train"]["time"]) == ("cosine", 3, "600")
    assert "hidden_size: 24" in result.stderr and "steps: 12" in result.stderr  # echoed on stderr
    meta = load_checkpoint(out).meta
    assert meta["train"]["steps"] == 12 and meta["model"]["hidden_size"] == 24


@pytest.mark.parametrize(
    "text, message",
    [
        ("hiden_size: 24\n", "unknown key 'hiden_size'"),
        ("hidden_size: big\n", "key 'hidden_size' must be a whole number"),
        ("precision: fp8\n", "key 'precision': unknown value 'fp8'"),
        ("time: soon\n", "key 'time': cannot read 'soon'"),
        ("hidden_size: -4\n", "key 'hidden_size': must be a whole number from 1 to 65536, got -4"),
        ("tokenizer: bpe\nvocab_size: 12\n", "key 'vocab_size': must be a whole number from 257"),
        ("tensorboard: maybe\n", "key 'tensorboard' must be true or false"),
    ],
)
def test_config_file_errors_name_the_key_and_file(text, message, corpus, tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    result = runner.invoke(app, ["train", str(corpus), "--config", str(config), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2, result.output
    assert f"{config}: " in result.stderr and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_bad_flag_is_blamed_on_the_flag_even_with_a_config_file(corpus, tmp_path):
    config = tmp_path / "ok.yaml"
    config.write_text("hidden_size: 8\n")
    result = runner.invoke(app, ["train", str(corpus), "--config", str(config), "--hidden-size", "-5"])
    assert result.exit_code == 2 and "rnn: error: --hidden-size must be a whole number" in result.stderr


def test_cli_resume_extends_the_budget_and_refuses_changes(corpus, tmp_path):
    out = tmp_path / "run"
    first = runner.invoke(
        app, ["train", str(corpus), "--out", str(out), *SMALL, "--steps", "10", "--eval-every", "5", "--quiet"]
    )
    assert first.exit_code == 0, first.output
    done = runner.invoke(app, ["train", "--resume", str(out), "--quiet"])
    assert done.exit_code == 2 and "already trained 10 steps" in done.stderr
    changed = runner.invoke(app, ["train", "--resume", str(out), "--hidden-size", "64", "--steps", "20"])
    assert changed.exit_code == 2 and "--hidden-size cannot change when resuming" in changed.stderr
    other = tmp_path / "other.txt"
    other.write_text(REPETITIVE.upper())
    wrong = runner.invoke(app, ["train", str(other), "--resume", str(out), "--steps", "20"])
    assert wrong.exit_code == 2 and "not the text this run was trained on" in wrong.stderr
    more = runner.invoke(app, ["train", "--resume", str(out), "--steps", "20", "--quiet"])
    assert more.exit_code == 0, more.output
    assert load_checkpoint(out / "last.safetensors").meta["history"]["step"] == 20
    missing = runner.invoke(app, ["train", "--resume", str(tmp_path)])
    assert missing.exit_code == 2 and STATE_FILE in missing.stderr


def _start_training(corpus: Path, out: Path, *extra: str) -> subprocess.Popen:
    args = [
        sys.executable,
        "-m",
        "rnncli",
        "train",
        str(corpus),
        "--out",
        str(out),
        *SMALL,
        "--steps",
        "1000000",
        "--eval-every",
        "5",
        *extra,
    ]
    return subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=ENV)


def _wait_for_steps(proc: subprocess.Popen) -> None:
    """Block until the run has logged an evaluation (so it is in the training loop)."""
    for line in proc.stderr:
        if line.startswith("step "):
            return
    raise AssertionError(f"training never started (exit {proc.wait()})")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_saves_state_prints_resume_command_and_exits_130(signum, corpus, tmp_path):
    out = tmp_path / "run"
    proc = _start_training(corpus, out)
    _wait_for_steps(proc)
    os.kill(proc.pid, signum)
    rest = proc.stderr.read()
    assert proc.wait(timeout=60) == 130, rest
    assert f"resume with: rnn train --resume {out}" in rest
    step = load_train_state(out / STATE_FILE).meta["step"]
    assert step >= 5
    assert load_checkpoint(out / "last.safetensors").meta["history"]["step"] == step
    resumed = runner.invoke(app, ["train", "--resume", str(out), "--steps", str(step + 3), "--quiet"])
    assert resumed.exit_code == 0, resumed.output


def test_kill_9_at_any_moment_leaves_a_loadable_checkpoint(corpus, tmp_path):
    """A run that saves after every step is killed at random moments; every time, it resumes."""
    out = tmp_path / "run"
    rng = random.Random(0)
    steps_seen = []
    for attempt in range(3):
        extra = ["--eval-every", "1"]
        if attempt == 0:
            proc = _start_training(corpus, out, *extra)
        else:
            proc = subprocess.Popen(
                [sys.executable, "-m", "rnncli", "train", "--resume", str(out), "--steps", "1000000", *extra],
                stderr=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                text=True,
                env=ENV,
            )
        _wait_for_steps(proc)
        time.sleep(rng.uniform(0.05, 0.6))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        proc.stderr.close()
        state = load_train_state(current(out, STATE_FILE))  # raises if torn; follows an unfinished save
        last = load_checkpoint(current(out, "last.safetensors"))
        weights = load_file(str(current(out, "last.safetensors")))
        step = state.meta["step"]
        assert last.meta["history"]["step"] == step  # a save is one transaction: the two always agree
        assert all(torch.equal(state.tensors[f"model.{k}"], v) for k, v in weights.items())
        steps_seen.append(step)
    assert steps_seen == sorted(steps_seen) and steps_seen[-1] > steps_seen[0]


# two torchrun launches of two processes each: about 16 s on 2 cores, worth it in every run
def test_two_processes_train_like_one_and_resume(corpus, tmp_path):
    """torchrun with 2 CPU processes (gloo): the same streams, averaged gradients, one writer."""

    def launch(*args: str) -> subprocess.CompletedProcess:
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node",
            "2",
            "-m",
            "rnncli",
            "train",
            *args,
        ]
        return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=300)

    ddp, single = tmp_path / "ddp", tmp_path / "single"
    proc = launch(str(corpus), "--out", str(ddp), *SMALL, "--steps", "10", "--eval-every", "5")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("config:") == 1  # only rank 0 talks
    lines = (ddp / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [5, 10]
    result = runner.invoke(
        app, ["train", str(corpus), "--out", str(single), *SMALL, "--steps", "10", "--eval-every", "5", "--quiet"]
    )
    assert result.exit_code == 0
    a, b = load_file(str(ddp / "last.safetensors")), load_file(str(single / "last.safetensors"))
    for name in a:  # the same maths, summed in a different order
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-5)
    assert json.loads(lines[-1])["tokens_seen"] == 10 * 8 * 32
    proc = launch("--resume", str(ddp), "--steps", "15")
    assert proc.returncode == 0, proc.stderr
    assert load_checkpoint(ddp / "last.safetensors").meta["history"]["step"] == 15
