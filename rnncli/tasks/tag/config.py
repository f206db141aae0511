"""The tagger's shape (``TagConfig``) and its vocabularies (``Vocab``): plain data, checked before use.

Both are saved in the checkpoint's metadata and checked again when it is read, before any tensor is
allocated from them. Nothing here imports torch.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from rnncli.core.settings import (
    CELLS,
    MAX_LAYERS,
    MAX_VOCAB,
    MAX_WIDTH,
    check_choice,
    check_float,
    check_impl,
    check_int,
)
from rnncli.tasks.tag.schemes import BIO, BIOES, PLAIN, allowed

PAD, UNK = "<pad>", "<unk>"
MAX_TAGS = 10_000
MAX_WORD_CHARS = 24  # the character encoder reads a long word's first and last 12 characters


@dataclass
class TagConfig:
    """Word embeddings + a character encoder (of --cell) per word -> bidirectional layers -> a tag per token."""

    cell: str = "lstm"
    impl: str = "fused"
    embed_size: int = 64
    char_embed_size: int = 24
    char_hidden_size: int = 32
    hidden_size: int = 128
    num_layers: int = 1
    dropout: float = 0.3
    word_dropout: float = 0.05
    crf: bool = False
    vocab_size: int = 2
    char_vocab_size: int = 2
    num_tags: int = 1

    def validate(self, *, where: str | None = None) -> None:
        def label(name: str) -> str:
            return f"--{name.replace('_', '-')}" if where is None else f"{where} {name}"

        check_choice(self.cell, CELLS, label("cell"))
        check_impl(self.cell, self.impl, label=label("impl"))
        for name in ("embed_size", "char_embed_size", "char_hidden_size", "hidden_size"):
            check_int(getattr(self, name), 1, MAX_WIDTH, label(name))
        check_int(self.num_layers, 1, MAX_LAYERS, label("num_layers"))
        check_float(self.dropout, 0.0, 1.0, label("dropout"), high_open=True)
        check_float(self.word_dropout, 0.0, 1.0, label("word_dropout"), high_open=True)
        check_int(self.vocab_size, 2, MAX_VOCAB, label("vocab_size"))
        check_int(self.char_vocab_size, 2, MAX_VOCAB, label("char_vocab_size"))
        check_int(self.num_tags, 1, MAX_TAGS, label("num_tags"))
        if not isinstance(self.crf, bool):
            raise ValueError(f"{label('crf')} must be true or false")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Vocab:
    """Words (``<pad>``, ``<unk>``, then by frequency), characters likewise, and the tags in a fixed order."""

    words: list[str]
    chars: list[str]
    tags: list[str]
    scheme: str = PLAIN
    word_index: dict[str, int] = field(init=False, repr=False)
    char_index: dict[str, int] = field(init=False, repr=False)
    tag_index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.word_index = {w: i for i, w in enumerate(self.words)}
        self.char_index = {c: i for i, c in enumerate(self.chars)}
        self.tag_index = {t: i for i, t in enumerate(self.tags)}

    @classmethod
    def build(cls, sentences, *, min_count: int, scheme: str) -> Vocab:
        words = Counter(w for s in sentences for w in s.tokens)
        chars = {c for w in words for c in w}
        kept = [w for w, n in sorted(words.items(), key=lambda kv: (-kv[1], kv[0])) if n >= min_count]
        tags = sorted({t for s in sentences for t in s.tags}, key=_tag_order)
        return cls([PAD, UNK, *kept], [PAD, UNK, *sorted(chars)], tags, scheme)

    def to_dict(self) -> dict[str, Any]:
        return {"words": self.words, "chars": self.chars, "tags": self.tags, "scheme": self.scheme}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Vocab:
        lists = [data[k] for k in ("words", "chars", "tags")]
        if not all(isinstance(x, list) and all(isinstance(s, str) for s in x) for x in lists):
            raise ValueError("vocabularies must be lists of strings")
        if data["scheme"] not in (BIO, BIOES, PLAIN) or len(set(data["tags"])) != len(data["tags"]):
            raise ValueError("bad scheme or repeated tags")
        return cls(*lists, scheme=data["scheme"])

    def word_ids(self, tokens: list[str]) -> list[int]:
        return [self.word_index.get(t, 1) for t in tokens]

    def char_ids(self, token: str) -> list[int]:
        if len(token) > MAX_WORD_CHARS:
            half = MAX_WORD_CHARS // 2
            token = token[:half] + token[-half:]
        return [self.char_index.get(c, 1) for c in token] or [1]

    def transitions(self) -> tuple[list[list[bool]], list[bool], list[bool]]:
        """Which tag may follow which, start and end a sentence, under this vocabulary's scheme."""
        tags, scheme = self.tags, self.scheme
        pairs = [[allowed(a, b, scheme) for b in tags] for a in tags]
        return pairs, [allowed(None, t, scheme) for t in tags], [allowed(t, None, scheme) for t in tags]


def _tag_order(tag: str) -> tuple[int, str, int]:
    """O first, then by entity type and prefix (B before I before E before S): tables read well."""
    if tag == "O":
        return (0, "", 0)
    if len(tag) > 2 and tag[1] in "-_" and tag[0] in "BIES":
        return (1, tag[2:], "BIES".index(tag[0]))
    return (1, tag, 0)
