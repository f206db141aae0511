"""Corpus preparation: time and peak memory to read, tokenise and cache a large corpus, and to train from it.

For each tokenizer, in a fresh process each time (so peak memory is that
job's own):

- prepare: read the corpus in chunks, fit the tokenizer, write the token file
  into an empty cache (``rnncli.tasks.language_model.training.prepare_text``, what ``rnn train``
  runs before its first step);
- again: the same call a second time, which finds the token file in the cache
  and only memory-maps it;
- train: from the cache, ``--train-steps`` steps of the default model (2 x 256
  LSTM, batch 32, windows of 128) with validation and checkpoints; reports the
  time to the first step and the peak memory over the whole run.

Peak memory is the process's maximum resident set size, which includes the
~0.3 GB that importing torch costs (``baseline``) and the pages of the token
file the run touched. The corpus is generated from the bundled fable grammar
(``sample_data/make_corpus.py``) with a different seed per block.

    python benchmarks/data_speed.py                      # 100 MB, every tokenizer (BPE takes a few minutes)
    python benchmarks/data_speed.py --size-mb 500 --tokenizers char --train-steps 50
    python benchmarks/data_speed.py --quick              # a tiny smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "sample_data"))

from make_corpus import make_corpus  # noqa: E402


def write_corpus(path: Path, size_mb: float) -> None:
    """About ``size_mb`` MB of fables, one seeded block after another."""
    target, seed = int(size_mb * 1e6), 0
    with open(path, "w", encoding="utf-8") as out:
        while out.tell() < target:
            out.write(make_corpus(seed=seed, stories=200))
            seed += 1


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child_prepare(corpus: str, tokenizer: str, vocab_size: int) -> dict:
    import torch

    from rnncli.tasks.language_model.config import TextConfig
    from rnncli.tasks.language_model.training import prepare_text

    torch.set_num_threads(1)
    baseline = peak_rss_mb()
    text = TextConfig(tokenizer=tokenizer, vocab_size=vocab_size)
    start = time.perf_counter()
    prepared = prepare_text(corpus, text)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "peak_mb": peak_rss_mb(),
        "baseline_mb": baseline,
        "reused": prepared.reused,
        "tokens": prepared.stats["num_tokens"],
        "vocab": prepared.tokenizer.vocab_size,
        "token_file_mb": prepared.ids.numel() * prepared.ids.element_size() / 1e6,
    }


def child_train(corpus: str, tokenizer: str, vocab_size: int, steps: int) -> dict:
    import torch

    from rnncli.tasks.language_model.config import RunConfig, TextConfig
    from rnncli.tasks.language_model.training import prepare_text, train_text

    torch.set_num_threads(1)
    start = time.perf_counter()
    first: list[float] = []
    run = RunConfig(text=TextConfig(tokenizer=tokenizer, vocab_size=vocab_size))
    run.train.steps, run.train.eval_every, run.train.device = steps, max(steps // 2, 1), "cpu"

    def on_event(event) -> None:
        if event.kind == "step" and not first:
            first.append(time.perf_counter() - start)

    prepared = prepare_text(corpus, run.text)
    with tempfile.TemporaryDirectory() as folder:
        train_text(prepared, run, out_dir=Path(folder) / "run", on_event=on_event, command=["benchmark"])
    return {
        "first_step_s": first[0] if first else float("nan"),
        "seconds": time.perf_counter() - start,
        "peak_mb": peak_rss_mb(),
        "reused": prepared.reused,
    }


def run_child(args: list[str], cache: Path) -> dict:
    env = {**os.environ, "RNN_CACHE_DIR": str(cache), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"child {args[0]} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=float, default=100)
    parser.add_argument("--tokenizers", default="char,byte,word,bpe")
    parser.add_argument("--vocab-size", type=int, default=4096, help="for bpe")
    parser.add_argument("--train-steps", type=int, default=20)
    parser.add_argument("--corpus", help="use this file instead of generating one")
    parser.add_argument("--quick", action="store_true", help="1 MB, char and byte, 2 steps")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        job, corpus, tokenizer, vocab, *rest = args.child
        result = (
            child_prepare(corpus, tokenizer, int(vocab))
            if job == "prepare"
            else child_train(corpus, tokenizer, int(vocab), int(rest[0]))
        )
        print(json.dumps(result))
        return
    if args.quick:
        args.size_mb, args.tokenizers, args.train_steps = 1, "char,byte", 2
    with tempfile.TemporaryDirectory() as folder:
        corpus = Path(args.corpus) if args.corpus else Path(folder) / "corpus.txt"
        if not args.corpus:
            write_corpus(corpus, args.size_mb)
        size_mb = corpus.stat().st_size / 1e6
        print(f"corpus: {size_mb:,.1f} MB; torch threads 1; peak memory = max resident set size of the process")
        print(
            f"{'tokenizer':<10}{'vocab':>7}{'tokens':>14}{'file MB':>9}{'prepare s':>11}{'MB/s':>7}"
            f"{'peak MB':>9}{'baseline':>9}{'again s':>9}{'1st step s':>11}{'train peak':>11}"
        )
        for kind in args.tokenizers.split(","):
            cache = Path(folder) / f"cache-{kind}"
            spec = [str(corpus), kind, str(args.vocab_size)]
            first = run_child(["prepare", *spec], cache)
            again = run_child(["prepare", *spec], cache)
            assert again["reused"], "the second run should find the token file in the cache"
            train = run_child(["train", *spec, str(args.train_steps)], cache)
            print(
                f"{kind:<10}{first['vocab']:>7,}{first['tokens']:>14,}{first['token_file_mb']:>9.1f}"
                f"{first['seconds']:>11.1f}{size_mb / first['seconds']:>7.1f}{first['peak_mb']:>9.0f}"
                f"{first['baseline_mb']:>9.0f}{again['seconds']:>9.2f}{train['first_step_s']:>11.2f}"
                f"{train['peak_mb']:>11.0f}"
            )


if __name__ == "__main__":
    main()
