"""Forecasting CSV files as users have them (issue 19): number spellings, column roles, time spellings, the
model's frequency, short series, never-negative data and stdin, each through the real command.

Every file is written here, small, in the shape that went wrong; models are tiny and train a few steps
(the tests that train are marked slow: a few seconds each, more on a busy machine).
"""

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

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "NO_COLOR": "1", "COLUMNS": "200"}
TINY = ["--hidden-size", "8", "--steps", "5", "--device", "cpu"]


def rnn(*args: object, stdin: str | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "rnncli", *map(str, args)]
    return subprocess.run(command, input=stdin, capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=300)


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc


def refused(proc: subprocess.CompletedProcess, *needles: str) -> str:
    """The one error line of a refused command (exit 2), which holds every needle."""
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("rnn: error:")]
    assert len(errors) == 1, proc.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def monthly(n: int, *, start: str = "2010-01-01", fmt: str = "%Y-%m", level: float = 100.0) -> tuple[list, list]:
    t = np.arange(n)
    dates = pd.date_range(start, periods=n, freq="MS")
    values = level + 10 * np.sin(2 * np.pi * t / 12) + 0.5 * t
    return [d.strftime(fmt) for d in dates], [round(float(v), 2) for v in values]


def write(path: Path, header: str, lines: list[str]) -> Path:
    path.write_text(header + "\n" + "\n".join(lines) + "\n")
    return path


# --- numbers: thousands separators, decimal commas, NA markers -------------------------------------------------


def european(path: Path) -> Path:
    """A ';' file whose values run from 1.050 to 1.290: a thousands separator, as Excel writes it in Germany."""
    times, _ = monthly(24)
    values = [f"1.{50 + 10 * i:03d}" for i in range(24)]
    return write(path, "Monat;Umsatz", [f"{t};{v}" for t, v in zip(times, values, strict=True)])


@pytest.mark.slow
def test_a_thousands_separator_is_read_and_said(tmp_path):
    """1.090 in a ';' file is 1090, and the command says how it read it; the flags read it otherwise."""
    path = european(tmp_path / "umsatz.csv")
    summary = json.loads(ok(rnn("inspect", path, "--json")).stdout)
    series = summary["series"][0]
    assert (series["min"], series["max"]) == (1050.0, 1280.0)
    assert "'.' as the thousands separator and ',' as the decimal mark" in summary["notes"][0]
    assert "1.050 is 1050" in summary["notes"][0]
    stated = json.loads(ok(rnn("inspect", path, "--json", "--decimal", ".", "--thousands", "none")).stdout)
    assert stated["series"][0]["max"] == 1.28 and stated["notes"] == []
    shown = ok(rnn("inspect", path))
    assert "thousands separator" in shown.stdout
    forecast = ok(rnn("forecast", path, "--horizon", "3", *TINY))
    assert "read '.' as the thousands separator" in forecast.stderr
    assert all(float(row["q0.5"]) > 500 for row in rows(forecast.stdout))  # thousands, not about 1.2


def test_separators_both_ways_and_decimal_commas(tmp_path):
    """1,234.5 (a quoted comma file) and 1.234,5 (';') are both 1234.5; 3,75 in a ';' file is 3.75; 1 234,5
    with --thousands space is 1234.5."""
    times, _ = monthly(4)
    us = write(tmp_path / "us.csv", "date,y", [f'{t},"1,23{i}.5"' for i, t in enumerate(times)])
    eu = write(tmp_path / "eu.csv", "date;y", [f"{t};1.23{i},5" for i, t in enumerate(times)])
    plain = write(tmp_path / "plain.csv", "date;y", [f"{t};3,7{i}" for i, t in enumerate(times)])
    for path, top in ((us, 1233.5), (eu, 1233.5), (plain, 3.73)):
        summary = json.loads(ok(rnn("inspect", path, "--json")).stdout)
        assert summary["series"][0]["max"] == top, path
    refused(rnn("inspect", us, "--decimal", ";"), "--decimal must be . or ,")
    french = write(tmp_path / "fr.csv", "date;y", [f"{t};1 23{i},5" for i, t in enumerate(times)])
    summary = json.loads(ok(rnn("inspect", french, "--json", "--thousands", "space")).stdout)
    assert summary["series"][0]["max"] == 1233.5  # the ';' file's decimal comma, the stated separator


