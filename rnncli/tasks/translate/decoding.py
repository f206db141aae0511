"""Greedy and beam search for the translator, batched; every output stops at the end token or a length bound.

Beam search keeps ``beam`` live hypotheses per sentence; a hypothesis that
ends ranks by its log-probability divided by ``length ** length_penalty``
(length normalisation; 0 turns it off). A sentence is done when ``beam``
hypotheses have ended, or at its length bound. With ``beam`` 1 it makes the
same choices as greedy search (tests/test_translate.py checks it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from rnncli.tasks.translate.model import Translator


@dataclass
class Hypothesis:
    tokens: list[int]  # without the start and end tokens
    score: float  # the normalised log-probability beam search ranks by (greedy: the plain sum)
    attention: list[list[float]] = field(default_factory=list)  # per output token, weights over the source


def length_bounds(lengths: torch.Tensor, ratio: float) -> torch.Tensor:
    """At most ``ratio`` x the source length + 10 tokens: a bound, so no output runs forever."""
    return (lengths.float() * ratio).long() + 10


def _next_logprobs(model: Translator, logits: torch.Tensor) -> torch.Tensor:
    config = model.config
    logits = logits.float()
    logits[:, [config.pad_id, config.bos_id]] = float("-inf")  # never written
    return torch.log_softmax(logits, dim=-1)


@torch.inference_mode()
def greedy(
    model: Translator, source: torch.Tensor, lengths: torch.Tensor, *, ratio: float, keep_attention: bool = False
):
    """The most probable token at every step, for a batch; one Hypothesis per sentence."""
    encoded, bounds = model.encode(source, lengths), length_bounds(lengths, ratio).tolist()
    B, eos = source.shape[0], model.config.eos_id
    step = model.start(encoded)
    tokens = torch.full((B,), model.config.bos_id, dtype=torch.long, device=source.device)
    hyps = [Hypothesis([], 0.0) for _ in range(B)]
    live = set(range(B))
    for t in range(max(bounds) + 1):
        logits, step, weights = model.step(tokens, step, encoded)
        best, tokens = _next_logprobs(model, logits).max(dim=1)
        chosen, gained = tokens.tolist(), best.tolist()
        for b in sorted(live):
            if t >= bounds[b] or chosen[b] == eos:
                live.discard(b)
                hyps[b].score += gained[b] if chosen[b] == eos else 0.0
                continue
            hyps[b].tokens.append(chosen[b])
            hyps[b].score += gained[b]
            if keep_attention and weights is not None:
                hyps[b].attention.append(weights[b, : int(lengths[b])].tolist())
        if not live:
            break
    return hyps


@torch.inference_mode()
def beam_search(
    model: Translator,
    source: torch.Tensor,
    lengths: torch.Tensor,
    *,
    beam: int,
    n_best: int,
    length_penalty: float,
    ratio: float,
) -> list[list[Hypothesis]]:
    """The ``n_best`` best of ``beam`` hypotheses per sentence, best first."""
    B, K = source.shape[0], beam
    encoded, bounds = model.encode(source, lengths), length_bounds(lengths, ratio).tolist()
    rows = torch.arange(B, device=source.device).repeat_interleave(K)  # (B*K,): the sentence of each beam
    encoded = encoded.select(rows)
    step = model.start(encoded)
    tokens = torch.full((B * K,), model.config.bos_id, dtype=torch.long, device=source.device)
    scores = torch.full((B, K), float("-inf"), device=source.device)
    scores[:, 0] = 0.0  # one live hypothesis at first, so the beams do not repeat it
    paths: list[list[int]] = [[] for _ in range(B * K)]
    done: list[list[Hypothesis]] = [[] for _ in range(B)]
    for t in range(max(bounds) + 1):
        logits, step, _ = model.step(tokens, step, encoded)
        logp = _next_logprobs(model, logits) + scores.view(-1, 1)  # (B*K, V)
        top, index = logp.view(B, -1).topk(2 * K, dim=1)  # (B, 2K)
        _finish_at_bounds(paths, scores.tolist(), done, bounds, t, length_penalty)
        closed = [t >= bound for bound in bounds]
        chosen = _advance(model, top.tolist(), index.tolist(), paths, done, closed, K, length_penalty)
        if all(len(d) >= K or t >= bound for d, bound in zip(done, bounds, strict=True)):
            break
        parents, next_tokens, next_scores = chosen
        paths = [paths[p] + [tok] for p, tok in zip(parents, next_tokens, strict=True)]
        step = step.select(torch.tensor(parents, device=source.device))
        tokens = torch.tensor(next_tokens, device=source.device)
        scores = torch.tensor(next_scores, device=source.device).view(B, K)
    return [sorted(d, key=lambda h: -h.score)[:n_best] for d in done]


def _normalised(score: float, length: int, alpha: float) -> float:
    return score / (length**alpha) if alpha else score


def _finish_at_bounds(paths, scores, done, bounds, t, alpha) -> None:
    """A sentence at its length bound ends its live hypotheses as they are."""
    K = len(scores[0])
    for b, bound in enumerate(bounds):
        if t == bound and len(done[b]) < K:
            for k, score in enumerate(scores[b]):
                if score > float("-inf"):
                    path = paths[b * K + k]
                    done[b].append(Hypothesis(list(path), _normalised(score, len(path) + 1, alpha)))


def _advance(model, top, index, paths, done, closed, K, alpha):
    """Sort each sentence's candidates into ended hypotheses and the next live beams."""
    V, eos = model.config.total_vocab, model.config.eos_id
    parents, next_tokens, next_scores = [], [], []
    for b in range(len(top)):
        live = []
        finished = len(done[b]) >= K or closed[b]
        for rank, (score, flat) in enumerate(zip(top[b], index[b], strict=True)):
            parent, token = b * K + flat // V, flat % V
            if finished or score == float("-inf"):
                break
            if token == eos:
                if rank < K:  # only a candidate among the best K may end (beam 1 then equals greedy)
                    done[b].append(Hypothesis(list(paths[parent]), _normalised(score, len(paths[parent]) + 1, alpha)))
                continue
            live.append((parent, token, score))
            if len(live) == K:
                break
        live += [(b * K, eos, float("-inf"))] * (K - len(live))  # a finished sentence keeps dead beams
        for parent, token, score in live:
            parents.append(parent)
            next_tokens.append(token)
            next_scores.append(score)
    return parents, next_tokens, next_scores
