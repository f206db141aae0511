"""Classifier throughput: rnn's training and prediction paths against a plain PyTorch loop doing the same work.

Training: both train the same model shape (embedding -> bidirectional LSTM over
packed sequences -> max pooling over time -> dropout -> linear), on the same
batches (rnn's own length-bucketed epoch order, taken from its task), with the
same optimiser (AdamW, lr 3e-3, weight decay 0.01) and gradient clipping (1.0),
in one process. rnn's side is its real training loop: core's ``Trainer`` with
the classification task and model, validating once an epoch and writing its
checkpoints and metrics as ``rnn train --task classify`` does (reading the
file, fitting the tokenizer and the bag-of-words baselines happen once, before
and after, and are not timed). The reference is the minimal loop below, with
``nn.LSTM(bidirectional=True)`` over a ``PackedSequence``.

Prediction: rnn's ``rnn predict`` path (tokenising, batching by length,
formatting ``label<TAB>probability`` lines) against the plain model run on the
same lines in batches of the same size, tokenised with the same tokenizer.

After an untimed warm-up of both (the first calls of each kernel, and
torch's lazy imports, cost seconds), each measurement runs reference / rnn / reference and compares rnn with the
mean of the two reference runs (a shared machine is noisy), by wall clock and by
CPU time: with one thread, CPU time is what the process itself spent, so that
ratio is the one other work on the machine skews least. Threads: one by
default (``torch.set_num_threads``), printed with the table; ``--threads N``.

    python benchmarks/classify_speed.py              # the table in docs/classify.md
    python benchmarks/classify_speed.py --quick      # a tiny smoke run
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "sample_data"))

from make_reviews import rows  # noqa: E402

from rnncli.core.settings import TrainConfig  # noqa: E402
from rnncli.core.tokenizers import TokenizerSettings, train_tokenizer  # noqa: E402
from rnncli.core.training import Trainer  # noqa: E402
from rnncli.tasks.classify.checkpoint import ClassifierRun  # noqa: E402
from rnncli.tasks.classify.config import ClassifierConfig  # noqa: E402
from rnncli.tasks.classify.model import Classifier  # noqa: E402
from rnncli.tasks.classify.prepare import encode  # noqa: E402
from rnncli.tasks.classify.scoring import PREDICT_BATCH, _predicted_lines  # noqa: E402
from rnncli.tasks.classify.task import ClassifyTask, Encoded  # noqa: E402

CLASSES = ["negative", "positive"]


class Clock:
    """Wall-clock and CPU time since it was made; ``rates(n)`` gives n per second by each."""

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def rates(self, n: int) -> tuple[float, float]:
        return n / (time.perf_counter() - self.wall), n / (time.process_time() - self.cpu)


class PlainClassifier(nn.Module):
    """The same shape as rnn's default classifier, written the usual way."""

    def __init__(self, vocab: int, embed: int, hidden: int, classes: int, dropout: float):
        super().__init__()
        self.embedding = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * hidden, classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = self.dropout(self.embedding(ids))
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, padding_value=float("-inf"))
        return self.head(self.dropout(out.amax(1)))


def examples(count: int, seed: int) -> tuple[list[str], list[int]]:
    table = rows(random.Random(seed), count)
    return [text for _, text, _ in table], [CLASSES.index(label) for _, _, label in table]


def config(vocab: int) -> ClassifierConfig:
    return ClassifierConfig(vocab_size=vocab, num_classes=2)  # the defaults: lstm, 64 -> 128 x 2, pool max


def rnn_train_rate(train: Encoded, val: Encoded, cfg: TrainConfig, model_cfg: ClassifierConfig) -> float:
    """Examples per second through core's Trainer with the classification task (checkpoints and all)."""
    torch.manual_seed(cfg.seed)
    task = ClassifyTask(train, val, batch_size=cfg.batch_size, seed=cfg.seed, weights=None)
    cfg.eval_every = task.windows_per_epoch  # once an epoch, as rnn train --task classify
    with tempfile.TemporaryDirectory() as out:
        meta = {"task": "classify", "model": model_cfg.to_dict(), "classes": CLASSES}
        trainer = Trainer(
            Classifier(model_cfg), task, cfg, out_dir=Path(out), meta=meta, config={}, device=torch.device("cpu")
        )
        clock = Clock()
        trainer.fit()
        return clock.rates(cfg.steps * task.batch_size)


