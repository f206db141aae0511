"""`rnn inspect` on CSV time series and on forecasting checkpoints and runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rnncli.cli import app
from rnncli.tasks.forecast.forecaster import forecast_train_config, train_forecaster
from rnncli.tasks.forecast.model import ForecastConfig
from rnncli.tasks.forecast.series import read_series

runner = CliRunner()

SERIES_KEYS = {
    "kind",
    "source",
    "layout",
    "columns",
    "notes",
    "num_series",
    "total_points",
    "frequency",
    "frequency_name",
    "season",
    "time_range",
    "missing_cells",
    "gaps",
    "series",
}
ENTRY_KEYS = {"id", "length", "start", "end", "min", "max", "mean", "missing_cells", "gaps", "profile"}
FORECAST_KEYS = {
    "kind",
    "path",
    "task",
    "model",
    "parameters",
    "total_parameters",
    "series",
    "calibration",
    "train",
    "history",
    "versions",
    "command",
    "resume_commands",
    "curve",
}
FORECAST_SERIES_KEYS = {
    "count",
    "source",
    "layout",
    "columns",
    "frequency",
    "frequency_name",
    "ids",
    "last_time",
    "length",
}


def _write_long(path: Path) -> Path:
    """Two monthly series with a yearly cycle: 'a' misses 2021-03 entirely and has an empty cell in 2022-07."""
    months = np.arange(60)
    pattern = np.random.default_rng(0).uniform(1, 3, 12)  # a jagged yearly cycle, so the season stands out
    lines = ["unique_id,ds,y"]
    for sid, scale, start in (("a", 10.0, 0), ("b", 1000.0, 12)):
        for m in months[start:]:
            stamp = f"{2019 + m // 12}-{m % 12 + 1:02d}-01"
            if sid == "a" and stamp == "2021-03-01":
                continue
            value = "" if sid == "a" and stamp == "2022-07-01" else f"{scale * pattern[m % 12]:.3f}"
            lines.append(f"{sid},{stamp},{value}")
    path.write_text("\n".join(lines) + "\n")
    return path


def inspect_json(*args: str) -> dict:
    result = runner.invoke(app, ["inspect", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_csv_json_reports_layout_lengths_frequency_season_and_where_the_gaps_are(tmp_path):
    summary = inspect_json(str(_write_long(tmp_path / "sales.csv")))
    assert summary.keys() == SERIES_KEYS
    assert (summary["layout"], summary["num_series"], summary["frequency"]) == ("long", 2, "MS")
    assert summary["season"] == 12
    assert summary["time_range"] == {"start": "2019-01-01", "end": "2023-12-01"}
    a, b = summary["series"]
    assert a.keys() == ENTRY_KEYS
    assert (a["id"], a["length"], b["length"]) == ("a", 60, 48)
    assert b["start"] == "2020-01-01"
    assert a["gaps"] == {"count": 1, "first": ["2021-03-01"]}
    assert a["missing_cells"] == {"count": 1, "first": ["2022-07-01"]}
    assert b["gaps"]["count"] == b["missing_cells"]["count"] == 0
    assert (summary["gaps"], summary["missing_cells"]) == (1, 1)
    assert 900 < b["min"] < b["max"] < 3100 and len(b["profile"]) == 48


def test_csv_terminal_output_names_the_facts_and_draws_a_sparkline_per_series():
    result = runner.invoke(app, ["inspect", "sample_data/hourly.csv"])
    assert result.exit_code == 0, result.output
    assert "wide" in result.stdout and "hourly (h)" in result.stdout and "24 steps" in result.stdout
    names = ("sensor_a ", "sensor_b ", "sensor_c ")
    spark_lines = [line for line in result.stdout.splitlines() if line.startswith(names)]
    assert len(spark_lines) == 3 and all("▁" in line or "█" in line for line in spark_lines)
    assert "empty cells at" in result.stdout


def test_csv_plot_writes_an_image(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "series.png"
    result = runner.invoke(app, ["inspect", str(_write_long(tmp_path / "s.csv")), "--plot", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def forecast_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fc")
    data = read_series(str(_write_long(folder / "sales.csv")))
    config = ForecastConfig(horizon=3, lookback=12, season=12, hidden_size=8, quantiles=[0.2, 0.5, 0.8])
    cfg = forecast_train_config({"steps": 20, "eval_every": 10, "patience": None, "device": "cpu"})
    train_forecaster(data, config, cfg, out_dir=folder / "run", command=["rnn", "train", "sales.csv"])
    return folder / "run"


def test_forecast_run_json_has_settings_series_history_and_curve(forecast_run):
    summary = inspect_json(str(forecast_run))
    assert summary.keys() == FORECAST_KEYS
    assert summary["task"] == "forecast"
    model = summary["model"]
    assert (model["horizon"], model["lookback"], model["season"], model["quantiles"]) == (3, 12, 12, [0.2, 0.5, 0.8])
    assert summary["total_parameters"] == sum(summary["parameters"].values()) > 0
    series = summary["series"]
    assert series.keys() == FORECAST_SERIES_KEYS
    assert (series["count"], series["ids"], series["frequency"]) == (2, ["a", "b"], "MS")
    assert series["last_time"][0].startswith("2023-12-01")
    assert summary["history"]["best_val_loss"] > 0
    records = (forecast_run / "metrics.jsonl").read_text().splitlines()
    assert len(summary["curve"]["records"]) == len(records) == 2


def test_forecast_run_terminal_output_and_curve_plot(forecast_run, tmp_path):
    result = runner.invoke(app, ["inspect", str(forecast_run / "model.safetensors")])
    assert result.exit_code == 0, result.output
    for fact in ("forecast", "3 steps ahead, lookback 12", "0.2, 0.5, 0.8", "monthly (MS)", "training curve"):
        assert fact in result.stdout
    pytest.importorskip("matplotlib")
    result = runner.invoke(app, ["inspect", str(forecast_run), "--plot", str(tmp_path / "c.png")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "c.png").stat().st_size > 0
