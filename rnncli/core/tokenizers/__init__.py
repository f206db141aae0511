"""Tokenizers: text <-> integer ids, serialisable into checkpoint metadata.

Every tokenizer follows one protocol (``Tokenizer`` below) and is rebuilt from
the plain JSON-able dict of ``to_dict`` by ``tokenizer_from_dict``: the
checkpoint carries it, never a side file. ``train_tokenizer`` fits one to a
corpus given as a re-readable sequence of text chunks, so a corpus larger than
memory never has to be held whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

import numpy as np

from rnncli.core.errors import CheckpointError, DataError, UsageError
from rnncli.core.tokenizer_settings import TokenizerSettings
from rnncli.core.tokenizers.bpe import BpeTokenizer
from rnncli.core.tokenizers.byte import ByteTokenizer
from rnncli.core.tokenizers.char import MAX_TOKENIZER_VOCAB, CharTokenizer, describe_unknown
from rnncli.core.tokenizers.word import WordTokenizer

__all__ = [
    "MAX_TOKENIZER_VOCAB",
    "TOKENIZERS",
    "UNKNOWN_POLICIES",
    "BpeTokenizer",
    "ByteTokenizer",
    "CharTokenizer",
    "StreamDecoder",
    "Tokenizer",
    "TokenizerSettings",
    "WordTokenizer",
    "encode_known",
    "tokenizer_from_dict",
    "train_tokenizer",
    "unseen_characters",
]

# What to do with text outside a tokenizer's vocabulary: refuse it naming the
# pieces, drop them, or keep them as the unknown token.
UNKNOWN_POLICIES = ("error", "skip", "unk")

Chunks = Callable[[], Iterable[str]]  # each call reads the corpus again, chunk by chunk


class StreamDecoder(Protocol):
    """Turns generated ids into text one at a time (a byte may be half a character)."""

    def feed(self, token_id: int) -> str: ...

    def finish(self) -> str: ...


class Tokenizer(Protocol):
    kind: str
    # The id that stands for anything outside the vocabulary, or None when the
    # tokenizer covers every text (byte, bpe) or predates unknown tokens.
    unknown_id: int | None

    @property
    def vocab_size(self) -> int: ...

    @property
    def start_id(self) -> int:
        """The id that stands for "start of a line" (a newline where there is one)."""

    def encode(self, text: str) -> list[int]: ...

    def encode_array(self, text: str) -> np.ndarray:
        """``encode`` for bulk text, as a 1-D integer array."""

    def decode(self, ids: list[int]) -> str: ...

    def decoder(self) -> StreamDecoder: ...

    def unknown(self, text: str) -> list[str]:
        """The distinct pieces of ``text`` (characters, words) outside the vocabulary."""

    def to_dict(self) -> dict[str, Any]: ...


# bpe.py imports the ``tokenizers`` package only when a BPE tokenizer is trained or loaded
TOKENIZERS: dict[str, Any] = {"char": CharTokenizer, "byte": ByteTokenizer, "word": WordTokenizer, "bpe": BpeTokenizer}


def train_tokenizer(settings: TokenizerSettings, chunks: Chunks) -> Tokenizer:
    """Fit a tokenizer of ``settings.kind`` to the corpus that ``chunks()`` reads."""
    if settings.kind not in TOKENIZERS:
        raise UsageError(f"--tokenizer: unknown value '{settings.kind}' (choose one of: {', '.join(TOKENIZERS)})")
    return TOKENIZERS[settings.kind].fit(chunks, settings)


def tokenizer_from_dict(data: Any) -> Tokenizer:
    """Rebuild a tokenizer from checkpoint metadata (untrusted input)."""
    if not isinstance(data, dict) or data.get("kind") not in TOKENIZERS:
        kinds = ", ".join(TOKENIZERS)
        raise CheckpointError(f"checkpoint names an unknown tokenizer (readable kinds: {kinds})")
    return TOKENIZERS[data["kind"]].from_dict(data)


def encode_known(tokenizer: Tokenizer, text: str, *, policy: str | None = None, where: str = "text") -> list[int]:
    """Encode ``text`` under an unknown-token policy; ``None`` picks the tokenizer's own default.

    A character model that meets a character it never saw is reading a
    different kind of text, so the default is to say so; a word model meets
    unseen words in any new text, so its default keeps them as the unknown token.
    """
    policy = policy or ("unk" if tokenizer.kind == "word" else "error")
    if policy not in UNKNOWN_POLICIES:
        raise UsageError(f"--unknown: unknown value '{policy}' (choose one of: {', '.join(UNKNOWN_POLICIES)})")
    missing = tokenizer.unknown(text)  # always empty for byte and bpe, which cover every text
    if missing and (policy == "error" or tokenizer.unknown_id is None):
        what = "words" if tokenizer.kind == "word" else "characters"
        hint = "; leave them out with --unknown skip" if tokenizer.unknown_id is not None else ""
        raise DataError(f"{where} has {what} the model never saw in training: {describe_unknown(missing)}{hint}")
    ids = tokenizer.encode(text)
    if missing and policy == "skip":
        ids = [i for i in ids if i != tokenizer.unknown_id]
    return ids


def unseen_characters(tokenizer: Tokenizer, chunks: Chunks) -> list[str]:
    """The characters of a text (read chunk by chunk) that a character tokenizer lacks; none for other kinds.

    A word model reads an unseen word as its unknown token, and bytes and BPE cover every text, but a
    character model can learn nothing about a character that is not in its vocabulary.
    """
    if tokenizer.kind != "char":
        return []
    missing: set[str] = set()
    for chunk in chunks():
        missing.update(tokenizer.unknown(chunk))
    return sorted(missing)
