"""benchmarks/tag_real.py: a missing file is one line, and the benchmark runs end to end on the bundled sample
(the real measurement needs the corpora named in docs/tagging.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "tag_real.py"
SAMPLE = ROOT / "sample_data"


def bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300)


def test_a_missing_file_is_named_in_one_line(tmp_path):
    proc = bench("conll03", str(tmp_path / "train.txt"), str(SAMPLE / "ner_test.conll"))
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert f"{tmp_path / 'train.txt'}: no such file" in proc.stderr


@pytest.mark.slow
def test_the_benchmark_prints_the_model_beside_the_most_frequent_tag(tmp_path):
    tiny = "--steps 20 --embed-size 8 --hidden-size 8"
    out = tmp_path / "results.jsonl"
    args = ("sample", str(SAMPLE / "ner.conll"), str(SAMPLE / "ner_test.conll"), "--time", "1m")
    proc = bench(*args, f"--train-args={tiny}", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| sample |")]
    assert len(rows) == 2 and "most frequent tag per word" in rows[1] and rows[0].count("0.") == 4
    result = json.loads(out.read_text())
    assert result["steps"] == 20 and result["document"]["scheme"] == "BIO"
