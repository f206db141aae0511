"""``rnn inspect`` for tagging: a trained tagger's summary (weights unread) or a tagged file's facts."""

from __future__ import annotations

from typing import Any

from rnncli.tasks.requests import Summary
from rnncli.tasks.tag.corpus import read_corpus


def summarise_run(path: str) -> dict[str, Any]:
    """Shape, tags, vocabulary, training history and the best validation loss of a tagging run."""
    from rnncli.core.checkpoint import check_tensors_match, numel, read_meta, resolve_checkpoint_path
    from rnncli.tasks.tag.runs import build_model, validate_layout
    from rnncli.tasks.training_curve import curve_beside

    file = resolve_checkpoint_path(path)
    meta = read_meta(file)
    tensors = meta["_tensors"]
    config, vocab, baseline = validate_layout(file, meta)
    check_tensors_match(file, meta, lambda: build_model(config, vocab))
    return {
        "kind": "checkpoint-tag",
        "task": "tag",
        "path": str(file),
        "model": config.to_dict(),
        "train": meta.get("train"),
        "data": meta.get("data"),
        "tags": vocab.tags,
        "scheme": vocab.scheme,
        "words": len(vocab.words) - 2,
        "characters": len(vocab.chars) - 2,
        "baseline_words": len(baseline.table),
        "total_parameters": sum(numel(tuple(t["shape"])) for t in tensors.values()),
        "tag_counts": (meta.get("data") or {}).get("tag_counts"),
        "history": meta.get("history"),
        "curve": curve_beside(file),
        "command": meta.get("command"),
        "resume_commands": meta.get("resume_commands") or [],
    }


def summarise_data(path: str, top: int | None = None) -> Summary:
    """Sentences, tokens, the tags with their counts and the scheme of a tagged file."""
    corpus = read_corpus(path)
    counts = corpus.tag_counts()
    lengths = [len(s.tokens) for s in corpus.sentences]
    return Summary(
        {
            "kind": "tagged",
            "source": corpus.source,
            "format": corpus.format,
            "sentences": len(corpus.sentences),
            "tokens": corpus.tokens,
            "longest_sentence": max(lengths),
            "scheme": corpus.scheme,
            "tags": dict(counts.most_common(top)),
            "distinct_words": len({w for s in corpus.sentences for w in s.tokens}),
        }
    )
