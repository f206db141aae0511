"""Output that cannot be trusted as text, and the process edges: what a user sees from hostile checkpoints and streams.

Forecast CSVs neutralise formula-like ids, ``inspect`` escapes control characters from a checkpoint, a
tiny temperature is greedy (no U+FFFD), a closed stdin, a full disk on stdout and SIGTERM while starting
are one line each, and a run's own config.yaml is a valid ``--config`` for the same task.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPETITIVE
from hostile_inputs import make_forecaster, rewrite

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "NO_COLOR": "1"}
ENV.pop("RNN_DEBUG", None)


def rnn(*args: str, **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run(
        [sys.executable, "-m", "rnncli", *args], capture_output=True, text=True, env=ENV, timeout=300, **kwargs
    )


def _one_line(result: subprocess.CompletedProcess, code: int, *needles: str) -> None:
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnn: error: "), result.stderr
    assert "internal error" not in lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture(scope="module")
def forecaster(tmp_path_factory) -> Path:
    return make_forecaster(tmp_path_factory.mktemp("forecaster"))


def test_forecast_csv_neutralises_formula_ids(forecaster, tmp_path):
    doctored = tmp_path / "formula.safetensors"
    rewrite(forecaster / "model.safetensors", doctored, edit=lambda m: m["series"]["ids"].__setitem__(0, "=1+2"))
    result = rnn("forecast", "--model", str(doctored))
    assert result.returncode == 0, result.stderr
    rows = result.stdout.splitlines()[1:]
    assert rows and all(not row.startswith(("=", "+", "-", "@")) for row in rows)
    assert any(row.startswith("'=1+2,") for row in rows)


def test_inspect_escapes_control_characters_from_a_checkpoint(trained_run, tmp_path):
    doctored = tmp_path / "escapes.safetensors"
    rewrite(trained_run / "model.safetensors", doctored, edit=lambda m: m["data"].update(source="\x1b[2Jevil\x07"))
    result = rnn("inspect", str(doctored))
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "\\x1b[2Jevil\\x07" in result.stdout


def test_a_tiny_temperature_is_greedy(trained_run):
    tiny = rnn("sample", str(trained_run), "--temp", "1e-40", "--length", "40", "--seed", "1")
    greedy = rnn("sample", str(trained_run), "--greedy", "--length", "40")
    assert tiny.returncode == 0, tiny.stderr
    assert "\ufffd" not in tiny.stdout
    assert tiny.stdout == greedy.stdout


def test_closed_stdin_is_one_line(trained_run):
    result = subprocess.run(
        [sys.executable, "-m", "rnncli", "sample", str(trained_run), "--prime-file", "-"],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
        preexec_fn=lambda: os.close(0),
    )
    _one_line(result, 2, "--prime-file -", "standard input is closed")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_on_stdout_is_one_line(trained_run):
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "rnncli", "sample", str(trained_run), "--length", "20"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
            timeout=300,
        )
    _one_line(result, 1, "cannot write the output")


def test_sigterm_while_starting_says_so():
    code = "import os, signal, rnncli.cli; os.kill(os.getpid(), signal.SIGTERM)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=300)
    _one_line(result, 143, "terminated (SIGTERM) while starting")


def test_the_sigterm_handler_comes_before_any_import_but_pythons_own():
    """SIGTERM is explained from the first module of rnncli on; before it only Python starts (documented).

    ``-X importtime`` lists each module as its import finishes, so nothing listed before
    ``rnncli.cli.startup`` (whose import is followed at once by installing the handler) may be a library.
    """
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "rnncli", "--version"],
        capture_output=True, text=True, env=ENV, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    names = [line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")]
    before = names[: names.index("rnncli.cli.startup")]
    libraries = ("torch", "numpy", "typer", "rich", "click", "yaml", "pydantic", "safetensors")
    assert not [name for name in before if name.split(".")[0] in libraries], before
    assert [name for name in before if name.startswith("rnncli")] == ["rnncli"]  # the package's __init__ only


@pytest.mark.slow  # two short trainings
def test_a_runs_own_config_yaml_is_a_valid_config(trained_run, forecaster, tmp_path):
    data = tmp_path / "corpus.txt"
    data.write_text(REPETITIVE)
    lm = rnn("train", str(data), "--config", str(trained_run / "config.yaml"), "--steps", "2", "--quiet")
    assert lm.returncode == 0, lm.stderr
    fc_args = ["train", str(forecaster.parent / "series.csv"), "--config", str(forecaster / "config.yaml")]
    fc = rnn(*fc_args, "--steps", "2", "--out", str(tmp_path / "fc"), "--quiet")
    assert fc.returncode == 0, fc.stderr
