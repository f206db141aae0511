"""The tagging benchmark keeps working (a tiny run; the numbers themselves are not asserted).

Run with ``python -m pytest -m slow tests/test_tag_speed_benchmark.py``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def test_tag_speed_benchmark_runs_and_prints_a_ratio():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "tag_speed.py"), "--quick", "--threads", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    (row,) = [line.split() for line in proc.stdout.splitlines() if line.startswith("16 ")]
    assert float(row[-1]) > 0 and float(row[-2]) > 0
