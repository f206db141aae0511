"""The translator's shape and the data options, as plain dataclasses (no torch), checked before data is read."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from rnncli.core.errors import UsageError
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

ATTENTIONS = ("additive", "dot", "general", "none")
SPECIALS = ("<pad>", "<s>", "</s>")  # appended after the tokenizer's ids: pad, start and end of a sentence


@dataclass
class TranslateConfig:
    """An encoder-decoder: a bidirectional encoder, a decoder started from it, attention and input feeding.

    ``vocab_size`` is the source tokenizer's; ``target_vocab_size`` the target
    tokenizer's, or 0 where one tokenizer serves both sides (``--shared-vocab``,
    the default and the only layout of the first runs). The model adds the
    three special tokens after each. ``hidden_size`` is the decoder's width; each
    encoder direction has half of it, so the two halves start the decoder.
    ``tie_embeddings`` makes the decoder's output layer the transpose of its input
    embedding (Press & Wolf 2017), so it needs ``embed_size == hidden_size``.
    ``copy`` lets the decoder copy source tokens through its attention (See et
    al. 2017); it needs attention and one vocabulary for both sides (``copies``).
    """

    cell: str = "lstm"
    impl: str = "fused"
    vocab_size: int = 0
    embed_size: int = 64
    hidden_size: int = 128
    num_layers: int = 1
    dropout: float = 0.1
    attention: str = "general"
    label_smoothing: float = 0.1
    target_vocab_size: int = 0
    tie_embeddings: bool = False
    copy: bool = False  # False in runs saved before it existed; new runs default to True (options.py)

    def validate(self, *, where: str | None = None) -> None:
        label = (lambda name: f"--{name.replace('_', '-')}") if where is None else (lambda name: f"{where} {name}")
        check_choice(self.cell, CELLS, label("cell"))
        check_impl(self.cell, self.impl, label=label("impl"))
        check_int(self.vocab_size, 0 if where is None else 1, MAX_VOCAB, label("vocab_size"))
        check_int(self.embed_size, 1, MAX_WIDTH, label("embed_size"))
        check_int(self.hidden_size, 2, MAX_WIDTH, label("hidden_size"))
        if self.hidden_size % 2:
            raise UsageError(
                f"{label('hidden_size')} must be even: each direction of the encoder has half of it "
                f"(got {self.hidden_size})"
            )
        check_int(self.num_layers, 1, MAX_LAYERS, label("num_layers"))
        check_float(self.dropout, 0.0, 1.0, label("dropout"), high_open=True)
        check_choice(self.attention, ATTENTIONS, label("attention"))
        check_float(self.label_smoothing, 0.0, 1.0, label("label_smoothing"), high_open=True)
        check_int(self.target_vocab_size, 0, MAX_VOCAB, label("target_vocab_size"))
        if self.tie_embeddings and self.embed_size != self.hidden_size:
            raise UsageError(
                f"{label('tie_embeddings')} needs the decoder's embedding and output sizes equal: "
                f"give --embed-size {self.hidden_size} (got --embed-size {self.embed_size}, "
                f"--hidden-size {self.hidden_size})"
            )

    @property
    def copies(self) -> bool:
        """Whether the model copies: asked for, with attention to copy by and one vocabulary on both sides."""
        return self.copy and self.attention != "none" and self.shared_vocab

    @property
    def shared_vocab(self) -> bool:
        return self.target_vocab_size == 0

    @property
    def source_total(self) -> int:
        """The source embedding's rows: the source tokenizer's ids, then the specials."""
        return self.vocab_size + len(SPECIALS)

    @property
    def source_pad_id(self) -> int:
        return self.vocab_size

    @property
    def target_vocab(self) -> int:
        return self.target_vocab_size or self.vocab_size

    @property
    def total_vocab(self) -> int:
        """The decoder's vocabulary: the target tokenizer's ids, then the specials."""
        return self.target_vocab + len(SPECIALS)

    @property
    def pad_id(self) -> int:
        return self.target_vocab

    @property
    def bos_id(self) -> int:
        return self.target_vocab + 1

    @property
    def eos_id(self) -> int:
        return self.target_vocab + 2

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
