"""Sequence tagging on real tagged text: rnn's default tagger against the most-frequent-tag baseline.

Takes the data as paths (nothing is downloaded and no data is kept in the repository). As a user would, it
runs `rnn train TRAIN --task tag --time BUDGET` with every other option at its default (or `--train-args`),
then `rnn eval RUN TEST --json`, and prints the held-out entity precision, recall and F1 (micro, exact
spans, as conlleval scores them; for BIO/BIOES tags) and the token accuracy of the model beside the most
frequent tag of each word (which rnn fits on the same training sentences). The sets measured in
docs/tagging.md (which says where each comes from), as they were run:

    # CoNLL-2003 English NER (token TAG 0 columns: the tag column is found by itself)
    OMP_NUM_THREADS=1 python benchmarks/tag_real.py conll03 conll03_train.txt conll03_test.txt \\
        --val conll03_valid.txt --time 5m
    # UD English-EWT, parts of speech (a .conllu file is tagged with upos by default): train on dev, test on test
    OMP_NUM_THREADS=1 python benchmarks/tag_real.py ewt-upos en_ewt-ud-dev.conllu en_ewt-ud-test.conllu --time 3m
    # WNUT-17 emerging entities (tweets): train on train, test on dev
    OMP_NUM_THREADS=1 python benchmarks/tag_real.py wnut17 wnut17train.conll emerging.dev.conll --time 3m
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def rnn_command() -> list[str]:
    found = shutil.which("rnn")
    return [found] if found else [sys.executable, "-m", "rnncli"]


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run(rnn_command() + args, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"rnn {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return done


def measure(args: argparse.Namespace, work: Path, env: dict[str, str]) -> dict:
    """Train with the defaults (and --train-args) under the budget, then evaluate on the test file."""
    out = work / f"run-{args.name}"
    train = ["train", str(args.train), "--task", "tag", "--time", args.time, "--out", str(out)]
    train += ["--val", str(args.val)] if args.val else []
    started = time.perf_counter()
    trained = run(train + shlex.split(args.train_args), env)
    seconds = time.perf_counter() - started
    document = json.loads(run(["eval", str(out), str(args.test), "--json"], env).stdout)
    inspected = json.loads(run(["inspect", str(out), "--json"], env).stdout)
    history = inspected.get("history") or {}
    steps = max((r["step"] for r in (inspected.get("curve") or {}).get("records", [])), default=history.get("step"))
    notes = [line for line in trained.stderr.splitlines() if "validation (" in line or "best validation" in line]
    return {"set": args.name, "seconds": round(seconds), "steps": steps, "best_step": history.get("best_step"),
            "document": document, "notes": notes}  # fmt: skip


def rows(result: dict, model_name: str) -> list[str]:
    document, name = result["document"], result["set"]
    lines = []
    for who, scores in ((model_name, document["model"]), ("most frequent tag per word", document["baseline"])):
        micro = (scores.get("entities") or {}).get("micro")
        entity = " | ".join(f"{micro[k]:.3f}" for k in ("precision", "recall", "f1")) if micro else "- | - | -"
        lines.append(f"| {name} | {who} | {entity} | {scores['token_accuracy']:.3f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("name", help="the set's name in the table (e.g. conll03)")
    parser.add_argument("train", type=Path, help="the tagged training file (CoNLL columns, CoNLL-U or JSONL)")
    parser.add_argument("test", type=Path, help="the held-out tagged file to evaluate on")
    parser.add_argument("--val", type=Path, help="a validation file (default: the last 10%% of TRAIN)")
    parser.add_argument("--time", default="3m", help="rnn train's --time (default 3m)")
    parser.add_argument(
        "--train-args",
        default="",
        help='more rnn train options, as --train-args="--crf" (with =, as it starts with --)',
    )
    parser.add_argument("--keep", type=Path, help="write the run here and keep it")
    parser.add_argument("--json", type=Path, help="also append the result as one JSON line to this file")
    args = parser.parse_args()
    for path in filter(None, (args.train, args.test, args.val)):
        if not path.is_file():
            sys.exit(f"{path}: no such file; give the paths of the tagged data (see the top of {__file__})")
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory() as temporary:
        result = measure(args, args.keep or Path(temporary), env)
    if args.json:
        with args.json.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({**result, "train_args": args.train_args, "time": args.time}) + "\n")
    model_name = f"rnn {args.train_args}" if args.train_args else "rnn defaults"
    print(f"{args.name}: {result['steps']} steps (best {result['best_step']}) in {result['seconds']} s")
    print("\n".join(result["notes"]))
    print("| set | model | entity P | entity R | entity F1 | token accuracy |\n|---|---|---|---|---|---|")
    print("\n".join(rows(result, model_name)))


if __name__ == "__main__":
    main()
