"""Forecasting: a model that learns, non-crossing quantiles, self-contained checkpoints, backtests, the CLI."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import rewrite_checkpoint
from typer.testing import CliRunner

from rnncli.cli import app
from rnncli.core.errors import CheckpointError, DataError
from rnncli.tasks.forecast.backtest import backtest, baselines, mase_scale
from rnncli.tasks.forecast.forecaster import forecast, forecast_train_config, load_forecaster, train_forecaster
from rnncli.tasks.forecast.model import ForecastConfig, ForecastModel, pinball_loss
from rnncli.tasks.forecast.seasons import choose_seasons
from rnncli.tasks.forecast.series import read_series

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--hidden-size", "16", "--steps", "120", "--device", "cpu"]


def seasonal_csv(path: Path, *, n: int = 96, seed: int = 0) -> Path:
    """Two monthly series of very different scales with a clean yearly pattern."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    dates = pd.date_range("2010-01-01", periods=n, freq="MS").strftime("%Y-%m")
    shape = np.sin(2 * np.pi * t / 12) + 0.4 * np.cos(4 * np.pi * t / 12)
    frame = pd.DataFrame(
        {
            "date": dates,
            "small": np.round(20 + 0.05 * t + 4 * shape + rng.normal(0, 0.3, n), 3),
            "large": np.round(9000 + 5 * t + 1500 * shape + rng.normal(0, 90, n), 3),
        }
    )
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def monthly_csv(tmp_path_factory) -> Path:
    return seasonal_csv(tmp_path_factory.mktemp("series") / "monthly.csv")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, monthly_csv) -> Path:
    """A tiny forecaster trained once for this module; tests must not modify it."""
    out = tmp_path_factory.mktemp("runs") / "monthly"
    data = read_series(str(monthly_csv))
    config = ForecastConfig(horizon=6, lookback=24, season=12, hidden_size=16)
    cfg = forecast_train_config({"steps": 300, "eval_every": 50, "patience": None, "device": "cpu"})
    train_forecaster(data, config, cfg, out_dir=out, command=["test"])
    return out


def test_model_learns_well_below_the_naive_baseline(trained, monthly_csv):
    """Validation pinball loss (last horizon) far below that of a flat last-value forecast."""
    forecaster = load_forecaster(trained)
    data = read_series(str(monthly_csv))
    H = forecaster.config.horizon
    held = [s.values[:-H] for s in data.series]
    truth = torch.tensor(np.stack([s.values[-H:] for s in data.series]))
    quantiles = torch.tensor(forecaster.config.quantiles, dtype=torch.float64)

    def loss(pred):  # pinball in units of each series' own scale, so both series count
        scale = torch.tensor([np.std(h) for h in held]).view(-1, 1, 1)
        return float(pinball_loss(pred / scale, truth / scale[..., 0], quantiles))

    cut = data.__class__(
        series=[s.__class__(id=s.id, values=h, start=s.start) for s, h in zip(data.series, held, strict=True)],
        freq=data.freq,
        time_format=data.time_format,
        source="x",
        layout="wide",
    )
    records = forecast(forecaster, cut)
    model = torch.tensor(
        [[[r["q0.1"], r["q0.5"], r["q0.9"]] for r in records if r["id"] == s.id] for s in data.series],
        dtype=torch.float64,
    )
    naive = torch.tensor(np.stack([np.full((H, 3), h[-1]) for h in held]))
    assert loss(model) < 0.5 * loss(naive)


def test_quantiles_never_cross_even_for_random_weights():
    torch.manual_seed(0)
    model = ForecastModel(ForecastConfig(horizon=5, lookback=8, quantiles=[0.05, 0.1, 0.5, 0.8, 0.99], ensemble=3))
    out = model(torch.randn(64, 8, 3) * 10)  # (E, B, H, Q)
    assert (out.diff(dim=-1) > 0).all()
    assert (model.predict(torch.randn(64, 8, 3)).diff(dim=-1) >= 0).all()


def test_checkpoint_round_trip_forecasts_without_the_csv(trained, monthly_csv, tmp_path):
    moved = tmp_path / "moved.safetensors"
    moved.write_bytes((trained / "model.safetensors").read_bytes())
    from_file = forecast(load_forecaster(trained), read_series(str(monthly_csv)))
    remembered = forecast(load_forecaster(moved))  # the CSV is not read at all
    assert from_file == remembered
    assert [r["timestamp"] for r in remembered[:2]] == ["2018-01", "2018-02"]


