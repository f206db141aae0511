"""The BPE tokenizer: byte-level byte-pair encoding, trained by Hugging Face ``tokenizers``.

Byte-level means the 256 bytes are all in the vocabulary, so every text
encodes and decodes back exactly; merges learnt from the corpus make common
words one token. The ``tokenizers`` package is imported only when a BPE
tokenizer is trained or loaded: this module is imported with the package,
and ``rnn --help`` or a char model should not pay for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from rnncli.core.documents import load_json
from rnncli.core.errors import CheckpointError, UsageError
from rnncli.core.tokenizers.byte import ByteStreamDecoder
from rnncli.core.tokenizers.gpt2_bytes import BYTE_TO_CHAR, token_bytes
from rnncli.core.tokenizers.pieces import split_at_cuts

if TYPE_CHECKING:  # pragma: no cover
    from tokenizers import Tokenizer as HfTokenizer

MIN_VOCAB = 257  # the 256 bytes and at least one merge
MAX_VOCAB = 1_000_000
MAX_JSON_CHARS = 50_000_000  # a trained tokenizer's JSON in checkpoint metadata
PIECE_CHARS = 1 << 16  # text goes to the library this much at a time ...
BATCH_PIECES = 16  # ... and this many pieces per call, to bound its memory
REPLACEMENT = "\ufffd".encode()  # an id outside the vocabulary reads as U+FFFD

# Text is cut only after a newline that has non-space characters on both
# sides: there the ByteLevel pre-tokenizer (GPT-2's split, which never joins
# a newline to a neighbouring word) has a boundary whatever surrounds it, so
# encoding the pieces gives the ids of encoding the whole. Python's \s
# covers at least Unicode's White_Space, so its \S is never a space to the library.
_CUT = re.compile(r"\S\n(?=\S)")
_LAST_CUT = re.compile(r"(?s:.*)\S\n(?=\S)")  # greedy: the last cut
_SURROGATE = re.compile("[\ud800-\udfff]")


def _pieces(text: str, size: int | None = None) -> Iterator[str]:
    """``text`` in pieces of about ``size`` characters (more when no cut comes sooner)."""
    return split_at_cuts(text, _CUT, size or PIECE_CHARS)


def _corpus_pieces(chunks: Iterable[str]) -> Iterator[list[str]]:
    """The corpus as lists of pieces; a chunk's unfinished last line joins the next chunk."""
    tail = ""
    for chunk in chunks:
        text = tail + chunk
        found = _LAST_CUT.match(text)
        end = found.end() if found else (len(text) if len(text) > 16 * PIECE_CHARS else 0)  # a line without end
        tail = text[end:]
        if end:
            yield _training_slices(text[:end])
    if tail:
        yield _training_slices(tail)


def _training_slices(text: str) -> list[str]:
    """Pieces for the trainer, a long line sliced anywhere: a word cut in two only shifts a few counts."""
    return [piece[i : i + PIECE_CHARS] for piece in _pieces(text) for i in range(0, len(piece), PIECE_CHARS)]


