"""Corpus BLEU and chrF with sacreBLEU (its signatures kept, so scores compare with published ones), for the
model and for the baseline a practitioner runs first: copying the source unchanged."""

from __future__ import annotations

from typing import Any


def corpus_scores(hypotheses: list[str], references: list[str]) -> dict[str, float]:
    from sacrebleu.metrics import BLEU, CHRF

    return {
        "bleu": round(BLEU().corpus_score(hypotheses, [references]).score, 2),
        "chrf": round(CHRF().corpus_score(hypotheses, [references]).score, 2),
    }


def signatures() -> dict[str, str]:
    """sacreBLEU's signatures of the two metrics as scored here (a metric gives one once it has scored)."""
    from sacrebleu.metrics import BLEU, CHRF

    bleu, chrf = BLEU(), CHRF()
    bleu.corpus_score(["a"], [["a"]])
    chrf.corpus_score(["a"], [["a"]])
    return {"bleu": str(bleu.get_signature()), "chrf": str(chrf.get_signature())}


def sentence_chrf(hypothesis: str, reference: str) -> float:
    from sacrebleu.metrics import CHRF

    return round(CHRF().sentence_score(hypothesis, [reference]).score, 2)


def compare(sources: list[str], references: list[str], hypotheses: list[str]) -> dict[str, Any]:
    """The model's scores beside copying the source, and which wins by chrF."""
    model, copy = corpus_scores(hypotheses, references), corpus_scores(sources, references)
    return {
        "model": {**model, "exact_match": round(100 * _exact(hypotheses, references), 2)},
        "copy_source": {**copy, "exact_match": round(100 * _exact(sources, references), 2)},
        "winner": "model" if model["chrf"] > copy["chrf"] else "copy_source",
        "signature": signatures(),
    }


def _exact(a: list[str], b: list[str]) -> float:
    return sum(x == y for x, y in zip(a, b, strict=True)) / max(1, len(b))


def describe(scores: dict[str, Any], *, pairs: int, what: str) -> list[str]:
    """Lines of plain text: model and copy baseline side by side, the winner, and sacreBLEU's signatures."""
    verdict = "the model beats copying the source" if scores["winner"] == "model" else "copying the source wins"
    lines = [f"{what} ({pairs:,} pairs):"]
    for name, label in (("model", "model"), ("copy_source", "copy source")):
        s = scores[name]
        exact = s["exact_match"]
        lines.append(f"  {label:<12} BLEU {s['bleu']:6.2f}  chrF {s['chrf']:6.2f}  exact match {exact:5.1f}%")
    lines.append(f"  {verdict} (chrF {scores['model']['chrf']:.2f} vs {scores['copy_source']['chrf']:.2f})")
    lines.append(f"  sacreBLEU: {scores['signature']['bleu']} / {scores['signature']['chrf']}")
    return lines
