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

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch

from rnncli.core.documents import read_capped
from rnncli.core.errors import DataError
from rnncli.core.layers import State
from rnncli.tasks.language_model.data.sources import ReadSettings
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


def read_prompt_file(path: str, read: ReadSettings | None = None, *, flag: str = "--prime-file") -> str:
    """The text of a prompt file, or of stdin for ``-``, decoded by ``read`` (the model's training text's
    encoding and error policy; UTF-8 without), used as is but for a BOM and CRLF line endings.

    Only a regular file (or stdin) is read, and at most MAX_PROMPT_BYTES: /dev/zero or a FIFO is refused.
    """
    read = read or ReadSettings()
    if path != "-" and not Path(path).exists():
        raise DataError(f"{flag} {path}: no such file; check the path")
    raw = read_capped(path, MAX_PROMPT_BYTES, label=flag, error=DataError)
    try:
        return raw.decode(read.codec, read.errors).removeprefix("\ufeff").replace("\r\n", "\n")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{flag} {path}: not valid {'UTF-8' if read.codec == 'utf-8' else read.encoding} at byte offset "
            f"{exc.start}; give its --encoding, "
            "or add --errors replace"
        ) from None


END_OF_TEXT = "<end of text>"  # what a sample ended by a conditional model's end-of-text token records
PRIME_CHUNK = 4096  # a longer prompt is read in pieces, state carried, so memory does not grow with it


def _prime(
    model: LanguageModel, prime_ids: list[int], newline_id: int | None, batch: int, condition: list[int] | None = None
) -> tuple[torch.Tensor, State]:
    """Run the start token and prompt through the fused module; copy the result to ``batch`` rows.

    With ``condition`` (a conditional model's label index for each row) each row starts from its label's state.
    """
    device = model.head.weight.device
    prefix = torch.tensor([start_ids(prime_ids, newline_id)], device=device)  # (1, P)
    labels = torch.tensor(condition, device=device) if condition is not None else None
    if labels is not None:
        state = model.init_state(batch, device, labels)
        prefix = prefix.expand(batch, -1)
    else:
        state = model.init_state(1, device)
    for start in range(0, prefix.shape[1], PRIME_CHUNK):
        chunk = prefix[:, start : start + PRIME_CHUNK]
        logits, state = model(chunk, state) if labels is None else model(chunk, state, condition=labels)
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
    condition: list[int] | None = None,
) -> Iterator[tuple[list[int], list[float]]]:
    """Yield, ``length`` times, the next token of every row and its log-probability under the model.

    One row per seed. The log-probability is the model's own (temperature 1,
    no filters), so totals can be compared with ``rnn eval``. Stop iterating
    early to stop generating. ``condition``: a conditional model's label index for each row.
    """
    device = model.head.weight.device
    batch = len(seeds)
    with torch.inference_mode():
        model.eval()
        logits, state = _prime(model, prime_ids, newline_id, batch, condition)
        stepper = make_stepper(model, torch.tensor(condition, device=device) if condition is not None else None)
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


@dataclass
class StopCheck:
    """Whether a beam hypothesis has just ended: a stop string in the text that its latest tokens decode to.

    A live hypothesis holds no stop string yet, so a new one must end in the newest token's text; decoding
    the last few tokens (enough for the longest stop, four bytes a character) is enough to see it.
    """

    decode: Callable[[list[int]], str]
    stops: list[str]

    @property
    def window(self) -> int:
        return 4 * (max(map(len, self.stops)) + 2)

    def ended(self, tokens: list[int]) -> bool:
        text = self.decode(tokens[-self.window :])
        return any(stop in text for stop in self.stops)


@dataclass
class Hypothesis:
    """A finished (or, at the end, the best live) beam: its tokens and their log-probabilities under the model."""

    score: float  # what beams are ranked by: the (penalised) log-probability over length ** length_penalty
    tokens: list[int]
    log_probs: list[float]


def normalised(score: float, length: int, alpha: float) -> float:
    """Length normalisation as in the translator: the summed log-probability over ``length ** alpha``."""
    return score / max(length, 1) ** alpha if alpha else score


