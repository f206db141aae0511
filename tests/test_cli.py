"""The command line end to end: in process with CliRunner, and as a real subprocess for pipes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPETITIVE
from typer.testing import CliRunner

from rnncli.cli import app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
TINY = [
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
    "--steps",
    "40",
    "--eval-every",
    "20",
    "--device",
    "cpu",
    "--quiet",
]


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text(REPETITIVE, encoding="utf-8")
    return path


def test_train_sample_eval_inspect(corpus, tmp_path):
    out = tmp_path / "run"
    result = invoke("train", str(corpus), "--out", str(out), *TINY)
    assert result.exit_code == 0, result.output
    assert (out / "model.safetensors").is_file()

    first = invoke("sample", str(out), "--length", "60", "--seed", "7", "--prime", "the ")
    second = invoke("sample", str(out), "--length", "60", "--seed", "7", "--prime", "the ")
    assert first.exit_code == 0 and first.stdout == second.stdout
    assert len(first.stdout) == 61  # 60 characters and a final newline

    result = invoke("eval", str(out), str(corpus), "--json")
    report = json.loads(result.stdout)
    assert {"loss", "perplexity", "bpc"} <= report.keys()
    assert report["perplexity"] == pytest.approx(2.718281828 ** report["loss"], rel=1e-6)

    result = invoke("inspect", str(out), "--json")
    summary = json.loads(result.stdout)
    assert summary["model"]["cell"] == "lstm"
    assert summary["total_parameters"] == sum(summary["parameters"].values())
    assert summary["history"]["step"] == 40

    human = invoke("inspect", str(out))
    assert "parameters" in human.stdout and "lstm" in human.stdout


def test_default_out_never_overwrites_an_earlier_run(corpus, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert invoke("train", str(corpus), *TINY).exit_code == 0
    result = runner.invoke(app, ["train", str(corpus), *TINY[:-1]])
    assert result.exit_code == 0
    assert (tmp_path / "runs" / "corpus-2" / "model.safetensors").is_file()
    refused = runner.invoke(app, ["train", str(corpus), "--out", "runs/corpus", *TINY])
    assert refused.exit_code == 2
    assert "--force" in refused.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "missing.txt"], "missing.txt: no such file"),
        (["train", "emptydir"], "the folder holds no text files"),
        (["train", "empty.txt"], "empty or only whitespace"),
        (["train", "corpus.txt", "--hidden-size", "-3"], "--hidden-size must be"),
        (["train", "corpus.txt", "--cell", "tree"], "choose one of: lstm, gru, rnn, rnn-relu"),
        (["train", "corpus.txt", "--steps", "3", "--epochs", "1"], "not both"),
        (["sample", "corpus.txt"], "not a safetensors checkpoint"),
        (["sample", "nowhere"], "no such checkpoint"),
        (["eval", "nowhere", "corpus.txt"], "no such checkpoint"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, corpus, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty.txt").write_text("  \n")
    (tmp_path / "emptydir").mkdir()
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_out_of_range_sampling_options(trained_run):
    result = runner.invoke(app, ["sample", str(trained_run), "--temp", "-1"])
    assert result.exit_code == 2 and "--temp" in result.stderr
    result = runner.invoke(app, ["sample", str(trained_run), "--prime", "XYZ"])
    assert result.exit_code == 2 and "'X'" in result.stderr


def _rnn(*args: str, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "rnncli", *args], capture_output=True, text=True, env=env, **kwargs)


def test_closed_pipe_ends_quietly_with_exit_0(trained_run):
    script = f"{sys.executable} -m rnncli sample {trained_run} --length 20000 | head -c 1"
    proc = subprocess.run(
        ["bash", "-o", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert len(proc.stdout) == 1


@pytest.mark.parametrize("what", ["run", "text", "csv"])
def test_inspect_into_a_closed_pipe_ends_quietly_with_exit_0(what, trained_run):
    path = {
        "run": trained_run,
        "text": ROOT / "sample_data" / "tinyworld.txt",
        "csv": ROOT / "sample_data" / "monthly.csv",
    }[what]
    # `true` exits at once, so the very first write meets a closed pipe (rich's own answer is exit 1)
    script = f"{sys.executable} -m rnncli inspect {path} | true"
    proc = subprocess.run(
        ["bash", "-o", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def test_subprocess_errors_have_no_traceback_unless_debug(tmp_path):
    proc = _rnn("train", str(tmp_path / "absent.txt"))
    assert proc.returncode == 2
    assert proc.stderr.startswith("rnn: error:") and "Traceback" not in proc.stderr
    proc = _rnn("--debug", "train", str(tmp_path / "absent.txt"))
    assert "Traceback" in proc.stderr


def test_stdin_training(tmp_path):
    out = tmp_path / "fromstdin"
    proc = _rnn("train", "-", "--out", str(out), *TINY, input=REPETITIVE)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(_rnn("inspect", str(out), "--json").stdout)["data"]["source"] == "-"
