"""The model a ``--time`` budget affords on the CPU, when the user has not chosen its size or schedule.

A budget buys tokens, not steps: the default 2 x 256 LSTM trains ~2,100
tokens a second on one CPU thread, so a minute shows it ~0.15 tokens per
parameter and it ends barely below single-character frequencies, while a
1 x 128 model sees ten times as many tokens per parameter in the same
minute and writes word-like text (benchmarks/time_budget.py, docs/training.md).
The rule: the largest model of ``LADDER`` whose estimated tokens in the budget
(its measured speed x the seconds) reach ``TOKENS_PER_PARAMETER`` per
parameter, and that has no more parameters than the training text has tokens
(char-rnn's rule of thumb: parameters in the ballpark of the characters), with
the learning rate decayed by a cosine over the budget. Only on the CPU: a GPU
trains the default model fast enough.
"""

from __future__ import annotations

from dataclasses import dataclass

# (layers, hidden size, training tokens per second at batch 32 x 128 on one CPU thread, char vocabulary),
# measured with the LSTM on the development machine (2 cores, AVX-512, torch 2.13); smallest first.
LADDER = ((1, 128, 21_000), (1, 256, 5_900), (2, 256, 2_100))
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


def choose_for_budget(budget_s: float, *, train_tokens: int, embed: int, vocab: int) -> tuple[int, int, int]:
    """(layers, hidden size, parameters): the largest rung of ``LADDER`` the budget and the text afford."""
    chosen = None
    for layers, hidden, tokens_per_s in LADDER:
        parameters = lstm_parameters(layers=layers, hidden=hidden, embed=embed, vocab=vocab)
        affordable = budget_s * tokens_per_s >= TOKENS_PER_PARAMETER * parameters and parameters <= train_tokens
        if chosen is None or affordable:
            chosen = (layers, hidden, parameters)
    return chosen


def choose(budget_s: float, *, given: set[str], train_tokens: int, embed: int, vocab: int) -> Choice | None:
    """The model size and schedule of a ``--time`` run, for what the user left open; None when nothing is."""
    size_open = not set(SIZE_OPTIONS) & given
    schedule_open = "lr_schedule" not in given
    if not size_open and not schedule_open:
        return None
    shape = (None, None, None)
    if size_open:
        shape = choose_for_budget(budget_s, train_tokens=train_tokens, embed=embed, vocab=vocab)
    return Choice(*shape, lr_schedule="cosine" if schedule_open else None)