def test_checkpoint_is_safetensors_with_the_series_facts(trained):
    from safetensors import safe_open

    with safe_open(str(trained / "model.safetensors"), framework="pt") as handle:
        meta = json.loads(handle.metadata()["rnncli"])
    assert meta["task"] == "forecast"
    assert meta["model"]["quantiles"] == [0.1, 0.5, 0.9] and meta["model"]["season"] == 12
    assert meta["series"]["ids"] == ["small", "large"] and meta["series"]["freq"] == "MS"
    assert len(meta["series"]["context"][0]) == 24 and meta["series"]["last_time"][0].startswith("2017-12-01")


def test_resumed_forecaster_is_bit_identical_to_a_straight_run(monthly_csv, tmp_path):
    """The shared trainer's exact resume holds for forecasting: the window sampler's state is saved."""
    from safetensors.torch import load_file

    from rnncli.core.resume_state import STATE_FILE, load_train_state

    data = read_series(str(monthly_csv))

    def run(steps, out, resume=None):
        config = ForecastConfig(horizon=6, lookback=24, season=12, hidden_size=8, dropout=0.0)
        cfg = forecast_train_config({"steps": steps, "eval_every": 10, "patience": None, "device": "cpu"})
        return train_forecaster(data, config, cfg, out_dir=out, command=["test"], resume=resume)

    run(40, tmp_path / "straight")
    run(20, tmp_path / "halves")
    history = run(40, tmp_path / "halves", resume=load_train_state(tmp_path / "halves" / STATE_FILE))
    assert history.step == 40
    a = load_file(str(tmp_path / "straight" / "last.safetensors"))
    b = load_file(str(tmp_path / "halves" / "last.safetensors"))
    assert all(torch.equal(a[name], b[name]) for name in a)


def test_text_commands_refuse_a_forecaster_clearly(trained):
    from rnncli.tasks.language_model.checkpoint import load_checkpoint

    with pytest.raises(CheckpointError, match="a forecasting model; use it with rnn forecast --model"):
        load_checkpoint(trained)


@pytest.mark.parametrize(
    "damage, message",
    [
        ("truncated", "the file is truncated"),
        ("huge_width", "field 'model.hidden_size' must be less than or equal to 65536"),
        ("missing_tensor", "tensors do not match the model config"),
    ],
)
def test_a_damaged_forecaster_is_refused_by_inspect_and_forecast(damage, message, trained, tmp_path):
    good = trained / "model.safetensors"
    bad = tmp_path / f"{damage}.safetensors"
    if damage == "truncated":
        bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif damage == "huge_width":
        rewrite_checkpoint(good, bad, meta=lambda m: m["model"].update(hidden_size=10**12))
    else:
        rewrite_checkpoint(good, bad, tensors=lambda w: w.pop("members.0.skip.bias"))
    for argv in (["inspect", str(bad)], ["forecast", "--model", str(bad)]):
        result = CliRunner().invoke(app, argv)
        assert result.exit_code == 2, (argv, result.output)
        assert message in result.stderr and "Traceback" not in result.output


def test_too_short_series_says_how_long_it_must_be(tmp_path):
    data = read_series(str(seasonal_csv(tmp_path / "short.csv", n=30)))
    config = ForecastConfig(horizon=6, lookback=24, season=12, hidden_size=8)
    with pytest.raises(DataError, match=r"series 'small' has 30 points; .* needs at least 36"):
        train_forecaster(data, config, forecast_train_config({"steps": 1}), out_dir=tmp_path / "run")


def test_season_is_detected_by_autocorrelation():
    t = np.arange(240)
    rng = np.random.default_rng(1)
    assert choose_seasons([np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.1, 240)], "step:1") == [12]
    assert choose_seasons([rng.normal(0, 1, 240).cumsum()], "step:1") == [1]


def test_short_noisy_series_get_no_spurious_season(tmp_path):
    rng = np.random.default_rng(3)
    text = "t,v\n" + "".join(f"{i},{50 + 0.1 * i + rng.normal():.3f}\n" for i in range(60))
    (tmp_path / "noise.csv").write_text(text)
    data = read_series(str(tmp_path / "noise.csv"))
    assert choose_seasons([s.values for s in data.series], data.freq) == [1]


