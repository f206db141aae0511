"""fp32 against bf16 training: speed, and validation loss after the same step budget.

The runs use rnn's own training path (``train_text``) on the bundled sample
corpus with the same seed, model and data; only ``--precision`` differs. fp32 runs before
and after bf16, and its speed is the mean of the two. bf16
runs the matrix products under ``torch.autocast`` (weights and optimizer stay
float32), which on CPUs with AVX-512 BF16 or AMX uses the bf16 instructions.

    python benchmarks/precision.py                      # the README table
    python benchmarks/precision.py --quick              # a tiny smoke run
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rnncli.tasks.language_model.config import RunConfig  # noqa: E402
from rnncli.tasks.language_model.training import prepare_text, train_text  # noqa: E402

SAMPLE = ROOT / "sample_data" / "tinyworld.txt"


def train_once(prepared, cfg: RunConfig) -> tuple[float, float, float]:
    """Train one run; return tokens per second, best validation loss and its bits per character."""
    times = []

    def on_event(event):
        if event.kind in ("start", "done"):
            times.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as folder:
        history = train_text(prepared, cfg, out_dir=Path(folder) / "run", on_event=on_event, command=["benchmark"])
    tokens = cfg.train.steps * cfg.train.batch_size * cfg.train.seq_len
    return tokens / (times[-1] - times[0]), history.best_val_loss, history.best_val_bpc


def config_for(cell: str, layers: int, hidden: int, *, steps: int, precision: str, quick: bool) -> RunConfig:
    cfg = RunConfig()
    cfg.model.cell, cfg.model.num_layers, cfg.model.hidden_size = cell, layers, hidden
    cfg.train.steps, cfg.train.eval_every, cfg.train.precision, cfg.train.device = steps, steps, precision, "cpu"
    if quick:
        cfg.train.batch_size, cfg.train.seq_len, cfg.train.eval_batches = 4, 16, 2
    return cfg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", default="lstm,gru")
    parser.add_argument("--size", default="2x256", help="LAYERSxHIDDEN")
    parser.add_argument("--steps", type=int, default=300, help="the fixed training budget of each run")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    layers, hidden = (1, 16) if args.quick else (int(v) for v in args.size.split("x"))
    steps = 3 if args.quick else args.steps
    prepared = prepare_text(str(SAMPLE))

    print(
        f"torch {torch.__version__}, {args.threads} thread(s), {SAMPLE.name}, {layers}x{hidden}, "
        f"{steps} steps per run, same seed"
    )
    print(f"{'cell':<6}{'precision':<11}{'tok/s':>9}{'speed-up':>10}{'best val loss':>15}{'bpc':>8}")
    for cell in args.cells.split(","):
        # fp32, bf16, fp32 again: on a shared machine the mean of the two fp32 runs brackets the bf16 one.
        runs = {p: [] for p in ("fp32", "bf16")}
        for precision in ("fp32", "bf16", "fp32"):
            cfg = config_for(cell, layers, hidden, steps=steps, precision=precision, quick=args.quick)
            runs[precision].append(train_once(prepared, cfg))
        baseline = sum(r[0] for r in runs["fp32"]) / 2
        for precision, results in runs.items():
            speed = sum(r[0] for r in results) / len(results)
            _, loss, bpc = results[0]
            print(
                f"{cell:<6}{precision:<11}{speed:>9,.0f}{speed / baseline:>9.2f}x{loss:>15.4f}{bpc:>8.3f}", flush=True
            )


if __name__ == "__main__":
    main()
