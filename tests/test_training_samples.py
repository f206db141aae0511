"""`rnn train --sample-every N`: the model's text on stderr while it learns, as char-rnn and nanoGPT show it."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import REPETITIVE
from typer.testing import CliRunner

from rnncli.cli import app

runner = CliRunner()
SMALL = ["--hidden-size", "32", "--num-layers", "1", "--embed-size", "16", "--seq-len", "32", "--batch-size", "8"]
SMALL += ["--device", "cpu", "--lr", "0.01", "--steps", "60", "--eval-every", "10"]


def train(data: Path, out: Path, *args: str):
    result = runner.invoke(app, ["train", str(data), *SMALL, "--out", str(out), *args])
    assert result.exit_code == 0, result.output
    return result


def test_samples_every_n_validations_on_stderr_and_training_unchanged(tmp_path):
    data = tmp_path / "text.txt"
    data.write_text(REPETITIVE, encoding="utf-8")
    shown = train(data, tmp_path / "shown", "--sample-every", "3")
    assert shown.stdout == ""
    headers = [line for line in shown.stderr.splitlines() if line.startswith("sample at step")]
    assert headers == ["sample at step 30:", "sample at step 60:"]  # the 3rd and 6th of 6 validations
    last = shown.stderr.split("sample at step 60:\n")[1]
    assert "the lazy dog" in last  # by then the model writes its text
    plain = train(data, tmp_path / "plain")
    assert "sample at step" not in plain.stderr
    # sampling draws from its own generator: the run trains exactly as one without samples
    curves = [(tmp_path / run / "metrics.jsonl").read_text().splitlines() for run in ("shown", "plain")]
    losses = [[json.loads(line)["val_loss"] for line in curve] for curve in curves]
    assert losses[0] == losses[1]
    quiet = train(data, tmp_path / "quiet", "--sample-every", "1", "--quiet")
    assert quiet.stderr == ""


def test_sample_every_is_checked_and_refused_where_it_does_not_apply(tmp_path):
    data = tmp_path / "text.txt"
    data.write_text(REPETITIVE, encoding="utf-8")
    result = runner.invoke(app, ["train", str(data), *SMALL, "--sample-every", "0", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "--sample-every must be" in result.stderr
    series = tmp_path / "s.csv"
    series.write_text("t,y\n" + "".join(f"{i},{i % 7}\n" for i in range(60)))
    result = runner.invoke(app, ["train", str(series), "--horizon", "3", "--sample-every", "2"])
    assert result.exit_code == 2 and "--sample-every does not apply to forecasting" in result.stderr
