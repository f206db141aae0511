"""Classification scores as scikit-learn's ``classification_report`` shapes them, computed here with numpy.

Accuracy, per-class precision / recall / F1 / support, macro and weighted F1,
the confusion matrix (rows: gold, columns: predicted), log loss and the
expected calibration error (15 equal-width confidence bins, Guo et al. 2017).
"""

from __future__ import annotations

from typing import Any

import numpy as np

ECE_BINS = 15


def scores(gold: list[int], predicted: list[int], num_classes: int) -> dict[str, Any]:
    """Accuracy, macro and weighted F1, per-class figures and the confusion matrix (class indices)."""
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(confusion, (np.asarray(gold, dtype=np.int64), np.asarray(predicted, dtype=np.int64)), 1)
    tp = np.diag(confusion).astype(np.float64)
    support = confusion.sum(1)
    precision = np.divide(tp, confusion.sum(0), out=np.zeros_like(tp), where=confusion.sum(0) > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(tp), where=precision + recall > 0)
    present = support > 0  # as scikit-learn: classes absent from gold and predictions do not count
    present |= confusion.sum(0) > 0
    total = max(1, int(support.sum()))
    return {
        "examples": int(support.sum()),
        "accuracy": float(tp.sum() / total),
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "weighted_f1": float((f1 * support).sum() / total),
        "precision": precision.tolist(),
        "recall": recall.tolist(),
        "f1": f1.tolist(),
        "support": support.tolist(),
        "confusion": confusion.tolist(),
    }


def calibration(gold: list[int], probabilities: np.ndarray) -> dict[str, float]:
    """Log loss (nats) and expected calibration error of the top class."""
    gold_arr = np.asarray(gold, dtype=np.int64)
    p_gold = probabilities[np.arange(len(gold_arr)), gold_arr]
    confidence = probabilities.max(1)
    correct = probabilities.argmax(1) == gold_arr
    bins = np.minimum((confidence * ECE_BINS).astype(int), ECE_BINS - 1)
    ece = 0.0
    for b in range(ECE_BINS):
        inside = bins == b
        if inside.any():
            ece += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return {"log_loss": float(-np.log(np.clip(p_gold, 1e-12, 1.0)).mean()), "ece": float(ece)}


def named(result: dict[str, Any], classes: list[str]) -> dict[str, Any]:
    """The per-class lists as a mapping by class name (for JSON and the report)."""
    per_class = {
        name: {
            "precision": result["precision"][i],
            "recall": result["recall"][i],
            "f1": result["f1"][i],
            "support": result["support"][i],
        }
        for i, name in enumerate(classes)
    }
    rest = {k: v for k, v in result.items() if k not in ("precision", "recall", "f1", "support")}
    rest.setdefault("multi_label", False)
    return {**rest, "classes": classes, "per_class": per_class}


# --- multi-label ----------------------------------------------------------------------

THRESHOLDS = tuple(round(0.05 * k, 2) for k in range(1, 20))  # 0.05 ... 0.95


def multi_label_scores(gold: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """Subset accuracy, micro and macro F1, Hamming loss and per-label figures of multi-hot (N, C) arrays."""
    gold, predicted = np.asarray(gold, dtype=bool), np.asarray(predicted, dtype=bool)
    tp = (gold & predicted).sum(0).astype(np.float64)
    predicted_n, support = predicted.sum(0), gold.sum(0)
    precision = np.divide(tp, predicted_n, out=np.zeros_like(tp), where=predicted_n > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(tp), where=precision + recall > 0)
    present = (support > 0) | (predicted_n > 0)
    micro_denominator = predicted_n.sum() + support.sum()
    subset = float((gold == predicted).all(1).mean()) if len(gold) else 0.0
    return {
        "multi_label": True,
        "examples": int(len(gold)),
        "accuracy": subset,  # subset accuracy: every label of the example right
        "subset_accuracy": subset,
        "micro_f1": float(2 * tp.sum() / micro_denominator) if micro_denominator else 0.0,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "hamming_loss": float((gold != predicted).mean()) if gold.size else 0.0,
        "precision": precision.tolist(),
        "recall": recall.tolist(),
        "f1": f1.tolist(),
        "support": support.tolist(),
    }


def choose_threshold(gold: np.ndarray, probabilities: np.ndarray) -> float:
    """The decision threshold (one for every label) with the best micro F1; ties go to the one nearest 0.5."""
    ranked = sorted(THRESHOLDS, key=lambda t: abs(t - 0.5))
    return max(ranked, key=lambda t: multi_label_scores(gold, probabilities >= t)["micro_f1"])


def choose_thresholds(gold: np.ndarray, probabilities: np.ndarray) -> list[float]:
    """One decision threshold per label: the one with that label's best F1 on ``gold`` (N, C).

    Ties go to the threshold nearest the shared one (``choose_threshold``), which a label without a
    positive example in ``gold`` keeps: its F1 says nothing there.
    """
    shared = choose_threshold(gold, probabilities)
    ranked = sorted(THRESHOLDS, key=lambda t: abs(t - shared))
    chosen = []
    for column in range(gold.shape[1]):
        truth, probs = gold[:, column], probabilities[:, column]
        if not truth.any():
            chosen.append(shared)
            continue
        chosen.append(max(ranked, key=lambda t, truth=truth, probs=probs: _f1(truth, probs >= t)))
    return chosen


def _f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    both = int((truth & predicted).sum())
    return 2 * both / max(int(truth.sum()) + int(predicted.sum()), 1)