def plain_train_rate(
    train: Encoded, cfg: TrainConfig, model_cfg: ClassifierConfig, *, rnn_model: bool = False
) -> float:
    """The same batches (rnn's epoch order), model, optimiser and clipping, in a bare loop.

    ``rnn_model``: rnn's ``Classifier`` in this bare loop (to tell the model's cost from the trainer's).
    """
    torch.manual_seed(cfg.seed)
    order = ClassifyTask(train, None, batch_size=cfg.batch_size, seed=cfg.seed, weights=None)
    if rnn_model:
        model = Classifier(model_cfg)
    else:
        model = PlainClassifier(model_cfg.vocab_size, model_cfg.embed_size, model_cfg.hidden_size, 2, model_cfg.dropout)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    model.train()
    clock = Clock()
    for _ in range(cfg.steps):
        ids, lengths, targets = train.batch(order._next_batch())
        loss = F.cross_entropy(model(ids, lengths), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        optimizer.step()
    return clock.rates(cfg.steps * order.batch_size)


def rnn_predict_rate(run: ClassifierRun, lines: list[str]) -> float:
    clock = Clock()
    out = list(_predicted_lines(run, iter(lines), top_k=1, output_format="text", device=torch.device("cpu")))
    assert len(out) == len(lines)
    return clock.rates(len(lines))


@torch.inference_mode()
def plain_predict_rate(model: PlainClassifier, run: ClassifierRun, lines: list[str]) -> float:
    model.eval()
    clock = Clock()
    out = []
    for i in range(0, len(lines), PREDICT_BATCH):
        ids, _ = encode(run.tokenizer, lines[i : i + PREDICT_BATCH], run.max_len)
        tensors = [torch.tensor(seq or [0]) for seq in ids]
        lengths = torch.tensor([len(t) for t in tensors])
        probs = torch.softmax(model(nn.utils.rnn.pad_sequence(tensors, batch_first=True), lengths), dim=-1)
        best, index = probs.max(1)
        out.extend(f"{CLASSES[k]}\t{p:.4f}" for p, k in zip(best.tolist(), index.tolist(), strict=True))
    assert len(out) == len(lines)
    return clock.rates(len(lines))


def sandwich(reference, ours) -> tuple[float, ...]:
    """reference / rnn / reference: wall-clock (mean reference, rnn, ratio), then the CPU-time ratio."""
    first, mine, second = reference(), ours(), reference()
    wall = (first[0] + second[0]) / 2
    cpu = (first[1] + second[1]) / 2
    return wall, mine[0], mine[0] / wall, mine[1] / cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tiny run (smoke test)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--steps", type=int, default=None, help="training steps per measurement")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    n_train, n_predict = (400, 500) if args.quick else (4000, 20000)
    steps = args.steps or (10 if args.quick else 300)
    texts, targets = examples(n_train, 1)
    tokenizer = train_tokenizer(TokenizerSettings("word"), lambda: iter(texts))
    model_cfg = config(tokenizer.vocab_size)
    cut = int(0.9 * n_train)
    train = Encoded(encode(tokenizer, texts[:cut], 512)[0], targets[:cut])
    val = Encoded(encode(tokenizer, texts[cut:], 512)[0], targets[cut:])

    def cfg(n: int = steps) -> TrainConfig:
        return TrainConfig(steps=n, batch_size=32, lr=3e-3, patience=None, device="cpu")

    plain_train_rate(train, cfg(10), model_cfg)  # warm-up, untimed: first calls of each kernel, lazy imports
    rnn_train_rate(train, val, cfg(10), model_cfg)

    rows_out = [
        (
            "train",
            *sandwich(
                lambda: plain_train_rate(train, cfg(), model_cfg), lambda: rnn_train_rate(train, val, cfg(), model_cfg)
            ),
        ),
    ]
    rows_out.append(
        (
            "model",
            *sandwich(
                lambda: plain_train_rate(train, cfg(), model_cfg),
                lambda: plain_train_rate(train, cfg(), model_cfg, rnn_model=True),
            ),
        )
    )
    lines = examples(n_predict, 2)[0]
    run = ClassifierRun(Path("."), Classifier(model_cfg).eval(), model_cfg, CLASSES, tokenizer, {})
    plain = PlainClassifier(model_cfg.vocab_size, model_cfg.embed_size, model_cfg.hidden_size, 2, model_cfg.dropout)
    rows_out.append(
        ("predict", *sandwich(lambda: plain_predict_rate(plain, run, lines), lambda: rnn_predict_rate(run, lines)))
    )
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), CPU; "
        f"{steps} training steps of 32 reviews, {len(lines)} lines predicted"
    )
    print(f"{'path':<10}{'plain PyTorch ex/s':>20}{'rnn ex/s':>12}{'ratio':>8}{'cpu ratio':>11}")
    print("(train: rnn's Trainer and model; model: rnn's model in the plain loop; predict: rnn predict's path)")
    for name, reference, ours, ratio, cpu_ratio in rows_out:
        print(f"{name:<10}{reference:>20.0f}{ours:>12.0f}{ratio:>8.2f}{cpu_ratio:>11.2f}")


if __name__ == "__main__":
    main()
