"""The time-budget and eval-speed benchmarks keep working (tiny runs; the numbers themselves are not asserted).

Run with ``python -m pytest -m slow tests/test_budget_benchmarks.py``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # each trains models through the CLI for seconds


def bench(name: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / name), "--quick"], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_time_budget_benchmark_prints_a_row_per_model_and_what_auto_chose():
    out = bench("time_budget.py")
    rows = [line for line in out.splitlines() if line.startswith("| 1x16") or line.startswith("| auto")]
    assert len(rows) == 2 and "| 1x128 cosine |" in rows[1]
    assert "on the CPU: chose a 1 x 128 model" in out


def test_eval_speed_benchmark_compares_one_stream_with_parallel_streams():
    out = bench("eval_speed.py")
    assert "| one stream |" in out and "| parallel streams |" in out and "speed-up" in out
