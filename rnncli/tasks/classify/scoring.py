"""``rnn eval`` and ``rnn predict`` on a classifier, and the comparison with the baselines, as data.

Scores are computed here; the report's text comes from report.py; the command
layer writes what comes back.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnncli.core.errors import UsageError
from rnncli.core.labelled import LABEL_SEP, Examples, ReadOptions, label_set, read_examples
from rnncli.tasks.classify.baseline import BagOfWords
from rnncli.tasks.classify.checkpoint import ClassifierRun, load_classifier
from rnncli.tasks.classify.metrics import calibration, multi_label_scores, named, scores
from rnncli.tasks.classify.model import check_prediction_fits
from rnncli.tasks.classify.prepare import encode, multi_hot
from rnncli.tasks.classify.task import Encoded, predict_probabilities
from rnncli.tasks.requests import EvalRequest, Evaluation, Prediction, PredictRequest, Reporter

PREDICT_FORMATS = ("text", "tsv", "jsonl")
PREDICT_BATCH = 256


def probabilities(run: ClassifierRun, texts: list[str], device: torch.device | None = None) -> np.ndarray:
    """The model's class probabilities (N, C) for ``texts``, batched by length, in the order given."""
    device = device or torch.device("cpu")
    ids, _ = encode(run.tokenizer, texts, run.max_len)
    check_prediction_fits(run.model, rows=min(len(ids), PREDICT_BATCH), longest=max(map(len, ids), default=1))
    with torch.inference_mode():
        data = Encoded(ids, [0] * len(ids))
        return predict_probabilities(run.model.to(device), data, device, batch_size=PREDICT_BATCH).numpy()


def compare_on(
    run: ClassifierRun, examples: Examples, *, baselines: list[BagOfWords], device: torch.device | None = None
) -> dict[str, Any]:
    """The model, the majority class and each bag of words scored on the same examples (known labels only)."""
    if run.multi_label:
        return _compare_multi_label(run, examples, baselines=baselines, device=device)
    index = {name: i for i, name in enumerate(run.classes)}
    gold = [index[label] for label in examples.labels]
    probs = probabilities(run, examples.texts, device)
    model = {**named(scores(gold, probs.argmax(1).tolist(), len(run.classes)), run.classes), **calibration(gold, probs)}
    table = {"model": model, "baselines": {}}
    if run.majority is not None:
        top = int(run.majority.argmax())
        majority = scores(gold, [top] * len(gold), len(run.classes))
        table["baselines"][f"majority class ({run.classes[top]})"] = _brief(majority)
    for baseline in baselines:
        predicted = baseline.probabilities(examples.texts).argmax(1).tolist()
        table["baselines"][baseline.name] = _brief(scores(gold, predicted, len(run.classes)))
    return {**table, "probabilities": probs, "gold": gold}


def _compare_multi_label(
    run: ClassifierRun, examples: Examples, *, baselines: list[BagOfWords], device: torch.device | None
) -> dict[str, Any]:
    """Multi-label: subset accuracy, micro and macro F1 at the run's per-label thresholds; baselines at 0.5."""
    gold = np.asarray(multi_hot(examples.labels, run.classes)) > 0.5
    probs = probabilities(run, examples.texts, device)
    thresholds = run.thresholds.tolist()
    model = {**named(multi_label_scores(gold, probs >= run.thresholds), run.classes), "thresholds": thresholds}
    table: dict[str, Any] = {"model": model, "baselines": {}}
    if run.majority is not None:  # each label predicted where most training examples have it
        frequent = np.broadcast_to(run.majority.numpy() > 0.5, gold.shape)
        table["baselines"]["per-label majority"] = _brief(multi_label_scores(gold, frequent))
    for baseline in baselines:
        predicted = baseline.probabilities(examples.texts).numpy() >= 0.5
        table["baselines"][baseline.name] = _brief(multi_label_scores(gold, predicted))
    return {**table, "probabilities": probs, "gold": gold}


def _brief(result: dict[str, Any]) -> dict[str, float]:
    return {"accuracy": result["accuracy"], "macro_f1": result["macro_f1"]}


