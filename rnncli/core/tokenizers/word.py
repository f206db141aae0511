"""The word tokenizer: one id per frequent word or punctuation mark, the rest is ``<unk>``.

Spacing is not stored: ``decode`` puts it back by simple typographic rules, so
``decode(encode(text))`` gives ``text`` back when its words are separated by
single spaces and its punctuation sits the usual way, and a normalised form
of it otherwise (which encodes to the same ids again).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from itertools import repeat
from typing import Any

import numpy as np

from rnncli.core.errors import CheckpointError, UsageError
from rnncli.core.tokenizers.char import MAX_CODE_POINT, MAX_TOKENIZER_VOCAB
from rnncli.core.tokenizers.pieces import split_at_cuts

UNKNOWN_TOKEN = "<unk>"  # id 0; a literal "<unk>" in the text is this token too

# A token is, in this order of preference:
#   <unk>            the unknown token itself, so decoded text encodes back to it
#   \n               a newline, so lines survive (other whitespace only separates)
#   a word           letters, digits, "_" and combining marks ({marks}, which
#                    Python's \w leaves out: é written as e + U+0301, Devanagari
#                    vowel signs), with internal apostrophes: don't, it’s, rock'n'roll
#   a symbol         any other single non-space character: . , “ ( % - € 🙂
# ``{marks}`` is filled in with every combining mark of the Unicode database.
TOKEN_PATTERN = r"<unk>|\n|[\w{marks}]+(?:['’][\w{marks}]+)*|[^\w\s]"

# A character after which no token can continue: the text may be cut there
# without changing its tokens (not a word character, mark, apostrophe or "<").
CUT_PATTERN = r"[^\w{marks}'’<]"

# No space before these (closing punctuation) ...
CLOSING = frozenset(".,;:!?)]}%…»”’'、。，．！？；：）］｝」』】〉》〕")
# ... and none after these (opening brackets and quotes).
OPENING = frozenset("([{«“‘¿¡（［｛「『【〈《〔")
# A straight double quote opens and closes in turn (counted afresh on each line).
QUOTE = '"'

MAX_WORDS_CHARS = 64_000_000  # all words of a checkpoint's vocabulary together
SEGMENT_CHARS = 1 << 20  # bulk text is tokenized this much at a time


@functools.cache
def _regexes() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """(token, cut, last cut) patterns; built on first use as the mark scan takes a tenth of a second."""
    marks = "".join(_mark_ranges())
    token = re.compile(TOKEN_PATTERN.format(marks=marks))
    cut = re.compile(CUT_PATTERN.format(marks=marks))
    last_cut = re.compile(r"(?s:.*)" + CUT_PATTERN.format(marks=marks))  # greedy: the last cut in the text
    return token, cut, last_cut


def _mark_ranges() -> Iterator[str]:
    """Every run of Unicode combining marks (categories Mn, Mc, Me) as a ``a-b`` class item."""
    start = None
    for point in range(MAX_CODE_POINT + 2):
        is_mark = point <= MAX_CODE_POINT and unicodedata.category(chr(point))[0] == "M"
        if is_mark and start is None:
            start = point
        elif not is_mark and start is not None:
            yield f"{re.escape(chr(start))}-{re.escape(chr(point - 1))}"
            start = None


def tokens_of(text: str) -> list[str]:
    """The tokens of ``text`` by ``TOKEN_PATTERN``."""
    return _regexes()[0].findall(text)


def _segments(text: str, size: int = SEGMENT_CHARS) -> Iterator[str]:
    """``text`` in pieces of about ``size`` characters, cut only where no token spans the cut."""
    return split_at_cuts(text, _regexes()[1], size)


def _complete_segments(chunks: Iterable[str]) -> Iterator[str]:
    """The corpus as pieces ending at a safe cut; a chunk's unfinished tail joins the next chunk."""
    last_cut, tail = _regexes()[2], ""
    for chunk in chunks:
        text = tail + chunk
        found = last_cut.match(text)
        end = found.end() if found else 0
        tail = text[end:]
        if end:
            yield from _segments(text[:end])
    if tail:
        yield from _segments(tail)