class BpeTokenizer:
    """Byte-level BPE: every single byte is a token (so nothing is unknown), merged tokens follow."""

    kind = "bpe"
    unknown_id = None

    def __init__(self, tokenizer: HfTokenizer):
        self.tokenizer = tokenizer
        vocab = tokenizer.get_vocab()
        table: list[bytes | None] = [None] * len(vocab)
        for token, token_id in vocab.items():
            if not 0 <= token_id < len(vocab) or table[token_id] is not None:
                raise ValueError("its token ids are not 0..n-1, each once")
            table[token_id] = token_bytes(token)
            if table[token_id] is None:
                raise ValueError(f"token {token[:40]!r} is not byte-level")
        missing = [b for b, c in BYTE_TO_CHAR.items() if c not in vocab]
        if missing:
            raise ValueError(f"{len(missing)} of the 256 bytes are not tokens, so some text would not encode")
        self.token_bytes: list[bytes] = table  # type: ignore[assignment]
        self._start_id = vocab[BYTE_TO_CHAR[ord("\n")]]

    @classmethod
    def fit(cls, chunks: Callable[[], Iterable[str]], settings: Any) -> BpeTokenizer:
        size = settings.vocab_size
        if isinstance(size, bool) or not isinstance(size, int) or not MIN_VOCAB <= size <= MAX_VOCAB:
            raise UsageError(
                f"--vocab-size must be a whole number in {MIN_VOCAB}..{MAX_VOCAB:,} "
                f"for the bpe tokenizer (got {size!r})"
            )
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
        )
        # a small corpus may not have enough pairs to merge: the vocabulary is then smaller than asked
        tokenizer.train_from_iterator(_corpus_pieces(_clean(c) for c in chunks()), trainer=trainer)
        return cls(tokenizer)

    @property
    def vocab_size(self) -> int:
        return len(self.token_bytes)

    @property
    def start_id(self) -> int:
        return self._start_id

    def unknown(self, text: str) -> list[str]:
        return []

    def encode(self, text: str) -> list[int]:
        return self.encode_array(text).tolist()

    def encode_array(self, text: str) -> np.ndarray:
        pieces, parts = list(_pieces(_clean(text))), []
        for start in range(0, len(pieces), BATCH_PIECES):
            for encoding in self.tokenizer.encode_batch(pieces[start : start + BATCH_PIECES], add_special_tokens=False):
                parts.append(np.asarray(encoding.ids, dtype=np.int64))
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def decode(self, ids: list[int]) -> str:
        # decoded here rather than by the library, so that it matches the streaming decoder byte for byte
        return b"".join(map(self._bytes_of, ids)).decode("utf-8", errors="replace")

    def decoder(self) -> ByteStreamDecoder:
        return ByteStreamDecoder(self._bytes_of)

    def _bytes_of(self, token_id: int) -> bytes:
        return self.token_bytes[token_id] if 0 <= token_id < len(self.token_bytes) else REPLACEMENT

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "tokenizer": self.tokenizer.to_str()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BpeTokenizer:
        if set(data) != {"kind", "tokenizer"}:
            raise CheckpointError(
                "tokenizer 'bpe' holds exactly 'kind' and 'tokenizer'; the checkpoint's tokenizer is damaged"
            )
        text = data["tokenizer"]
        if not isinstance(text, str) or not text or len(text) > MAX_JSON_CHARS:
            raise CheckpointError(
                f"tokenizer 'bpe' must hold the trained tokenizer as JSON text of at most {MAX_JSON_CHARS:,} characters"
            )
        _check_model(text)
        from tokenizers import Tokenizer, models, pre_tokenizers

        try:
            tokenizer = Tokenizer.from_str(text)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # plain Exception for bad JSON; a Rust panic is a BaseException
            raise CheckpointError(f"tokenizer is damaged: the library cannot read it ({str(exc)[:200]})") from None
        if tokenizer.truncation is not None or tokenizer.padding is not None:
            raise CheckpointError("tokenizer is damaged: it truncates or pads, which would lose or add tokens")
        pre = tokenizer.pre_tokenizer
        if not isinstance(tokenizer.model, models.BPE) or not isinstance(pre, pre_tokenizers.ByteLevel):
            raise CheckpointError("tokenizer is damaged: it is not a byte-level BPE model")
        if pre.add_prefix_space or tokenizer.normalizer is not None or tokenizer.post_processor is not None:
            # each would change the text or add tokens, so decoding would not give the text back
            raise CheckpointError("tokenizer is damaged: it adds a prefix space, normalises text or adds tokens")
        if tokenizer.get_vocab_size(with_added_tokens=True) > MAX_VOCAB:
            raise CheckpointError(f"tokenizer is damaged: more than {MAX_VOCAB:,} tokens")
        if tokenizer.get_vocab_size(with_added_tokens=True) != tokenizer.get_vocab_size(with_added_tokens=False):
            raise CheckpointError("tokenizer is damaged: it has added tokens, which byte-level BPE here never has")
        try:
            return cls(tokenizer)
        except ValueError as exc:
            raise CheckpointError(f"tokenizer is damaged: {exc}") from None


MAX_BPE_CHARS = 256 << 20  # a BPE tokenizer's JSON (a 1M-token vocabulary and its merges)


def _check_model(text: str) -> None:
    """Check the BPE model's vocabulary and merges before the library reads them.

    The library panics (rather than raising) on some inconsistent merges, and
    dropout or subword affixes would make encoding random or decoding wrong.
    """
    try:
        data = load_json(text, where="tokenizer", what="its JSON", error=CheckpointError, max_chars=MAX_BPE_CHARS)
    except CheckpointError as exc:
        detail = exc.message.removeprefix("tokenizer: its JSON ")
        shown = "" if "not JSON" in detail else f" ({detail})"
        raise CheckpointError(f"tokenizer is damaged: its JSON does not parse{shown}") from None
    model = data.get("model") if isinstance(data, dict) else None
    if not isinstance(model, dict) or model.get("type") != "BPE":
        raise CheckpointError("tokenizer is damaged: it is not a byte-level BPE model")
    if any(model.get(key) is not None for key in ("dropout", "continuing_subword_prefix", "end_of_word_suffix")):
        raise CheckpointError(
            "tokenizer is damaged: it has dropout or subword affixes, which byte-level BPE here never has"
        )
    vocab, merges = model.get("vocab"), model.get("merges")
    if not isinstance(vocab, dict) or not all(isinstance(i, int) and not isinstance(i, bool) for i in vocab.values()):
        raise CheckpointError("tokenizer is damaged: its vocabulary is not a map of tokens to ids")
    if not isinstance(merges, list):
        raise CheckpointError("tokenizer is damaged: its merges are not a list")
    for merge in merges:
        pair = merge.split(" ") if isinstance(merge, str) else merge
        if (
            not isinstance(pair, list)
            or len(pair) != 2
            or not all(isinstance(p, str) and p in vocab for p in pair)
            or pair[0] + pair[1] not in vocab
        ):
            raise CheckpointError(f"tokenizer is damaged: merge {str(merge)[:40]!r} does not join two of its tokens")


def _clean(text: str) -> str:
    """Lone surrogates (from undecodable command-line bytes) read as U+FFFD: the library takes only valid text."""
    return _SURROGATE.sub("\ufffd", text) if not text.isascii() else text
