"""Generate the small forecasting samples in this folder (seeded, so the files never change).

    python sample_data/make_series.py

monthly.csv: long layout (unique_id,ds,y), four series of different scales
(tens to tens of thousands) and lengths (8 to 15 years), trend plus yearly
seasonality (additive or multiplicative) plus noise, with a few months missing.
hourly.csv: wide layout (time,sensor_a,...), three series with daily and
weekly cycles over five weeks, one starting later, with some empty cells.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def monthly(rng: np.random.Generator) -> pd.DataFrame:
    specs = [  # id, years, level, trend per month, seasonal amplitude (share of level), noise share, multiplicative
        ("store_a", 15, 120.0, 0.8, 0.15, 0.03, True),
        ("store_b", 12, 5_000.0, 12.0, 0.10, 0.02, False),
        ("store_c", 10, 40_000.0, -20.0, 0.20, 0.03, True),
        ("store_d", 8, 35.0, 0.05, 0.25, 0.05, False),
    ]
    frames = []
    for sid, years, level, trend, amplitude, noise, multiplicative in specs:
        n = 12 * years
        t = np.arange(n)
        base = level + trend * t
        shape = np.sin(2 * np.pi * t / 12) + 0.5 * np.cos(4 * np.pi * t / 12 + 0.7)
        seasonal = base * amplitude * shape if multiplicative else level * amplitude * shape
        y = base + seasonal + rng.normal(0, noise * level, n)
        dates = pd.date_range(end="2024-12-01", periods=n, freq="MS")
        frame = pd.DataFrame({"unique_id": sid, "ds": dates.strftime("%Y-%m-%d"), "y": np.round(y, 2)})
        missing = rng.choice(np.arange(12, n - 30), size=2, replace=False)  # gaps away from the backtest
        frames.append(frame.drop(index=missing))
    return pd.concat(frames, ignore_index=True)


def hourly(rng: np.random.Generator) -> pd.DataFrame:
    n = 24 * 35
    t = np.arange(n)
    stamps = pd.date_range("2024-03-04 00:00", periods=n, freq="h")
    daily = np.sin(2 * np.pi * (t - 6) / 24)
    weekday = (stamps.day_of_week < 5).astype(float)
    columns = {
        "sensor_a": 50 + 20 * daily + 8 * weekday + rng.normal(0, 2.5, n),
        "sensor_b": 800 + 0.2 * t + 300 * np.clip(daily, 0, None) * (0.6 + 0.4 * weekday) + rng.normal(0, 30, n),
        "sensor_c": 3 + 1.2 * daily + rng.normal(0, 0.3, n),
    }
    frame = pd.DataFrame({"time": stamps.strftime("%Y-%m-%d %H:%M")})
    for name, values in columns.items():
        cells = pd.Series(np.round(values, 2)).astype(object)
        cells[rng.choice(np.arange(48, n - 200), size=4, replace=False)] = ""  # empty cells
        frame[name] = cells
    frame.loc[: 24 * 7 - 1, "sensor_c"] = ""  # sensor_c starts a week later
    return frame


def main() -> None:
    rng = np.random.default_rng(2024)
    monthly(rng).to_csv(HERE / "monthly.csv", index=False)
    hourly(rng).to_csv(HERE / "hourly.csv", index=False)
    for name in ("monthly.csv", "hourly.csv"):
        print(f"wrote {HERE / name} ({(HERE / name).stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
