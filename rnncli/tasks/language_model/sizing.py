"""The model a ``--time`` budget affords on the CPU, when the user has not chosen its size or schedule.

A budget buys tokens, not steps: on the shared development CPU the default
2 x 256 LSTM trained ~2,000 tokens a second on one thread, so a minute showed
it 0.15 tokens per parameter and it ended barely below single-character
frequencies, while a 1 x 128 model saw ten times as many tokens per
parameter in the same minute and wrote word-like text (benchmarks/time_budget.py,
docs/training.md). The rule: time two training steps of the smallest model
here and now (a probe of about a second, so the estimate follows this machine
and its load), scale that speed to each rung of ``LADDER`` by its measured
relative cost, and take the largest rung whose tokens in the budget reach
``TOKENS_PER_PARAMETER`` per parameter and whose parameters are no more than
the training text's tokens (char-rnn's rule of thumb: parameters in the
ballpark of the characters); the learning rate decays by a cosine over the
budget. Only on the CPU: a GPU trains the default model fast enough.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# (layers, hidden size, the time of a training step relative to 1 x 128's), smallest first: measured with the LSTM
# at batch 32 x 128 on one thread of the development CPU (1 x 128: 193 ms, 1 x 256: 690 ms, 2 x 256: 1,909 ms).
LADDER = ((1, 128, 1.0), (1, 256, 3.6), (2, 256, 9.9))
TOKENS_PER_PARAMETER = 10
SIZE_OPTIONS = ("hidden_size", "num_layers")


@dataclass(frozen=True)
class Choice:
    """What was chosen for a ``--time`` run, recorded in the run as ``chosen``; None where the user chose."""

    num_layers: int | None
    hidden_size: int | None
    parameters: int | None
    lr_schedule: str | None

    def to_dict(self) -> dict:
        names = ("num_layers", "hidden_size", "lr_schedule")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}

    def describe(self, time_text: str) -> str:
        """One line for the user: what was chosen, why, and how to choose otherwise."""
        parts = []
        if self.hidden_size is not None:
            parts.append(
                f"a {self.num_layers} x {self.hidden_size} model ({self.parameters:,} parameters: the largest that "
                f"trains on ~{TOKENS_PER_PARAMETER} tokens per parameter in the budget and has no more parameters "
                "than the text has tokens)"
            )
        if self.lr_schedule is not None:
            parts.append("a learning rate that decays (cosine) over the budget")
        return (
            f"--time {time_text} on the CPU: chose {' and '.join(parts)}; "
            "--hidden-size, --num-layers and --lr-schedule choose otherwise"
        )


def lstm_parameters(*, layers: int, hidden: int, embed: int, vocab: int) -> int:
    """Parameters of the language model: embedding, the LSTM's four gates per layer, and the head."""
    recurrent = sum(4 * hidden * ((embed if k == 0 else hidden) + hidden + 2) for k in range(layers))
    return vocab * embed + recurrent + hidden * vocab + vocab


def choose_for_budget(
    budget_s: float, *, tokens_per_s: float, train_tokens: int, embed: int, vocab: int
) -> tuple[int, int, int]:
    """(layers, hidden size, parameters): the largest rung of ``LADDER`` the budget and the text afford.

    ``tokens_per_s`` is the training speed of the smallest rung (``probe_tokens_per_s``).
    """
    chosen = None
    for layers, hidden, cost in LADDER:
        parameters = lstm_parameters(layers=layers, hidden=hidden, embed=embed, vocab=vocab)
        trained = budget_s * tokens_per_s / cost
        if chosen is None or (trained >= TOKENS_PER_PARAMETER * parameters and parameters <= train_tokens):
            chosen = (layers, hidden, parameters)
    return chosen


def probe_tokens_per_s(*, cell: str, embed: int, vocab: int, batch_size: int, seq_len: int) -> float:
    """Training tokens a second of the smallest rung on this CPU now: the second of two forward and backward
    passes over one window (the first pays one-off set-up)."""
    import torch
    from torch.nn import functional as F

    from rnncli.core import clocks
    from rnncli.core.settings import ModelConfig
    from rnncli.tasks.language_model.model import build_model

    layers, hidden, _ = LADDER[0]
    config = ModelConfig(cell=cell, vocab_size=vocab, embed_size=embed, hidden_size=hidden, num_layers=layers)
    model = build_model(config)
    x = torch.randint(vocab, (batch_size, seq_len + 1), generator=torch.Generator().manual_seed(0))  # (B, T+1)
    for _ in range(2):
        started = clocks.now()
        logits, _ = model(x[:, :-1], model.init_state(batch_size, torch.device("cpu")))  # (B, T, V)
        F.cross_entropy(logits.transpose(1, 2), x[:, 1:]).backward()
    return batch_size * seq_len / max(clocks.now() - started, 1e-6)


def choose(budget_s: float, *, given: set[str], speed: Callable[[], float], **text: int) -> Choice | None:
    """The model size and schedule of a ``--time`` run, for what the user left open; None when nothing is.

    ``speed`` measures the smallest rung's tokens a second (called only when the size is open); ``text``
    holds ``train_tokens``, ``embed`` and ``vocab`` for ``choose_for_budget``.
    """
    size_open = not set(SIZE_OPTIONS) & given
    schedule_open = "lr_schedule" not in given
    if not size_open and not schedule_open:
        return None
    shape = (None, None, None)
    if size_open:
        shape = choose_for_budget(budget_s, tokens_per_s=speed(), **text)
    return Choice(*shape, lr_schedule="cosine" if schedule_open else None)
