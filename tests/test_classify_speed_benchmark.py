"""The classifier benchmark keeps working (a tiny run; the numbers themselves are not asserted).

Run with ``python -m pytest -m slow tests/test_classify_speed_benchmark.py``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def test_classify_speed_benchmark_prints_a_training_and_a_predict_ratio():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "classify_speed.py"), "--quick", "--threads", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "1 thread(s)" in proc.stdout
    rows = [line.split() for line in proc.stdout.splitlines() if line.startswith(("train", "predict"))]
    assert [row[0] for row in rows] == ["train", "predict"]
    assert all(float(row[-1]) > 0 for row in rows)
