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


def line_log_probs(model, lines: list[list[int]], *, start_id: int, batch_size: int = 64,
                   chunk: int = 1024, max_cells: int = 1 << 18) -> list[float]:
    """Total log-probability (nats) of each line's tokens, every line read on its own.

    Each line starts from a zero state with ``start_id`` fed first, so its
    first token is predicted as if after a newline, the way ``rnn sample``
    starts. Lines are batched right-padded: a recurrent model reads left to
    right, so padding after a line cannot change the predictions inside it.
    Memory stays bounded for any line length: a batch holds at most
    ``max_cells`` padded tokens (a long line gets a batch of its own) and is
    read ``chunk`` tokens at a time with the state carried.
    """
    device = model.head.weight.device
    totals: list[float] = []
    with torch.inference_mode():
        model.eval()
        for group in _line_groups(lines, batch_size=batch_size, max_cells=max_cells):
            width = max(len(line) for line in group) + 1
            x = torch.full((len(group), width), start_id, dtype=torch.long)  # (B, T+1)
            for row, line in enumerate(group):
                x[row, 1 : len(line) + 1] = torch.tensor(line, dtype=torch.long)
            lengths = torch.tensor([len(line) for line in group]).unsqueeze(1)  # (B, 1)
            x = x.to(device)
            sums = torch.zeros(len(group), dtype=torch.float64, device=device)
            state = model.init_state(len(group), device)
            for t0 in range(0, width - 1, chunk):
                t1 = min(t0 + chunk, width - 1)
                logits, state = model(x[:, t0:t1], state)  # (B, t1 - t0, V)
                picked = logits.log_softmax(-1).gather(2, x[:, t0 + 1 : t1 + 1].unsqueeze(2)).squeeze(2)
                mask = (torch.arange(t0, t1).unsqueeze(0) < lengths).to(device)  # (B, t1 - t0)
                sums += picked.masked_fill(~mask, 0.0).double().sum(dim=1)
            totals.extend(sums.tolist())
    return totals


def _line_groups(lines: list[list[int]], *, batch_size: int, max_cells: int):
    """Consecutive lines in groups of at most ``batch_size`` whose padded size stays under ``max_cells``."""
    group: list[list[int]] = []
    width = 0
    for line in lines:
        wider = max(width, len(line) + 1)
        if group and (len(group) == batch_size or (len(group) + 1) * wider > max_cells):
            yield group
            group, wider = [], len(line) + 1
        group.append(line)
        width = wider
    if group:
        yield group


def stream_log_probs(model, ids: torch.Tensor, *, chunk: int = 1024) -> torch.Tensor:
    """Log-probability of ``ids[1:]``, each given all the ids before it, state carried: (len(ids) - 1,)."""
    device = model.head.weight.device
    parts = []
    with torch.inference_mode():
        model.eval()
        state = model.init_state(1, device)
        for start in range(0, len(ids) - 1, chunk):
            x = ids[start : start + chunk].to(device).view(1, -1)  # (1, T)
            y = ids[start + 1 : start + 1 + chunk].to(device).view(1, -1)  # (1, T')
            logits, state = model(x[:, : y.shape[1]], state)  # (1, T', V)
            parts.append(logits[0].log_softmax(-1).gather(1, y[0].unsqueeze(1)).squeeze(1).double().cpu())
    return torch.cat(parts) if parts else torch.empty(0, dtype=torch.float64)
