"""Translation speed: rnn's training path against a plain PyTorch encoder-decoder loop, and batched against
one-sentence-at-a-time decoding, as ratios measured on the same run.

Training: both sides train the same model (a bidirectional LSTM encoder of
``hidden / 2`` units per direction, an LSTM decoder started from it, Luong's
general attention with input feeding, label smoothing 0.1, dropout 0.1, AdamW,
gradient clipping at 1.0) on the same batches of sentence pairs from
sample_data/pairs.tsv (char tokens: the numbers in docs/translate.md were
measured so, before bpe became the default). rnn's path is the real one: the
task's ``fit`` with the shared trainer, its validation, metrics log and checkpoints at
the intervals given. The reference is the minimal loop written below. Each
measurement runs reference / rnn / reference and compares rnn with the mean of
the two reference runs (a shared machine is noisy). Throughput is target tokens
(the end token included) per second, wall clock and CPU time.

Decoding: the trained run translates the held-out sources greedily (and with
beam 5) in batches sorted by length, and one sentence at a time.

    python benchmarks/translate_speed.py                 # the table in docs/translate.md
    python benchmarks/translate_speed.py --quick         # a tiny smoke run
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rnncli.core.settings import TrainConfig  # noqa: E402
from rnncli.tasks.requests import Reporter, TrainRequest  # noqa: E402
from rnncli.tasks.translate.config import TranslateConfig  # noqa: E402
from rnncli.tasks.translate.options import TRAIN_DEFAULTS, DataOptions  # noqa: E402
from rnncli.tasks.translate.pairs import read_pairs  # noqa: E402
from rnncli.tasks.translate.runs import fit, prepare  # noqa: E402
from rnncli.tasks.translate.task import batch_tensors  # noqa: E402
from rnncli.tasks.translate.translator import Decoding, decode_batch, load_translator  # noqa: E402

PAIRS = ROOT / "sample_data" / "pairs.tsv"
HELD_OUT = ROOT / "sample_data" / "pairs_test.tsv"


class PlainTranslator(nn.Module):
    """The textbook encoder-decoder with general attention and input feeding, in plain PyTorch."""

    def __init__(self, vocab: int, pad: int, embed: int, hidden: int, dropout: float):
        super().__init__()
        self.source_embed = nn.Embedding(vocab, embed, padding_idx=pad)
        self.target_embed = nn.Embedding(vocab, embed, padding_idx=pad)
        self.encoder = nn.LSTM(embed, hidden // 2, batch_first=True, bidirectional=True)
        self.decoder = nn.LSTM(embed + hidden, hidden, batch_first=True)
        self.keys = nn.Linear(hidden, hidden, bias=False)
        self.combine = nn.Linear(2 * hidden, hidden, bias=False)
        self.out = nn.Linear(hidden, vocab)
        self.drop = nn.Dropout(dropout)
        self.pad, self.hidden = pad, hidden

    def forward(self, source, lengths, target_in):
        packed = pack_padded_sequence(
            self.drop(self.source_embed(source)), lengths, batch_first=True, enforce_sorted=False
        )
        memory, (h, c) = self.encoder(packed)
        memory, _ = pad_packed_sequence(memory, batch_first=True, total_length=source.shape[1])
        state = (torch.cat([h[0], h[1]], -1).unsqueeze(0), torch.cat([c[0], c[1]], -1).unsqueeze(0))
        keys, mask = self.keys(memory), source != self.pad
        feed, logits = memory.new_zeros(source.shape[0], self.hidden), []
        for tokens in target_in.unbind(1):
            x = torch.cat([self.drop(self.target_embed(tokens)), feed], 1).unsqueeze(1)
            out, state = self.decoder(x, state)
            scores = torch.bmm(keys, out[:, 0].unsqueeze(2)).squeeze(2).masked_fill(~mask, float("-inf"))
            context = torch.bmm(torch.softmax(scores, 1).unsqueeze(1), memory).squeeze(1)
            feed = torch.tanh(self.combine(torch.cat([context, out[:, 0]], 1)))
            logits.append(self.out(self.drop(feed)))
        return torch.stack(logits, 1)


class Clock:
    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def batches(rows, batch_size: int, steps: int, seed: int):
    rng = random.Random(seed)
    return [[rows[rng.randrange(len(rows))] for _ in range(batch_size)] for _ in range(steps)]


def plain_run(rows, config: TranslateConfig, cfg: TrainConfig) -> tuple[Clock, int]:
    torch.manual_seed(cfg.seed)
    model = PlainTranslator(config.total_vocab, config.pad_id, config.embed_size, config.hidden_size, config.dropout)
    optimiser = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    work, tokens = batches(rows, cfg.batch_size, cfg.steps, cfg.seed), 0
    with Clock() as clock:
        for part in work:
            source, lengths, target_in, target_out = batch_tensors(part, config)
            logits = model(source, lengths, target_in)
            loss = F.cross_entropy(
                logits.flatten(0, 1),
                target_out.flatten(),
                ignore_index=config.pad_id,
                label_smoothing=config.label_smoothing,
            )
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
            optimiser.step()
            tokens += sum(len(t) + 1 for _, t in part)
    return clock, tokens


def rnn_run(split, config: TranslateConfig, cfg: TrainConfig, out: Path) -> tuple[Clock, int]:
    rows = split.rows(split.train)
    mean_target = sum(len(t) + 1 for _, t in rows) / len(rows)
    request = TrainRequest(data=[str(PAIRS)], task="translate", command=["benchmark"])
    with Clock() as clock:
        fit(
            split,
            config,
            cfg,
            DataOptions(tokenizer="char"),
            [str(PAIRS)],
            out_dir=out,
            request=request,
            reporter=Reporter(),
        )
    return clock, round(cfg.steps * cfg.batch_size * mean_target)


def training_ratio(args, folder: Path):
    cfg = TrainConfig(**{**TRAIN_DEFAULTS, "steps": args.steps, "eval_every": args.eval_every, "device": "cpu"})
    split = prepare(read_pairs(str(PAIRS)), DataOptions(tokenizer="char"), cfg, Reporter())
    config = TranslateConfig(vocab_size=split.tokenizer.vocab_size)
    rows = split.rows(split.train)
    before = plain_run(rows, config, cfg)
    ours = rnn_run(split, config, cfg, folder / "run")
    after = plain_run(rows, config, cfg)
    plain_wall = (before[1] / before[0].wall + after[1] / after[0].wall) / 2
    plain_cpu = (before[1] / before[0].cpu + after[1] / after[0].cpu) / 2
    print(f"training ({cfg.steps} steps of {cfg.batch_size} pairs, validation every {cfg.eval_every}):")
    print(f"  {'':24} {'plain tok/s':>12} {'rnn tok/s':>10} {'ratio':>6}")
    print(
        f"  {'wall clock':24} {plain_wall:12.0f} {ours[1] / ours[0].wall:10.0f} "
        f"{ours[1] / ours[0].wall / plain_wall:6.2f}"
    )
    print(f"  {'CPU time':24} {plain_cpu:12.0f} {ours[1] / ours[0].cpu:10.0f} {ours[1] / ours[0].cpu / plain_cpu:6.2f}")
    return folder / "run"


def decode_all(loaded, rows, decoding: Decoding, batch: int) -> float:
    """Seconds to translate every row, ``batch`` sentences at a time, sorted by length."""
    order = sorted(rows, key=len)
    start = time.perf_counter()
    for i in range(0, len(order), batch):
        decode_batch(loaded, order[i : i + batch], decoding, torch.device("cpu"))
    return time.perf_counter() - start


def decoding_ratios(args, run: Path) -> None:
    loaded = load_translator(run)
    sources = read_pairs(str(HELD_OUT)).sources[: args.sentences]
    rows = [loaded.encode(s) for s in sources]
    print(f"decoding ({len(rows)} held-out sentences, sentences per second):")
    print(f"  {'':24} {'one at a time':>13} {'batched':>8} {'ratio':>6}")
    for name, decoding, batch in (("greedy, batch 64", Decoding(), 64), ("beam 5, batch 32", Decoding(beam=5), 32)):
        alone = decode_all(loaded, rows, decoding, 1)
        batched = decode_all(loaded, rows, decoding, batch)
        print(f"  {name:24} {len(rows) / alone:13.1f} {len(rows) / batched:8.1f} {alone / batched:6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tiny smoke run")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--sentences", type=int, default=200, help="held-out sentences decoded")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.eval_every, args.sentences = 6, 3, 8
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), CPU")
    with tempfile.TemporaryDirectory() as folder:
        run = training_ratio(args, Path(folder))
        decoding_ratios(args, run)


if __name__ == "__main__":
    main()
