"""Training throughput: rnn's own training path against a plain PyTorch loop.

Both train the same model (embedding -> stacked recurrent layers -> linear
head), on the same corpus, with the same batch, window, optimiser (AdamW) and
gradient clipping, in one process. rnn's path is the real one: ``train_text``
with its data layout, carried state, progress callback, validation, logging
and checkpointing at the default intervals. The reference is the minimal loop
written below. To be fair to a shared, noisy machine, each measurement runs
reference / rnn / reference and compares rnn with the mean of the two
reference runs. Both wall-clock and CPU-time throughput are printed: with
one thread, CPU time is what the process itself spent, so its ratio is not
skewed when other work on the machine slows one run more than another.

    python benchmarks/train_speed.py                 # the README table
    python benchmarks/train_speed.py --quick         # a tiny smoke run
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "sample_data"))

from make_corpus import make_corpus  # noqa: E402

from rnncli.tasks.language_model.config import RunConfig  # noqa: E402
from rnncli.tasks.language_model.training import prepare_text, train_text  # noqa: E402

FUSED = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


class PlainModel(nn.Module):
    def __init__(self, cell: str, vocab: int, embed: int, hidden: int, layers: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab, embed)
        self.rnn = FUSED[cell](embed, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, state):
        out, state = self.rnn(self.embedding(x), state)
        return self.head(out), state


def detach(state):
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


class Clock:
    """Wall-clock and CPU time since ``start``."""

    def start(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def rates(self, tokens: int) -> tuple[float, float]:
        return tokens / (time.perf_counter() - self.wall), tokens / (time.process_time() - self.cpu)


def reference_tokens_per_s(ids: torch.Tensor, cfg: RunConfig, vocab: int, steps: int) -> tuple[float, float]:
    """The plain loop: contiguous streams, carried and detached state, AdamW, clipping."""
    m, t = cfg.model, cfg.train
    model = PlainModel(m.cell, vocab, m.embed_size, m.hidden_size, m.num_layers)
    opt = torch.optim.AdamW(model.parameters(), lr=t.lr, weight_decay=t.weight_decay)
    length = len(ids) // t.batch_size
    streams = ids[: length * t.batch_size].view(t.batch_size, length)
    windows = (length - 1) // t.seq_len
    state = None
    clock = Clock()
    clock.start()
    for i in range(steps):
        s = (i % windows) * t.seq_len
        x, y = streams[:, s : s + t.seq_len], streams[:, s + 1 : s + 1 + t.seq_len]
        logits, state = model(x, None if state is None else detach(state))
        loss = nn.functional.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), t.clip)
        opt.step()
    return clock.rates(steps * t.batch_size * t.seq_len)


def rnn_tokens_per_s(prepared, cfg: RunConfig, steps: int) -> tuple[float, float]:
    """rnn's training path, timed from the first step to the end of fit (saving included)."""
    cfg.train.steps = steps
    clock, rates = Clock(), []
    with tempfile.TemporaryDirectory() as folder:

        def on_event(event):
            if event.kind == "start":
                clock.start()
            elif event.kind == "done":
                rates.append(clock.rates(steps * cfg.train.batch_size * cfg.train.seq_len))

        train_text(prepared, cfg, out_dir=Path(folder) / "run", on_event=on_event, command=["benchmark"])
    return rates[-1]


def config_for(cell: str, hidden: int, layers: int, *, batch: int, seq_len: int) -> RunConfig:
    cfg = RunConfig()
    cfg.model.cell, cfg.model.hidden_size, cfg.model.num_layers = cell, hidden, layers
    cfg.train.batch_size, cfg.train.seq_len, cfg.train.device = batch, seq_len, "cpu"
    return cfg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", default="lstm,gru,rnn")
    parser.add_argument("--sizes", default="2x256,3x512", help="LAYERSxHIDDEN, comma-separated")
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="rnn steps per measurement [default: the trainer's --eval-every, so one "
        "validation and one checkpoint are included]",
    )
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    batch, seq_len = (4, 16) if args.quick else (32, 128)
    sizes = ["1x16"] if args.quick else args.sizes.split(",")
    steps = args.steps or (4 if args.quick else RunConfig().train.eval_every)

    with tempfile.TemporaryDirectory() as folder:
        corpus = Path(folder) / "corpus.txt"
        corpus.write_text(make_corpus(stories=60 if args.quick else 3000), encoding="utf-8")
        prepared = prepare_text(str(corpus))
    vocab = prepared.tokenizer.vocab_size
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), batch {batch}, window {seq_len}, "
        f"{steps} steps per measurement, vocabulary {vocab}"
    )
    print(f"{'cell':<6}{'size':<8}{'reference tok/s':>17}{'rnn tok/s':>12}{'ratio':>8}{'cpu-time ratio':>16}")
    for size in sizes:
        layers, hidden = (int(v) for v in size.split("x"))
        for cell in args.cells.split(","):
            cfg = config_for(cell, hidden, layers, batch=batch, seq_len=seq_len)
            # the plain loop holds its tokens as int64 in memory, as most hand-written loops do
            ids = prepared.ids[: int(len(prepared.ids) * (1 - cfg.train.val_frac))].long()
            torch.manual_seed(0)
            before = reference_tokens_per_s(ids, cfg, vocab, max(steps // 2, 1))
            ours = rnn_tokens_per_s(prepared, cfg, steps)
            after = reference_tokens_per_s(ids, cfg, vocab, max(steps // 2, 1))
            reference = [(b + a) / 2 for b, a in zip(before, after, strict=True)]  # wall, cpu
            print(
                f"{cell:<6}{size:<8}{reference[0]:>17,.0f}{ours[0]:>12,.0f}{ours[0] / reference[0]:>8.2f}"
                f"{ours[1] / reference[1]:>16.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
