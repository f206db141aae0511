"""Sampling throughput: rnn's sampling path against a plain single-step loop and per-token nn.LSTM calls.

Three ways to generate the same number of tokens from the same weights
(embedding -> stacked recurrent layers -> linear head), in one process:

- rnn: ``rnncli.tasks.language_model.sampling.sample_steps``, the path ``rnn sample`` runs (the
  prompt through the fused module once, then ``FastStepper``, one generator
  per sample, log-probabilities kept for the jsonl output);
- reference: the minimal single-step loop written below, ``torch.addmm`` on
  the fused module's weights and ``torch.multinomial``;
- per-call: the fused module (``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN``) called
  once per token on a window of length 1, which pays its per-call overhead.

Each of the three runs in turn, ``--rounds`` times, and the table shows the
median tokens per second of each and rnn's ratio to the other two. Tokens
are counted over all samples (16 samples of 100 tokens are 1,600 tokens).
Torch runs on ``--threads`` threads (default 1, as on a shared machine).

    python benchmarks/sample_speed.py            # the README table
    python benchmarks/sample_speed.py --quick    # a tiny smoke run
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rnncli.core.settings import ModelConfig  # noqa: E402
from rnncli.tasks.language_model.logit_processors import DecodingSettings  # noqa: E402
from rnncli.tasks.language_model.model import LanguageModel, build_model  # noqa: E402
from rnncli.tasks.language_model.sampling import sample_steps  # noqa: E402

VOCAB = 96  # about the size of a character vocabulary of English text


def rnn_path(model: LanguageModel, *, batch: int, length: int) -> float:
    """Seconds for rnn's own sampler to generate ``length`` tokens for each of ``batch`` samples."""
    settings = DecodingSettings(temperature=1.0).validate()
    start = time.perf_counter()
    for _ in sample_steps(model, [], length=length, settings=settings, seeds=list(range(batch)), newline_id=0):
        pass
    return time.perf_counter() - start


def _reference_weights(model: LanguageModel) -> list[dict[str, torch.Tensor]]:
    rnn = model.rnn
    layers = []
    for k in range(rnn.num_layers):
        w_ih, w_hh = getattr(rnn, f"weight_ih_l{k}"), getattr(rnn, f"weight_hh_l{k}")
        b_ih, b_hh = getattr(rnn, f"bias_ih_l{k}"), getattr(rnn, f"bias_hh_l{k}")
        layers.append(
            {
                "w_ih_t": w_ih.t().contiguous(),
                "w_hh_t": w_hh.t().contiguous(),
                "b_ih": b_ih,
                "b_hh": b_hh,
                "b": b_ih + b_hh,
            }
        )
    return layers


def reference_loop(model: LanguageModel, *, batch: int, length: int) -> float:
    """Seconds for a plain single-step loop: addmm per layer on the same weights, multinomial sampling."""
    cell, hidden = model.config.cell, model.config.hidden_size
    generator = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        layers = _reference_weights(model)
        embedding, head_w_t, head_b = model.embedding.weight, model.head.weight.t().contiguous(), model.head.bias
        h = [torch.zeros(batch, hidden) for _ in layers]
        c = [torch.zeros(batch, hidden) for _ in layers]
        token = torch.zeros(batch, dtype=torch.long)
        start = time.perf_counter()
        for _ in range(length):
            x = embedding[token]  # (B, E)
            for k, w in enumerate(layers):
                if cell == "lstm":
                    gates = torch.addmm(w["b"], x, w["w_ih_t"]).addmm_(h[k], w["w_hh_t"])  # (B, 4H)
                    i, f, g, o = gates.chunk(4, dim=1)
                    c[k] = f.sigmoid() * c[k] + i.sigmoid() * g.tanh()
                    h[k] = o.sigmoid() * c[k].tanh()
                elif cell == "gru":
                    x_r, x_z, x_n = torch.addmm(w["b_ih"], x, w["w_ih_t"]).chunk(3, dim=1)
                    h_r, h_z, h_n = torch.addmm(w["b_hh"], h[k], w["w_hh_t"]).chunk(3, dim=1)
                    r, z = (x_r + h_r).sigmoid(), (x_z + h_z).sigmoid()
                    n = (x_n + r * h_n).tanh()
                    h[k] = (1 - z) * n + z * h[k]
                else:
                    h[k] = torch.addmm(w["b"], x, w["w_ih_t"]).addmm_(h[k], w["w_hh_t"]).tanh()
                x = h[k]
            probs = torch.addmm(head_b, x, head_w_t).softmax(dim=-1)  # (B, V)
            token = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        return time.perf_counter() - start