def test_na_markers_are_missing_values_not_errors(tmp_path):
    times, values = monthly(12)
    cells = [str(v) for v in values]
    for i, marker in zip((2, 4, 6, 8, 9), ("NA", "N/A", "nan", "null", ""), strict=True):
        cells[i] = marker
    path = write(tmp_path / "gaps.csv", "date,y", [f"{t},{c}" for t, c in zip(times, cells, strict=True)])
    summary = json.loads(ok(rnn("inspect", path, "--json")).stdout)
    assert summary["missing_cells"] == 5
    refused(rnn("inspect", path, "--missing", "error"), "5 missing value(s)")


# --- the model's frequency ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def monthly_run(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny forecaster of a long file with its own column names: symbol,date,price (kept by the module)."""
    folder = tmp_path_factory.mktemp("monthly_run")
    times, values = monthly(48)
    lines = [f"{sym},{t},{v * k}" for sym, k in (("AAPL", 1), ("MSFT", 3)) for t, v in zip(times, values, strict=True)]
    data = write(folder / "prices.csv", "symbol,date,price", lines)
    trained = ok(rnn("train", data, "--horizon", "3", "--out", folder / "run", *TINY))
    assert "series in 'symbol', times in 'date', values in 'price'" in trained.stderr
    return folder / "run", data


@pytest.mark.slow
def test_data_of_another_frequency_is_refused_naming_both(monthly_run, tmp_path):
    """A monthly model given a yearly file: refused, not thousands of 'missing values' filled."""
    run, _ = monthly_run
    lines = [f"{sym},{year}-01-01,{year - 1900}" for sym in ("AAPL", "MSFT") for year in range(1950, 1990)]
    yearly = write(tmp_path / "yearly.csv", "symbol,date,price", lines)
    for proc in (rnn("forecast", "--model", run, yearly), rnn("eval", run, yearly)):
        refused(proc, "yearly.csv", "the data is yearly (YS-JAN)", "trained on monthly (MS) data")


# --- long files with any column names ----------------------------------------------------------------------------


@pytest.mark.slow
def test_a_long_file_with_its_own_names_is_read_and_its_roles_kept(monthly_run, tmp_path):
    """symbol,date,price is a long file; the run remembers the roles and uses them on a file named otherwise."""
    run, data = monthly_run
    summary = json.loads(ok(rnn("inspect", data, "--json")).stdout)
    assert summary["layout"] == "long" and [s["id"] for s in summary["series"]] == ["AAPL", "MSFT"]
    assert summary["columns"] == {"time": "date", "id": "symbol", "value": "price"}
    saved = json.loads(ok(rnn("inspect", run, "--json")).stdout)
    assert saved["series"]["columns"] == {"time": "date", "id": "symbol", "value": "price"}
    # a newer export with two more numeric columns: the remembered value column is the one read
    frame = pd.read_csv(data).assign(volume=7, open=1.5)[["open", "symbol", "volume", "date", "price"]]
    newer = tmp_path / "newer.csv"
    frame.to_csv(newer, index=False)
    forecast = rows(ok(rnn("forecast", "--model", run, newer, "--quiet")).stdout)
    assert {r["id"] for r in forecast} == {"AAPL", "MSFT"} and forecast[0]["timestamp"] == "2014-01"
    # the run was trained on the whole file: its last window is training data (refused without --allow-overlap)
    ok(rnn("eval", run, newer, "--backtest", "1", "--json", "--allow-overlap"))


@pytest.mark.slow
def test_eval_and_inspect_take_the_column_flags(monthly_run, tmp_path):
    """The flags an error advises exist on every command that reads a forecasting CSV."""
    run, data = monthly_run
    frame = pd.read_csv(data).rename(columns={"symbol": "ticker", "date": "day", "price": "close"})
    frame["other"] = frame["close"] * 2  # two numeric columns: the value column must be named
    renamed = tmp_path / "renamed.csv"
    frame.to_csv(renamed, index=False)
    refused(rnn("inspect", renamed), "several value columns", "--value-col")
    flags = ["--id-col", "ticker", "--time-col", "day", "--value-col", "close"]
    summary = json.loads(ok(rnn("inspect", renamed, "--json", *flags)).stdout)
    assert summary["columns"] == {"time": "day", "id": "ticker", "value": "close"}
    backtest = json.loads(ok(rnn("eval", run, renamed, "--backtest", "1", "--json", "--allow-overlap", *flags)).stdout)
    assert backtest["series"] == 2 and backtest["overlaps_training"] is True  # trained on the whole file
    refused(rnn("inspect", run, "--id-col", "x"), "--id-col says how to read a data file")


