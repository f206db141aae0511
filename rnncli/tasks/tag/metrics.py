"""Scores of predicted tags against gold ones, and the most-frequent-tag baseline.

Entity precision, recall and F1 are computed as the CoNLL evaluation script (and seqeval's default
mode) computes them: an entity counts as found only when its type, start and end all match; micro
averages pool the counts of every type, macro averages the per-type F1.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rnncli.tasks.tag.schemes import PLAIN, spans


def token_accuracy(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> float:
    pairs = [(g, p) for gs, ps in zip(gold, pred, strict=True) for g, p in zip(gs, ps, strict=True)]
    return sum(g == p for g, p in pairs) / len(pairs) if pairs else 0.0


def _prf(found: int, predicted: int, true: int) -> dict[str, float]:
    precision = found / predicted if predicted else 0.0
    recall = found / true if true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": true}


def entity_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Per type, micro and macro precision/recall/F1 of exact-match entities."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for gs, ps in zip(gold, pred, strict=True):
        g, p = set(spans(gs)), set(spans(ps))
        for kind, *_ in g:
            counts[kind]["true"] += 1
        for kind, *_ in p:
            counts[kind]["predicted"] += 1
        for kind, *_ in g & p:
            counts[kind]["found"] += 1
    per_type = {k: _prf(c["found"], c["predicted"], c["true"]) for k, c in sorted(counts.items())}
    total = sum(counts.values(), Counter())
    micro = _prf(total["found"], total["predicted"], total["true"])
    macro = {
        key: sum(s[key] for s in per_type.values()) / len(per_type) if per_type else 0.0
        for key in ("precision", "recall", "f1")
    }
    return {"per_type": per_type, "micro": micro, "macro": {**macro, "support": total["true"]}}


def confusion(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, dict[str, int]]:
    """gold tag -> predicted tag -> count."""
    table: dict[str, Counter] = defaultdict(Counter)
    for gs, ps in zip(gold, pred, strict=True):
        for g, p in zip(gs, ps, strict=True):
            table[g][p] += 1
    return {g: dict(c) for g, c in sorted(table.items())}


def scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], scheme: str) -> dict[str, Any]:
    """Token accuracy, and entity scores for BIO/BIOES tags."""
    result: dict[str, Any] = {"token_accuracy": token_accuracy(gold, pred)}
    if scheme != PLAIN:
        result["entities"] = entity_scores(gold, pred)
    return result


def headline(result: dict[str, Any]) -> tuple[str, float]:
    """The figure a run is judged by: entity micro F1 for BIO/BIOES, else token accuracy."""
    if "entities" in result:
        return "entity F1", result["entities"]["micro"]["f1"]
    return "token accuracy", result["token_accuracy"]


@dataclass
class MostFrequentTag:
    """The baseline a practitioner runs first: each word's most frequent training tag; others get the commonest."""

    table: dict[str, str]
    default: str

    @classmethod
    def fit(cls, sentences) -> MostFrequentTag:
        by_word: dict[str, Counter] = defaultdict(Counter)
        overall: Counter = Counter()
        for s in sentences:
            for w, t in zip(s.tokens, s.tags, strict=True):
                by_word[w][t] += 1
                overall[t] += 1
        return cls({w: c.most_common(1)[0][0] for w, c in by_word.items()}, overall.most_common(1)[0][0])

    def tag(self, tokens: Sequence[str]) -> list[str]:
        return [self.table.get(w, self.default) for w in tokens]

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "default": self.default}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MostFrequentTag:
        table, default = data["table"], data["default"]
        if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
            raise ValueError("the baseline table must map words to tags")
        if not isinstance(default, str):
            raise ValueError("the baseline's default tag must be text")
        return cls(table, default)
