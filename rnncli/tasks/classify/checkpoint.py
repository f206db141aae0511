"""A classifier's checkpoint, validated before anything is allocated, and the baselines saved beside it.

The checkpoint is core's safetensors file (rnncli/core/checkpoint.py) with the
classes and the tokenizer in its metadata. ``baselines.safetensors`` in the
run folder holds the bag-of-words baselines fitted on the same training split
(their vocabularies in its metadata), so ``rnn eval`` scores them beside the
model without the training data. Nothing is unpickled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_bytes

from rnncli.core.checkpoint import (
    atomic_write_bytes,
    check_tensors_match,
    read_meta,
    read_tensors,
    resolve_checkpoint_path,
)
from rnncli.core.errors import CheckpointError, UsageError
from rnncli.core.tokenizers import Tokenizer, tokenizer_from_dict
from rnncli.tasks.classify.baseline import BagOfWords
from rnncli.tasks.classify.config import ClassifierConfig
from rnncli.tasks.classify.model import Classifier

TASK_NAME = "classify"
BASELINES_FILE = "baselines.safetensors"
MAX_LABEL_CHARS = 1000
DEFAULT_THRESHOLD = 0.5


@dataclass
class ClassifierRun:
    """A trained classifier: the model, its classes and tokenizer, and the baselines saved beside it (if any)."""

    path: Path
    model: Classifier
    config: ClassifierConfig
    classes: list[str]
    tokenizer: Tokenizer
    meta: dict[str, Any]
    baselines: list[BagOfWords] = field(default_factory=list)
    majority: torch.Tensor | None = None  # the training class frequencies

    @property
    def multi_label(self) -> bool:
        return self.config.multi_label

    @property
    def threshold(self) -> float:
        """A multi-label model's shared decision threshold (chosen on validation data; 0.5 without one)."""
        return float(self.meta.get("threshold", DEFAULT_THRESHOLD))

    @property
    def thresholds(self) -> np.ndarray:
        """Each label's decision threshold; a run from before per-label thresholds uses its one for all."""
        each = self.meta.get("thresholds")
        return np.asarray(each if each is not None else [self.threshold] * len(self.classes), dtype=np.float64)

    @property
    def max_len(self) -> int:
        return int((self.meta.get("data_options") or {}).get("max_len", 512))


def load_classifier(path: str | Path) -> ClassifierRun:
    """Load and validate a classification checkpoint (safetensors only)."""
    path = resolve_checkpoint_path(path)
    meta = read_meta(path)
    config, classes, tokenizer = validate_classifier(path, meta)
    model = Classifier(config)
    model.load_state_dict(read_tensors(path))
    model.eval()
    run = ClassifierRun(path=path, model=model, config=config, classes=classes, tokenizer=tokenizer, meta=meta)
    baseline_file = path.parent / BASELINES_FILE
    if baseline_file.is_file():
        run.baselines, run.majority = load_baselines(baseline_file, classes)
    return run


def validate_classifier(path: Path, meta: dict[str, Any]) -> tuple[ClassifierConfig, list[str], Tokenizer]:
    """The metadata and the tensor table checked against each other, weights unread."""
    if meta.get("task") != TASK_NAME:
        raise CheckpointError(
            f"{path}: not a classifier (task {meta.get('task')!r}); train one with: rnn train DATA --task classify"
        )
    try:
        config = ClassifierConfig(**meta["model"])
        config.validate(where=f"{path}: model")
        classes = meta["classes"]
        names_ok = isinstance(classes, list) and all(isinstance(c, str) and len(c) <= MAX_LABEL_CHARS for c in classes)
        if not names_ok or len(classes) != config.num_classes:
            raise ValueError("the classes do not match the model")
        tokenizer = tokenizer_from_dict(meta["tokenizer"])
        if tokenizer.vocab_size != config.vocab_size:
            raise ValueError("the tokenizer's vocabulary does not match the model")
        _check_thresholds(meta, len(classes))
    except (KeyError, TypeError, ValueError, UsageError, CheckpointError) as exc:
        raise CheckpointError(f"{path}: the classifier's metadata is damaged ({exc})") from None
    check_tensors_match(path, meta, lambda: Classifier(config))
    return config, classes, tokenizer


def _check_thresholds(meta: dict[str, Any], num_classes: int) -> None:
    """The shared threshold and the per-label ones (runs before them have none) lie strictly between 0 and 1."""
    each = meta.get("thresholds")
    if each is not None and (not isinstance(each, list) or len(each) != num_classes):
        raise ValueError(f"thresholds: {num_classes} expected, one per class")
    for threshold in [meta.get("threshold", DEFAULT_THRESHOLD), *(each or [])]:
        if isinstance(threshold, bool) or not isinstance(threshold, float | int) or not 0 < threshold < 1:
            raise ValueError(f"threshold {threshold!r} is not between 0 and 1")


def thresholds_text(run: ClassifierRun) -> str:
    """``funny 0.35, sad 0.50``: each label's decision threshold, for people."""
    return ", ".join(f"{name} {value:.2f}" for name, value in zip(run.classes, run.thresholds, strict=True))


def save_baselines(path: Path, baselines: list[BagOfWords], *, majority: torch.Tensor, classes: list[str]) -> None:
    """The bag-of-words baselines and the training class shares (the majority baseline) beside a run."""
    tensors = {"majority": majority.float()}
    documents = []
    for k, model in enumerate(baselines):
        tensors.update({f"b{k}.idf": model.idf, f"b{k}.weight": model.weight, f"b{k}.bias": model.bias})
        vocabulary = sorted(model.vocabulary, key=model.vocabulary.get)
        documents.append({"ngrams": model.ngrams, "vocabulary": vocabulary, "multi_label": model.multi_label})
    document = {"classes": classes, "baselines": documents}
    metadata = {"format": "rnncli-baselines", "rnncli": json.dumps(document)}
    atomic_write_bytes(path, safetensors_bytes({k: v.contiguous() for k, v in tensors.items()}, metadata=metadata))


def load_baselines(path: Path, classes: list[str]) -> tuple[list[BagOfWords], torch.Tensor | None]:
    """The baselines of a run folder; a file that does not fit the run is ignored (they are only a comparison)."""
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            document = json.loads((handle.metadata() or {}).get("rnncli", "{}"))
            if document.get("classes") != classes:
                return [], None
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
        bags = [_baseline(k, doc, tensors, len(classes)) for k, doc in enumerate(document["baselines"])]
        return bags, tensors["majority"]
    except Exception:  # a damaged side file: the model is still usable, only the comparison is lost
        return [], None


def _baseline(k: int, document: dict[str, Any], tensors: dict[str, torch.Tensor], num_classes: int) -> BagOfWords:
    vocabulary = {word: i for i, word in enumerate(document["vocabulary"])}
    weight, idf, bias = tensors[f"b{k}.weight"], tensors[f"b{k}.idf"], tensors[f"b{k}.bias"]
    expected = [(num_classes, len(vocabulary)), (len(vocabulary),), (num_classes,)]
    if [tuple(weight.shape), tuple(idf.shape), tuple(bias.shape)] != expected:
        raise ValueError("baseline shapes do not match")
    return BagOfWords(int(document["ngrams"]), vocabulary, idf, weight, bias, bool(document.get("multi_label")))
