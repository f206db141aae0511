"""The character tokenizer: one id per Unicode code point of the training text."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from rnncli.core.errors import CheckpointError, DataError

MAX_TOKENIZER_VOCAB = 2_000_000
MAX_CODE_POINT = 0x10FFFF
UNKNOWN_TEXT = "\ufffd"  # how the unknown token reads when a model generates it


class CharTokenizer:
    """One token per Unicode code point seen in the training text, plus an unknown token.

    The vocabulary is sorted by code point so that the same text always gives
    the same ids, whatever order the characters first appear in. The unknown
    token comes last (id ``len(chars)``); checkpoints written before it
    existed have none, and then an unseen character is an error.
    """

    kind = "char"

    def __init__(self, chars: list[str], *, unknown: bool = True):
        if len(set(chars)) != len(chars) or any(len(c) != 1 for c in chars):
            raise ValueError("a char vocabulary holds distinct single characters")
        self.chars = sorted(chars)
        self.index = {c: i for i, c in enumerate(self.chars)}
        self.unknown_id = len(self.chars) if unknown else None
        self._code_points = np.array([ord(c) for c in self.chars], dtype=np.uint32)  # sorted

    @classmethod
    def train(cls, text: str) -> CharTokenizer:
        return cls(sorted(set(text)))

    @classmethod
    def fit(cls, chunks: Callable[[], Iterable[str]], settings: Any = None) -> CharTokenizer:
        counts = np.zeros(MAX_CODE_POINT + 1, dtype=np.int64)
        for chunk in chunks():
            counts += np.bincount(_code_points(chunk), minlength=MAX_CODE_POINT + 1)
        return cls([chr(c) for c in np.flatnonzero(counts)])

    @property
    def vocab_size(self) -> int:
        return len(self.chars) + (self.unknown_id is not None)

    @property
    def start_id(self) -> int:
        return self.index.get("\n", 0)

    def unknown(self, text: str) -> list[str]:
        """The distinct characters of ``text`` that are not in the vocabulary."""
        return sorted(set(text) - self.index.keys())

    def encode(self, text: str) -> list[int]:
        return self.encode_array(text).tolist()

    def encode_array(self, text: str) -> np.ndarray:
        points = _code_points(text)  # (N,)
        if not len(self._code_points):
            found = np.zeros(len(points), dtype=bool)
            ids = np.zeros(len(points), dtype=np.int64)
        else:
            ids = np.searchsorted(self._code_points, points).clip(max=len(self._code_points) - 1)
            found = self._code_points[ids] == points
        if found.all():
            return ids.astype(np.int64)
        if self.unknown_id is None:
            unseen = describe_unknown(self.unknown(text))
            raise DataError(f"text has characters the model never saw in training: {unseen}")
        return np.where(found, ids, self.unknown_id).astype(np.int64)

    def decode(self, ids: list[int]) -> str:
        chars, n = self.chars, len(self.chars)
        return "".join(chars[i] if i < n else UNKNOWN_TEXT for i in ids)

    def decoder(self) -> _CharDecoder:
        return _CharDecoder(self)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "chars": "".join(self.chars), "unknown": self.unknown_id is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CharTokenizer:
        chars, unknown = data.get("chars"), data.get("unknown", False)
        if not isinstance(chars, str) or not chars or len(chars) > MAX_TOKENIZER_VOCAB:
            raise CheckpointError("tokenizer 'chars' must be a non-empty string")
        if not isinstance(unknown, bool):
            raise CheckpointError("tokenizer 'unknown' must be true or false")
        if list(chars) != sorted(chars):
            raise CheckpointError("tokenizer is damaged: its characters are not in code-point order")
        try:
            return cls(list(chars), unknown=unknown)
        except ValueError as exc:
            raise CheckpointError(f"tokenizer is damaged: {exc}") from None


class _CharDecoder:
    def __init__(self, tokenizer: CharTokenizer):
        self.tokenizer = tokenizer

    def feed(self, token_id: int) -> str:
        return self.tokenizer.decode([token_id])

    def finish(self) -> str:
        return ""


def _code_points(text: str) -> np.ndarray:
    # surrogatepass: a lone surrogate (from an undecodable command-line argument) is a character like any other
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def describe_unknown(pieces: list[str], *, limit: int = 20) -> str:
    """``'Z' 'é' and 3 more``: the pieces a tokenizer does not know, for an error message."""
    shown = " ".join(repr(p) for p in pieces[:limit])
    more = f" and {len(pieces) - limit} more" if len(pieces) > limit else ""
    return shown + more
