"""How the next token is chosen from the model's logits: settings and logit processors.

The processors run in a fixed order on a (B, V) row of logits: the unknown
token banned (``--no-unk``), repetition penalty, temperature, top-k, top-p
(nucleus), min-p. Each one is a no-op at its default, so ``--top-p 1.0 --temp
1`` is plain sampling from the model (over its known words, for a word model,
whose default is ``--no-unk``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from rnncli.core.errors import UsageError

RANDOM_BLOCK = 1024  # uniforms drawn per row at a time; see RowRandomness


@dataclass(frozen=True)
class DecodingSettings:
    temperature: float = 1.0
    top_k: int = 0  # 0 keeps every token
    top_p: float = 1.0  # 1.0 keeps every token
    min_p: float = 0.0  # 0.0 keeps every token
    repetition_penalty: float = 1.0  # 1.0 leaves the logits alone
    beam: int = 0  # 0 samples; N >= 1 runs beam search with N beams
    length_penalty: float = 1.0  # beam: an ended hypothesis ranks by log-probability / length ** this
    no_unk: bool = False  # never choose the unknown token (see ``ban_unknown``)
    unknown_id: int | None = None  # the model's unknown token, set once the checkpoint is loaded

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    @property
    def filters_used(self) -> list[str]:
        used = [("--top-k", self.top_k != 0), ("--top-p", self.top_p != 1.0), ("--min-p", self.min_p != 0.0)]
        return [name for name, on in used if on]

    def validate(self) -> DecodingSettings:
        checks = [
            ("--temp", self.temperature >= 0, "must be 0 or more"),
            ("--top-k", self.top_k >= 0, "must be 0 (off) or more"),
            ("--top-p", 0 < self.top_p <= 1, "must be in (0, 1]"),
            ("--min-p", 0 <= self.min_p < 1, "must be in [0, 1)"),
            ("--repetition-penalty", self.repetition_penalty > 0, "must be more than 0"),
            ("--beam", self.beam >= 0, "must be 0 (off) or more"),
            ("--length-penalty", 0 <= self.length_penalty <= 10, "must be in [0, 10]"),
        ]
        for name, ok, rule in checks:
            if not ok:
                value = getattr(self, _FIELD_OF[name])
                raise UsageError(f"{name} {rule}, got {value}")
        self._check_combinations()
        return self

    def _check_combinations(self) -> None:
        filters = self.filters_used
        if self.beam and (filters or self.temperature != 1.0):
            used = filters + (["--temp"] if self.temperature != 1.0 else [])
            raise UsageError(f"--beam searches for the likeliest text and does not sample: drop {', '.join(used)}")
        if self.greedy and filters:
            raise UsageError(
                f"--temp 0 (greedy) always takes the likeliest token, so {', '.join(filters)} "
                f"would do nothing: drop it or use a temperature above 0"
            )

    def to_dict(self) -> dict:
        """The settings as jsonl records show them (the unknown token's id is the tokenizer's business)."""
        shown = asdict(self)
        shown.pop("unknown_id")
        return shown


_FIELD_OF = {
    "--temp": "temperature",
    "--top-k": "top_k",
    "--top-p": "top_p",
    "--min-p": "min_p",
    "--repetition-penalty": "repetition_penalty",
    "--beam": "beam",
    "--length-penalty": "length_penalty",
}


def ban_unknown(logits: torch.Tensor, unknown_id: int | None) -> torch.Tensor:
    """The unknown token made impossible: a word model would otherwise write ``<unk>`` for every rare word."""
    if unknown_id is None or not 0 <= unknown_id < logits.shape[-1] or logits.shape[-1] == 1:
        return logits
    return logits.index_fill(-1, torch.tensor([unknown_id], device=logits.device), float("-inf"))


def penalize_repeats(logits: torch.Tensor, seen: torch.Tensor, penalty: float) -> torch.Tensor:
    """CTRL's repetition penalty (Keskar et al., 2019): make tokens already seen less likely.

    ``seen`` is a (B, V) bool mask. A positive logit is divided by ``penalty``
    and a negative one multiplied, so the token always loses probability.
    """
    if penalty == 1.0:
        return logits
    scaled = torch.where(logits > 0, logits / penalty, logits * penalty)
    return torch.where(seen, scaled, logits)


def keep_top_k(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Mask all but the ``k`` largest logits of each row (ties at the k-th value are kept)."""
    if k == 0 or k >= logits.shape[-1]:
        return logits
    kth = logits.topk(k, dim=-1).values[:, -1:]  # (B, 1)
    return logits.masked_fill(logits < kth, float("-inf"))


