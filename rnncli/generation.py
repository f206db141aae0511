"""Sampling text from a language model, one token at a time.

The prompt is fed through the model once; after that each step feeds only the
token just chosen and carries the recurrent state forward, so the prefix is
never re-run. Everything runs under ``torch.inference_mode()``.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from rnncli.models import LanguageModel, State


def next_token(logits: torch.Tensor, *, temperature: float, generator: torch.Generator) -> torch.Tensor:
    """Choose one token per row of ``logits`` (B, V); temperature 0 is argmax."""
    if temperature == 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits.float() / temperature, dim=-1)  # (B, V)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def start_ids(prime_ids: list[int], newline_id: int | None) -> list[int]:
    """What to feed before the first sampled token.

    Without a prompt we feed a newline when the vocabulary has one (text
    usually starts after one), or token 0 otherwise; neither is printed.
    """
    if prime_ids:
        return prime_ids
    return [newline_id if newline_id is not None else 0]


def generate(model: LanguageModel, prime_ids: list[int], *, length: int, temperature: float,
             seed: int, newline_id: int | None = None) -> Iterator[int]:
    """Yield ``length`` sampled token ids continuing ``prime_ids``."""
    device = model.head.weight.device
    generator = torch.Generator(device=device).manual_seed(seed)
    with torch.inference_mode():
        model.eval()
        prefix = torch.tensor([start_ids(prime_ids, newline_id)], device=device)  # (1, P)
        logits, state = model(prefix, model.init_state(1, device))
        logits = logits[:, -1]  # (1, V)
        for _ in range(length):
            token = next_token(logits, temperature=temperature, generator=generator)  # (1,)
            yield int(token.item())
            logits, state = step(model, token, state)


def step(model: LanguageModel, token: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
    """Advance the model by one token per row: (B,) -> logits (B, V)."""
    logits, state = model(token.view(-1, 1), state)
    return logits[:, -1], state
