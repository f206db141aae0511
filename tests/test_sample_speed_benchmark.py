"""The sampling benchmark keeps working (a tiny run; the numbers themselves are not asserted).

Run with ``python -m pytest -m slow tests/test_*_benchmark.py``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Benchmarks are smoke-tested with -m slow: each run costs seconds to minutes that the default suite
# spends on behaviour.
pytestmark = pytest.mark.slow


def test_sample_speed_benchmark_runs_and_prints_ratios_per_cell_and_batch():
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "sample_speed.py"),
            "--quick",
            "--threads",
            "1",
            "--cells",
            "lstm,gru,rnn",
            "--length",
            "12",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines() if line.startswith(("lstm", "gru", "rnn"))]
    assert [(row[0], row[1]) for row in rows] == [
        (cell, batch) for cell in ("lstm", "gru", "rnn") for batch in ("1", "16")
    ]
    assert all(float(value.replace(",", "")) > 0 for row in rows for value in row[2:])
