"""What training a tokenizer needs besides the text; each kind reads the fields it uses.

A module of its own, outside rnncli/core/tokenizers, so that the settings load without numpy (--help stays quick).

Its defaults are the defaults of the text options of every task that tokenizes (``--tokenizer``,
``--vocab-size``, ``--min-count``, ``--max-vocab``).
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("char", "byte", "word", "bpe")


@dataclass
class TokenizerSettings:
    kind: str = "char"
    vocab_size: int = 1024  # bpe: the target vocabulary
    min_count: int = 1  # word: rarer words become the unknown token
    max_vocab: int = 50_000  # word: at most this many words (the most frequent)