def test_baselines_and_mase_by_hand():
    history = np.array([1.0, 2, 3, 4, 5, 6, 7, 8])
    got = baselines(history, horizon=3, season=4)
    assert got["naive"].tolist() == [8, 8, 8]
    assert got["seasonal_naive"].tolist() == [5, 6, 7]
    assert got["drift"].tolist() == [9, 10, 11]
    assert mase_scale(history, 4) == 4.0


def test_backtest_reports_every_method_and_coverage(trained, monthly_csv):
    result = backtest(load_forecaster(trained), read_series(str(monthly_csv)), windows=2)
    assert set(result["metrics"]) == {"model", "naive", "seasonal_naive", "drift"}
    assert set(result["metrics"]["model"]) == {"smape", "mape", "mase", "pinball", "crps"}  # scale-free averages
    assert {"mae", "rmse"} <= set(result["per_series"][0]["metrics"]["model"])  # in units: per series only
    assert 0 <= result["coverage"]["0.8"] <= 1
    assert result["overlaps_training"]  # trained on this very file
    assert result["mase_vs_seasonal_naive"] == pytest.approx(
        result["metrics"]["model"]["mase"] / result["metrics"]["seasonal_naive"]["mase"]
    )


# --- the command line -----------------------------------------------------------------------


runner = CliRunner()


