"""minGRU and minLSTM against the fused LSTM and GRU: training speed by window, quality at equal time, sampling.

Three measurements, in one process, each a ratio against a baseline measured
on the same run:

- speed: training tokens per second (forward, backward, AdamW step) of the
  language model (embedding 64 -> 2 recurrent layers -> head over 96 symbols)
  with ``mingru`` and ``minlstm`` (the parallel scan, ``--impl fused``) and
  with PyTorch's fused ``nn.LSTM`` and ``nn.GRU``, at window lengths 128, 512
  and 2048 and a small batch. Every model has the parameter count of the LSTM
  at ``--hidden`` units (the min cells get more units: they have no ``W_hh``);
  the ratio is each cell's speed over the fused LSTM's.
- quality: each cell trained by rnn's own ``train_text`` on the bundled corpus
  (sample_data/tinyworld.txt) for the same wall-clock budget (``--time``), at
  equal parameter count (the LSTM's ``--quality-hidden`` units, batch 16, windows
  of 64, so that a short budget is hundreds of steps); the validation bits per
  character it reached.
- sampling: rnn's sampler (``sample_steps``, the path ``rnn sample`` runs,
  which steps each min layer by its cell's ``advance`` in ``MinStepper``) against a single-step
  loop written below (``addmm``, ``sigmoid``, ``lerp``, ``multinomial``).

    python benchmarks/min_cells.py                 # the tables of docs/cells.md and docs/performance.md
    python benchmarks/min_cells.py --quick         # a tiny smoke run (the test suite runs it)
    python benchmarks/min_cells.py --parts quality --corpus kjv.txt   # quality on a real English text
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.nn import functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rnncli.core.layers import count_parameters  # noqa: E402
from rnncli.core.min_cells import g  # noqa: E402
from rnncli.core.settings import ModelConfig  # noqa: E402
from rnncli.tasks.language_model.config import RunConfig  # noqa: E402
from rnncli.tasks.language_model.logit_processors import DecodingSettings  # noqa: E402
from rnncli.tasks.language_model.model import LanguageModel, build_model  # noqa: E402
from rnncli.tasks.language_model.sampling import sample_steps  # noqa: E402
from rnncli.tasks.language_model.training import prepare_text, train_text  # noqa: E402

VOCAB, EMBED, LAYERS = 96, 64, 2
CORPUS = ROOT / "sample_data" / "tinyworld.txt"
CELLS = ("lstm", "gru", "mingru", "minlstm")


def config_for(cell: str, hidden: int, *, vocab: int = VOCAB) -> ModelConfig:
    return ModelConfig(cell=cell, vocab_size=vocab, embed_size=EMBED, hidden_size=hidden, num_layers=LAYERS)


def equal_size(cell: str, lstm_hidden: int, *, vocab: int = VOCAB) -> int:
    """The hidden size at which ``cell``'s language model has the parameters of the LSTM at ``lstm_hidden``."""
    target = count_parameters(build_model(config_for("lstm", lstm_hidden, vocab=vocab)))
    sizes = range(max(1, lstm_hidden // 2), 4 * lstm_hidden)
    return min(sizes, key=lambda h: abs(_parameters(cell, h, vocab) - target))


def _parameters(cell: str, hidden: int, vocab: int) -> int:
    rows = {"lstm": 4, "gru": 3, "mingru": 2, "minlstm": 3}[cell]
    recurrent = 0 if cell.startswith("min") else rows * hidden * hidden + rows * hidden  # W_hh, b_hh
    layers = sum(rows * hidden * n + rows * hidden + recurrent for n in [EMBED] + [hidden] * (LAYERS - 1))
    norms = 2 * hidden * (LAYERS - 1) if cell.startswith("min") else 0
    return vocab * EMBED + layers + norms + hidden * vocab + vocab


def train_speed(model: LanguageModel, *, batch: int, window: int, steps: int) -> float:
    """Training tokens per second over ``steps`` steps after one warm-up step."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randint(0, VOCAB, (batch, window + 1), generator=torch.Generator().manual_seed(0))
    state = model.init_state(batch)
    model.train()
    for step in range(steps + 1):
        if step == 1:
            start = time.perf_counter()
        logits, state = model(x[:, :-1], state)
        state = tuple(s.detach() for s in state)  # truncated BPTT, as the trainer does
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), x[:, 1:].reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return steps * batch * window / (time.perf_counter() - start)


def speed_table(windows: list[int], *, hidden: int, batch: int, steps: int) -> None:
    print(f"\n## training speed: batch {batch}, {steps} steps per measurement, equal parameter count")
    print("| window | cell | hidden | parameters | tok/s | / lstm |\n|---|---|---|---|---|---|")
    for window in windows:
        lstm_speed = None
        for cell in CELLS:
            size = hidden if cell == "lstm" else equal_size(cell, hidden)
            torch.manual_seed(0)
            model = build_model(config_for(cell, size))
            speed = train_speed(model, batch=batch, window=window, steps=steps)
            lstm_speed = lstm_speed or speed
            ratio = speed / lstm_speed
            print(
                f"| {window} | {cell} | {size} | {count_parameters(model):,} | {speed:,.0f} | {ratio:.2f} |", flush=True
            )


def quality_table(budget: str, *, hidden: int, quick: bool, corpus: Path = CORPUS) -> None:
    prepared = prepare_text(str(corpus))
    vocab = prepared.tokenizer.vocab_size
    print(
        f"\n## quality at equal time: {corpus.name}, --time {budget} each, LSTM {hidden} units, equal parameter count"
    )
    print("| cell | hidden | parameters | steps | best validation bpc |\n|---|---|---|---|---|")
    for cell in CELLS:
        cfg = RunConfig()
        cfg.model = config_for(cell, hidden if cell == "lstm" else equal_size(cell, hidden, vocab=vocab), vocab=vocab)
        cfg.train.time, cfg.train.eval_every, cfg.train.device, cfg.train.seed = budget, 100, "cpu", 0
        cfg.train.lr, cfg.train.batch_size, cfg.train.seq_len = 3e-3, 16, 64  # many steps in a short budget
        if quick:
            cfg.train.batch_size, cfg.train.seq_len, cfg.train.eval_batches, cfg.train.eval_every = 4, 16, 2, 5
        with tempfile.TemporaryDirectory() as folder:
            history = train_text(prepared, cfg, out_dir=Path(folder) / "run", command=["benchmark"])
        parameters = count_parameters(build_model(cfg.model))
        row = f"| {cell} | {cfg.model.hidden_size} | {parameters:,} | {history.step} | {history.best_val_bpc:.3f} |"
        print(row, flush=True)


def rnn_sampler(model: LanguageModel, *, batch: int, length: int) -> float:
    """Seconds for rnn's own sampler to generate ``length`` tokens for each of ``batch`` samples."""
    settings = DecodingSettings(temperature=1.0).validate()
    start = time.perf_counter()
    for _ in sample_steps(model, [], length=length, settings=settings, seeds=list(range(batch)), newline_id=0):
        pass
    return time.perf_counter() - start


def hand_loop(model: LanguageModel, *, batch: int, length: int) -> float:
    """Seconds for a plain single-step loop on the same weights: minGRU/minLSTM by their equations."""
    generator = torch.Generator().manual_seed(0)
    rnn, minlstm = model.rnn, model.config.cell == "minlstm"
    with torch.inference_mode():
        w = [(layer.weight_ih.t().contiguous(), layer.bias_ih) for layer in rnn.layers]
        embedding, head_w_t, head_b = model.embedding.weight, model.head.weight.t().contiguous(), model.head.bias
        h = [torch.zeros(batch, model.config.hidden_size) for _ in w]
        token = torch.zeros(batch, dtype=torch.long)
        start = time.perf_counter()
        for _ in range(length):
            x = embedding[token]  # (B, E)
            for k, (w_t, b) in enumerate(w):
                inp = x if k == 0 else rnn.norms[k - 1](x)
                gates = torch.addmm(b, inp, w_t).chunk(3 if minlstm else 2, dim=1)
                if minlstm:  # i' = i / (f + i) = sigmoid(log i - log f)
                    keep = torch.sigmoid(F.softplus(-gates[0]) - F.softplus(-gates[1]))
                else:
                    keep = torch.sigmoid(gates[0])
                h[k] = torch.lerp(h[k], g(gates[-1]), keep)
                x = h[k] if k == 0 else x + h[k]
            probs = torch.addmm(head_b, x, head_w_t).softmax(dim=-1)  # (B, V)
            token = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        return time.perf_counter() - start


def sampling_table(*, hidden: int, batches: list[int], length: int, rounds: int) -> None:
    print(f"\n## sampling: {length} tokens per sample, median of {rounds} rounds, taking turns")
    print("| cell | hidden | samples | hand-written loop tok/s | rnn tok/s | rnn / loop |\n|---|---|---|---|---|---|")
    for cell in ("mingru", "minlstm"):
        size = equal_size(cell, hidden)
        torch.manual_seed(0)
        model = build_model(config_for(cell, size)).eval()
        for batch in batches:
            times = {"loop": [], "rnn": []}
            for run in (hand_loop, rnn_sampler):
                run(model, batch=batch, length=min(length, 20))  # warm-up
            for _ in range(rounds):
                times["loop"].append(hand_loop(model, batch=batch, length=length))
                times["rnn"].append(rnn_sampler(model, batch=batch, length=length))
            loop, ours = (batch * length / statistics.median(times[k]) for k in ("loop", "rnn"))
            print(f"| {cell} | {size} | {batch} | {loop:,.0f} | {ours:,.0f} | {ours / loop:.2f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=None, help="the LSTM's units [default: 256; 16 with --quick]")
    parser.add_argument("--windows", default=None, help="window lengths [default: 128,512,2048]")
    parser.add_argument("--batch", type=int, default=4, help="windows per training step [default: 4]")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per speed row [default: 3]")
    parser.add_argument("--time", default=None, help="each cell's training budget for quality [default: 60s]")
    parser.add_argument("--quality-hidden", type=int, default=None, help="the LSTM's units for quality [default: 128]")
    parser.add_argument("--parts", default="speed,quality,sampling")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="the text of the quality table [default: bundled]")
    parser.add_argument("--threads", type=int, default=1, help="torch threads [default: 1]")
    parser.add_argument("--quick", action="store_true", help="a tiny model, short windows and budgets")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    hidden = args.hidden or (16 if args.quick else 256)
    windows = [int(w) for w in (args.windows or ("8,32" if args.quick else "128,512,2048")).split(",")]
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), {LAYERS} layers, LSTM {hidden} units, embedding {EMBED}"
    )
    parts = args.parts.split(",")
    if "speed" in parts:
        speed_table(windows, hidden=hidden, batch=args.batch, steps=args.steps or (1 if args.quick else 3))
    if "quality" in parts:
        quality_hidden = args.quality_hidden or (16 if args.quick else 128)
        budget = args.time or ("2s" if args.quick else "60s")
        quality_table(budget, hidden=quality_hidden, quick=args.quick, corpus=args.corpus)
    if "sampling" in parts:
        batches, length = ([1], 10) if args.quick else ([1, 16], 500)
        sampling_table(hidden=hidden, batches=batches, length=length, rounds=1 if args.quick else 5)


if __name__ == "__main__":
    main()
