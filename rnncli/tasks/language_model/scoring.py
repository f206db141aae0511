"""Scoring text with a trained language model: loss, perplexity and bits, for a whole text or line by line.

``evaluate`` is the task's entry point for ``rnn eval``; nothing here prints.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import torch

from rnncli.core.devices import resolve_device
from rnncli.core.errors import CheckpointError, DataError, UsageError
from rnncli.core.tokenizers import encode_known
from rnncli.core.tokenizers.pieces import split_at_cuts
from rnncli.tasks.language_model.checkpoint import Checkpoint, load_checkpoint
from rnncli.tasks.language_model.data.sources import ReadSettings, read_corpus
from rnncli.tasks.language_model.metrics import (
    LN2,
    bits_per_char,
    line_log_probs,
    mean_loss,
    perplexity,
    stream_log_probs,
    streamed_log_prob,
)
from rnncli.tasks.requests import EvalRequest, Evaluation, Reporter

LONG_LINE_CHARS = 1 << 16  # --per-line reads a longer line alone, streamed in pieces
PIECE_CHARS = 1 << 20  # characters of a long line encoded at a time
# No word or BPE token spans the end of a non-space followed by a space: a long line may be cut there.
SAFE_CUT = re.compile(r"\S(?=\s)")
DEFAULT_DEVICE = "cpu"  # scoring a small model: the GPU's start-up costs more than it saves


def evaluate(request: EvalRequest, reporter: Reporter) -> Evaluation:
    """``rnn eval`` on a language model: the whole text's loss and bits, or (``--per-line``) a score per line."""
    options = request.options
    if options.get("carry") and not options.get("per_line"):
        raise UsageError("--carry only applies to --per-line scoring; add --per-line")
    ckpt = load_checkpoint(
        request.checkpoint, device=resolve_device(options.get("device") or DEFAULT_DEVICE), impl=options.get("impl")
    )
    if ckpt.conditional:
        return Evaluation("text", document=evaluate_labelled(ckpt, request.data, options))
    read = ReadSettings.of_run(ckpt.meta.get("text"), encoding=options.get("encoding"), errors=options.get("errors"))
    if options.get("per_line"):
        records = score_lines(
            ckpt, request.data, carry=bool(options.get("carry")), unknown=options.get("unknown"), read=read
        )
        return Evaluation("lines", records=records)
    return Evaluation("text", document=evaluate_text(ckpt, request.data, unknown=options.get("unknown"), read=read))


def evaluate_labelled(ckpt: Checkpoint, data: str | list[str], options: dict[str, Any]) -> dict[str, Any]:
    """A conditional model on a labelled file: the loss of each text given its label, end-of-text included."""
    from rnncli.tasks.language_model.conditional import encode_examples, read_labelled
    from rnncli.tasks.language_model.conditional_task import IGNORE, batch_tensors, sequence_loss
    from rnncli.tasks.language_model.config import TextConfig

    refused = [flag for flag in ("per_line", "carry", "encoding", "errors") if options.get(flag)]
    if refused:
        flag = "--" + refused[0].replace("_", "-")
        raise UsageError(f"{flag} is not built for a conditional model: it scores a labelled file, text by label")
    path = data if isinstance(data, str) else data[0]
    text = TextConfig(**{key: ckpt.meta.get("text", {}).get(key) for key in ("condition_col", "text_col")})
    examples = read_labelled(path, text)
    seqs, _ = encode_examples(ckpt.tokenizer, examples, ckpt.labels, 10**9, policy=options.get("unknown"))
    total, tokens, device = 0.0, 0, ckpt.model.head.weight.device
    with torch.inference_mode():
        for start in range(0, len(seqs.ids), 64):
            rows = list(range(start, min(start + 64, len(seqs.ids))))
            x, y, labels = batch_tensors(seqs, rows, ckpt.end_id, device)
            total += sequence_loss(ckpt.model, x, y, labels, reduction="sum").item()
            tokens += int((y != IGNORE).sum())
    loss = total / tokens
    check_finite_score(loss, ckpt, examples.source)
    return {
        "data": examples.source,
        "tokenizer": ckpt.tokenizer.kind,
        "examples": len(seqs.ids),
        "tokens": tokens,
        "unknown_tokens": sum(i == ckpt.tokenizer.unknown_id for seq in seqs.ids for i in seq),
        "chars": seqs.num_chars,
        "bytes": seqs.num_bytes,
        "loss": loss,
        "perplexity": perplexity(loss),
        "bpc": bits_per_char(loss, tokens=tokens, chars=seqs.num_chars),
        "bpb": bits_per_char(loss, tokens=tokens, chars=seqs.num_bytes),
    }