def verdict_lines(table: dict[str, Any], *, what: str) -> list[str]:
    """The model beside the baselines, and which wins, in plain words."""
    model = table["model"]
    accuracy = "subset accuracy" if model.get("multi_label") else "accuracy"
    micro = f", micro F1 {model['micro_f1']:.3f}" if model.get("multi_label") else ""
    lines = [f"{what}: model {accuracy} {model['accuracy']:.1%}{micro}, macro F1 {model['macro_f1']:.3f}"]
    for name, result in table["baselines"].items():
        lines.append(f"{what}: {name}: {accuracy} {result['accuracy']:.1%}, macro F1 {result['macro_f1']:.3f}")
    bags = {k: v for k, v in table["baselines"].items() if k.startswith("tf-idf")}
    if bags:
        best_name, best = max(bags.items(), key=lambda item: item[1]["macro_f1"])
        if model["macro_f1"] > best["macro_f1"]:
            margin = model["macro_f1"] - best["macro_f1"]
            lines.append(f"the model beats the best bag-of-words baseline ({best_name}) by {margin:.3f} macro F1")
        else:
            lines.append(
                f"the model does NOT beat the bag-of-words baseline ({best_name}): "
                "use it, or train longer or on more data"
            )
    return lines


def evaluate(request: EvalRequest, reporter: Reporter) -> Evaluation:
    """``rnn eval RUN test.csv``: accuracy, F1, per-class table, confusion matrix, calibration, baselines."""
    from rnncli.tasks.classify.report import evaluation_report

    run = load_classifier(request.checkpoint)
    columns = _recorded_columns(run, request.data, request.options)
    examples = _known_labels(read_examples(request.data, columns), run, reporter)
    device = _device(request.options)
    table = compare_on(run, examples, baselines=run.baselines, device=device)
    if request.options.get("per_line"):
        return Evaluation("lines", records=_per_line(run, examples, table))
    document = {
        "data": examples.source,
        "model": table["model"],
        "baselines": table["baselines"],
        "verdict": verdict_lines(table, what="test"),
    }
    return Evaluation("report", document=document, report=evaluation_report(document))


def _recorded_columns(run: ClassifierRun, path: str, options: dict[str, Any]) -> ReadOptions:
    """--text-col and --label-col; else the run's columns where the file has them; else its header decides."""
    given = ReadOptions(text_col=options.get("text_col"), label_col=options.get("label_col"))
    columns = (run.meta.get("data") or {}).get("columns") or [None, None]
    if path == "-" or Path(path).is_dir() or Path(path).suffix.lower() not in (".csv", ".tsv", ".jsonl"):
        return given
    if given.text_col or given.label_col:
        return given
    with open(path, encoding="utf-8", errors="replace") as handle:
        head = handle.readline()
    return ReadOptions(
        text_col=columns[0] if columns[0] and columns[0] in head else None,
        label_col=columns[1] if columns[1] and columns[1] in head else None,
    )


def _known_labels(examples: Examples, run: ClassifierRun, reporter: Reporter) -> Examples:
    if run.multi_label:
        return _known_label_sets(examples, run, reporter)
    unseen = sorted(set(examples.labels) - set(run.classes))
    if not unseen:
        return examples
    keep = [i for i, label in enumerate(examples.labels) if label in run.classes]
    reporter.warn(
        f"{examples.source}: {len(examples.labels) - len(keep)} example(s) have labels the model never saw "
        f"({', '.join(map(repr, unseen[:5]))}); they are left out of the scores"
    )
    if not keep:
        known = ", ".join(run.classes[:10])
        raise UsageError(f"{examples.source}: no example has a label the model knows (its classes: {known})")
    return examples.subset(keep)


def _known_label_sets(examples: Examples, run: ClassifierRun, reporter: Reporter) -> Examples:
    """Multi-label: labels the model never saw are dropped from each example's set, and named."""
    known = set(run.classes)
    unseen = sorted({part for label in examples.labels for part in label_set(label)} - known)
    if unseen:
        reporter.warn(
            f"{examples.source}: labels the model never saw ({', '.join(map(repr, unseen[:5]))}) "
            "are left out of the scores"
        )
        examples.labels = [LABEL_SEP.join(p for p in label_set(label) if p in known) for label in examples.labels]
    return examples