def keep_top_p(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus sampling (Holtzman et al., 2020): keep the smallest set of likeliest tokens whose mass reaches p."""
    if p >= 1.0:
        return logits
    sorted_logits, order = logits.sort(dim=-1, descending=True)  # (B, V)
    probs = sorted_logits.softmax(dim=-1)
    mass_before = probs.cumsum(dim=-1) - probs  # mass of the tokens ranked above each one
    drop_sorted = mass_before >= p  # the top token always has mass_before 0 and stays
    drop = drop_sorted.scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def keep_min_p(logits: torch.Tensor, min_p: float) -> torch.Tensor:
    """Min-p sampling: drop tokens less likely than ``min_p`` times the likeliest one."""
    if min_p == 0.0:
        return logits
    probs = logits.softmax(dim=-1)
    threshold = probs.max(dim=-1, keepdim=True).values * min_p  # (B, 1)
    return logits.masked_fill(probs < threshold, float("-inf"))


def process_logits(logits: torch.Tensor, settings: DecodingSettings, *, seen: torch.Tensor | None) -> torch.Tensor:
    """Apply every processor in order; the result is ready for softmax (or argmax when greedy)."""
    if settings.no_unk:
        logits = ban_unknown(logits, settings.unknown_id)
    if seen is not None:
        logits = penalize_repeats(logits, seen, settings.repetition_penalty)
    if settings.greedy:
        return logits
    if settings.temperature != 1.0:
        logits = logits / settings.temperature
    logits = keep_top_k(logits, settings.top_k)
    logits = keep_top_p(logits, settings.top_p)
    return keep_min_p(logits, settings.min_p)


class RowRandomness:
    """One ``torch.Generator`` per sample, so sample i's draws never depend on how many run beside it.

    Row i is seeded with ``seeds[i]`` and draws its uniforms in blocks of
    ``RANDOM_BLOCK``; step t of row i always uses the t-th uniform of that row.
    """

    def __init__(self, seeds: list[int], *, device: torch.device):
        self.generators = [torch.Generator().manual_seed(s) for s in seeds]
        self.device = device
        self.block = torch.empty(len(seeds), 0)
        self.used = 0

    def next_uniforms(self) -> torch.Tensor:
        """One uniform in [0, 1) per row: (B,)."""
        if self.used == self.block.shape[1]:
            rows = [torch.rand(RANDOM_BLOCK, generator=g, dtype=torch.float64) for g in self.generators]
            self.block = torch.stack(rows).to(self.device)  # (B, RANDOM_BLOCK)
            self.used = 0
        self.used += 1
        return self.block[:, self.used - 1]


def choose_tokens(logits: torch.Tensor, settings: DecodingSettings, *, uniforms: torch.Tensor | None) -> torch.Tensor:
    """Pick one token per row from processed logits (B, V): argmax when greedy, else inverse-CDF sampling."""
    if settings.greedy:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits.double(), dim=-1)  # float64 keeps the cumulative sum exact enough
    cdf = probs.cumsum(dim=-1)  # (B, V)
    target = (uniforms * cdf[:, -1]).unsqueeze(-1)  # (B, 1)
    # The first token whose cumulative mass exceeds the draw; zero-mass tokens are never picked.
    tokens = torch.searchsorted(cdf, target, right=True).squeeze(-1)
    return tokens.clamp_(max=logits.shape[-1] - 1)
