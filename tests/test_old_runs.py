"""Run folders written before the task-seam refactor still load, sample, evaluate, forecast and resume,
with the results the old release gave (tests/fixtures/old_runs/README.md says how they were made)."""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnncli.cli import app

OLD = Path(__file__).resolve().parent / "fixtures" / "old_runs"
runner = CliRunner()


def invoke(*args: str):
    result = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def old(tmp_path: Path) -> Path:
    """A copy, so that resuming never touches the committed folders."""
    target = tmp_path / "old_runs"
    shutil.copytree(OLD, target)
    return target


def test_old_language_model_samples_the_same_text(old):
    result = invoke("sample", old / "lm_run", "--seed", "1", "--length", "60")
    assert result.stdout == (OLD / "expected_sample.txt").read_text(encoding="utf-8")


def test_old_language_model_evaluates_to_the_same_loss(old):
    result = json.loads(invoke("eval", old / "lm_run", old / "story.txt", "--json").stdout)
    expected = json.loads((OLD / "expected_eval.json").read_text())
    assert result["tokens"] == expected["tokens"]
    assert math.isclose(result["loss"], expected["loss"], rel_tol=1e-6)
    assert math.isclose(result["bpc"], expected["bpc"], rel_tol=1e-6)


def test_old_forecaster_forecasts_the_same_numbers(old):
    """The same quantiles to the digit. The old release's point column was `mean` (the average of the
    quantiles), which backtests never scored; it is now `median`, the point forecast that they score."""
    result = invoke("forecast", old / "series.csv", "--model", old / "forecast_run", "--quiet")
    got = list(csv.DictReader(io.StringIO(result.stdout)))
    expected = list(csv.DictReader(io.StringIO((OLD / "expected_forecast.csv").read_text())))
    assert list(got[0]) == ["id", "timestamp", "median", "q0.1", "q0.5", "q0.9"]
    assert [{k: v for k, v in row.items() if k != "median"} for row in got] == [
        {k: v for k, v in row.items() if k != "mean"} for row in expected
    ]
    assert all(row["median"] == row["q0.5"] for row in got)


@pytest.mark.parametrize(
    ("run", "data", "val_loss"),
    [
        ("lm_run", "story.txt", 3.6208157340685525),
        ("forecast_run", "series.csv", 0.12937939167022705),
    ],
)
def test_old_runs_resume_where_they_stopped(old, run, data, val_loss):
    invoke("train", "--resume", old / run, old / data, "--steps", "30", "--quiet")
    lines = [json.loads(line) for line in (old / run / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [10, 20, 30]
    assert math.isclose(lines[-1]["val_loss"], val_loss, rel_tol=1e-5)