def evaluate_text(
    ckpt: Checkpoint, data: str | list[str], *, unknown: str | None = None, read: ReadSettings | None = None
) -> dict[str, Any]:
    """Loss, perplexity, and bits per character and per byte of a checkpoint on a text.

    The first token is context, not predicted, so the bits are spread over the characters (and UTF-8 bytes)
    after it: for a byte model exactly one byte fewer than the text has, wherever its first character starts.
    Text left out by ``--unknown skip`` is never scored, so it is reported (``skipped``) and not counted.
    """
    corpus = read_corpus(data, read)
    encoded = _encoded_array(ckpt.tokenizer, corpus.text, unknown=unknown, where=f"{corpus.source}: text")
    if len(encoded) < 2:
        raise DataError(f"{corpus.source}: needs at least two tokens to evaluate")
    loss = mean_loss(ckpt.model, torch.from_numpy(encoded))
    check_finite_score(loss, ckpt, corpus.source)
    predicted = len(encoded) - 1
    skipped = skipped_text(ckpt.tokenizer, corpus.text, unknown)
    first_chars, first_bytes = _first_token_span(ckpt.tokenizer, corpus.text, int(encoded[0]))
    chars = len(corpus.text) - first_chars - skipped["chars"]
    num_bytes = len(corpus.text.encode("utf-8", "surrogateescape")) - first_bytes - skipped["bytes"]
    return {
        "data": corpus.source,
        "tokenizer": ckpt.tokenizer.kind,
        "tokens": predicted,
        "chars": chars,
        "bytes": num_bytes,
        "unknown_tokens": int((encoded == ckpt.tokenizer.unknown_id).sum())
        if ckpt.tokenizer.unknown_id is not None
        else 0,
        "skipped": skipped,
        "loss": loss,
        "perplexity": perplexity(loss),
        "bpc": bits_per_char(loss, tokens=predicted, chars=chars),
        "bpb": bits_per_char(loss, tokens=predicted, chars=num_bytes),
    }


def _encoded_array(tokenizer, text: str, *, unknown: str | None, where: str) -> np.ndarray:
    """The ids of ``text`` as one int32 array, encoded piece by piece (4 bytes a token, not a list's 8 and more)."""
    parts = [np.asarray(ids, dtype=np.int32) for ids in _pieces(tokenizer, text, unknown=unknown, where=where)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)


def _first_token_span(tokenizer, text: str, first: int) -> tuple[int, int]:
    """The characters and UTF-8 bytes of ``text`` that its first token covers (context, not scored).

    A byte or BPE token can end inside a character: it covers its own bytes, and only the characters it
    holds whole (decoding it would give a 3-byte U+FFFD for the 1 byte it covers).
    """
    if tokenizer.kind in ("byte", "bpe"):
        size = 1 if tokenizer.kind == "byte" else len(tokenizer.token_bytes[first])
        head = text.encode("utf-8", "surrogateescape")[:size]
        return len(head.decode("utf-8", "ignore")), size
    piece = tokenizer.decode([first])
    return len(piece), len(piece.encode("utf-8", "surrogateescape"))


def skipped_text(tokenizer, text: str, unknown: str | None) -> dict[str, Any]:
    """What ``--unknown skip`` leaves out of ``text``: tokens, characters and UTF-8 bytes, and which pieces."""
    missing = set(tokenizer.unknown(text)) if unknown == "skip" and tokenizer.unknown_id is not None else set()
    if not missing:
        return {"tokens": 0, "chars": 0, "bytes": 0, "pieces": []}
    if tokenizer.kind == "word":
        from rnncli.core.tokenizers.word import tokens_of

        pieces = [token for token in tokens_of(text) if token in missing]
    else:
        pieces = [char for char in text if char in missing]
    return {
        "tokens": len(pieces),
        "chars": sum(map(len, pieces)),
        "bytes": sum(len(p.encode("utf-8", "surrogateescape")) for p in pieces),
        "pieces": sorted(missing)[:20],
    }


def check_finite_score(value: float, ckpt: Checkpoint, where: str) -> None:
    """A NaN or infinite score means the weights overflow in float32: an error, never a printed ``nan``."""
    if not math.isfinite(value):
        raise CheckpointError(
            f"{ckpt.path}: the model's score on {where} is not a finite number (its weights overflow "
            "float32 arithmetic); the checkpoint is unusable"
        )


