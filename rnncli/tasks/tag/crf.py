"""A linear-chain CRF (Lafferty et al. 2001; Lample et al. 2016 put it on a BiLSTM) and constrained Viterbi.

The score of tags ``y`` for emissions ``e`` (B, T, K) is
``start[y_0] + sum_t e[t, y_t] + sum_t trans[y_{t-1}, y_t] + end[y_last]``; the forward algorithm
sums over every sequence and Viterbi finds the best, both in log space and vectorised over the batch
and the tags (the only Python loop is over time). ``penalty`` matrices hold 0 where a transition is
legal and ``FORBIDDEN`` where it is not (I-X after O), so decoding never outputs an invalid sequence.
A sentence's padding (``mask`` False) never changes its score: the state is carried through it.
"""

from __future__ import annotations

import torch
from torch import nn

FORBIDDEN = -1e4  # large enough that no legal path loses to an illegal one; finite, so no NaN appears


class Penalties(nn.Module):
    """0 / FORBIDDEN for each transition, start and end; buffers (rebuilt from the tags, not saved)."""

    def __init__(self, allowed: torch.Tensor, start_ok: torch.Tensor, end_ok: torch.Tensor):
        super().__init__()
        for name, ok in (("trans", allowed), ("start", start_ok), ("end", end_ok)):
            self.register_buffer(name, torch.where(ok, 0.0, FORBIDDEN).float(), persistent=False)


class CRF(nn.Module):
    """Learned transition, start and end scores over ``num_tags`` tags, with fixed legality penalties."""

    def __init__(self, penalties: Penalties):
        super().__init__()
        k = penalties.start.shape[0]
        self.penalties = penalties
        self.transitions = nn.Parameter(torch.zeros(k, k))  # [from, to]
        self.start = nn.Parameter(torch.zeros(k))
        self.end = nn.Parameter(torch.zeros(k))

    def scores(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        p = self.penalties
        return self.transitions + p.trans, self.start + p.start, self.end + p.end

    def nll(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """-log p(tags | emissions) of each sentence: (B,). ``mask`` (B, T) is True on real tokens."""
        emissions = emissions.float()
        trans, start, end = self.scores()
        return log_partition(emissions, mask, trans, start, end) - path_score(emissions, tags, mask, trans, start, end)

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> tuple[list[list[int]], torch.Tensor]:
        return viterbi(emissions.float(), mask, *self.scores())


def path_score(emissions, tags, mask, trans, start, end) -> torch.Tensor:
    """The unnormalised log score of the given tag paths: (B,)."""
    m = mask.float()  # (B, T)
    emit = emissions.gather(2, tags.unsqueeze(2)).squeeze(2) * m  # (B, T)
    steps = trans[tags[:, :-1], tags[:, 1:]] * m[:, 1:]  # (B, T-1)
    last = tags.gather(1, (mask.sum(1) - 1).clamp(min=0).unsqueeze(1)).squeeze(1)  # (B,)
    return start[tags[:, 0]] + emit.sum(1) + steps.sum(1) + end[last]


def log_partition(emissions, mask, trans, start, end) -> torch.Tensor:
    """log of the sum over every tag path (the forward algorithm): (B,)."""
    alpha = start + emissions[:, 0]  # (B, K)
    for t in range(1, emissions.shape[1]):
        nxt = torch.logsumexp(alpha.unsqueeze(2) + trans, dim=1) + emissions[:, t]  # (B, K)
        alpha = torch.where(mask[:, t : t + 1], nxt, alpha)  # padding carries the state through
    return torch.logsumexp(alpha + end, dim=1)


def viterbi(emissions, mask, trans, start, end) -> tuple[list[list[int]], torch.Tensor]:
    """The best tag path of each sentence (its own length) and its score."""
    B, T, K = emissions.shape
    delta = start + emissions[:, 0]  # (B, K)
    back = []
    keep = torch.arange(K, device=emissions.device).expand(B, K)
    for t in range(1, T):
        best, arg = (delta.unsqueeze(2) + trans).max(dim=1)  # (B, K) each
        on = mask[:, t : t + 1]
        delta = torch.where(on, best + emissions[:, t], delta)
        back.append(torch.where(on, arg, keep))  # padding points back to itself
    final = delta + end
    score, last = final.max(dim=1)  # (B,)
    paths = [last]
    for arg in reversed(back):
        paths.append(arg.gather(1, paths[-1].unsqueeze(1)).squeeze(1))
    full = torch.stack(paths[::-1], dim=1).tolist()  # (B, T)
    lengths = mask.sum(1).tolist()
    return [row[: int(n)] for row, n in zip(full, lengths, strict=True)], score
