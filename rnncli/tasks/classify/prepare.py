"""From read examples to what the trainer trains on: the split, the classes, the tokenizer and the encoded tensors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rnncli.core.errors import DataError
from rnncli.core.labelled import (
    Examples,
    ReadOptions,
    check_classes,
    describe,
    label_set,
    read_examples,
    stratified_split,
)
from rnncli.core.tokenizers import Tokenizer, encode_known, train_tokenizer
from rnncli.tasks.classify.options import DataOptions
from rnncli.tasks.requests import Reporter


@dataclass
class Prepared:
    """The training and validation examples, the classes (sorted) and the tokenizer fitted to the training texts."""

    train: Examples
    val: Examples | None
    classes: list[str]
    tokenizer: Tokenizer

    @property
    def multi_label(self) -> bool:
        return self.train.multi_label

    def targets(self, examples: Examples) -> list[int] | list[list[float]]:
        """Class indices; multi-hot rows for a multi-label model."""
        if self.multi_label:
            return multi_hot(examples.labels, self.classes)
        index = {name: i for i, name in enumerate(self.classes)}
        return [index[label] for label in examples.labels]


def multi_hot(labels: list[str], classes: list[str]) -> list[list[float]]:
    """One row per example, 1.0 for each of its labels that is a class (others are dropped)."""
    index = {name: i for i, name in enumerate(classes)}
    rows = []
    for label in labels:
        row = [0.0] * len(classes)
        for part in label_set(label):
            if part in index:
                row[index[part]] = 1.0
        rows.append(row)
    return rows


def read_options(data: DataOptions) -> ReadOptions:
    return ReadOptions(text_col=data.text_col, label_col=data.label_col, strict=data.strict)


def load_examples(path: str, data: DataOptions, reporter: Reporter, *, what: str = "read") -> Examples:
    """Read a labelled file or folder and tell the user what was found."""
    examples = read_examples(path, read_options(data))
    for note in examples.notes:
        reporter.warn(f"{examples.source}: {note}")
    for line in describe(examples, what):
        reporter.info(line)
    return examples


def split(
    examples: Examples, data: DataOptions, *, val_frac: float, seed: int, reporter: Reporter
) -> tuple[Examples, Examples | None]:
    """--val FILE, else a stratified --val-frac of each class."""
    for note in check_classes(examples):
        reporter.warn(f"{examples.source}: {note}")
    if data.val is not None:
        val = load_examples(data.val, data, reporter, what="validation:")
        val.multi_label = examples.multi_label
        unseen = sorted(set(val.counts()) - set(examples.counts()))
        if unseen:
            raise DataError(
                f"{data.val}: labels the training data never has: {', '.join(map(repr, unseen[:5]))}; "
                "every validation label must be a training class"
            )
        return examples, val
    train_index, val_index = stratified_split(examples, val_frac, seed)
    if not val_index:
        reporter.warn("no validation examples (--val-frac 0): the best checkpoint is chosen by training loss")
        return examples, None
    reporter.info(f"validation: {len(val_index)} examples, stratified ({val_frac:.0%} of each class)")
    return examples.subset(train_index), examples.subset(val_index)


def prepare(
    train: Examples,
    val: Examples | None,
    data: DataOptions,
    *,
    tokenizer: Tokenizer | None = None,
    classes: list[str] | None = None,
) -> Prepared:
    """The classes and the tokenizer come from the training split (or a saved run, when resuming)."""
    classes = classes or sorted(train.counts())
    if tokenizer is None:
        tokenizer = train_tokenizer(data.tokenizer_settings(), lambda: iter(train.texts))
    return Prepared(train, val, classes, tokenizer)


def encode(tokenizer: Tokenizer, texts: list[str], max_len: int) -> tuple[list[list[int]], int]:
    """Token ids of each text (unknown pieces as the unknown token), cut at ``max_len``; and how many were cut."""
    policy = "unk" if tokenizer.unknown_id is not None else "skip"
    ids, cut = [], 0
    for text in texts:
        seq = encode_known(tokenizer, text, policy=policy) if policy == "unk" else tokenizer.encode(text)
        if len(seq) > max_len:
            seq, cut = seq[:max_len], cut + 1
        ids.append(seq)
    return ids, cut


def warn_cut(cut: int, total: int, max_len: int, reporter: Reporter, what: str) -> None:
    if cut:
        reporter.warn(f"{what}: {cut} of {total} examples are longer than --max-len {max_len} tokens and were cut")


def data_facts(examples: Examples, val: Examples | None, data: DataOptions) -> dict[str, Any]:
    """What a run records of its data (to resume, and for inspect)."""
    return {
        "source": examples.source,
        "layout": examples.layout,
        "columns": list(examples.columns) if examples.columns else None,
        "examples": len(examples.texts),
        "counts": dict(examples.counts().most_common()),
        "val_source": data.val,
        "val_examples": len(val.texts) if val is not None else 0,
    }