def per_call_loop(model: LanguageModel, *, batch: int, length: int) -> float:
    """Seconds when the fused module is called once per token (a window of length 1)."""
    generator = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        state = model.init_state(batch)
        packed = state if len(state) == 2 else state[0]
        token = torch.zeros(batch, 1, dtype=torch.long)
        start = time.perf_counter()
        for _ in range(length):
            out, packed = model.rnn(model.embedding(token), packed)  # (B, 1, H)
            probs = model.head(out[:, -1]).softmax(dim=-1)  # (B, V)
            token = torch.multinomial(probs, 1, generator=generator)  # (B, 1)
        return time.perf_counter() - start


METHODS = {"reference": reference_loop, "rnn": rnn_path, "per-call": per_call_loop}


def measure(model: LanguageModel, *, batch: int, length: int, rounds: int) -> dict[str, float]:
    """Median tokens per second of each method, the methods taking turns."""
    seconds: dict[str, list[float]] = {name: [] for name in METHODS}
    for run in METHODS.values():  # warm-up: first calls allocate and pack weights
        run(model, batch=batch, length=min(length, 20))
    for _ in range(rounds):
        for name, run in METHODS.items():
            seconds[name].append(run(model, batch=batch, length=length))
    return {name: batch * length / statistics.median(times) for name, times in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", default="lstm,gru,rnn")
    parser.add_argument("--size", default="2x256", help="LAYERSxHIDDEN [default: 2x256]")
    parser.add_argument("--batches", default="1,16", help="samples generated at once, comma-separated [default: 1,16]")
    parser.add_argument("--length", type=int, default=None, help="tokens per sample [default: 1000; 30 with --quick]")
    parser.add_argument("--rounds", type=int, default=None, help="turns per method [default: 5; 1 with --quick]")
    parser.add_argument("--threads", type=int, default=1, help="torch threads [default: 1]")
    parser.add_argument("--quick", action="store_true", help="a tiny model and few tokens, for a smoke test")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    layers, hidden = (int(v) for v in ("1x16" if args.quick else args.size).split("x"))
    length = args.length or (30 if args.quick else 1000)
    rounds = args.rounds or (1 if args.quick else 5)

    print(
        f"torch {torch.__version__}, {args.threads} thread(s), {layers}x{hidden}, vocabulary {VOCAB}, "
        f"{length} tokens per sample, median of {rounds} rounds"
    )
    print(
        f"{'cell':<6}{'samples':>8}{'reference tok/s':>17}{'rnn tok/s':>11}{'per-call tok/s':>16}"
        f"{'rnn/ref':>9}{'rnn/per-call':>14}"
    )
    for cell in args.cells.split(","):
        torch.manual_seed(0)
        model = build_model(ModelConfig(cell=cell, vocab_size=VOCAB, hidden_size=hidden, num_layers=layers)).eval()
        for batch in (int(b) for b in args.batches.split(",")):
            speed = measure(model, batch=batch, length=length, rounds=rounds)
            ref, ours, per_call = speed["reference"], speed["rnn"], speed["per-call"]
            print(
                f"{cell:<6}{batch:>8}{ref:>17,.0f}{ours:>11,.0f}{per_call:>16,.0f}"
                f"{ours / ref:>9.2f}{ours / per_call:>14.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