def beam_search(
    model: LanguageModel,
    prime_ids: list[int],
    *,
    length: int,
    settings: DecodingSettings,
    newline_id: int | None = None,
    stops: StopCheck | None = None,
) -> tuple[list[int], list[float]]:
    """The likeliest continuation of at most ``length`` tokens found with ``settings.beam`` beams.

    Every beam carries its own recurrent state; after each step the best ``beam`` (beam, token) extensions
    are kept and the states are reordered to follow them. Beams are ranked by the summed log-probability of
    the (repetition-penalised, unknown-banned, if asked) distribution. A hypothesis in which a stop string
    appears ends there and waits with its score divided by ``length ** settings.length_penalty``; the search
    ends when ``beam`` hypotheses have ended or after ``length`` tokens, and the best ended or live one wins.
    Returns the tokens and each token's log-probability under the model itself.
    """
    with torch.inference_mode():
        model.eval()
        search = _BeamSearch(model, prime_ids, settings=settings, newline_id=newline_id, stops=stops)
        for _ in range(length):
            if not search.advance():
                break
        best = search.best()
        return best.tokens, best.log_probs


class _BeamSearch:
    """The live beams (scores, tokens, model log-probabilities, states) and the hypotheses that have ended."""

    def __init__(self, model, prime_ids, *, settings: DecodingSettings, newline_id, stops: StopCheck | None):
        self.settings, self.stops = settings, stops
        self.logits, state = _prime(model, prime_ids, newline_id, 1)
        self.stepper = make_stepper(model)
        self.layers = self.stepper.split_state(state)
        device = self.logits.device
        self.scores = torch.zeros(1, device=device, dtype=torch.float64)  # (K,), K grows to `beam`
        self.history = torch.empty(1, 0, dtype=torch.long, device=device)  # (K, t)
        self.model_lp = torch.empty(1, 0, dtype=torch.float64, device=device)  # (K, t)
        penalize = settings.repetition_penalty != 1.0
        self.seen = _seen_mask(prime_ids, batch=1, vocab=self.logits.shape[-1], device=device) if penalize else None
        self.ended: list[Hypothesis] = []

    def advance(self) -> bool:
        """One token more for every live beam; False when the search is over."""
        raw = self.logits.log_softmax(dim=-1).double()  # (K, V)
        ranked = process_logits(self.logits, self.settings, seen=self.seen).log_softmax(-1).double()
        total = (self.scores.unsqueeze(1) + ranked).flatten()  # (K * V,)
        # twice the beams: those that end leave the others enough to go on with
        top, flat = total.topk(min(2 * self.settings.beam, total.numel()))
        beams, tokens = flat // raw.shape[1], flat % raw.shape[1]
        live = self._sort_out(top, beams, tokens, raw)
        if not live or len(self.ended) >= self.settings.beam:
            return False
        keep = torch.tensor(live, device=flat.device)
        beams, tokens = beams[keep], tokens[keep]
        self.scores = top[keep]
        self.model_lp = torch.cat([self.model_lp[beams], raw[beams, tokens].unsqueeze(1)], dim=1)
        self.history = torch.cat([self.history[beams], tokens.unsqueeze(1)], dim=1)
        if self.seen is not None:
            self.seen = self.seen[beams].scatter_(1, tokens.unsqueeze(1), True)
        self.layers = self.stepper.select_rows(self.layers, beams)
        self.logits, self.layers = self.stepper.step(tokens, self.layers)
        return True

    def _sort_out(self, top, beams, tokens, raw) -> list[int]:
        """The candidates that go on (at most ``beam``); those a stop string ends are set aside as ended."""
        live: list[int] = []
        for i, (score, beam, token) in enumerate(zip(top.tolist(), beams.tolist(), tokens.tolist(), strict=True)):
            if score == float("-inf") or len(live) == self.settings.beam:
                break
            path = [*self.history[beam].tolist(), token]
            if self.stops is None or not self.stops.ended(path):
                live.append(i)
            elif len(self.ended) < self.settings.beam:
                log_probs = [*self.model_lp[beam].tolist(), float(raw[beam, token])]
                self.ended.append(Hypothesis(normalised(score, len(path), self._alpha), path, log_probs))
        return live

    @property
    def _alpha(self) -> float:
        return self.settings.length_penalty

    def best(self) -> Hypothesis:
        """The best ended hypothesis once ``beam`` have ended; else the best of those and the live ones."""
        if len(self.ended) >= self.settings.beam:
            return max(self.ended, key=lambda h: h.score)
        length = self.history.shape[1]
        live = [
            Hypothesis(normalised(float(score), length, self._alpha), tokens, log_probs)
            for score, tokens, log_probs in zip(
                self.scores.tolist(), self.history.tolist(), self.model_lp.tolist(), strict=True
            )
        ]
        return max(self.ended + live, key=lambda h: h.score)


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

    def end_of_text(self, log_prob: float) -> str:
        """A conditional model chose end-of-text: the sample stops there, and what was held back is released."""
        if self.done:
            return ""
        self.num_tokens += 1
        self.log_prob += log_prob
        self.stopped_by = END_OF_TEXT
        return self._release(self.held, held="")

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
