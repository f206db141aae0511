"""The training benchmark keeps working (a tiny run; the numbers themselves are not asserted).

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


def test_train_speed_benchmark_runs_and_prints_a_ratio_per_cell():
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "train_speed.py"),
            "--quick",
            "--threads",
            "1",
            "--cells",
            "lstm,gru",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines() if line.startswith(("lstm", "gru"))]
    assert [row[0] for row in rows] == ["lstm", "gru"]
    assert all(float(row[-1]) > 0 for row in rows)


def test_precision_benchmark_runs_fp32_and_bf16_for_each_cell():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "precision.py"), "--quick", "--threads", "1", "--cells", "lstm"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines() if line.startswith("lstm")]
    assert [row[1] for row in rows] == ["fp32", "bf16"]
    assert all(float(row[-1]) > 0 for row in rows)  # bits per character of a real validation
