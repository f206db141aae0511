"""Forecast intervals that mean what they say, cross-validation output, baselines as forecasts, forecast plots."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rnncli.cli import app
from rnncli.tasks.forecast.calibration import apply_calibration, calibration_factors

TINY = ["--hidden-size", "16", "--steps", "60", "--device", "cpu", "--quiet"]
runner = CliRunner()


def airline_csv(path: Path, *, n: int = 96, gap: bool = False) -> Path:
    """Two monthly series with trend and a yearly season; one empty cell when ``gap``."""
    rng = np.random.default_rng(0)
    t = np.arange(n)
    season = np.sin(2 * np.pi * t / 12)
    a = (100 + t) * (1 + 0.2 * season) + rng.normal(0, 4, n)
    b = 50 + 10 * season + rng.normal(0, 1, n)
    frame = pd.DataFrame({"month": pd.date_range("2000-01-01", periods=n, freq="MS").strftime("%Y-%m"), "a": a, "b": b})
    frame = frame.round(3).astype(object)
    if gap:
        frame.loc[n - 5, "b"] = ""
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def series_csv(tmp_path_factory) -> Path:
    return airline_csv(tmp_path_factory.mktemp("series") / "airline.csv")


@pytest.fixture(scope="module")
def run(tmp_path_factory, series_csv) -> Path:
    """A tiny forecaster kept by rnn forecast --out, with the 80% and 95% interval bounds."""
    out = tmp_path_factory.mktemp("runs") / "airline"
    result = runner.invoke(
        app, ["forecast", str(series_csv), "--horizon", "6", "--level", "80,95", *TINY, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# --- calibration ---------------------------------------------------------------------------------


def test_factors_widen_intervals_three_times_too_narrow_to_their_nominal_coverage():
    rng = np.random.default_rng(1)
    actual = rng.normal(0, 3, (400, 6))
    quantiles = [0.1, 0.5, 0.9]
    z = 1.2816
    predicted = np.stack([np.full((400, 6), -z), np.zeros((400, 6)), np.full((400, 6), z)], axis=-1)  # sd 1, not 3
    factors = calibration_factors(quantiles, predicted, actual)
    assert factors[1] == 1 and 2.6 < factors[0] < 3.4 and 2.6 < factors[2] < 3.4
    fresh = rng.normal(0, 3, (400, 6))
    calibrated = apply_calibration(predicted, {"factors": factors}, quantiles)
    inside = ((fresh >= calibrated[..., 0]) & (fresh <= calibrated[..., 2])).mean()
    assert 0.75 < inside < 0.85


def test_a_trained_forecaster_stores_its_calibration_and_inspect_shows_it(run):
    result = runner.invoke(app, ["inspect", str(run), "--json"])
    assert result.exit_code == 0, result.output
    calibration = json.loads(result.stdout)["calibration"]
    assert len(calibration["factors"]) == 5 and all(f > 0 for f in calibration["factors"])
    assert calibration["points"] == 2 * 6  # the validation window of each series
    text = runner.invoke(app, ["inspect", str(run)])
    assert "calibrated on 12 validation points" in text.stdout


def test_backtest_reports_coverage_per_series_and_warns_when_it_is_far_from_nominal(series_csv):
    args = ["forecast", str(series_csv), "--horizon", "6", "--backtest", "2", "--json", *TINY[:-1]]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["calibrated"] and document["point_forecast"] == "median"
    assert [e["id"] for e in document["per_series"]] == ["a", "b"]
    assert all(0 <= e["coverage"]["0.8"] <= 1 for e in document["per_series"])
    off = abs(document["coverage"]["0.8"] - 0.8) > 0.15
    assert ("more than 15% from nominal" in result.stderr) == off
    assert document["coverage_off"] == (["0.8"] if off else [])


# --- --level -------------------------------------------------------------------------------------


def test_level_writes_statsforecast_interval_columns_nested_around_the_forecast(run):
    result = runner.invoke(app, ["forecast", "--model", str(run), "--level", "80,95", "--quiet"])
    assert result.exit_code == 0, result.output
    table = rows(result.stdout)
    assert list(table[0]) == ["id", "timestamp", "median", "lo-80", "hi-80", "lo-95", "hi-95"]
    for r in table:
        lo95, lo80, median, hi80, hi95 = (float(r[k]) for k in ("lo-95", "lo-80", "median", "hi-80", "hi-95"))
        assert lo95 <= lo80 <= hi80 <= hi95 and lo80 <= median <= hi80


def test_level_a_model_was_not_trained_for_is_refused_naming_what_it_has(run):
    result = runner.invoke(app, ["forecast", "--model", str(run), "--level", "90", "--quiet"])
    assert result.exit_code == 2
    assert "--level 90:" in result.stderr and "0.025,0.1,0.5,0.9,0.975" in result.stderr
    assert "train a model with --level 90" in result.stderr


def test_level_must_be_a_percentage(series_csv):
    result = runner.invoke(app, ["forecast", str(series_csv), "--horizon", "6", "--level", "180", *TINY])
    assert result.exit_code == 2 and "--level: levels are percentages strictly between 0 and 100" in result.stderr


# --- cross-validation ----------------------------------------------------------------------------


def test_cross_validation_writes_every_window_and_scores_scale_free(series_csv, tmp_path):
    out = tmp_path / "cv.csv"
    args = ["forecast", str(series_csv), "--horizon", "6", "--backtest", "3", "--step", "2"]
    result = runner.invoke(app, [*args, "--backtest-out", str(out), "--json", *TINY])
    assert result.exit_code == 0, result.output
    table = rows(out.read_text())
    assert list(table[0])[:8] == ["id", "timestamp", "cutoff", "y", "model", "seasonal_naive", "naive", "drift"]
    assert len(table) == 2 * 3 * 6
    cutoffs = sorted({r["cutoff"] for r in table if r["id"] == "a"})
    assert cutoffs == ["2007-02", "2007-04", "2007-06"]  # origins 2 apart, the last window ends the series
    assert table[-1]["timestamp"] == "2007-12" and float(table[-1]["y"]) == pytest.approx(
        float(pd.read_csv(series_csv)["b"].iloc[-1]), abs=1e-3
    )
    document = json.loads(result.stdout)
    assert document["step"] == 2 and document["windows"] == 3
    assert set(document["metrics"]["model"]) == {"mase", "smape", "mape", "pinball", "crps"}  # no MAE across series
    assert {"mae", "rmse", "mase"} <= set(document["per_series"][0]["metrics"]["model"])
    naive = document["metrics"]["seasonal_naive"]
    assert naive["crps"] == pytest.approx(naive["mase"])  # a point forecast's CRPS is its absolute error


def test_backtest_only_options_without_a_backtest_are_refused(series_csv, tmp_path):
    for extra, message in [
        (["--json"], "--json goes with --backtest N"),
        (["--step", "2"], "--step goes with --backtest N"),
        (["--backtest-out", str(tmp_path / "x.csv")], "--backtest-out goes with --backtest N"),
    ]:
        result = runner.invoke(app, ["forecast", str(series_csv), "--horizon", "6", *extra, *TINY])
        assert result.exit_code == 2, result.output
        assert message in result.stderr


def test_eval_takes_step_and_backtest_out(run, series_csv, tmp_path):
    out = tmp_path / "eval-cv.csv"
    args = ["eval", str(run), str(series_csv), "--backtest", "2", "--step", "3", "--json", "--backtest-out", str(out)]
    refused = runner.invoke(app, args)  # the run was trained on the whole file: its windows are training data
    assert refused.exit_code == 2 and "--backtest 2 --step 3" in refused.stderr
    result = runner.invoke(app, [*args, "--allow-overlap"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["step"] == 3 and document["overlaps_training"] is True
    table = rows(out.read_text())
    assert len(table) == 2 * 2 * 6 and "model-q0.975" in table[0]


# --- baselines -----------------------------------------------------------------------------------


def test_baseline_forecasts_without_training_in_the_models_format(series_csv):
    result = runner.invoke(app, ["forecast", str(series_csv), "--horizon", "6", "--baseline", "seasonal-naive", "-q"])
    assert result.exit_code == 0, result.output
    table = rows(result.stdout)
    assert list(table[0]) == ["id", "timestamp", "median", "q0.1", "q0.5", "q0.9"]
    history = pd.read_csv(series_csv)["a"].to_numpy()
    assert [float(r["median"]) for r in table[:6]] == pytest.approx(history[-12:-6], abs=1e-2)  # season 12, detected
    assert all(float(r["q0.1"]) < float(r["median"]) < float(r["q0.9"]) for r in table)
    drift = rows(
        runner.invoke(app, ["forecast", str(series_csv), "--horizon", "3", "--baseline", "drift", "-q"]).stdout
    )
    slope = (history[-1] - history[0]) / (len(history) - 1)
    assert float(drift[2]["median"]) == pytest.approx(history[-1] + 3 * slope, rel=1e-4)


def test_baseline_uses_the_first_of_several_seasons_given(series_csv):
    args = ["forecast", str(series_csv), "--horizon", "6", "--baseline", "seasonal-naive", "--season", "4,12"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "season 4" in result.stderr
    history = pd.read_csv(series_csv)["a"].to_numpy()
    first = [float(r["median"]) for r in rows(result.stdout)[:6]]
    assert first == pytest.approx([*history[-4:], *history[-4:-2]], abs=1e-2)


def test_baseline_errors(series_csv, run):
    bad = runner.invoke(app, ["forecast", str(series_csv), "--horizon", "6", "--baseline", "mean", "-q"])
    assert bad.exit_code == 2 and "--baseline: unknown method 'mean'" in bad.stderr
    both = runner.invoke(app, ["forecast", str(series_csv), "--model", str(run), "--baseline", "naive", "-q"])
    assert both.exit_code == 2 and "leave out --model" in both.stderr


# --- plots ---------------------------------------------------------------------------------------


@pytest.fixture
def figures(monkeypatch):
    """The figures --plot would save, kept instead of written."""
    pytest.importorskip("matplotlib")
    from rnncli.cli.render import plots

    kept = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, path, plt, dpi=None: kept.append(fig))
    return kept


def test_forecast_plot_shows_recent_history_filled_points_and_an_outside_legend(tmp_path, figures):
    data = airline_csv(tmp_path / "gappy.csv", gap=True)
    args = ["forecast", str(data), "--horizon", "6", "--baseline", "naive", "-q", "--plot", str(tmp_path / "f.png")]
    assert runner.invoke(app, [*args, "--plot-history", "30"]).exit_code == 0
    axes = figures[-1].axes
    history = next(line for line in axes[1].lines if line.get_label() == "history")
    assert len(history.get_xdata()) == 30  # not all 96 months
    assert any(line.get_label() == "filled (missing)" for line in axes[1].lines)
    legend = axes[0].get_legend()
    assert legend is not None and legend.get_bbox_to_anchor().x0 > axes[0].get_window_extent().x1 - 1


def test_plot_with_backtest_draws_the_backtest_windows(series_csv, tmp_path, figures):
    args = ["forecast", str(series_csv), "--horizon", "6", "--backtest", "2", "--plot", str(tmp_path / "b.png")]
    result = runner.invoke(app, [*args, *TINY])
    assert result.exit_code == 0, result.output
    ax = figures[-1].axes[0]
    assert "backtest windows" in ax.get_title()
    assert len([line for line in ax.lines if line.get_linestyle() == "--"]) == 2  # seasonal naive, per window


def test_a_forecasters_training_curve_is_labelled_pinball_loss(run, tmp_path, figures):
    result = runner.invoke(app, ["inspect", str(run), "--plot", str(tmp_path / "c.png")])
    assert result.exit_code == 0, result.output
    assert figures[-1].axes[0].get_ylabel() == "pinball loss (scaled units)"
