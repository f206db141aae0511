"""``rnn eval`` and ``rnn predict`` for a translator: scores on a file of pairs, and translations line by line."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

from rnncli.core.errors import UsageError
from rnncli.tasks.requests import EvalRequest, Evaluation, Prediction, PredictRequest, Reporter
from rnncli.tasks.translate.pairs import Pairs, read_lines, read_pairs, read_parallel
from rnncli.tasks.translate.translator import Decoding, Loaded, load_translator, texts, translate

FORMATS = ("text", "jsonl")
STREAM_LINES = 256  # predict reads and translates this many lines at a time, so output streams


def decoding_of(options: dict[str, Any]) -> Decoding:
    decoding = Decoding()
    for name in ("beam", "n_best", "length_penalty", "max_len_ratio"):
        if options.get(name) is not None:
            setattr(decoding, name, options[name])
    decoding.validate()
    return decoding


def evaluate(request: EvalRequest, reporter: Reporter) -> Evaluation:
    """Corpus BLEU and chrF (sacreBLEU), token loss and perplexity, beside copying the source."""
    from rnncli.tasks.translate.scores import compare, describe, sentence_chrf

    decoding = decoding_of(request.options)
    pairs = eval_pairs(request)
    for note in pairs.notes:
        reporter.warn(note)
    loaded = load_translator(request.checkpoint, device=request.options.get("device"))
    hypotheses = texts(loaded, translate(loaded, pairs.sources, decoding, where=pairs.origin))
    if request.options.get("per_line"):
        rows = zip(pairs.sources, pairs.targets, hypotheses, strict=True)
        return Evaluation(
            "lines",
            records=({"source": s, "reference": r, "hypothesis": h, "chrf": sentence_chrf(h, r)} for s, r, h in rows),
        )
    loss = token_loss(loaded, pairs.sources, pairs.targets)
    scores = compare(pairs.sources, pairs.targets, hypotheses)
    how = "greedy" if decoding.beam == 1 else f"beam {decoding.beam}"
    document = {
        "data": pairs.origin,
        "pairs": len(pairs),
        "decoding": how,
        "loss": round(loss, 4),
        "perplexity": round(math.exp(min(loss, 50.0)), 3),
        **scores,
    }
    lines = describe(scores, pairs=len(pairs), what=f"{pairs.origin}, {how}")
    lines.append(f"  loss {loss:.4f} nats/token, perplexity {document['perplexity']:.3f}")
    return Evaluation("report", document=document, report="\n".join(lines))


def eval_pairs(request: EvalRequest) -> Pairs:
    """DATA (a file of pairs), or --source and --target (two line-aligned files), never both."""
    source, target = request.options.get("source"), request.options.get("target")
    if source is None and target is None:
        return read_pairs(request.data)
    if request.data is not None:
        raise UsageError("give either DATA (a file of pairs) or --source and --target, not both")
    if source is None or target is None:
        raise UsageError("give --source and --target together: two line-aligned files, one sentence per line")
    return read_parallel(source, target)


def token_loss(loaded: Loaded, sources: list[str], targets: list[str]) -> float:
    """Mean cross-entropy per target token (the end token included), teacher forced."""
    import torch

    from rnncli.tasks.translate.task import batch_tensors
    from rnncli.tasks.translate.task import token_loss as loss_of

    rows = [(loaded.encode(s), loaded.encode_target(t)) for s, t in zip(sources, targets, strict=True)]
    device = next(loaded.model.parameters()).device
    total, count = 0.0, 0
    with torch.inference_mode():
        for start in range(0, len(rows), 128):
            part = rows[start : start + 128]
            tensors = batch_tensors(part, loaded.config)
            total += float(loss_of(loaded.model, tensors, device, smoothing=0.0, reduction="sum"))
            count += sum(len(t) + 1 for _, t in part)
    return total / max(1, count)


def predict(request: PredictRequest, reporter: Reporter) -> Prediction:
    """One output line per input line, in order, streamed: text, or JSON lines with every hypothesis's score."""
    options = request.options
    output_format = options.get("output_format") or "text"
    if output_format not in FORMATS:
        raise UsageError(f"--format: unknown value '{output_format}' for a translator (choose one of: text, jsonl)")
    decoding = decoding_of(options)
    if decoding.n_best > 1 and output_format == "text":
        raise UsageError("--n-best writes several translations per line: add --format jsonl")
    loaded = load_translator(request.checkpoint, device=options.get("device"))
    return Prediction(_lines(loaded, request.data or "-", decoding, output_format))


def _lines(loaded: Loaded, data: str, decoding: Decoding, output_format: str) -> Iterator[str]:
    chunk: list[str] = []
    for _, line in read_lines(data):
        chunk.append(line)
        if len(chunk) == STREAM_LINES:
            yield from _formatted(loaded, chunk, decoding, output_format)
            chunk = []
    if chunk:
        yield from _formatted(loaded, chunk, decoding, output_format)


def _formatted(loaded: Loaded, sources: list[str], decoding: Decoding, output_format: str) -> Iterator[str]:
    for source, hyps in zip(sources, translate(loaded, sources, decoding), strict=True):
        if output_format == "text":
            yield loaded.decode(hyps[0].tokens)
            continue
        found = [{"translation": loaded.decode(h.tokens), "score": round(h.score, 4)} for h in hyps]
        row = {"source": source, "translation": found[0]["translation"], "n_best": found}
        yield json.dumps(row, ensure_ascii=False)
