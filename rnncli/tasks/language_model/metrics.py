"""Language-model metrics, all derived from the mean loss in nats per token."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import torch

LN2 = math.log(2.0)
TOKENS_PER_GROUP = 2**16  # padded tokens per batch of lines in line_log_probs
LOGITS_PER_CHUNK = 2**22  # bounds the (B, T, V) logits of one call, whatever the line lengths or streams
ACTIVATIONS_PER_CHUNK = 2**26  # bounds a call's (B, T, E) embeddings and (B, T, 4H) gates: 256 MB of floats
EVAL_STREAMS = 32  # mean_loss reads a long text as this many parallel streams (the training batch's size)
WARMUP_TOKENS = 128  # tokens before each cut a stream reads without scoring them (a training window's length)
LONG_WINDOW = 8192  # tokens per forward call when one long line is read alone (batch 1: fewer, longer calls)
MIN_PART = 8  # a part of the text is at least MIN_PART x WARMUP_TOKENS long: warm-ups cost at most 1/8 more


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


def mean_loss(model, ids, *, chunk: int = 1024, streams: int = EVAL_STREAMS, warmup: int = WARMUP_TOKENS) -> float:
    """Mean next-token loss in nats over ``ids``: every token after the first is scored exactly once.

    A long text is cut into up to ``streams`` equal parts read side by side as
    one batch, the state carried within each (a single stream at batch 1 runs
    the CPU at a small fraction of its speed). Each part but the first starts
    ``warmup`` tokens before its cut, reading them without scoring them, so its
    first scored tokens have context, not a zero state; the first part starts
    from a zero state at the start of the text, as sampling does. Parts are at
    least ``MIN_PART`` x ``warmup`` tokens long, so a short text is one stream,
    and ``streams=1`` reads any text as one, every prediction seeing all of the
    text before it.
    """
    total, count = scored_sum(model, ids, chunk=chunk, streams=streams, warmup=warmup)
    return total / max(count, 1)


def scored_sum(model, ids, *, chunk: int, streams: int, warmup: int) -> tuple[float, int]:
    """The summed loss (nats) and the number of tokens scored, as ``mean_loss`` reads the text.

    Each window of the parallel layout is cut from ``ids`` when it is read, so a long text costs its ids
    and one window, not a copy of inputs, targets and mask the size of the text.
    """
    device = model.head.weight.device
    plan = _parallel_plan(len(ids) - 1, streams=streams, warmup=warmup)
    window = _window(model, rows=len(plan[0]), chunk=chunk)
    total = torch.zeros((), dtype=torch.float64, device=device)
    count = 0
    with torch.inference_mode():
        model.eval()
        state = model.init_state(len(plan[0]), device)
        for start in range(0, plan[3], window):
            x, y, scored = (t.to(device) for t in _window_of(ids, plan, start, min(window, plan[3] - start)))
            logits, state = model(x, state)  # (S, t, V)
            losses = torch.nn.functional.cross_entropy(logits.transpose(1, 2), y, reduction="none")  # (S, t)
            total += losses.masked_fill(~scored, 0.0).double().sum()
            count += int(scored.sum())
    return float(total), count


def _window(model, *, rows: int, chunk: int) -> int:
    """Tokens per row of one forward call: ``chunk``, fewer where the logits or the activations would be big."""
    config = model.config
    widest = max(config.embed_size, 4 * config.hidden_size)
    return max(1, min(chunk, LOGITS_PER_CHUNK // (rows * config.vocab_size), ACTIVATIONS_PER_CHUNK // (rows * widest)))


def _parallel_plan(targets: int, *, streams: int, warmup: int):
    """Each part's first input, first scored input and end (S,) each, and the rows' width ``W + P``.

    Part ``s`` scores targets ``ids[1 + s*P : 1 + (s+1)*P]``; its row reads the ``W`` tokens before them
    first (none for part 0, whose row is padded at the end instead: padding after a row's tokens cannot
    change the predictions before it).
    """
    parts = max(1, min(streams, targets // max(1, MIN_PART * warmup)))
    lead = warmup if parts > 1 else 0
    length = -(-targets // parts)  # P: the tokens each part scores (the last may score fewer)
    firsts = torch.arange(parts) * length
    return (firsts - lead).clamp(min=0), firsts, (firsts + length).clamp(max=targets), lead + length


def _window_of(ids: torch.Tensor, plan, start: int, width: int):
    """Inputs, targets and the mask of scored targets of columns ``start:start + width``: (S, width) each."""
    begins, firsts, stops, _ = plan
    position = begins.unsqueeze(1) + torch.arange(start, start + width).unsqueeze(0)  # input index in ids
    inside = position < stops.unsqueeze(1)
    safe = position.clamp(max=len(ids) - 2)
    x = ids[safe].long().masked_fill(~inside, 0)
    y = ids[safe + 1].long().masked_fill(~inside, 0)
    return x, y, inside & (position >= firsts.unsqueeze(1))


def _parallel_layout(ids: torch.Tensor, *, streams: int, warmup: int):
    """The whole layout at once, (S, W + P) each (``scored_sum`` cuts it window by window instead)."""
    plan = _parallel_plan(len(ids) - 1, streams=streams, warmup=warmup)
    return _window_of(ids, plan, 0, plan[3])


def line_log_probs(
    model, lines: list[list[int]], *, start_id: int, batch_size: int = 64, chunk: int = 1024
) -> list[float]:
    """Total log-probability (nats) of each line's tokens, every line read on its own.

    Each line starts from a zero state with ``start_id`` fed first, so its
    first token is predicted as if after a newline, the way ``rnn sample``
    starts. Lines of similar length are batched together, right-padded, and
    read in windows of at most ``chunk`` tokens with the state carried, so one
    very long line costs memory for a window only. A recurrent model reads left to right, so
    padding after a line cannot change the predictions inside it.
    """
    device = model.head.weight.device
    totals = [0.0] * len(lines)
    with torch.inference_mode():
        model.eval()
        for group in _groups_of_similar_length(lines, batch_size=batch_size):
            group_totals = _padded_line_totals(
                model, [lines[i] for i in group], start_id=start_id, chunk=chunk, device=device
            )
            for index, total in zip(group, group_totals, strict=True):
                totals[index] = total
    return totals


def _groups_of_similar_length(lines: list[list[int]], *, batch_size: int) -> Iterator[list[int]]:
    """Indices of lines, shortest first, in groups of at most ``batch_size`` lines and about
    ``TOKENS_PER_GROUP`` padded tokens, so that short lines are not padded to the length of a long one."""
    group: list[int] = []
    for index in sorted(range(len(lines)), key=lambda i: len(lines[i])):
        if group and (len(group) == batch_size or (len(group) + 1) * (len(lines[index]) + 1) > TOKENS_PER_GROUP):
            yield group
            group = []
        group.append(index)
    if group:
        yield group


def _padded_line_totals(model, group: list[list[int]], *, start_id: int, chunk: int, device) -> list[float]:
    width = max(len(line) for line in group) + 1
    x = torch.full((len(group), width), start_id, dtype=torch.long)  # (B, T+1)
    for row, line in enumerate(group):
        x[row, 1 : len(line) + 1] = torch.tensor(line, dtype=torch.long)
    lengths = torch.tensor([len(line) for line in group]).unsqueeze(1)  # (B, 1)
    x = x.to(device)
    window = _window(model, rows=len(group), chunk=chunk)
    state = model.init_state(len(group), device)
    totals = torch.zeros(len(group), dtype=torch.float64, device=device)
    for start in range(0, width - 1, window):
        stop = min(start + window, width - 1)
        logits, state = model(x[:, start:stop], state)  # (B, t, V)
        picked = logits.log_softmax(-1).gather(2, x[:, start + 1 : stop + 1].unsqueeze(2)).squeeze(2)  # (B, t)
        inside = (torch.arange(start, stop).unsqueeze(0) < lengths).to(device)
        totals += picked.masked_fill(~inside, 0.0).double().sum(dim=1)
    return totals.tolist()


def streamed_log_prob(
    model, pieces: Iterable[list[int]], *, start_id: int, window: int = LONG_WINDOW
) -> tuple[float, int]:
    """Total log-probability (nats) and count of the tokens of one line given as pieces of ids.

    The line is read from ``start_id`` as one stream at batch 1, the state carried across windows and
    pieces, so it equals ``line_log_probs`` of the whole line while holding a piece and a window only.
    """
    device = model.head.weight.device
    window = _window(model, rows=1, chunk=window)
    total = torch.zeros((), dtype=torch.float64, device=device)
    count, last = 0, torch.tensor([start_id], dtype=torch.long)
    with torch.inference_mode():
        model.eval()
        state = model.init_state(1, device)
        for piece in pieces:
            ids = torch.as_tensor(piece, dtype=torch.long)
            for start in range(0, len(ids), window):
                y = ids[start : start + window]
                x = torch.cat([last, y[:-1]]).view(1, -1).to(device)
                logits, state = model(x, state)  # (1, t, V)
                total += logits[0].log_softmax(-1).gather(1, y.to(device).unsqueeze(1)).double().sum()
                count, last = count + len(y), y[-1:]
    return float(total), count


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
