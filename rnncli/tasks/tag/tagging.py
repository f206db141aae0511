"""``rnn eval`` and ``rnn predict`` for a tagger, as library calls: scores as data, predictions as lines."""

from __future__ import annotations

import json
import os
import re
import select
import stat
import sys
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from rnncli.core.errors import DataError, UsageError
from rnncli.tasks.requests import EvalRequest, Evaluation, Prediction, PredictRequest, Reporter
from rnncli.tasks.tag.corpus import MAX_TOKEN_CHARS, read_corpus
from rnncli.tasks.tag.metrics import scores
from rnncli.tasks.tag.runs import Tagger, comparison_line, load_tagger
from rnncli.tasks.tag.schemes import spans

PREDICT_FORMATS = ("text", "conll", "jsonl")
CHUNK_LINES = 32  # lines tagged together at most; each chunk is written before the next is read
WORD = re.compile(r"\w+(?:['’.-]\w+)*|[^\w\s]")  # words (with inner apostrophes, dots, hyphens) and punctuation


def evaluate(request: EvalRequest, reporter: Reporter) -> Evaluation:
    """Token accuracy, entity scores for BIO/BIOES, a confusion table, and the baseline beside the model."""
    options = request.options
    tagger = load_tagger(request.checkpoint, device=options.get("device") or "cpu")
    read = tagger.meta["data"]
    corpus = read_corpus(
        request.data,
        tag_col=options.get("tag_col") or read.get("tag_col"),
        tag_field=options.get("tag_field") or read.get("tag_field"),
    )
    reporter.info(corpus.describe())
    for note in corpus.notes:
        reporter.info(note)
    unseen = sorted(set(corpus.tag_counts()) - set(tagger.vocab.tags))
    if unseen:
        reporter.warn(f"{corpus.source}: tags the model never saw (always counted wrong): {', '.join(unseen)}")
    gold = [s.tags for s in corpus.sentences]
    predicted = tagger.tag([s.tokens for s in corpus.sentences])
    if options.get("per_line"):
        return Evaluation("lines", records=_per_sentence(corpus.sentences, predicted))
    document = _document(tagger, corpus, gold, predicted, unseen)
    return Evaluation("report", document=document, report=render_report(document))


def _document(tagger: Tagger, corpus, gold, predicted, unseen) -> dict[str, Any]:
    from rnncli.tasks.tag.metrics import confusion

    scheme = tagger.vocab.scheme
    model = scores(gold, predicted, scheme)
    base = scores(gold, [tagger.baseline.tag(s.tokens) for s in corpus.sentences], scheme)
    return {
        "data": corpus.source,
        "sentences": len(corpus.sentences),
        "tokens": corpus.tokens,
        "scheme": scheme,
        "model": model,
        "baseline": {"name": "most frequent tag per word", **base},
        "summary": comparison_line(model, base, where=corpus.source),
        "unseen_tags": unseen,
        "confusion": confusion(gold, predicted),
    }


def _per_sentence(sentences, predicted) -> Iterator[dict[str, Any]]:
    for s, tags in zip(sentences, predicted, strict=True):
        yield {"line": s.line, "tokens": s.tokens, "gold": s.tags, "predicted": tags, "correct": s.tags == tags}


def render_report(doc: dict[str, Any]) -> str:
    """The plain-text report: the headline against the baseline, entity scores per type, the confusion table."""
    lines = [doc["summary"], f"{doc['sentences']:,} sentences, {doc['tokens']:,} tokens, {doc['scheme']} tags"]
    if "entities" in doc["model"]:
        lines.append(f"{'entity':<14}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}")
        ents = doc["model"]["entities"]
        rows = [*ents["per_type"].items(), ("micro avg", ents["micro"]), ("macro avg", ents["macro"])]
        for name, s in rows:
            lines.append(f"{name:<14}{s['precision']:>10.3f}{s['recall']:>10.3f}{s['f1']:>10.3f}{s['support']:>9}")
    if doc["unseen_tags"]:
        lines.append(f"tags the model never saw: {', '.join(doc['unseen_tags'])}")
    return "\n".join(lines + ["", "confusion (rows: gold, columns: predicted)", *_confusion_lines(doc["confusion"])])


def _confusion_lines(table: dict[str, dict[str, int]]) -> list[str]:
    tags = sorted(set(table) | {p for row in table.values() for p in row})[:30]
    width = max(6, *(len(t) + 1 for t in tags))
    out = ["".ljust(width) + "".join(t.rjust(width) for t in tags)]
    for g in tags:
        out.append(g.ljust(width) + "".join(str(table.get(g, {}).get(p, 0)).rjust(width) for p in tags))
    return out


# --- rnn predict ----------------------------------------------------------------------------------


def predict(request: PredictRequest, reporter: Reporter) -> Prediction:
    """Tag each line of the input (a file, or stdin) and write it in ``--format``, in input order."""
    options = request.options
    fmt = options.get("output_format") or "text"
    if fmt not in PREDICT_FORMATS:
        raise UsageError(f"--format: unknown value '{fmt}' (choose one of: {', '.join(PREDICT_FORMATS)})")
    tagger = load_tagger(request.checkpoint, device=options.get("device") or "cpu")
    chunks = _input_chunks(request.data)
    pretokenized = bool(options.get("pretokenized"))
    return Prediction(_tagged(tagger, chunks, fmt=fmt, pretokenized=pretokenized, source=request.data))


