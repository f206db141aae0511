"""Tokenizers: text <-> integer ids, serialisable into checkpoint metadata.

Every tokenizer follows one protocol: ``encode``, ``decode``, ``vocab_size``,
``to_dict`` and ``from_dict`` (a plain JSON-able dict, never a side file).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Protocol

from rnncli.errors import CheckpointError, DataError

MAX_TOKENIZER_VOCAB = 2_000_000


class Tokenizer(Protocol):
    kind: str

    @property
    def vocab_size(self) -> int: ...

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: list[int]) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...


class CharTokenizer:
    """One token per Unicode code point seen in the training text.

    The vocabulary is sorted by code point so that the same text always gives
    the same ids, whatever order the characters first appear in.
    """

    kind = "char"

    def __init__(self, chars: list[str]):
        if len(set(chars)) != len(chars) or any(len(c) != 1 for c in chars):
            raise ValueError("a char vocabulary holds distinct single characters")
        self.chars = list(chars)
        self.index = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def train(cls, text: str) -> CharTokenizer:
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def unknown_chars(self, text: str) -> list[str]:
        """The distinct characters of ``text`` that are not in the vocabulary."""
        return sorted(set(text) - self.index.keys())

    def encode(self, text: str) -> list[int]:
        missing = self.unknown_chars(text)
        if missing:
            shown = " ".join(repr(c) for c in missing[:20])
            more = f" and {len(missing) - 20} more" if len(missing) > 20 else ""
            raise DataError(f"text has characters the model never saw in training: {shown}{more}")
        index = self.index
        return [index[c] for c in text]

    def decode(self, ids: list[int]) -> str:
        chars = self.chars
        return "".join(chars[i] for i in ids)

    def counts(self, text: str) -> Counter:
        return Counter(text)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "chars": "".join(self.chars)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CharTokenizer:
        chars = data.get("chars")
        if not isinstance(chars, str) or not chars or len(chars) > MAX_TOKENIZER_VOCAB:
            raise CheckpointError("tokenizer 'chars' must be a non-empty string")
        try:
            return cls(list(chars))
        except ValueError as exc:
            raise CheckpointError(f"tokenizer is damaged: {exc}") from None


TOKENIZERS = {"char": CharTokenizer}


def tokenizer_from_dict(data: Any) -> Tokenizer:
    """Rebuild a tokenizer from checkpoint metadata (untrusted input)."""
    if not isinstance(data, dict) or data.get("kind") not in TOKENIZERS:
        kinds = ", ".join(TOKENIZERS)
        raise CheckpointError(f"checkpoint names an unknown tokenizer (readable kinds: {kinds})")
    return TOKENIZERS[data["kind"]].from_dict(data)
