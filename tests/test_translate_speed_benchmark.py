"""The translation benchmark keeps working (a tiny run; the numbers themselves are not asserted).

Run with ``python -m pytest -m slow tests/test_translate_speed_benchmark.py``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def test_translate_speed_benchmark_prints_its_ratios():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "translate_speed.py"), "--quick", "--threads", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    names = ("wall clock", "CPU time", "greedy, batch 64", "beam 5, batch 32")
    rows = [line.split() for line in proc.stdout.splitlines() if line.strip().startswith(names)]
    assert len(rows) == 4 and all(float(row[-1]) > 0 for row in rows)
    assert "1 thread(s)" in proc.stdout
