"""A run folder is one consistent state, whoever writes and whenever a process dies.

One writer at a time (a lock naming the holder), a save that is one
transaction (tested the way it failed: the process is killed at each rename
of a save), --force that replaces the old run only at its own first save,
file modes that follow the umask, and resume that checks its data before
tokenising it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import REPETITIVE
from safetensors.torch import load_file

from rnncli.core.checkpoint import read_meta, resolve_checkpoint_path
from rnncli.core.resume_state import STATE_FILE, read_state_meta
from rnncli.core.run_journal import current
from rnncli.tasks.training_curve import read_metrics

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
SMALL = ["--hidden-size", "16", "--num-layers", "1", "--embed-size", "8", "--seq-len", "16", "--batch-size", "4"]
SMALL += ["--device", "cpu", "--seed", "3"]

# Runs rnn with os.replace wrapped: the Nth rename whose target lies in the run folder kills the process
# (SIGKILL, as a power cut would), before that rename happens. With N = 0 nothing is killed and the number
# of renames is printed on stderr's last line.
KILLER = """
import atexit, os, signal, sys
from rnncli.cli import main
folder, n = os.path.realpath(sys.argv[1]), int(sys.argv[2])
real, seen = os.replace, [0]
def replace(src, dst, *args, **kwargs):
    if os.path.dirname(os.path.realpath(dst)) == folder:
        seen[0] += 1
        if seen[0] == n:
            os.kill(os.getpid(), signal.SIGKILL)
    return real(src, dst, *args, **kwargs)
os.replace = replace
atexit.register(lambda: print(f"renames {seen[0]}", file=sys.stderr))
sys.argv = ["rnn", *sys.argv[3:]]
main()
"""


def rnn(*args: str, env: dict[str, str] = ENV) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rnncli", *args], capture_output=True, text=True, env=env)


def killed_at(rename: int, out: Path, *args: str) -> subprocess.CompletedProcess:
    """``rnn *args`` killed just before its ``rename``-th rename inside ``out``."""
    command = [sys.executable, "-c", KILLER, str(out), str(rename), *args]
    return subprocess.run(command, capture_output=True, text=True, env=ENV)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text(REPETITIVE, encoding="utf-8")
    return path


def train_args(corpus: Path, out: Path, steps: int, *extra: str) -> list[str]:
    return ["train", str(corpus), "--out", str(out), *SMALL, "--steps", str(steps), "--eval-every", "2", *extra]


def folder_state(out: Path) -> dict[str, int | None]:
    """The step each reader sees: the best checkpoint, the latest, the resume state, the metrics' last line."""
    latest = current(out, "last.safetensors")
    state = current(out, STATE_FILE)
    records, _ = read_metrics(out)
    return {
        "best": read_meta(resolve_checkpoint_path(out))["history"]["best_step"],
        "last": read_meta(latest)["history"]["step"] if latest and latest.is_file() else None,
        "state": read_state_meta(state)["step"] if state and state.is_file() else None,
        "state_best": read_state_meta(state)["history"]["best_step"] if state and state.is_file() else None,
        "metrics": records[-1]["step"] if records else None,
    }


def renames_in_a_run(corpus: Path, tmp_path: Path) -> int:
    """How many renames into the run folder a 4-step run makes."""
    out = tmp_path / "count"
    counted = killed_at(0, out, *train_args(corpus, out, 4))
    assert counted.returncode == 0, counted.stderr
    return int(counted.stderr.strip().splitlines()[-1].split()[-1])