# --- timestamps as the input wrote them -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stamps, freq, first_forecast",
    [
        (pd.date_range("1995-01-01", periods=31, freq="D"), "%b-%-d-%Y", "Feb-1-1995"),
        (pd.date_range("1955-01-01", periods=60, freq="MS"), "%Y-%m", "1960-01"),
        (pd.date_range("1990-01-01", periods=40, freq="QS"), "quarter", "2000-Q1"),
        (pd.date_range("2020-01-01", periods=40, freq="D"), "%d/%m/%Y", "10/02/2020"),
        (pd.date_range("2020-01-01", periods=20, freq="D"), "%m/%d/%Y", "01/21/2020"),
    ],
    ids=["unpadded-day", "year-month", "quarter", "day-first", "month-first"],
)
@pytest.mark.slow
def test_forecast_timestamps_are_written_as_the_input_wrote_them(tmp_path, stamps, freq, first_forecast):
    def spell(stamp: pd.Timestamp) -> str:
        if freq == "quarter":
            return f"{stamp.year}-Q{stamp.quarter}"
        return stamp.strftime(freq.replace("%-d", str(stamp.day)))

    values = 10 + np.sin(np.arange(len(stamps)))
    path = write(tmp_path / "s.csv", "when,v", [f"{spell(s)},{v:.3f}" for s, v in zip(stamps, values, strict=True)])
    summary = json.loads(ok(rnn("inspect", path, "--json")).stdout)
    assert summary["time_range"] == {"start": spell(stamps[0]), "end": spell(stamps[-1])}
    forecast = rows(ok(rnn("forecast", path, "--horizon", "2", "--lookback", "8", *TINY, "--quiet")).stdout)
    assert forecast[0]["timestamp"] == first_forecast


# --- stdin ------------------------------------------------------------------------------------------------------


def test_inspect_reads_a_csv_from_stdin(tmp_path):
    times, values = monthly(24)
    text = "date,sales\n" + "".join(f"{t},{v}\n" for t, v in zip(times, values, strict=True))
    summary = json.loads(ok(rnn("inspect", "-", "--json", stdin=text)).stdout)
    assert summary["kind"] == "series" and summary["series"][0]["length"] == 24
    prose = "It was a bright cold day in April, and the clocks were striking thirteen.\n" * 5
    assert json.loads(ok(rnn("inspect", "-", "--json", stdin=prose)).stdout)["kind"] == "text"


# --- one short series --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_series_too_short_is_left_out_with_a_warning(tmp_path):
    times, values = monthly(40)
    lines = [f"long,{t},{v}" for t, v in zip(times, values, strict=True)] + [f"tiny,{times[0]},1", f"tiny,{times[1]},2"]
    path = write(tmp_path / "mixed.csv", "unique_id,ds,y", lines)
    proc = ok(rnn("forecast", path, "--horizon", "3", *TINY))
    assert "series 'tiny' has 2 points" in proc.stderr and "left out" in proc.stderr
    assert {row["id"] for row in rows(proc.stdout)} == {"long"}
    refused(rnn("forecast", path, "--horizon", "3", "--strict", *TINY), "series 'tiny' has 2 points")


# --- data that is never negative -------------------------------------------------------------------------------


@pytest.mark.slow
def test_counts_get_no_negative_forecasts_and_log1p_takes_zeros(tmp_path):
    rng = np.random.default_rng(0)
    times, _ = monthly(48)
    counts = rng.poisson(0.4, size=48) * rng.integers(1, 30, size=48)  # mostly zeros, a few spikes
    path = write(tmp_path / "counts.csv", "date,orders", [f"{t},{c}" for t, c in zip(times, counts, strict=True)])
    run = tmp_path / "run"
    trained = ok(rnn("train", path, "--horizon", "6", "--out", run, *TINY))
    assert "forecasts kept at 0 or above" in trained.stderr
    assert json.loads(ok(rnn("inspect", run, "--json")).stdout)["model"]["nonnegative"] is True
    forecast = rows(ok(rnn("forecast", "--model", run, "--quiet")).stdout)
    assert min(float(row["q0.1"]) for row in forecast) >= 0
    refused(rnn("forecast", path, "--horizon", "6", "--scaling", "log", *TINY), "--scaling log1p")
    logged = rows(ok(rnn("forecast", path, "--horizon", "6", "--scaling", "log1p", *TINY, "--quiet")).stdout)
    assert len(logged) == 6 and min(float(row["q0.1"]) for row in logged) >= 0
