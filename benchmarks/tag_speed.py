"""Tagging throughput: rnn's tagger training path against a plain PyTorch BiLSTM loop doing the same work.

Both train the same network on the same batches of the bundled NER sample (sample_data/ner.conll):
word embeddings and a character BiLSTM per word, a bidirectional LSTM over the sentence with packed
sequences, a linear layer per token, cross-entropy (no CRF: the plain loop has none), AdamW and gradient
clipping, in one process, on the CPU. Both use the same pre-encoded, length-bucketed batches, so the
comparison is of the training step, not of reading the file. rnn's side is the real path: ``fit`` with the
shared trainer, its progress callback, validation, logging and checkpointing at the default intervals
(every 100 steps). The plain loop is written below. Each measurement runs plain / rnn / plain and compares
rnn with the mean of the two plain runs; wall-clock and CPU-time ratios are printed.

    python benchmarks/tag_speed.py                 # the table in docs/tagging.md
    python benchmarks/tag_speed.py --quick         # a tiny smoke run
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rnncli.core.settings import TrainConfig  # noqa: E402
from rnncli.tasks.requests import Reporter  # noqa: E402
from rnncli.tasks.tag.batches import length_batches  # noqa: E402
from rnncli.tasks.tag.config import TagConfig, Vocab  # noqa: E402
from rnncli.tasks.tag.corpus import read_corpus  # noqa: E402
from rnncli.tasks.tag.metrics import MostFrequentTag  # noqa: E402
from rnncli.tasks.tag.options import TAG_TRAIN_DEFAULTS  # noqa: E402
from rnncli.tasks.tag.runs import fit, split  # noqa: E402


class PlainTagger(nn.Module):
    """The Lample et al. BiLSTM tagger as one would write it by hand."""

    def __init__(self, c: TagConfig):
        super().__init__()
        self.words = nn.Embedding(c.vocab_size, c.embed_size, padding_idx=0)
        self.char_embed = nn.Embedding(c.char_vocab_size, c.char_embed_size, padding_idx=0)
        self.char_rnn = nn.LSTM(c.char_embed_size, c.char_hidden_size, batch_first=True, bidirectional=True)
        self.rnn = nn.LSTM(c.embed_size + 2 * c.char_hidden_size, c.hidden_size, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * c.hidden_size, c.num_tags)
        self.dropout = nn.Dropout(c.dropout)

    def forward(self, b):
        chars = pack_padded_sequence(self.char_embed(b["chars"]), b["char_lengths"], True, enforce_sorted=False)
        _, (h, _) = self.char_rnn(chars)
        spelled = torch.cat([h[0], h[1]], dim=-1)
        char_part = spelled.new_zeros(*b["words"].shape, spelled.shape[1])
        char_part[b["mask"]] = spelled
        x = self.dropout(torch.cat([self.words(b["words"]), char_part], dim=-1))
        packed = pack_padded_sequence(x, b["lengths"], batch_first=True, enforce_sorted=False)
        out = pad_packed_sequence(self.rnn(packed)[0], batch_first=True, total_length=x.shape[1])[0]
        return self.head(self.dropout(out))


class Clock:
    def start(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def rates(self, items: int) -> tuple[float, float]:
        return items / (time.perf_counter() - self.wall), items / (time.process_time() - self.cpu)


def plain_sentences_per_s(batches, config: TagConfig, cfg: TrainConfig, steps: int) -> tuple[float, float]:
    """The plain loop: a random batch per step, cross-entropy per token, AdamW, clipping."""
    model = PlainTagger(config).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    picks = torch.randint(len(batches), (steps,), generator=torch.Generator().manual_seed(0)).tolist()
    sentences = sum(len(batches[p]["lengths"]) for p in picks)
    clock = Clock()
    clock.start()
    for p in picks:
        b = batches[p]
        loss = nn.functional.cross_entropy(model(b)[b["mask"]], b["tags"][b["mask"]])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        opt.step()
    return clock.rates(sentences)


def rnn_sentences_per_s(train, val, meta, batches, steps: int) -> tuple[float, float]:
    """rnn's path (``fit``: the shared trainer, validation, checkpoints), from the first step to the end."""
    meta = {**meta, "train": {**meta["train"], "steps": steps}}
    # the same sentences per step on average as the plain loop's draws (both pick batches at random)
    sentences = steps * sum(len(b["lengths"]) for b in batches) / len(batches)
    clock, rates = Clock(), []

    def progress(event, unit):
        if event.kind == "start":
            clock.start()
        elif event.kind == "done":
            rates.append(clock.rates(int(sentences)))

    with tempfile.TemporaryDirectory() as folder:
        fit(train, val, meta, out_dir=Path(folder) / "run", command=["benchmark"], reporter=Reporter(progress=progress))
    return rates[-1]


def setup(quick: bool, hidden: int):
    corpus = read_corpus(str(ROOT / "sample_data" / "ner.conll")).repaired()
    sentences = corpus.sentences[:200] if quick else corpus.sentences
    cfg = TrainConfig(**{**TAG_TRAIN_DEFAULTS, "device": "cpu"})
    train, val = split(sentences, cfg.val_frac)
    vocab = Vocab.build(train, min_count=1, scheme=corpus.scheme)
    config = TagConfig(hidden_size=hidden, vocab_size=len(vocab.words), char_vocab_size=len(vocab.chars),
                       num_tags=len(vocab.tags), word_dropout=0.0)  # fmt: skip
    meta = {"task": "tag", "model": config.to_dict(), "train": dataclasses.asdict(cfg), "vocab": vocab.to_dict(),
            "baseline": MostFrequentTag.fit(train).to_dict(), "data": {"source": "ner.conll"}}  # fmt: skip
    return train, val, meta, length_batches(train, cfg.batch_size, vocab), config, cfg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", default="128,256", help="hidden sizes of the sentence BiLSTM, comma-separated")
    parser.add_argument("--steps", type=int, default=None, help="steps per rnn measurement [default: 300]")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    steps = args.steps or (6 if args.quick else 300)
    hiddens = [16] if args.quick else [int(h) for h in args.hidden.split(",")]
    print(f"torch {torch.__version__}, {args.threads} thread(s), batch {TAG_TRAIN_DEFAULTS['batch_size']} "
          f"sentences, {steps} steps per rnn measurement")  # fmt: skip
    print(f"{'hidden':<8}{'plain sent/s':>14}{'rnn sent/s':>12}{'ratio':>8}{'cpu-time ratio':>16}")
    for hidden in hiddens:
        train, val, meta, batches, config, cfg = setup(args.quick, hidden)
        torch.manual_seed(0)
        before = plain_sentences_per_s(batches, config, cfg, max(steps // 2, 1))
        ours = rnn_sentences_per_s(train, val, meta, batches, steps)
        after = plain_sentences_per_s(batches, config, cfg, max(steps // 2, 1))
        plain = [(b + a) / 2 for b, a in zip(before, after, strict=True)]
        print(f"{hidden:<8}{plain[0]:>14,.0f}{ours[0]:>12,.0f}{ours[0] / plain[0]:>8.2f}{ours[1] / plain[1]:>16.2f}",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
