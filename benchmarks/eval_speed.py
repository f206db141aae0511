"""``rnn eval`` speed: a long text read as parallel streams against one sequential stream.

Both score the same held-out text with the same trained model and the same
code (``metrics.mean_loss``): ``streams=1`` reads it as one stream at batch 1,
every prediction seeing all the text before it; the default cuts it into up
to 32 parts read side by side, each but the first warmed up on the 128 tokens
before its cut (read, not scored). The table gives the time, the tokens per
second, the bits per character of each, and their difference; the model's
training throughput (forward and backward of one 32 x 128 window) is printed
beside them for scale.

The model is trained here first, with ``rnn train --time`` on the King James
Bible's Genesis to Deuteronomy (Debian's ``bible-kjv`` package, public
domain; see benchmarks/time_budget.py), or given with ``--run``; the held-out
text is Joshua to Judges (199 KB; ``--chars`` takes its start).

    python benchmarks/eval_speed.py                        # train 2 minutes, then score
    python benchmarks/eval_speed.py --run runs/kjv         # score with a trained run
    python benchmarks/eval_speed.py --threads 2            # torch's threads while scoring
    python benchmarks/eval_speed.py --quick                # a smoke run on the bundled corpus
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from time_budget import TRAIN_BOOKS, kjv_text  # noqa: E402

from rnncli.tasks.language_model.checkpoint import load_checkpoint  # noqa: E402
from rnncli.tasks.language_model.metrics import bits_per_char, mean_loss  # noqa: E402

HELD_OUT_BOOKS = "Jos1:1-Jdg21:25"


def train(folder: Path, text: str, budget: str, extra: list[str]) -> Path:
    path, out = folder / "train.txt", folder / "run"
    path.write_text(text, encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "rnncli", "train", str(path), "--time", budget, "--out", str(out), "--quiet"]
    subprocess.run([*cmd, "--device", "cpu", *extra], check=True, env=env)
    return out


def score(model, ids: torch.Tensor, chars: int, streams: int) -> tuple[float, float]:
    """(seconds, bits per character) of mean_loss over ``ids``."""
    started = time.perf_counter()
    loss = mean_loss(model, ids, streams=streams)
    return time.perf_counter() - started, bits_per_char(loss, tokens=len(ids) - 1, chars=chars)


def training_tokens_per_s(model, vocab: int) -> float:
    """Forward and backward of one 32 x 128 window, as a training step does (no optimiser)."""
    x = torch.randint(0, vocab, (32, 129))
    model.train()
    started, repeats = time.perf_counter(), 3
    for _ in range(repeats):
        logits, _ = model(x[:, :-1], model.init_state(32, torch.device("cpu")))
        torch.nn.functional.cross_entropy(logits.transpose(1, 2), x[:, 1:]).backward()
    model.zero_grad(set_to_none=True)
    model.eval()
    return repeats * 32 * 128 / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, help="a trained run folder (else one is trained here)")
    parser.add_argument("--train-time", default="2m")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--chars", type=int, help="score only the first N characters of the held-out text")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.quick:
            corpus = (ROOT / "sample_data" / "tinyworld.txt").read_text(encoding="utf-8")
            extra = ["--seq-len", "16", "--batch-size", "4", "--hidden-size", "16", "--num-layers", "1"]
            run, held_out = args.run or train(Path(tmp), corpus[:-20_000], "5s", extra), corpus[-20_000:]
        else:
            run = args.run or train(Path(tmp), kjv_text(TRAIN_BOOKS), args.train_time, [])
            held_out = kjv_text(HELD_OUT_BOOKS)
        report(run, held_out[: args.chars], threads=args.threads)


def report(run: Path, held_out: str, *, threads: int) -> None:
    torch.set_num_threads(threads)
    ckpt = load_checkpoint(run / "model.safetensors", device=torch.device("cpu"))
    ids = torch.tensor(ckpt.tokenizer.encode(held_out), dtype=torch.long)
    shape = ckpt.meta["model"]
    print(
        f"{shape['num_layers']} x {shape['hidden_size']} {shape['cell']} on {len(held_out):,} held-out characters; "
        f"torch {torch.__version__}, {threads} thread(s), CPU; load average {os.getloadavg()[0]:.1f}"
    )
    print(f"training speed of this model: {training_tokens_per_s(ckpt.model, ckpt.tokenizer.vocab_size):,.0f} tok/s")
    print("| reading | seconds | tok/s | bits per char |")
    print("|---|---|---|---|")
    results = {}
    for name, streams in (("one stream", 1), ("parallel streams", 32)):
        seconds, bpc = score(ckpt.model, ids, len(held_out) - 1, streams)
        results[name] = (seconds, bpc)
        print(f"| {name} | {seconds:.1f} | {(len(ids) - 1) / seconds:,.0f} | {bpc:.4f} |", flush=True)
    (one_s, one_bpc), (par_s, par_bpc) = results.values()
    print(f"speed-up {one_s / par_s:.1f}x; bits per character differ by {par_bpc - one_bpc:+.4f}")


if __name__ == "__main__":
    main()
