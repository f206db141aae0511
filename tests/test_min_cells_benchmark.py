"""The min-cells benchmark keeps working (a tiny run; the numbers themselves are not asserted).

Run with ``python -m pytest -m slow tests/test_*_benchmark.py``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def test_min_cells_benchmark_prints_speed_quality_and_sampling_tables():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "min_cells.py"), "--quick", "--time", "1s"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    rows = [line.split("|")[1:-1] for line in proc.stdout.splitlines() if line.startswith("| ")]
    speed = [r for r in rows if len(r) == 6 and r[0].strip().isdigit()]
    assert [(r[0].strip(), r[1].strip()) for r in speed] == [
        (w, c) for w in ("8", "32") for c in ("lstm", "gru", "mingru", "minlstm")
    ]
    quality = [r for r in rows if len(r) == 5 and r[0].strip() in ("lstm", "gru", "mingru", "minlstm")]
    assert [r[0].strip() for r in quality] == ["lstm", "gru", "mingru", "minlstm"]
    sampling = [r for r in rows if len(r) == 6 and r[0].strip() in ("mingru", "minlstm")]
    assert len(sampling) == 2 and all(float(r[5]) > 0 for r in sampling)
