"""benchmarks/forecast_m1.py: refuses in one line without the M1 folder, and runs end to end on a small invented
collection in its layout (the real measurement reads /work/shared/data/m1; see docs/forecasting.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "forecast_m1.py"


def bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600)


def test_a_missing_data_folder_is_one_line(tmp_path):
    proc = bench("--data", str(tmp_path / "none"))
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "has no scores.json; give the M1 folder with --data DIR" in proc.stderr


def fake_m1(folder: Path) -> None:
    """Quarterly series in the M1 layout: 6 long enough to train on, 2 only long enough to forecast, 1 too short."""
    rng = np.random.default_rng(0)
    train, test = [], []
    for k, length in enumerate([44] * 6 + [14, 12, 6]):
        t = np.arange(length + 4)
        y = 100 + 5 * k + 0.5 * t + 8 * np.sin(np.pi * t / 2) + rng.normal(0, 1, len(t))
        dates = pd.date_range(end="2000-01-01", periods=length, freq="QS")
        future = pd.date_range(start="2000-04-01", periods=4, freq="QS")
        train += [
            {"unique_id": f"Q{k}", "ds": d.date(), "y": round(v, 3)} for d, v in zip(dates, y[:length], strict=True)
        ]
        test += [
            {"unique_id": f"Q{k}", "ds": d.date(), "y": round(v, 3)} for d, v in zip(future, y[length:], strict=True)
        ]
    pd.DataFrame(train).to_csv(folder / "quarterly.train.csv", index=False)
    pd.DataFrame(test).to_csv(folder / "quarterly.test.csv", index=False)
    entry = {"series": 9, "horizon": 4, "season": 4, "seasonal_naive": {"mase": 1.0, "smape": 5.0}}
    entry["auto_ets"] = {"mase": 0.9, "smape": 4.0, "coverage80": 0.7}
    (folder / "scores.json").write_text(json.dumps({"quarterly": entry}))


@pytest.mark.slow
def test_the_benchmark_scores_the_model_beside_seasonal_naive_and_autoets(tmp_path):
    fake_m1(tmp_path)
    args = ["--collections", "quarterly", "--forecast-args", "--steps 30 --hidden-size 8", "--json"]
    proc = bench("--data", str(tmp_path), *args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| quarterly (6 / 9) | 1 |" in proc.stdout
    result = json.loads(proc.stdout[proc.stdout.index("[") :])[0]
    assert (
        result["trained_on"] == 6 and result["unseen"] == 2
    )  # 14 and 12 points: a lookback (8), not lookback + 2 horizons (16)
    assert 0 <= result["model"]["coverage80"] <= 1
    assert result["all_series"]["auto_ets"]["mase"] == 0.9
