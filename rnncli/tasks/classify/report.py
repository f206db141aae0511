"""The plain-text report of ``rnn eval`` on a classifier, and ``rnn inspect`` of a classifier run or a labelled file."""

from __future__ import annotations

from typing import Any

from rnncli.tasks.requests import Summary

MAX_CONFUSION_CLASSES = 20


def evaluation_report(document: dict[str, Any]) -> str:
    """scikit-learn's ``classification_report`` shape, the confusion matrix, calibration and the baselines."""
    model = document["model"]
    if model.get("multi_label"):
        return multi_label_report(document)
    classes = model["classes"]
    width = max(12, *(len(c) for c in classes)) + 2
    lines = [f"data        {document['data']} ({model['examples']} examples)", ""]
    lines.append(f"{'':<{width}}{'precision':>10}{'recall':>10}{'f1-score':>10}{'support':>10}")
    for name in classes:
        row = model["per_class"][name]
        lines.append(
            f"{name:<{width}}{row['precision']:>10.3f}{row['recall']:>10.3f}{row['f1']:>10.3f}{row['support']:>10}"
        )
    lines.append("")
    lines.append(f"{'accuracy':<{width}}{'':>20}{model['accuracy']:>10.3f}{model['examples']:>10}")
    lines.append(f"{'macro f1':<{width}}{'':>20}{model['macro_f1']:>10.3f}{model['examples']:>10}")
    lines.append(f"{'weighted f1':<{width}}{'':>20}{model['weighted_f1']:>10.3f}{model['examples']:>10}")
    lines.append(f"log loss {model['log_loss']:.4f} nats; expected calibration error {model['ece']:.3f}")
    lines += ["", *confusion_lines(classes, model["confusion"]), ""]
    lines += [f"{'baseline':<50}{'accuracy':>10}{'macro f1':>10}"]
    lines.append(f"{'the model':<50}{model['accuracy']:>10.3f}{model['macro_f1']:>10.3f}")
    for name, result in document["baselines"].items():
        lines.append(f"{name:<50}{result['accuracy']:>10.3f}{result['macro_f1']:>10.3f}")
    if not document["baselines"]:
        lines.append("(no baselines.safetensors beside the checkpoint: no baselines to compare with)")
    lines.append(document["verdict"][-1] if len(document["verdict"]) > 1 + len(document["baselines"]) else "")
    return "\n".join(line for line in lines).rstrip()


def per_class_lines(model: dict[str, Any], width: int) -> list[str]:
    lines = [f"{'':<{width}}{'precision':>10}{'recall':>10}{'f1-score':>10}{'support':>10}"]
    for name in model["classes"]:
        row = model["per_class"][name]
        lines.append(
            f"{name:<{width}}{row['precision']:>10.3f}{row['recall']:>10.3f}{row['f1']:>10.3f}{row['support']:>10}"
        )
    return lines


def multi_label_report(document: dict[str, Any]) -> str:
    """Per-label precision / recall / F1 / support, subset accuracy, micro and macro F1, and the baselines."""
    model = document["model"]
    width = max(12, *(len(c) for c in model["classes"])) + 2
    lines = [f"data        {document['data']} ({model['examples']} examples, multi-label)", ""]
    lines += [*per_class_lines(model, width), ""]
    lines.append(f"subset accuracy {model['subset_accuracy']:.3f} (every label of an example right)")
    lines.append(f"micro f1 {model['micro_f1']:.3f}   macro f1 {model['macro_f1']:.3f}")
    each = ", ".join(f"{c} {t:.2f}" for c, t in zip(model["classes"], model["thresholds"], strict=True))
    lines.append(f"hamming loss {model['hamming_loss']:.4f}; decision thresholds {each}")
    lines += ["", f"{'baseline':<50}{'subset acc':>11}{'macro f1':>10}"]
    lines.append(f"{'the model':<50}{model['accuracy']:>11.3f}{model['macro_f1']:>10.3f}")
    for name, result in document["baselines"].items():
        lines.append(f"{name:<50}{result['accuracy']:>11.3f}{result['macro_f1']:>10.3f}")
    lines.append(document["verdict"][-1] if len(document["verdict"]) > 1 + len(document["baselines"]) else "")
    return "\n".join(lines).rstrip()


