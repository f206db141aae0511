"""Which model a ``--time`` budget affords: ``rnn train TEXT --time B`` with several model sizes, side by side.

Each row is one real ``rnn train`` command (a subprocess, one thread), timed
from outside, so the wall time includes start-up, reading the text, the
closing validation and the save: what a user waits for. The model it saved
(``model.safetensors``, the best validation) is then scored on a held-out
text that no run trained on, with the same scorer for every row, so the bits
per character compare whatever each run's own validation read.

The text is English prose in the public domain: the King James Bible, as
Debian's ``bible-kjv`` package ships it (``apt-get install bible-kjv``),
Genesis to Deuteronomy for training (815,288 characters, a novel's length)
and the first chapters of Joshua held out. Nothing is downloaded.

    python benchmarks/time_budget.py --budget 1m                      # the defaults against the candidates
    python benchmarks/time_budget.py --budget 3m --rows "2x256 constant" "auto"
    python benchmarks/time_budget.py --quick                          # a tiny smoke run on the bundled corpus

A row is ``LAYERSxHIDDEN SCHEDULE`` (passed as --num-layers, --hidden-size,
--lr-schedule) or ``auto`` (no model flags: what rnn chooses for the budget).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rnncli.tasks.language_model.checkpoint import load_checkpoint  # noqa: E402
from rnncli.tasks.language_model.metrics import bits_per_char, mean_loss  # noqa: E402

TRAIN_BOOKS, HELD_OUT_BOOKS = "Gen1:1-Deu34:12", "Jos1:1-Jos8:35"
DEFAULT_ROWS = ("2x256 constant", "1x128 constant", "1x128 cosine", "1x256 cosine")


def kjv_text(verses: str) -> str:
    """Verses of the King James Bible from Debian's ``bible`` program: one verse a line, no verse numbers."""
    if shutil.which("bible") is None:
        sys.exit("this benchmark reads the King James Bible from Debian's bible-kjv package: apt-get install bible-kjv")
    raw = subprocess.run(["bible", "-l0", verses], capture_output=True, text=True, check=True).stdout
    lines = [re.sub(r"^ +\d+ ", "", line) for line in raw.splitlines()]
    lines = [line for line in lines if not re.fullmatch(r"[A-Z][a-z]+ \d+", line)]  # chapter headings
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def row_flags(row: str) -> list[str]:
    if row == "auto":
        return []
    shape, schedule = row.split()
    layers, hidden = shape.split("x")
    return ["--num-layers", layers, "--hidden-size", hidden, "--lr-schedule", schedule]


def train_row(text: Path, row: str, budget: str, out: Path, extra: list[str]) -> dict:
    """One ``rnn train`` as a user runs it, timed from outside."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "rnncli", "train", str(text), "--time", budget, "--out", str(out), "--device", "cpu"]
    started = time.perf_counter()
    proc = subprocess.run([*cmd, *row_flags(row), *extra], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"{row}: rnn train failed:\n{proc.stderr}")
    chosen = [line for line in proc.stderr.splitlines() if "on the CPU: chose" in line]
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return {"wall_s": wall, "steps": metrics[-1]["step"], "tokens": metrics[-1]["tokens_seen"], "chosen": chosen}


def held_out_bpc(out: Path, held_out: str) -> tuple[float, str]:
    ckpt = load_checkpoint(out / "model.safetensors", device=torch.device("cpu"))
    ids = torch.tensor(ckpt.tokenizer.encode(held_out), dtype=torch.long)
    loss = mean_loss(ckpt.model, ids)
    model = ckpt.meta["model"]
    shape = f"{model['num_layers']}x{model['hidden_size']} {ckpt.meta['train']['lr_schedule']}"
    return bits_per_char(loss, tokens=len(ids) - 1, chars=len(held_out) - 1), shape


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", default="1m", help="--time for every row")
    parser.add_argument("--rows", nargs="+", default=list(DEFAULT_ROWS))
    parser.add_argument("--quick", action="store_true", help="a smoke run: the bundled corpus, 5 s, tiny models")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        text, held_out, extra = prepare(folder, quick=args.quick)
        budget, rows = ("5s", ["1x16 constant", "auto"]) if args.quick else (args.budget, args.rows)
        print(f"--time {budget}; torch {torch.__version__}, 1 thread, CPU; load average {os.getloadavg()[0]:.1f}")
        print("| row | model | steps | tokens | wall s | over --time | held-out bpc |")
        print("|---|---|---|---|---|---|---|")
        for n, row in enumerate(rows):
            result = train_row(text, row, budget, folder / f"run{n}", extra)
            bpc, shape = held_out_bpc(folder / f"run{n}", held_out)
            over = result["wall_s"] / parse_seconds(budget) - 1
            print(
                f"| {row} | {shape} | {result['steps']} | {result['tokens']:,} | {result['wall_s']:.1f} | "
                f"{over:+.0%} | {bpc:.3f} |",
                flush=True,
            )
            for line in result["chosen"]:
                print(f"<!-- {row}: {line.strip()} -->")


def prepare(folder: Path, *, quick: bool) -> tuple[Path, str, list[str]]:
    """The training file, the held-out text, and extra flags (tiny windows for --quick)."""
    text = folder / "train.txt"
    if quick:
        corpus = (ROOT / "sample_data" / "tinyworld.txt").read_text(encoding="utf-8")
        text.write_text(corpus[:-2000], encoding="utf-8")
        return text, corpus[-2000:], ["--seq-len", "16", "--batch-size", "4", "--embed-size", "8"]
    text.write_text(kjv_text(TRAIN_BOOKS), encoding="utf-8")
    return text, kjv_text(HELD_OUT_BOOKS)[:60_000], []


def parse_seconds(budget: str) -> float:
    from rnncli.core.settings import parse_duration

    return parse_duration(budget, "--budget")


if __name__ == "__main__":
    main()