def score_lines(
    ckpt: Checkpoint, data: str, *, carry: bool = False, unknown: str | None = None, read: ReadSettings | None = None
) -> Iterator[dict[str, Any]]:
    """One record per line of ``data``: its tokens, log-probability and bits per character.

    A line's score covers its own tokens, not the newline that ends it. The
    first token is predicted after the start token (a newline), exactly as
    ``rnn sample`` starts. Without ``carry`` every line starts from a fresh
    state; with it the state runs on through the whole file, newlines
    included, so each line is read in the context of the lines before it.
    A line longer than ``LONG_LINE_CHARS`` is read alone in pieces, so its
    tokens are never held at once (its text is: the record carries it).
    """
    corpus = read_corpus(data, read)
    lines = corpus.text.split("\n")
    if corpus.text.endswith("\n"):
        lines.pop()
    source = corpus.source
    del corpus  # the lines hold the text from here
    scored = (_carried_scores if carry else _line_scores)(ckpt, lines, source, unknown)
    for number, (line, (tokens, total)) in enumerate(zip(lines, scored, strict=True), 1):
        check_finite_score(total, ckpt, f"{source} line {number}")
        chars = len(line) - skipped_text(ckpt.tokenizer, line, unknown)["chars"]  # the characters scored
        yield {
            "line": number,
            "text": line,
            "tokens": tokens,
            "chars": chars,
            "log_prob": total,
            "log_prob_per_char": total / chars if chars else None,
            "bpc": -total / chars / LN2 if chars else None,
        }


def _where(source: str, number: int) -> str:
    return f"{source} line {number}: text"


def _line_scores(ckpt: Checkpoint, lines: list[str], source: str, unknown: str | None) -> Iterator[tuple[int, float]]:
    """(tokens, log-probability) of each line read on its own: short lines batched, long ones streamed."""
    tokenizer, start = ckpt.tokenizer, start_token(ckpt.tokenizer)
    short = {
        n: encode_known(tokenizer, line, policy=unknown, where=_where(source, n + 1))
        for n, line in enumerate(lines)
        if len(line) <= LONG_LINE_CHARS
    }
    for n, line in enumerate(lines):  # every line is checked before the first record is given
        if n not in short:
            for _ in _pieces(tokenizer, line, unknown=unknown, where=_where(source, n + 1)):
                pass
    totals = dict(zip(short, line_log_probs(ckpt.model, list(short.values()), start_id=start), strict=True))
    for n, line in enumerate(lines):
        if n in short:
            yield len(short[n]), totals[n]
        else:
            pieces = _pieces(tokenizer, line, unknown=unknown, where=_where(source, n + 1))
            total, count = streamed_log_prob(ckpt.model, pieces, start_id=start)
            yield count, total


def _pieces(tokenizer, line: str, *, unknown: str | None, where: str) -> Iterator[list[int]]:
    """A long text's ids, piece by piece: cut anywhere for characters and bytes, else where no token spans."""
    if tokenizer.kind in ("char", "byte"):
        pieces: Iterable[str] = (line[i : i + PIECE_CHARS] for i in range(0, len(line), PIECE_CHARS))
    else:
        pieces = split_at_cuts(line, SAFE_CUT, PIECE_CHARS)
    for piece in pieces:
        yield encode_known(tokenizer, piece, policy=unknown, where=where)


def _carried_scores(ckpt: Checkpoint, lines: list[str], source: str, unknown: str | None) -> list[tuple[int, float]]:
    encoded = [
        encode_known(ckpt.tokenizer, line, policy=unknown, where=_where(source, n)) for n, line in enumerate(lines, 1)
    ]
    totals = _carried_line_totals(ckpt, encoded, start_token(ckpt.tokenizer))
    return [(len(ids), total) for ids, total in zip(encoded, totals, strict=True)]


def start_token(tokenizer) -> int:
    """The token that stands for "start of a line": a newline when the vocabulary has one, else 0."""
    return tokenizer.start_id


def _carried_line_totals(ckpt: Checkpoint, encoded: list[list[int]], start: int) -> list[float]:
    """Per-line totals from one pass over start + line 1 + newline + line 2 + ..."""
    newline = start_token(ckpt.tokenizer)
    stream, spans = [start], []
    for ids in encoded:
        spans.append((len(stream) - 1, len(stream) - 1 + len(ids)))  # positions in the log-prob vector
        stream.extend(ids)
        stream.append(newline)
    log_probs = stream_log_probs(ckpt.model, torch.tensor(stream, dtype=torch.long))
    return [float(log_probs[a:b].sum()) for a, b in spans]