def confusion_lines(classes: list[str], confusion: list[list[int]]) -> list[str]:
    """Rows: the gold class; columns: the predicted class."""
    if len(classes) > MAX_CONFUSION_CLASSES:
        return [f"confusion matrix: {len(classes)} classes, too many to show here (see --json)"]
    width = max(6, *(len(c) for c in classes)) + 2
    header = f"{'':<{width}}" + "".join(f"{c[: width - 1]:>{width}}" for c in classes)
    lines = ["confusion matrix (rows: gold, columns: predicted)", header]
    for name, row in zip(classes, confusion, strict=True):
        lines.append(f"{name:<{width}}" + "".join(f"{n:>{width}}" for n in row))
    return lines


def summarise_run(path: str) -> dict[str, Any]:
    """A classifier run's facts (weights unread): classes, data, shape, training, best validation."""
    from rnncli.core.checkpoint import read_meta, resolve_checkpoint_path
    from rnncli.tasks.classify.checkpoint import validate_classifier
    from rnncli.tasks.training_curve import curve_beside

    file = resolve_checkpoint_path(path)
    meta = read_meta(file)
    tensors = meta.get("_tensors") or {}
    config, classes, tokenizer = validate_classifier(file, meta)
    parameters = sum(_numel(info.get("shape", [])) for info in tensors.values())
    history = meta.get("history") or {}
    return {
        "kind": "classifier",
        "task": "classify",
        "path": str(file),
        "classes": classes,
        "multi_label": config.multi_label,
        "threshold": meta.get("threshold") if config.multi_label else None,
        "thresholds": _thresholds(meta, classes) if config.multi_label else None,
        "model": config.to_dict(),
        "train": meta.get("train"),
        "data_options": meta.get("data_options"),
        "tokenizer": {"kind": tokenizer.kind, "vocab_size": tokenizer.vocab_size},
        "data": meta.get("data"),
        "history": history,
        "curve": curve_beside(file),
        "validation": _validation(meta.get("validation"), classes),
        "total_parameters": parameters,
        "versions": meta.get("versions"),
        "command": meta.get("command"),
        "resume_commands": meta.get("resume_commands") or [],
    }


def _validation(saved: Any, classes: list[str]) -> dict[str, Any] | None:
    """The validation scores a run recorded, or None where they are missing or do not fit its classes."""
    if not isinstance(saved, dict):
        return None
    confusion = saved.get("confusion")
    square = isinstance(confusion, list) and len(confusion) == len(classes)
    if confusion is not None and not (
        square
        and all(isinstance(r, list) and len(r) == len(classes) for r in confusion)
        and all(isinstance(n, int) and n >= 0 for r in confusion for n in r)
    ):
        return None
    per_class = saved.get("per_class")
    if not isinstance(per_class, dict) or any(
        not isinstance((per_class.get(c) or {}).get("f1"), float | int) for c in classes
    ):
        return None
    return saved


def _thresholds(meta: dict[str, Any], classes: list[str]) -> dict[str, float]:
    """Each label's decision threshold (validated); one shared by all in a run from before per-label ones."""
    each = meta.get("thresholds") or [meta.get("threshold", 0.5)] * len(classes)
    return dict(zip(classes, each, strict=True))


def _numel(shape: list[int]) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def summarise_data(path: str, top: int | None = None) -> Summary:
    """A labelled file or folder: layout, columns, examples per class, lengths."""
    from rnncli.core.labelled import ReadOptions, describe, read_examples

    examples = read_examples(path, ReadOptions())
    counts = examples.counts()
    return Summary(
        {
            "kind": "labelled-data",
            "path": path,
            "layout": examples.layout,
            "columns": list(examples.columns) if examples.columns else None,
            "examples": len(examples.texts),
            "classes": dict(counts.most_common(top)),
            "description": describe(examples),
            "notes": examples.notes,
        }
    )
