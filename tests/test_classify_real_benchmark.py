"""benchmarks/classify_real.py: refuses in one line without the fortunes packages, and runs end to end on a
small invented fortunes tree (the real measurement needs the Debian packages; see docs/classify.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "classify_real.py"


def bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300)


def test_missing_fortunes_are_named_with_the_packages_to_install(tmp_path):
    proc = bench("--fortunes", str(tmp_path / "none"))
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "apt-get install -y fortunes fortunes-de fortunes-it fortunes-es fortunes-ru" in proc.stderr


def fake_tree(root: Path) -> None:
    words = {
        "en": "the cat and dog",
        "de": "der hund und die katze",
        "it": "il cane e il gatto",
        "es": "el perro y el gato",
        "ru": "собака и кошка",
    }
    topics = {
        "computers": "program bug code",
        "politics": "vote party law",
        "science": "atom star cell",
        "work": "boss office job",
        "men-women": "wife husband date",
    }
    for name, text in topics.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("\n%\n".join(f"{text} {words['en']} number {i}" for i in range(30)), "utf-8")
    for code in ("de", "it", "es", "ru"):
        (root / code).mkdir()
        (root / code / "sayings").write_text("\n%\n".join(f"{words[code]} {i} {words[code]}" for i in range(40)))


@pytest.mark.slow
def test_the_benchmark_prints_the_model_beside_the_baselines_for_both_sets(tmp_path):
    fake_tree(tmp_path / "fortunes")
    tiny = "--steps 10 --embed-size 8 --hidden-size 8"
    proc = bench("--fortunes", str(tmp_path / "fortunes"), "--time", "30s", "--train-args", tiny)
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| language") or line.startswith("| topic")]
    assert len(rows) == 8 and sum("tf-idf" in row for row in rows) == 4
