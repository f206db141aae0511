"""Forecasting on real held-out data: rnn's default forecaster on the M1 competition's collections.

Reads the M1 data (Makridakis et al., 1982) as the project keeps it outside the repository
(`/work/shared/data/m1/`, or `--data DIR`: `monthly.train.csv`, `monthly.test.csv`, ... in the long layout
`unique_id,ds,y`, and `scores.json` with the seasonal naive and statsforecast AutoETS figures). For each
collection it runs, as a user would,

    rnn forecast COLLECTION.train.csv --horizon H --season M --seed S

with every other option at its default, on the series long enough to train the default model on (`lookback
+ 2 x horizon` points), keeping the run; then `rnn forecast --model RUN` forecasts the series it did not train
on that hold at least a lookback of history (the rest get seasonal naive in the "all series" row). It scores
the point forecast (the `median` column) against the held-out test values: MASE (scaled by the in-sample
seasonal naive error, lag M), sMAPE, and the share of test points inside the 0.1-0.9 quantiles (the 80%
interval), beside seasonal naive on the same series and the AutoETS figures shipped with the data (those are
over all series of a collection).

    OMP_NUM_THREADS=1 python benchmarks/forecast_m1.py                      # monthly and quarterly, seed 1
    python benchmarks/forecast_m1.py --collections quarterly --seeds 1 2 3 --forecast-args "--ensemble 3"
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DATA = Path("/work/shared/data/m1")
ROOT = Path(__file__).resolve().parents[1]


def read_long(path: Path) -> dict[str, list[float]]:
    series: dict[str, list[float]] = {}
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            series.setdefault(row["unique_id"], []).append(float(row["y"]))
    return series


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def seasonal_naive(history: np.ndarray, horizon: int, season: int) -> np.ndarray:
    period = season if len(history) >= season else 1
    return history[-period:][np.arange(horizon) % period]


def mase_scale(history: np.ndarray, season: int) -> float:
    lag = season if len(history) > season else 1
    scale = float(np.abs(history[lag:] - history[:-lag]).mean())
    return scale if scale > 0 else float("nan")


def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    denom = np.abs(actual) + np.abs(forecast)
    return float(np.mean(np.where(denom > 0, 200 * np.abs(actual - forecast) / np.where(denom > 0, denom, 1), 0)))


def run_rnn(args: list[str]) -> tuple[dict, float, str]:
    """`rnn forecast ARGS`: its rows per series id, the seconds it took and what it said on stderr."""
    device = [] if "--model" in args else ["--device", "cpu"]  # a trained model takes no training options
    command = [sys.executable, "-m", "rnncli", "forecast", *args, *device]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    took = time.perf_counter() - began
    if done.returncode != 0:
        sys.exit(f"forecast_m1: rnn forecast {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    rows: dict[str, list[dict[str, str]]] = {}
    for row in csv.DictReader(io.StringIO(done.stdout)):
        rows.setdefault(row["id"], []).append(row)
    return rows, took, done.stderr


def model_forecasts(rows: dict, ids) -> dict:
    """(median, q0.1, q0.9) per series id; the median is the point forecast column rnn forecast writes."""
    return {sid: tuple(np.array([float(r[k]) for r in rows[sid]]) for k in ("median", "q0.1", "q0.9")) for sid in ids}


def write_subset(source: Path, keep: set[str], target: Path) -> None:
    with open(source, newline="") as handle, open(target, "w", newline="") as out:
        reader = csv.DictReader(handle)
        writer = csv.DictWriter(out, fieldnames=reader.fieldnames, lineterminator="\n")
        writer.writeheader()
        writer.writerows(row for row in reader if row["unique_id"] in keep)


def score(train, test, forecasts, season: int) -> dict[str, float]:
    """Mean per series of MASE and sMAPE for the forecasts, and the pooled 80% interval coverage."""
    mase, smapes, inside, points = [], [], 0, 0
    for sid, (point, low, high) in forecasts.items():
        history, actual = np.asarray(train[sid]), np.asarray(test[sid])
        mase.append(float(np.abs(actual - point).mean()) / mase_scale(history, season))
        smapes.append(smape(actual, point))
        if low is not None:
            inside += int(((actual >= low) & (actual <= high)).sum())
            points += len(actual)
    return {
        "mase": float(np.nanmean(mase)),
        "smape": float(np.mean(smapes)),
        "coverage80": inside / points if points else float("nan"),
    }


def measure(name: str, data: Path, seed: int, extra: list[str], work: Path) -> dict:
    """Train on the series long enough to train on; forecast those, then (with the kept run) every series
    with at least a lookback of history; seasonal naive for the rest."""
    scores = json.loads((data / "scores.json").read_text())[name]
    horizon, season = scores["horizon"], scores["season"]
    train, test = read_long(data / f"{name}.train.csv"), read_long(data / f"{name}.test.csv")
    lookback = max(2 * horizon, 2 * season, 8)  # the default
    long_enough = {sid for sid, values in train.items() if len(values) >= lookback + 2 * horizon}
    with_context = {sid for sid, values in train.items() if len(values) >= lookback}
    subset, context, run = work / f"{name}.train.csv", work / f"{name}.context.csv", work / f"{name}-{seed}"
    write_subset(data / f"{name}.train.csv", long_enough, subset)
    write_subset(data / f"{name}.train.csv", with_context, context)
    given = [*extra, "--season", str(season), "--seed", str(seed)]
    rows, took, stderr = run_rnn([str(subset), "--horizon", str(horizon), *given, "--out", str(run)])
    model = model_forecasts(rows, long_enough)
    others, _, _ = run_rnn(["--model", str(run), str(context)])
    unseen = model_forecasts(others, with_context - long_enough)
    naive = {sid: (seasonal_naive(np.asarray(v), horizon, season), None, None) for sid, v in train.items()}
    return {
        "collection": name,
        "seed": seed,
        "series": len(train),
        "trained_on": len(long_enough),
        "unseen": len(unseen),
        "horizon": horizon,
        "season": season,
        "seconds": round(took, 1),
        "model": score(train, test, model, season),
        "seasonal_naive": score(train, test, {sid: naive[sid] for sid in long_enough}, season),
        "unseen_model": score(train, test, unseen, season) if unseen else None,
        "unseen_seasonal_naive": score(train, test, {sid: naive[sid] for sid in unseen}, season) if unseen else None,
        "all_series": {"model_or_seasonal_naive": score(train, test, {**naive, **unseen, **model}, season), **scores},
        "calibration": [line for line in stderr.splitlines() if "calibrated" in line],
    }


def table(results: list[dict]) -> str:
    """Three markdown tables: the series trained on, the series forecast without training on them, all series."""
    lines = [
        "| collection (series trained on / all) | seed | model MASE | seasonal naive MASE | model / s. naive "
        "| model sMAPE | s. naive sMAPE | 80% coverage | seconds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(_row(f"{r['collection']} ({r['trained_on']} / {r['series']})", r, r["model"], r["seasonal_naive"]))
    lines += ["", lines[0].replace("series trained on / all", "series not trained on"), lines[1]]
    for r in results:
        if r["unseen_model"]:
            lines.append(_row(f"{r['collection']} ({r['unseen']})", r, r["unseen_model"], r["unseen_seasonal_naive"]))
    lines += [
        "",
        "| collection, all series | model (seasonal naive below a lookback) MASE / sMAPE / 80% coverage "
        "| seasonal naive MASE / sMAPE | AutoETS MASE / sMAPE / 80% coverage |",
        "|---|---|---|---|",
    ]
    for r in results:
        a = r["all_series"]
        mixed, sn, ets = a["model_or_seasonal_naive"], a["seasonal_naive"], a["auto_ets"]
        lines.append(
            f"| {r['collection']} ({r['series']}, seed {r['seed']}) | {mixed['mase']:.3f} / {mixed['smape']:.2f} / "
            f"{mixed['coverage80']:.1%} | {sn['mase']:.3f} / {sn['smape']:.2f} | "
            f"{ets['mase']:.3f} / {ets['smape']:.2f} / {ets['coverage80']:.1%} |"
        )
    return "\n".join(lines)


def _row(label: str, r: dict, m: dict, n: dict) -> str:
    return (
        f"| {label} | {r['seed']} | {m['mase']:.3f} | {n['mase']:.3f} | {m['mase'] / n['mase']:.3f} | "
        f"{m['smape']:.2f} | {n['smape']:.2f} | {m['coverage80']:.1%} | {r['seconds']:.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder of the M1 CSVs and scores.json")
    parser.add_argument("--collections", nargs="+", default=["monthly", "quarterly"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1])
    parser.add_argument("--forecast-args", default="", help="extra options for rnn forecast, quoted")
    parser.add_argument("--json", action="store_true", help="print every figure as JSON after the table")
    args = parser.parse_args()
    if not (args.data / "scores.json").is_file():
        sys.exit(f"forecast_m1: {args.data} has no scores.json; give the M1 folder with --data DIR")
    results = []
    with tempfile.TemporaryDirectory(prefix="rnn-m1-") as work:
        for name in args.collections:
            for seed in args.seeds:
                results.append(measure(name, args.data, seed, shlex.split(args.forecast_args), Path(work)))
                print(f"{name} seed {seed}: done in {results[-1]['seconds']:.0f} s", file=sys.stderr, flush=True)
    print(table(results))
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