def _per_line(run: ClassifierRun, examples: Examples, table: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if run.multi_label:
        yield from _per_line_multi_label(run, examples, table)
        return
    for text, gold, probs in zip(examples.texts, table["gold"], table["probabilities"], strict=True):
        top = int(probs.argmax())
        yield {
            "text": text,
            "gold": run.classes[gold],
            "predicted": run.classes[top],
            "probability": round(float(probs[top]), 6),
            "correct": top == gold,
        }


def _per_line_multi_label(run: ClassifierRun, examples: Examples, table: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for text, gold, probs in zip(examples.texts, table["gold"], table["probabilities"], strict=True):
        predicted = probs >= run.thresholds
        yield {
            "text": text,
            "gold": [run.classes[i] for i in np.flatnonzero(gold)],
            "predicted": [run.classes[i] for i in np.flatnonzero(predicted)],
            "probabilities": {run.classes[i]: round(float(probs[i]), 6) for i in np.flatnonzero(predicted)},
            "correct": bool((gold == predicted).all()),
        }


def _device(options: dict[str, Any]) -> torch.device:
    from rnncli.core.devices import resolve_device

    return resolve_device(options.get("device") or "cpu")


# --- predict ------------------------------------------------------------------------


def predict(request: PredictRequest, reporter: Reporter) -> Prediction:
    """``rnn predict RUN [FILE|-]``: a label and its probability per input, in order, streamed in batches."""
    output_format = request.options.get("output_format") or "text"
    if output_format not in PREDICT_FORMATS:
        raise UsageError(f"--format: unknown value '{output_format}' (choose one of: {', '.join(PREDICT_FORMATS)})")
    top_k = request.options.get("top_k") or 1
    run = load_classifier(request.checkpoint)
    if not 1 <= top_k <= len(run.classes):
        raise UsageError(f"--top-k must be from 1 to the {len(run.classes)} classes, got {top_k}")
    device = _device(request.options)
    texts = _inputs(request.data or "-", run, request.options)
    return Prediction(_predicted_lines(run, texts, top_k=top_k, output_format=output_format, device=device))


def _inputs(path: str, run: ClassifierRun, options: dict[str, Any]) -> Iterable[str]:
    """The text column of a CSV/TSV/JSONL (read whole), else one text per line (streamed)."""
    if path != "-" and Path(path).suffix.lower() in (".csv", ".tsv", ".jsonl"):
        return read_examples(
            path, ReadOptions(text_col=_recorded_columns(run, path, options).text_col), labelled=False
        ).texts
    if path != "-" and not Path(path).is_file():
        raise UsageError(f"{path}: no such file; give a file of inputs, one per line, or - for stdin")
    handle = sys.stdin if path == "-" else open(path, encoding="utf-8", errors="replace")  # noqa: SIM115
    return (line.rstrip("\r\n") for line in handle)


def _predicted_lines(
    run: ClassifierRun, texts: Iterable[str], *, top_k: int, output_format: str, device: torch.device
) -> Iterator[str]:
    batch: list[str] = []
    for text in texts:
        batch.append(text)
        if len(batch) == PREDICT_BATCH:
            yield from _format(run, batch, probabilities(run, batch, device), top_k, output_format)
            batch = []
    if batch:
        yield from _format(run, batch, probabilities(run, batch, device), top_k, output_format)


def _format(run: ClassifierRun, texts: list[str], probs: np.ndarray, top_k: int, output_format: str) -> Iterator[str]:
    if run.multi_label:
        yield from _format_multi_label(run, texts, probs, output_format)
        return
    for text, row in zip(texts, probs, strict=True):
        order = np.argsort(-row, kind="stable")[:top_k]
        if output_format == "jsonl":
            top = [{"label": run.classes[i], "probability": round(float(row[i]), 6)} for i in order]
            yield json.dumps({"text": text, **top[0], "top": top}, ensure_ascii=False)
        else:
            yield "\t".join(f"{run.classes[i]}\t{row[i]:.4f}" for i in order)


def _format_multi_label(run: ClassifierRun, texts: list[str], probs: np.ndarray, output_format: str) -> Iterator[str]:
    """Every label at or above its threshold, most probable first (an empty line where none is)."""
    for text, row in zip(texts, probs, strict=True):
        order = [i for i in np.argsort(-row, kind="stable") if row[i] >= run.thresholds[i]]
        if output_format == "jsonl":
            labels = [{"label": run.classes[i], "probability": round(float(row[i]), 6)} for i in order]
            yield json.dumps({"text": text, "labels": labels}, ensure_ascii=False)
        else:
            yield "\t".join(f"{run.classes[i]}\t{row[i]:.4f}" for i in order)
