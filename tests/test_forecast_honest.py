"""An honest comparison (issue 19): the calendar's season, overlap decided by time, one point forecast that is
scored, and no option a trained model cannot honour passed over in silence. Everything through the CLI."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rnncli.cli import app
from rnncli.tasks.forecast.forecaster import load_forecaster

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
TINY = ["--hidden-size", "8", "--steps", "20", "--device", "cpu", "--quiet"]


def invoke(*args, input: str | None = None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def seasonal_file(
    path: Path, freq: str, periods: int, season: int, *, start: str = "2015-01-05", seed: int = 0
) -> Path:
    """One clean series of known period on the calendar of ``freq``, a trend and a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(periods)
    shape = np.sin(2 * np.pi * t / season) + 0.3 * np.cos(4 * np.pi * t / season)
    values = 100 + 0.05 * t + 10 * shape + rng.normal(0, 0.5, periods)
    dates = pd.date_range(start, periods=periods, freq=freq)
    written = dates.strftime("%Y-%m-%d %H:%M" if freq in ("h", "15min") else "%Y-%m-%d")
    pd.DataFrame({"date": written, "y": values.round(3)}).to_csv(path, index=False)
    return path


# --- 1. the season: the calendar's period when the data shows it ------------------------------------------


@pytest.mark.parametrize(
    "freq, periods, season, start",
    [
        ("h", 24 * 7 * 5, 24, "2020-03-02"),
        ("15min", 96 * 12, 96, "2020-03-02"),
        ("D", 7 * 40, 7, "2020-03-02"),
        ("B", 5 * 60, 5, "2020-03-02"),  # business days: the working week
        ("W-MON", 52 * 4, 52, "2015-01-05"),  # week-start dates
        ("W-SUN", 52 * 3 + 10, 52, "2015-01-04"),
        ("MS", 12 * 8, 12, "2010-01-01"),
        ("ME", 12 * 8, 12, "2010-01-31"),  # month-end dates (gave 11 with the old rule)
        ("QS", 4 * 12, 4, "2000-01-01"),
        ("QE", 4 * 12, 4, "2000-03-31"),
    ],
)
def test_the_calendars_period_is_detected_at_every_frequency(tmp_path, freq, periods, season, start):
    csv_file = seasonal_file(tmp_path / "s.csv", freq, periods, season, start=start)
    result = invoke("inspect", csv_file, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["season"] == season


def test_a_smooth_hourly_series_gets_24_not_the_lag_next_to_it(tmp_path):
    """Hourly temperatures: a daily cycle plus slow weather, whose autocorrelation is almost as high at 23."""
    rng = np.random.default_rng(5)
    n = 24 * 60
    weather = np.zeros(n)
    for i in range(1, n):
        weather[i] = 0.98 * weather[i - 1] + rng.normal(0, 0.3)
    t = np.arange(n)
    temps = 10 + 5 * np.sin(2 * np.pi * (t - 8) / 24) + weather
    stamps = pd.date_range("2021-01-01", periods=n, freq="h").strftime("%Y-%m-%d %H:%M")
    path = tmp_path / "temps.csv"
    pd.DataFrame({"time": stamps, "temp": temps.round(2)}).to_csv(path, index=False)
    assert json.loads(invoke("inspect", path, "--json").stdout)["season"] == 24


def test_a_random_walk_has_no_season(tmp_path):
    rng = np.random.default_rng(2)
    dates = pd.bdate_range("2020-01-01", periods=800).strftime("%Y-%m-%d")
    path = tmp_path / "stock.csv"
    pd.DataFrame({"date": dates, "price": (100 + rng.normal(0, 1, 800).cumsum()).round(2)}).to_csv(path, index=False)
    assert json.loads(invoke("inspect", path, "--json").stdout)["season"] == 1


def test_several_seasons_are_model_features_and_seasonal_naive_uses_the_first(tmp_path):
    csv_file = seasonal_file(tmp_path / "h.csv", "h", 24 * 7 * 5, 24, start="2020-03-02")
    out = tmp_path / "run"
    result = invoke(
        "forecast", csv_file, "--horizon", "24", "--season", "24,168", "--backtest", "1", "--json", "--out", out, *TINY
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["season"] == 24  # the scale of MASE and the seasonal naive forecast
    config = load_forecaster(out).config
    assert (config.season, config.extra_seasons, config.num_features) == (24, [168], 5)
    assert config.lookback == 168  # the longer season fits in the context


def test_seasons_come_from_a_config_file_and_cannot_change_on_resume(monthly, tmp_path):
    config = tmp_path / "f.yaml"
    config.write_text('horizon: 6\nseason: "12,24"\nhidden_size: 8\nsteps: 10\neval_every: 5\n')
    out = tmp_path / "run"
    result = invoke("train", monthly, "--config", config, "--out", out, "--device", "cpu", "--quiet")
    assert result.exit_code == 0, result.output
    assert load_forecaster(out).config.seasons == [12, 24]
    same = invoke("train", "--resume", out, "--steps", "15", "--season", "12,24", "--quiet")
    assert same.exit_code == 0, same.output
    other = invoke("train", "--resume", out, "--steps", "20", "--season", "12", "--quiet")
    assert other.exit_code == 2 and "--season cannot change when resuming (this run was trained with 12,24)" in (
        other.stderr
    )


@pytest.mark.parametrize(
    "season, message", [("x", "--season: cannot read 'x'"), ("24,12", "increasing whole numbers above the first")]
)
def test_a_bad_season_list_is_one_line(tmp_path, season, message):
    csv_file = seasonal_file(tmp_path / "m.csv", "MS", 60, 12, start="2010-01-01")
    result = invoke("forecast", csv_file, "--horizon", "6", "--season", season, "--quiet")
    assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.output


# --- 2. overlap by time, whatever the path -------------------------------------------------------------------


@pytest.fixture(scope="module")
def monthly(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("honest")
    return seasonal_file(folder / "monthly.csv", "MS", 12 * 8, 12, start="2010-01-01")


@pytest.fixture(scope="module")
def trained_on_all(monthly) -> Path:
    out = monthly.parent / "runs" / "monthly"
    result = invoke("train", monthly, "--horizon", "6", "--out", out, *TINY)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def kept_from_backtest(monthly) -> Path:
    """A run kept from `rnn forecast FILE --backtest 2`: trained without the last 2 x 6 points."""
    out = monthly.parent / "runs" / "held"
    result = invoke("forecast", monthly, "--horizon", "6", "--backtest", "2", "--json", "--out", out, *TINY)
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("how", ["dot-slash", "copy", "stdin"])
def test_eval_refuses_windows_the_model_was_trained_on_whatever_the_path(trained_on_all, monthly, how, monkeypatch):
    monkeypatch.chdir(monthly.parent)
    if how == "copy":
        shutil.copy(monthly, monthly.parent / "copy.csv")
    data = {"dot-slash": f"./{monthly.name}", "copy": "copy.csv", "stdin": "-"}[how]
    stdin = monthly.read_text() if how == "stdin" else None
    result = invoke("eval", trained_on_all, data, "--backtest", "2", "--json", input=stdin)
    assert result.exit_code == 2, result.output
    assert "series 'y': the first backtest window starts at 2017-01" in result.stderr
    assert "trained on it up to 2017-12" in result.stderr and "--allow-overlap" in result.stderr
    assert result.stdout == ""


def test_allow_overlap_warns_and_marks_the_json(trained_on_all, monthly):
    """A real process, so that the warning on stderr is seen as a user sees it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    argv = ["eval", str(trained_on_all), str(monthly), "--backtest", "2", "--json", "--allow-overlap"]
    done = subprocess.run([sys.executable, "-m", "rnncli", *argv], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["overlaps_training"] is True
    assert "rnn: warning: series 'y'" in done.stderr and "the figures are optimistic" in done.stderr


def test_a_model_trained_without_the_windows_is_backtested_on_the_full_file(kept_from_backtest, monthly):
    result = invoke("eval", kept_from_backtest, monthly, "--backtest", "2", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["overlaps_training"] is False


# --- 3. one point forecast: the median, written and scored ---------------------------------------------------


def test_the_point_forecast_is_the_median_even_when_not_asked_for(monthly, tmp_path):
    result = invoke("forecast", monthly, "--horizon", "6", "--quantiles", "0.1,0.9", *TINY)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["id", "timestamp", "median", "q0.1", "q0.5", "q0.9"]
    for row in rows:
        assert row["median"] == row["q0.5"]
        assert float(row["q0.1"]) < float(row["median"]) < float(row["q0.9"])  # never a tail quantile


def test_a_checkpoint_without_the_median_gets_it_interpolated_never_a_tail_quantile():
    """Models trained here always have 0.5; one saved by an older release may not."""
    from rnncli.tasks.forecast.config import point_forecast

    q = np.array([[1.0, 3.0, 7.0, 9.0]])
    assert point_forecast(q, [0.1, 0.3, 0.7, 0.9]).tolist() == [5.0]
    assert point_forecast(q[:, [0, 3]], [0.1, 0.9]).tolist() == [5.0]
    assert point_forecast(q, [0.1, 0.3, 0.5, 0.9]).tolist() == [7.0]


def test_the_plot_draws_the_median_column(monthly, tmp_path, monkeypatch):
    """--plot draws the point forecast that is written and scored, even with --quantiles 0.1,0.9."""
    pytest.importorskip("matplotlib")
    from rnncli.cli.render import plots

    drawn = {}
    real = plots.save_figure

    def keep_lines(fig, path, plt, **kwargs):
        drawn.update({line.get_label(): line.get_ydata() for line in fig.axes[0].get_lines()})
        real(fig, path, plt, **kwargs)

    monkeypatch.setattr(plots, "save_figure", keep_lines)
    result = invoke(
        "forecast", monthly, "--horizon", "6", "--quantiles", "0.1,0.9", "--plot", tmp_path / "f.png", *TINY
    )
    assert result.exit_code == 0, result.output
    written = [float(r["median"]) for r in csv.DictReader(io.StringIO(result.stdout))]
    assert np.allclose(drawn["median (point forecast)"], written, rtol=1e-5)


def test_the_backtest_scores_the_column_that_forecast_writes(kept_from_backtest, monthly, tmp_path):
    """The model's backtest MAE on the last window is the MAE of the `median` column forecast from its origin."""
    frame = pd.read_csv(monthly)
    cut = tmp_path / "cut.csv"
    frame.iloc[:-6].to_csv(cut, index=False)
    written = list(csv.DictReader(io.StringIO(invoke("forecast", "--model", kept_from_backtest, cut, "-q").stdout)))
    actual = frame["y"].to_numpy()[-6:]
    mae = float(np.abs(actual - np.array([float(r["median"]) for r in written])).mean())
    document = json.loads(invoke("eval", kept_from_backtest, monthly, "--backtest", "1", "--json").stdout)
    assert document["point_forecast"] == "median"
    (series,) = document["per_series"]  # MAE depends on the series' units: reported per series only
    assert series["metrics"]["model"]["mae"] == pytest.approx(mae, rel=1e-4)


# --- 4. and 5. options a trained model cannot honour; --backtest 0: the catalogue block of docs/errors.md --------


# (case id, argv with {run} for the trained run and {csv} for its training file, substrings of the message)
MODEL_CASES = [
    ("model-horizon", ["forecast", "--model", "{run}", "--horizon", "24"], ("--horizon 24", "--horizon 6")),
    ("model-quantiles", ["forecast", "--model", "{run}", "--quantiles", "0.2,0.8"], ("--quantiles 0.1,0.5,0.9",)),
    ("model-season", ["forecast", "--model", "{run}", "--season", "4"], ("--season 4", "--season 12")),
    ("model-lookback", ["forecast", "--model", "{run}", "--lookback", "10"], ("--lookback 10", "--lookback 24")),
    ("model-steps", ["forecast", "--model", "{run}", "--steps", "5"], ("--steps is for training",)),
    ("model-out", ["forecast", "--model", "{run}", "--out", "runs/other"], ("--out keeps a model trained here",)),
    ("forecast-backtest-0", ["forecast", "--model", "{run}", "{csv}", "--backtest", "0"], ("got 0",)),
    ("eval-backtest-0", ["eval", "{run}", "{csv}", "--backtest", "0"], ("--backtest must be 1 or more", "got 0")),
    ("eval-backtest-negative", ["eval", "{run}", "{csv}", "--backtest", "-2"], ("got -2",)),
    ("eval-overlap", ["eval", "{run}", "./{csv}"], ("trained on it up to 2017-12", "--allow-overlap")),
    ("forecast-overlap", ["forecast", "--model", "{run}", "{csv}", "--backtest", "2"], ("trained on it up to",)),
    ("allow-overlap-alone", ["forecast", "--model", "{run}", "--allow-overlap"], ("--allow-overlap is for",)),
    ("season-unreadable", ["forecast", "{csv}", "--horizon", "6", "--season", "x"], ("--season: cannot read 'x'",)),
    ("season-order", ["forecast", "{csv}", "--horizon", "6", "--season", "24,12"], ("above the first",)),
]


@pytest.fixture(scope="module")
def model_errors(trained_on_all, monthly) -> dict[str, tuple[list[str], object]]:
    """Every case run once, in the folder of the training file (so the commands read as a user types them)."""
    here = os.getcwd()
    os.chdir(monthly.parent)
    try:
        place = {"{run}": str(trained_on_all.relative_to(monthly.parent)), "{csv}": monthly.name}
        done = {}
        for case_id, argv, _ in MODEL_CASES:
            args = [_fill(a, place) for a in argv]
            done[case_id] = (args, invoke(*args))
        return done
    finally:
        os.chdir(here)


def _fill(arg: str, place: dict[str, str]) -> str:
    for key, value in place.items():
        arg = arg.replace(key, value)
    return arg


@pytest.mark.parametrize("case_id, argv, needles", MODEL_CASES, ids=[c[0] for c in MODEL_CASES])
def test_options_a_trained_model_cannot_honour_are_errors(model_errors, case_id, argv, needles):
    result = model_errors[case_id][1]
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("rnn: error: ")]
    assert len(errors) == 1 and "Traceback" not in result.output and "internal error" not in result.output
    assert all(needle in errors[0] for needle in needles), errors[0]


def test_docs_errors_md_shows_the_forecasting_cases_as_they_ran(model_errors):
    import shlex

    sys.path.insert(0, str(ROOT / "scripts"))
    import make_docs

    rows = []
    for case_id, _, _ in MODEL_CASES:
        args, result = model_errors[case_id]
        message = next(line for line in result.stderr.splitlines() if line.startswith("rnn: error: "))
        rows.append((case_id, shlex.join(["rnn", *args]), result.exit_code, message.removeprefix("rnn: error: ")))
    problem = make_docs.sync_block(make_docs.ERRORS, "forecast-model", make_docs.catalogue_table(rows))
    assert problem is None, problem


def test_options_that_match_the_model_are_fine(trained_on_all):
    result = invoke("forecast", "--model", trained_on_all, "--horizon", "6", "--quantiles", "0.1,0.5,0.9", "-q")
    assert result.exit_code == 0, result.output


# --- 6. a run kept from a backtest says where its history ends -----------------------------------------------


def test_a_run_kept_from_a_backtest_says_its_data_ends_before_the_files(kept_from_backtest, monthly):
    remembered = invoke("forecast", "--model", kept_from_backtest)
    assert remembered.exit_code == 0, remembered.output
    assert "without the last 12 points of each series" in remembered.stderr
    assert "its data ends at 2016-12-01," in remembered.stderr and "before the file's end" in remembered.stderr
    assert next(csv.DictReader(io.StringIO(remembered.stdout)))["timestamp"] == "2017-01-01"
    from_file = invoke("forecast", "--model", kept_from_backtest, monthly)
    assert "before the file's end" not in from_file.stderr
    assert next(csv.DictReader(io.StringIO(from_file.stdout)))["timestamp"] == "2018-01-01"
