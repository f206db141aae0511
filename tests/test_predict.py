"""rnn predict: the command every input-to-output task shares; a task without it says what to use instead."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from rnncli.cli import app

OLD = Path(__file__).resolve().parent / "fixtures" / "old_runs"


def run(*args, input=None):
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


def test_predict_with_a_language_model_points_at_sample():
    refused = run("predict", OLD / "lm_run", input="hello\n")
    assert refused.exit_code == 2
    assert "language models do not do" in refused.stderr and f"rnn sample {OLD / 'lm_run'}" in refused.stderr


def test_predict_with_a_forecaster_points_at_forecast():
    refused = run("predict", OLD / "forecast_run", OLD / "series.csv")
    assert refused.exit_code == 2
    assert "rnn forecast DATA --model" in refused.stderr


def test_predict_needs_a_run_first():
    refused = run("predict", OLD / "series.csv")
    assert refused.exit_code == 2
    assert "not a run folder or .safetensors checkpoint" in refused.stderr
