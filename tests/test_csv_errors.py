"""The CSV half of the error catalogue: the real commands, run as subprocesses, on bad time-series files.

Each case must exit 2 with one ``rnn: error:`` line on stderr that names the
file (and the line and column where there is one) and what to do, and no
traceback. The commands are started together from one fixture (four at a time)
so the module stays quick on two cores; most data cases go through
``inspect``, which reads the CSV without importing torch, and the rest
through ``forecast`` and ``train``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _monthly(rows: int, *, sep: str = ",", decimal: str = ".") -> str:
    lines = [f"ds{sep}y"]
    for i in range(rows):
        value = f"{100 + 10 * (i % 12) + i / 4:.2f}".replace(".", decimal)
        lines.append(f"{2015 + i // 12}-{i % 12 + 1:02d}-01{sep}{value}")
    return "\n".join(lines) + "\n"


@dataclass
class Case:
    name: str
    text: str
    command: str  # forecast, train or inspect
    expect: tuple[str, ...]  # substrings of the error line besides the file name
    extra: tuple[str, ...] = ()


CASES = [
    Case("no_numeric", "ds,name\n2020-01-01,a\n2020-02-01,b\n", "inspect", ("no numeric column", "columns: ds, name")),
    Case("header_only", "ds,y\n", "inspect", ("header but no rows", "add one row")),
    Case(
        "non_numeric_cell",
        "ds,y\n2020-01-01,1\n2020-02-01,2\n2020-03-01,abc\n2020-04-01,4\n",
        "forecast",
        ("line 4, column 'y'", "'abc' is not a number"),
    ),
    Case(
        "duplicate_time",
        "ds,y\n2020-01-01,1\n2020-02-01,2\n2020-02-01,3\n2020-04-01,4\n",
        "inspect",
        ("line 4", "duplicate timestamp", "same as line 3"),
    ),
    Case(
        "unsorted_time",
        "ds,y\n2020-01-01,1\n2020-03-01,2\n2020-02-01,3\n2020-04-01,4\n",
        "inspect",
        ("line 4", "not sorted by time", "sort the file"),
    ),
    Case("single_row", "ds,y\n2020-01-01,1\n", "inspect", ("a single row", "many rows")),
    Case(
        "ragged_rows",
        "ds,y\n2020-01-01,1\n2020-02-01,2,7\n2020-03-01,3\n",
        "inspect",
        ("line 3", "more cells than the header"),
    ),
    Case(
        "ragged_first_row",
        "ds,y\n2020-01-01,1,5\n2020-02-01,2\n",
        "inspect",
        ("line 2", "more cells than the header", "quote cells"),
    ),
    Case(
        "repeated_name",
        "ds,y, y\n2020-01-01,1,2\n2020-02-01,2,3\n",
        "inspect",
        ("line 1", "'y' appears twice", "its own name"),
    ),
    Case(
        "unparseable_time",
        "ds,y\n2020-01-01,1\n2020-02-01,2\nnot a date,3\n2020-04-01,4\n",
        "train",
        ("line 4, column 'ds'", "cannot read 'not a date'", "ISO dates"),
    ),
    Case("empty_file", "", "inspect", ("empty", "header line")),
    Case("blank_header", "\nds,y\n2020-01-01,1\n", "inspect", ("line 1 is blank", "header")),
    Case("too_short", _monthly(6), "forecast", ("series 'y' has 6 points", "needs at least", "shorter --lookback")),
    Case(
        "semicolon_bad_cell",
        "ds;y\n2020-01-01;1,5\n2020-02-01;x\n2020-03-01;2,5\n",
        "inspect",
        ("line 3, column 'y'", "'x' is not a number"),
    ),
    Case(
        "quantiles_out_of_range",
        _monthly(40),
        "forecast",
        ("--quantiles", "strictly between 0 and 1"),
        ("--quantiles", "0.1,1.5"),
    ),
    Case("negative_horizon", _monthly(40), "train", ("--horizon must be", "from 1 to 10000", "got -3")),
    Case(
        "several_value_columns",
        "symbol,date,open,close\nA,2020-01-01,1,2\nA,2020-02-01,2,3\nB,2020-01-01,5,6\nB,2020-02-01,6,7\n",
        "inspect",
        ("long layout (id column 'symbol')", "several value columns (open, close)", "--value-col"),
    ),
    Case("flag_decimal", _monthly(5), "inspect", ("--decimal must be . or ,", "got ';'"), ("--decimal", ";")),
    Case(
        "flag_log_scaling_zeros",
        _monthly(40).replace("100.00", "0"),
        "forecast",
        ("--scaling log needs positive values", "--scaling log1p"),
        ("--scaling", "log"),
    ),
    Case(
        "too_short_strict",
        "unique_id,ds,y\n"
        + "".join(f"long,{line}\n" for line in _monthly(40).splitlines()[1:])
        + "tiny,2015-01-01,1\n",
        "forecast",
        ("series 'tiny' has 1 points", "needs at least"),
        ("--strict",),
    ),
]
READ_BEFORE_FAILING = ("too_short", "flag_log_scaling_zeros", "too_short_strict")  # info lines come first


def _command(case: Case, csv: Path, tmp: Path) -> list[str]:
    base = [sys.executable, "-m", "rnncli"]
    horizon = "-3" if case.name == "negative_horizon" else "3"
    if case.command == "inspect":
        return [*base, "inspect", str(csv), *case.extra]
    args = [*base, case.command, str(csv), "--horizon", horizon, "--steps", "5", *case.extra]
    if case.command == "train":
        args += ["--out", str(tmp / f"run_{case.name}")]
    return args


def _run(args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=120, cwd=ROOT)


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, tuple[Path, subprocess.CompletedProcess]]:
    tmp = tmp_path_factory.mktemp("csv_errors")
    jobs = {}
    for case in CASES:
        csv = tmp / f"{case.name}.csv"
        csv.write_text(case.text)
        jobs[case.name] = (csv, _command(case, csv, tmp))
    with ThreadPoolExecutor(max_workers=4) as pool:
        done = dict(zip(jobs, pool.map(lambda job: _run(job[1]), jobs.values()), strict=True))
    return {name: (jobs[name][0], done[name]) for name in jobs}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_csv_gives_one_clear_line_and_exit_2(results, case):
    csv, proc = results[case.name]
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("rnn: error:")]
    assert len(errors) == 1 and proc.stderr.rstrip().endswith(errors[0]), proc.stderr
    line = errors[0]
    if not case.name.startswith(("quantile", "negative", "flag_")):  # flags are named instead of the file
        assert str(csv) in line, line
    for part in case.expect:
        assert part in line, line
    if case.name not in READ_BEFORE_FAILING:  # those read the file fine and report it before failing
        assert proc.stderr.count("\n") == 1, proc.stderr


def test_semicolon_and_tab_files_are_read_with_decimal_commas(tmp_path):
    """European CSVs (';' with decimal commas) and tab-separated files are detected, not refused."""
    from rnncli.tasks.forecast.series import read_series

    expected = read_series(str(_write(tmp_path / "comma.csv", _monthly(30)))).series[0].values
    for name, text in (("semi.csv", _monthly(30, sep=";", decimal=",")), ("tab.tsv", _monthly(30, sep="\t"))):
        data = read_series(str(_write(tmp_path / name, text)))
        assert data.freq == "MS" and len(data.series) == 1
        assert data.series[0].values.tolist() == expected.tolist()


def test_inspect_reads_a_semicolon_file_as_a_subprocess(tmp_path):
    csv = _write(tmp_path / "semi.csv", "ds;a;b\n" + "".join(f"2020-{m:02d}-01;{m},5;{2 * m}\n" for m in range(1, 13)))
    proc = _run([sys.executable, "-m", "rnncli", "inspect", str(csv), "--json"])
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert [s["id"] for s in summary["series"]] == ["a", "b"]
    assert (summary["series"][0]["min"], summary["series"][0]["max"]) == (1.5, 12.5)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_docs_errors_md_shows_every_case_as_it_ran(results):
    """docs/errors.md shows each case's command and message as they ran here (file names without their folder)."""
    import shlex

    sys.path.insert(0, str(ROOT / "scripts"))
    import make_docs

    rows = []
    for case in CASES:
        csv, proc = results[case.name]
        folder = str(csv.parent) + os.sep
        argv = [a.replace(folder, "") for a in _command(case, csv, csv.parent)[3:]]
        errors = [line for line in proc.stderr.splitlines() if line.startswith("rnn: error: ")] or ["(no error)"]
        message = errors[-1].replace(folder, "").removeprefix("rnn: error: ")
        rows.append((case.name, shlex.join(["rnn", *argv]), proc.returncode, message))
    problem = make_docs.sync_block(make_docs.ERRORS, "csv", make_docs.catalogue_table(rows))
    assert problem is None, problem
