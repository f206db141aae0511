"""Language-model metrics, all derived from the mean loss in nats per token."""

from __future__ import annotations

import math

import torch

LN2 = math.log(2.0)


def perplexity(loss_nats: float) -> float:
    """exp(loss), capped so that a diverged model reports ``inf`` rather than overflowing."""
    return math.exp(loss_nats) if loss_nats < 700 else math.inf


def bits_per_char(loss_nats: float, *, tokens: int, chars: int) -> float:
    """Bits per character of the raw text, whatever the tokenizer.

    Total information is ``loss * tokens`` nats; spread over ``chars`` characters.
    """
    return loss_nats * tokens / max(chars, 1) / LN2


def uniform_bits(vocab_size: int) -> float:
    """Bits per token of a model that knows nothing: log2(V)."""
    return math.log2(max(vocab_size, 1))


def mean_loss(model, ids, *, chunk: int = 1024) -> float:
    """Mean next-token loss in nats over ``ids``, state carried across the whole text.

    The text is read as one stream (batch 1) in chunks of ``chunk`` tokens, so
    every prediction sees all of the text before it, exactly as in sampling.
    """
    device = model.head.weight.device
    total, count = 0.0, 0
    with torch.inference_mode():
        model.eval()
        state = model.init_state(1, device)
        for start in range(0, len(ids) - 1, chunk):
            x = ids[start : start + chunk].to(device).view(1, -1)  # (1, T)
            y = ids[start + 1 : start + 1 + chunk].to(device).view(1, -1)  # (1, T')
            logits, state = model(x[:, : y.shape[1]], state)  # (1, T', V)
            total += torch.nn.functional.cross_entropy(logits[0], y[0], reduction="sum").item()
            count += y.shape[1]
    return total / max(count, 1)