def check_killed_run_agrees_and_resumes(rename: int, corpus: Path, tmp_path: Path, reference: dict) -> None:
    out = tmp_path / f"killed-{rename}"
    killed = killed_at(rename, out, *train_args(corpus, out, 4))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    if current(out, STATE_FILE) is None or not current(out, STATE_FILE).is_file():
        return  # killed before the first save committed: nothing to agree on or resume
    seen = folder_state(out)
    assert seen["last"] == seen["state"] == seen["metrics"], (rename, seen)
    assert seen["best"] == seen["state_best"], (rename, seen)
    assert rnn("sample", str(out), "--length", "20", "--seed", "1").returncode == 0
    inspected = rnn("inspect", str(out), "--json")
    assert inspected.returncode == 0, inspected.stderr
    assert json.loads(inspected.stdout)["history"]["step"] in (seen["best"], seen["last"])
    resumed = rnn("train", "--resume", str(out), "--steps", "6", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert [r["step"] for r in read_metrics(out)[0]] == [2, 4, 6]  # no record lost, none twice
    weights = load_file(str(out / "last.safetensors"))
    assert all(torch.equal(weights[k], v) for k, v in reference.items()), f"resume after kill at rename {rename}"
    assert not [p.name for p in out.iterdir() if p.name.startswith((".txn.", ".journal"))]


@pytest.fixture
def reference(corpus, tmp_path) -> dict:
    out = tmp_path / "reference"
    done = rnn(*train_args(corpus, out, 6, "--quiet"))
    assert done.returncode == 0, done.stderr
    return load_file(str(out / "last.safetensors"))


def test_a_save_killed_after_its_commit_leaves_a_run_that_agrees_and_resumes_exactly(corpus, tmp_path, reference):
    """Killed between the second save's journal and its last rename: readers follow the journal, resume
    finishes it. (The kill at the commit itself is the forced-run test below; every rename is the slow test.)"""
    total = renames_in_a_run(corpus, tmp_path)
    assert total == 1 + 2 * 5  # config.yaml, then per save: the journal and last, state, model, metrics
    check_killed_run_agrees_and_resumes(total - 1, corpus, tmp_path, reference)


@pytest.mark.slow
def test_a_save_killed_at_every_rename_leaves_a_run_that_agrees_and_resumes_exactly(corpus, tmp_path, reference):
    for rename in range(1, renames_in_a_run(corpus, tmp_path) + 1):
        check_killed_run_agrees_and_resumes(rename, corpus, tmp_path, reference)


def test_a_second_writer_is_refused_with_the_holders_pid_and_the_lock_dies_with_its_process(corpus, tmp_path):
    out = tmp_path / "run"
    args = [*train_args(corpus, out, 1_000_000), "--eval-every", "1"]
    first = subprocess.Popen(
        [sys.executable, "-m", "rnncli", *args], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=ENV
    )
    try:
        for line in first.stderr:
            if line.startswith("step "):
                break
        second = rnn(*train_args(corpus, out, 10, "--force"))
        assert second.returncode == 2, second.stderr
        assert f"another rnn process (PID {first.pid}) is writing this run" in second.stderr
        resumed = rnn("train", "--resume", str(out), "--steps", "2000000")
        assert resumed.returncode == 2 and f"PID {first.pid}" in resumed.stderr
        sampled = rnn("sample", str(out), "--length", "10")  # readers take no lock
        assert sampled.returncode == 0, sampled.stderr
    finally:
        first.kill()
        first.wait(timeout=60)
        first.stderr.close()
    after = rnn("train", "--resume", str(out), "--steps", str(folder_state(out)["state"] + 2), "--quiet")
    assert after.returncode == 0, after.stderr
    assert not (out / ".lock").exists()


def test_force_starts_a_fresh_run_whose_record_holds_no_step_of_the_old_one(corpus, tmp_path):
    out = tmp_path / "run"
    assert rnn(*train_args(corpus, out, 6, "--keep", "3", "--quiet")).returncode == 0
    again = rnn(*train_args(corpus, out, 4, "--force", "--quiet", "--hidden-size", "12"))
    assert again.returncode == 0, again.stderr
    assert [r["step"] for r in read_metrics(out)[0]] == [2, 4]
    assert sorted(p.name for p in out.glob("step-*")) == []  # the old run's step files went with it
    inspected = json.loads(rnn("inspect", str(out), "--json").stdout)
    assert inspected["history"]["step"] == 4 and inspected["model"]["hidden_size"] == 12


def test_a_forced_run_that_dies_before_its_first_save_leaves_the_old_run_whole(corpus, tmp_path):
    out = tmp_path / "run"
    assert rnn(*train_args(corpus, out, 4, "--quiet")).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    killed = killed_at(1, out, *train_args(corpus, out, 4, "--force", "--hidden-size", "12"))  # at its commit
    assert killed.returncode == -signal.SIGKILL
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and not p.name.startswith(".")}
    assert after == before
    assert rnn("sample", str(out), "--length", "10").returncode == 0


def test_run_files_follow_the_umask(corpus, tmp_path):
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "rnncli", *train_args(corpus, out, 2, "--quiet")],
        capture_output=True,
        text=True,
        env=ENV,
        preexec_fn=lambda: os.umask(0o022),
    )
    assert done.returncode == 0, done.stderr
    for name in ("model.safetensors", "last.safetensors", STATE_FILE, "metrics.jsonl", "config.yaml"):
        assert (out / name).stat().st_mode & 0o777 == 0o644, name


def test_resume_refuses_other_data_before_tokenising_it(corpus, tmp_path):
    out = tmp_path / "run"
    assert rnn(*train_args(corpus, out, 2, "--quiet")).returncode == 0
    other = tmp_path / "other.txt"
    other.write_text("entirely different text, " * 50, encoding="utf-8")
    cache = tmp_path / "cache"
    refused = rnn("train", str(other), "--resume", str(out), "--steps", "4", env={**ENV, "RNN_CACHE_DIR": str(cache)})
    assert refused.returncode == 2 and "not the text this run was trained on" in refused.stderr
    assert not any(p.is_file() for p in cache.rglob("*")), "the other file was tokenised into the cache"