def test_forecast_from_checkpoint_prints_tidy_csv(trained):
    result = runner.invoke(app, ["forecast", "--model", str(trained), "--quiet"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["id", "timestamp", "median", "q0.1", "q0.5", "q0.9"]
    assert len(rows) == 2 * 6
    assert all(r["median"] == r["q0.5"] for r in rows)  # the point forecast is the median
    assert all(float(r["q0.1"]) <= float(r["q0.5"]) <= float(r["q0.9"]) for r in rows)


def test_forecast_jsonl(trained):
    result = runner.invoke(app, ["forecast", "--model", str(trained), "--format", "jsonl", "--quiet"])
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 12 and records[0]["id"] == "small" and "q0.9" in records[0]


def test_eval_backtest_json(trained, monthly_csv):
    result = runner.invoke(
        app, ["eval", str(trained), str(monthly_csv), "--backtest", "2", "--json", "--allow-overlap"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["windows"] == 2 and "beats_seasonal_naive" in document
    assert document["overlaps_training"] is True and document["point_forecast"] == "median"


def test_train_routes_csv_to_the_forecaster(monthly_csv, tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(
        app, ["train", str(monthly_csv), "--horizon", "6", "--out", str(out), "--quiet", *TINY, "--steps", "20"]
    )
    assert result.exit_code == 0, result.output
    assert load_forecaster(out).config.horizon == 6


def test_train_resume_continues_a_forecasting_run(monthly_csv, tmp_path):
    out = tmp_path / "run"
    first = runner.invoke(
        app,
        [
            "train",
            str(monthly_csv),
            "--horizon",
            "6",
            "--out",
            str(out),
            "--quiet",
            *TINY,
            "--steps",
            "20",
            "--eval-every",
            "10",
        ],
    )
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, ["train", "--resume", str(out), "--steps", "30", "--quiet"])
    assert again.exit_code == 0, again.output
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [10, 20, 30]


def test_forecast_trains_then_forecasts_and_plots(monthly_csv, tmp_path):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "f.png"
    result = runner.invoke(
        app, ["forecast", str(monthly_csv), "--horizon", "3", "--plot", str(plot), "--quiet", *TINY, "--steps", "20"]
    )
    assert result.exit_code == 0, result.output
    assert len(list(csv.DictReader(io.StringIO(result.stdout)))) == 2 * 3
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_forecast_backtest_says_whether_it_beats_seasonal_naive(monthly_csv):
    result = runner.invoke(
        app, ["forecast", str(monthly_csv), "--horizon", "6", "--backtest", "2", "--quiet", *TINY, "--steps", "20"]
    )
    assert result.exit_code == 0, result.output
    assert "seasonal_naive" in result.stdout and "model MASE / seasonal naive MASE" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["forecast"], "give a CSV file"),
        (["forecast", "{csv}"], "--horizon is required"),
        (["forecast", "{csv}", "--horizon", "6", "--quantiles", "0.5,1.5"], "quantiles must be increasing"),
        (["forecast", "{csv}", "--horizon", "6", "--format", "xml"], "--format: unknown value 'xml'"),
        (["forecast", "{csv}", "--horizon", "60"], "needs at least"),
        (["train", "{csv}", "--horizon", "6", "--seq-len", "9"], "--seq-len does not apply to forecasting"),
        (["train", "{txt}", "--horizon", "6"], "--horizon is for forecasting: give a .csv file or --task forecast"),
    ],
)
def test_usage_errors_are_one_line(monthly_csv, args, message):
    text = monthly_csv.with_suffix(".txt")
    text.write_text("some text for a language model\n")
    args = [a.replace("{csv}", str(monthly_csv)).replace("{txt}", str(text)) for a in args]
    result = runner.invoke(app, args + ["--quiet"])
    assert result.exit_code == 2
    assert message in result.stderr and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_stdin_pipeline(monthly_csv):
    """cat series.csv | python -m rnncli forecast - --horizon 6 (a real pipe, a real process)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    with open(monthly_csv, "rb") as handle:
        done = subprocess.run(
            [sys.executable, "-m", "rnncli", "forecast", "-", "--horizon", "6", *TINY, "--steps", "10"],
            stdin=handle,
            capture_output=True,
            env=env,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr.decode()
    rows = list(csv.DictReader(io.StringIO(done.stdout.decode())))
    assert len(rows) == 12 and rows[0]["timestamp"] == "2018-01"


@pytest.mark.parametrize("name, horizon", [("monthly.csv", 12), ("hourly.csv", 24)])
def test_beats_seasonal_naive_on_the_bundled_samples(name, horizon):
    """The issue's bar, on the project's generated data: MASE below seasonal naive, 80% interval 70-90%.

    Seed 1, as in the README's table (78.5% and 75.0% coverage there: not at the edge of the band).
    """
    result = runner.invoke(
        app,
        [
            "forecast",
            str(ROOT / "sample_data" / name),
            "--horizon",
            str(horizon),
            "--backtest",
            "3",
            "--json",
            "--quiet",
            "--device",
            "cpu",
            "--seed",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert not document["overlaps_training"]
    assert document["mase_vs_seasonal_naive"] < 1
    assert 0.7 <= document["coverage"]["0.8"] <= 0.9


def test_losing_to_seasonal_naive_is_said_plainly(capsys):
    from rnncli.cli.render.outputs import write_backtest_table

    row = {"mae": 2.0, "rmse": 2.0, "smape": 5.0, "mase": 1.2}
    write_backtest_table(
        {
            "series": 1,
            "windows": 1,
            "horizon": 3,
            "lookback": 6,
            "season": 1,
            "metrics": {"model": row, "seasonal_naive": {**row, "mase": 1.0}},
            "coverage": {"0.8": 0.5},
            "mase_vs_seasonal_naive": 1.2,
            "beats_seasonal_naive": False,
        }
    )
    assert "the model does NOT beat seasonal naive" in capsys.readouterr().out


def test_plot_without_matplotlib_is_a_clear_error(trained, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    result = runner.invoke(app, ["forecast", "--model", str(trained), "--plot", str(tmp_path / "f.png"), "-q"])
    assert result.exit_code == 2
    assert "--plot needs matplotlib: pip install 'rnncli[plot]'" in result.stderr
    assert result.stdout == ""  # refused before forecasting anything


def test_a_config_file_sets_forecasting_options_and_flags_override_it(monthly_csv, tmp_path):
    config = tmp_path / "forecast.yaml"
    config.write_text("horizon: 6\nhidden_size: 12\nsteps: 500\nseason: 12\n")
    out = tmp_path / "run"
    result = runner.invoke(
        app,
        [
            "train",
            str(monthly_csv),
            "--config",
            str(config),
            "--steps",
            "20",
            "--device",
            "cpu",
            "--out",
            str(out),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    forecaster = load_forecaster(out)
    assert (forecaster.config.horizon, forecaster.config.hidden_size) == (6, 12)  # from the file
    assert forecaster.meta["history"]["step"] == 20  # the flag won
    config.write_text("horizon: 6\nseq_len: 64\n")
    refused = runner.invoke(app, ["train", str(monthly_csv), "--config", str(config), "--out", str(tmp_path / "b")])
    assert refused.exit_code == 2 and f"{config}: unknown key 'seq_len'" in refused.stderr
