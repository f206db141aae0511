"""Sampling text from a language model, one token at a time, for one or many samples at once.

Generation starts as if after a newline: the start token (a newline when the
vocabulary has one, token 0 otherwise) is fed first, then the prompt, both in
one call of the fused module. After that each step feeds only the tokens just
chosen through ``FastStepper`` (``torch.addmm`` on the same weights; the
reference cells step through the model itself) and carries the recurrent
state, so the prefix is never re-run. Everything runs under ``torch.inference_mode()``.

``--num N`` samples run as one batch of N rows. Row i draws its randomness
from its own generator seeded with ``seed + i``, so sample i of a batch is the
same text as a single sample run with ``--seed seed+i``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch

from rnncli.core.documents import read_capped
from rnncli.core.errors import DataError
from rnncli.core.layers import State
from rnncli.tasks.language_model.logit_processors import DecodingSettings, RowRandomness, choose_tokens, process_logits
from rnncli.tasks.language_model.model import LanguageModel
from rnncli.tasks.language_model.token_steps import make_stepper


def derived_seeds(seed: int, num: int) -> list[int]:
    """Sample i uses seed + i: documented, and the same for any --num."""
    return [seed + i for i in range(num)]


def start_ids(prime_ids: list[int], newline_id: int | None) -> list[int]:
    """What to feed before the first sampled token: the start token, then the prompt."""
    return [newline_id if newline_id is not None else 0, *prime_ids]


MAX_PROMPT_BYTES = 64 << 20  # a prompt is held whole (and read in pieces by the model): 64 MB at most


def read_prompt_file(path: str) -> str:
    """The text of a prompt file, or of stdin for ``-``: UTF-8, used as is but for a BOM and CRLF line endings.

    Only a regular file (or stdin) is read, and at most MAX_PROMPT_BYTES: /dev/zero or a FIFO is refused.
    """
    if path != "-" and not Path(path).exists():
        raise DataError(f"--prime-file {path}: no such file; check the path")
    raw = read_capped(path, MAX_PROMPT_BYTES, label="--prime-file", error=DataError)
    try:
        return raw.decode("utf-8").removeprefix("\ufeff").replace("\r\n", "\n")
    except UnicodeDecodeError as exc:
        raise DataError(f"--prime-file {path}: not valid UTF-8 at byte offset {exc.start}") from None


PRIME_CHUNK = 4096  # a longer prompt is read in pieces, state carried, so memory does not grow with it


def _prime(
    model: LanguageModel, prime_ids: list[int], newline_id: int | None, batch: int
) -> tuple[torch.Tensor, State]:
    """Run the start token and prompt through the fused module; copy the result to ``batch`` rows."""
    device = model.head.weight.device
    prefix = torch.tensor([start_ids(prime_ids, newline_id)], device=device)  # (1, P)
    state = model.init_state(1, device)
    for start in range(0, prefix.shape[1], PRIME_CHUNK):
        logits, state = model(prefix[:, start : start + PRIME_CHUNK], state)
    logits = logits[:, -1].expand(batch, -1).contiguous()  # (B, V)
    return logits, tuple(t.expand(-1, batch, -1).contiguous() for t in state)


def _seen_mask(prime_ids: list[int], *, batch: int, vocab: int, device: torch.device) -> torch.Tensor:
    seen = torch.zeros(batch, vocab, dtype=torch.bool, device=device)
    if prime_ids:
        seen[:, torch.tensor(sorted(set(prime_ids)), device=device)] = True
    return seen


def sample_steps(
    model: LanguageModel,
    prime_ids: list[int],
    *,
    length: int,
    settings: DecodingSettings,
    seeds: list[int],
    newline_id: int | None = None,
) -> Iterator[tuple[list[int], list[float]]]:
    """Yield, ``length`` times, the next token of every row and its log-probability under the model.

    One row per seed. The log-probability is the model's own (temperature 1,
    no filters), so totals can be compared with ``rnn eval``. Stop iterating
    early to stop generating.
    """
    device = model.head.weight.device
    batch = len(seeds)
    with torch.inference_mode():
        model.eval()
        logits, state = _prime(model, prime_ids, newline_id, batch)
        stepper = make_stepper(model)
        layers = stepper.split_state(state)
        randomness = None if settings.greedy else RowRandomness(seeds, device=device)
        penalize = settings.repetition_penalty != 1.0
        seen = _seen_mask(prime_ids, batch=batch, vocab=logits.shape[-1], device=device) if penalize else None
        for _ in range(length):
            processed = process_logits(logits, settings, seen=seen)
            uniforms = randomness.next_uniforms() if randomness is not None else None
            tokens = choose_tokens(processed, settings, uniforms=uniforms)  # (B,)
            log_probs = logits.log_softmax(dim=-1).gather(1, tokens.unsqueeze(1)).squeeze(1)  # (B,)
            if seen is not None:
                seen.scatter_(1, tokens.unsqueeze(1), True)
            yield tokens.tolist(), log_probs.tolist()
            logits, layers = stepper.step(tokens, layers)


def beam_search(
    model: LanguageModel,
    prime_ids: list[int],
    *,
    length: int,
    settings: DecodingSettings,
    newline_id: int | None = None,
) -> tuple[list[int], list[float]]:
    """The likeliest continuation of ``length`` tokens found with ``settings.beam`` beams.

    Every beam carries its own recurrent state; after each step the best
    ``beam`` (beam, token) extensions are kept and the states are reordered to
    follow them. Beams are ranked by the summed log-probability of the
    (repetition-penalised, if asked) distribution. Returns the tokens and each
    token's log-probability under the model itself.
    """
    width = settings.beam
    with torch.inference_mode():
        model.eval()
        logits, state = _prime(model, prime_ids, newline_id, 1)
        stepper = make_stepper(model)
        layers = stepper.split_state(state)
        device = logits.device
        scores = torch.zeros(1, device=device, dtype=torch.float64)  # (K,), K grows to `width`
        history = torch.empty(1, 0, dtype=torch.long, device=device)  # (K, t)
        model_lp = torch.empty(1, 0, dtype=torch.float64, device=device)  # (K, t)
        penalize = settings.repetition_penalty != 1.0
        seen = _seen_mask(prime_ids, batch=1, vocab=logits.shape[-1], device=device) if penalize else None
        for _ in range(length):
            raw = logits.log_softmax(dim=-1).double()  # (K, V)
            ranked = raw if seen is None else process_logits(logits, settings, seen=seen).log_softmax(-1).double()
            total = (scores.unsqueeze(1) + ranked).flatten()  # (K * V,)
            scores, flat = total.topk(min(width, total.numel()))
            beams, tokens = flat // raw.shape[1], flat % raw.shape[1]
            model_lp = torch.cat([model_lp[beams], raw[beams, tokens].unsqueeze(1)], dim=1)
            history = torch.cat([history[beams], tokens.unsqueeze(1)], dim=1)
            if seen is not None:
                seen = seen[beams].scatter_(1, tokens.unsqueeze(1), True)
            layers = stepper.select_rows(layers, beams)
            logits, layers = stepper.step(tokens, layers)
        return history[0].tolist(), model_lp[0].tolist()


@dataclass
class SampleText:
    """One sample's tokens, log-probability and text, ended by the first stop string that appears.

    Text is released as soon as it cannot be the start of a stop string; the
    stop string itself is never part of the text. ``num_tokens`` and
    ``log_prob`` count every token generated, up to and including the one
    that completed the stop string.
    """

    stops: list[str] = field(default_factory=list)
    text: str = ""
    num_tokens: int = 0
    log_prob: float = 0.0
    stopped_by: str | None = None
    held: str = ""
    ended: bool = False

    @property
    def done(self) -> bool:
        """Stopped by a stop string: no more tokens wanted."""
        return self.stopped_by is not None

    @property
    def finished(self) -> bool:
        return self.done or self.ended

    def add(self, token_text: str, log_prob: float) -> str:
        """Take one token's text; return the text that is now certain to be output (nothing once stopped)."""
        if self.done:
            return ""
        self.num_tokens += 1
        self.log_prob += log_prob
        return self.add_text(token_text)

    def add_text(self, token_text: str) -> str:
        """Take text that is not a token of its own (a character completed by the decoder's flush)."""
        if self.done:
            return ""
        pending = self.held + token_text
        hit = _first_stop(pending, self.stops)
        if hit is not None:
            at, self.stopped_by = hit
            return self._release(pending[:at], held="")
        keep = _longest_stop_prefix_suffix(pending, self.stops)
        return self._release(pending[: len(pending) - keep], held=pending[len(pending) - keep :])

    def finish(self) -> str:
        """The generation ended without a stop: release what was held back."""
        self.ended = True
        return self._release(self.held, held="")

    def _release(self, text: str, *, held: str) -> str:
        self.text += text
        self.held = held
        return text


def _first_stop(text: str, stops: list[str]) -> tuple[int, str] | None:
    found = [(text.find(s), s) for s in stops if s in text]
    return min(found) if found else None


def _longest_stop_prefix_suffix(text: str, stops: list[str]) -> int:
    """Length of the longest end of ``text`` that could still grow into a stop string."""
    best = 0
    for stop in stops:
        for size in range(min(len(stop) - 1, len(text)), best, -1):
            if text.endswith(stop[:size]):
                best = size
                break
    return best