def _input_chunks(data: str | None) -> Iterator[list[str]]:
    """The input's lines in the groups tagged together: ``CHUNK_LINES`` at a time from a file (or stdin
    redirected from one); from a pipe or a terminal, whatever whole lines have arrived as soon as no more is
    waiting, so a program that writes a line and waits for its answer gets it."""
    if data not in (None, "-"):
        yield from _batched(_file_lines(data))
        return
    fd = _stream_fd()
    if fd is None or stat.S_ISREG(os.fstat(fd).st_mode):
        yield from _batched(line.rstrip("\r\n") for line in sys.stdin)
    elif os.name == "nt":  # select() waits on sockets only there: answer line by line
        yield from ([line.rstrip("\r\n")] for line in sys.stdin)
    else:
        yield from _arrivals(fd)


def _stream_fd() -> int | None:
    """stdin's file descriptor, or None when it has none (a test's stand-in)."""
    try:
        return sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def _arrivals(fd: int) -> Iterator[list[str]]:
    """Whole lines read from ``fd`` as they come: up to ``CHUNK_LINES`` of them, given as soon as nothing more
    is waiting to be read (the last line may lack its newline)."""
    pending, lines, number = bytearray(), [], 0
    while True:
        if lines and (len(lines) >= CHUNK_LINES or not select.select([fd], [], [], 0)[0]):
            ready, lines = lines[:CHUNK_LINES], lines[CHUNK_LINES:]
            yield [_decoded(raw, number + k) for k, raw in enumerate(ready, start=1)]
            number += len(ready)
            continue
        data = os.read(fd, 1 << 16)
        if not data:
            break
        pending += data
        if b"\n" in data:
            *whole, rest = pending.split(b"\n")
            lines, pending = lines + whole, bytearray(rest)
    if pending:
        lines.append(bytes(pending))
    for k in range(0, len(lines), CHUNK_LINES):
        yield [_decoded(raw, number + k + i) for i, raw in enumerate(lines[k : k + CHUNK_LINES], start=1)]


def _decoded(raw: bytes, number: int) -> str:
    try:
        return raw.decode("utf-8").rstrip("\r")
    except UnicodeDecodeError as exc:
        raise DataError(f"<stdin>:{number}: not UTF-8 text (byte {exc.start}); give UTF-8 text to tag") from None


def _batched(lines: Iterable[str]) -> Iterator[list[str]]:
    lines = iter(lines)
    while chunk := list(islice(lines, CHUNK_LINES)):
        yield chunk


def _file_lines(data: str) -> Iterator[str]:
    try:
        with open(data, encoding="utf-8") as handle:
            yield from (line.rstrip("\r\n") for line in handle)
    except FileNotFoundError:
        raise DataError(f"{data}: no such file") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{data}: not UTF-8 text (byte {exc.start}); give UTF-8 text to tag") from None


def _tagged(
    tagger: Tagger, chunks: Iterable[list[str]], *, fmt: str, pretokenized: bool, source: str | None
) -> Iterator[str]:
    number = 0
    for chunk in chunks:
        tokenised = []
        for line in chunk:
            number += 1
            tokenised.append(tokenize(line, pretokenized=pretokenized, where=f"{source or '<stdin>'}:{number}"))
        tags = tagger.tag([[t for t, _, _ in toks] for toks in tokenised])
        for line, toks, tag_list in zip(chunk, tokenised, tags, strict=True):
            yield format_line(line, toks, tag_list, fmt)


def tokenize(line: str, *, pretokenized: bool, where: str) -> list[tuple[str, int, int]]:
    """Tokens with their character offsets: whitespace-separated with --pretokenized, else words and punctuation."""
    pattern = r"\S+" if pretokenized else WORD
    tokens = [(m.group(), m.start(), m.end()) for m in re.finditer(pattern, line)]
    for token, _, _ in tokens:
        if len(token) > MAX_TOKEN_CHARS:
            raise DataError(f"{where}: a token of {len(token):,} characters (at most {MAX_TOKEN_CHARS:,})")
    return tokens


def format_line(line: str, tokens: list[tuple[str, int, int]], tags: list[str], fmt: str) -> str:
    words = [t for t, _, _ in tokens]
    if fmt == "conll":
        return "".join(f"{w}\t{t}\n" for w, t in zip(words, tags, strict=True))  # and a blank line after
    if fmt == "jsonl":
        edges = [(kind, tokens[a][1], tokens[b - 1][2]) for kind, a, b in spans(tags)]
        found = [{"start": s, "end": e, "label": kind, "text": line[s:e]} for kind, s, e in edges]
        return json.dumps({"text": line, "tokens": words, "tags": tags, "spans": found}, ensure_ascii=False)
    return " ".join(f"{w}/{t}" for w, t in zip(words, tags, strict=True))