class WordTokenizer:
    """Id 0 is ``<unk>``; ids 1.. are the training text's words, most frequent first."""

    kind = "word"
    unknown_id = 0

    def __init__(self, words: list[str]):
        if not words or words[0] != UNKNOWN_TOKEN:
            raise ValueError(f"a word vocabulary starts with {UNKNOWN_TOKEN!r}")
        if len(set(words)) != len(words):
            raise ValueError("a word vocabulary holds distinct words")
        self.words = list(words)
        self.index = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def fit(cls, chunks: Callable[[], Iterable[str]], settings: Any) -> WordTokenizer:
        min_count, max_vocab = settings.min_count, settings.max_vocab
        if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
            raise UsageError(f"--min-count must be a whole number of at least 1 (got {min_count!r})")
        if (
            isinstance(max_vocab, bool)
            or not isinstance(max_vocab, int)
            or not 1 <= max_vocab <= MAX_TOKENIZER_VOCAB - 1
        ):
            raise UsageError(
                f"--max-vocab must be a whole number in 1..{MAX_TOKENIZER_VOCAB - 1:,} (got {max_vocab!r})"
            )
        counts: Counter[str] = Counter()
        for segment in _complete_segments(chunks()):
            counts.update(tokens_of(segment))
        counts.pop(UNKNOWN_TOKEN, None)
        # ties broken by the word itself, so the same corpus always gives the same ids
        ranked = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
        return cls([UNKNOWN_TOKEN, *ranked[:max_vocab]])

    @property
    def vocab_size(self) -> int:
        return len(self.words)

    @property
    def start_id(self) -> int:
        return self.index.get("\n", 0)

    def unknown(self, text: str) -> list[str]:
        """The distinct tokens of ``text`` outside the vocabulary, in the order they first appear."""
        index, seen = self.index, {}
        for segment in _segments(text):
            seen.update(dict.fromkeys(t for t in tokens_of(segment) if t not in index))
        return list(seen)

    def encode(self, text: str) -> list[int]:
        return self.encode_array(text).tolist()

    def encode_array(self, text: str) -> np.ndarray:
        lookup = self.index.get
        parts = [
            np.fromiter(map(lookup, tokens, repeat(0)), dtype=np.int64, count=len(tokens))
            for tokens in map(tokens_of, _segments(text))
        ]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def decode(self, ids: list[int]) -> str:
        stream = self.decoder()
        return "".join(map(stream.feed, ids)) + stream.finish()

    def decoder(self) -> WordStreamDecoder:
        return WordStreamDecoder(self.words)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "words": list(self.words)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WordTokenizer:
        if set(data) != {"kind", "words"}:
            raise CheckpointError(
                "tokenizer 'word' holds exactly 'kind' and 'words'; the checkpoint's tokenizer is damaged"
            )
        words = data["words"]
        if not isinstance(words, list) or not 1 <= len(words) <= MAX_TOKENIZER_VOCAB:
            raise CheckpointError(f"tokenizer 'words' must be a list of 1..{MAX_TOKENIZER_VOCAB:,} words")
        if not all(isinstance(w, str) and w for w in words):
            raise CheckpointError("tokenizer 'words' must all be non-empty strings")
        if sum(map(len, words)) > MAX_WORDS_CHARS:
            raise CheckpointError(f"tokenizer 'words' are longer than {MAX_WORDS_CHARS:,} characters in all")
        token = _regexes()[0]
        bad = next((w for w in words if token.fullmatch(w) is None), None)
        if bad is not None:
            raise CheckpointError(f"tokenizer is damaged: {bad[:40]!r} is not a single word or symbol")
        try:
            return cls(words)
        except ValueError as exc:
            raise CheckpointError(f"tokenizer is damaged: {exc}") from None


class WordStreamDecoder:
    """Decodes one id at a time with the spacing ``decode`` gives the whole sequence.

    Whether a space goes before a token depends only on the token before it
    (and, for straight quotes, on how many came earlier on the line), so the
    text can be written out as the tokens are generated.
    """

    def __init__(self, words: list[str]):
        self.words = words
        self.previous: str | None = None  # None: nothing yet, so no space
        self.previous_opens = False  # the previous token wants no space after it
        self.quote_open = False

    def feed(self, token_id: int) -> str:
        word = self.words[token_id] if 0 <= token_id < len(self.words) else UNKNOWN_TOKEN
        opens = word in OPENING
        closes = word in CLOSING
        if word == QUOTE:
            opens, closes = not self.quote_open, self.quote_open
            self.quote_open = not self.quote_open
        elif word == "\n":
            self.quote_open = False
        glued = self.previous is None or self.previous == "\n" or word == "\n" or closes or self.previous_opens
        self.previous, self.previous_opens = word, opens
        return word if glued else " " + word

    def finish(self) -> str:
        return ""
