"""A conditional language model's data: a labelled file read as one sequence per example, started from its label.

The file is any the classifier reads (CSV, TSV, JSONL, a folder per class,
fastText lines; rnncli/core/labelled.py). Each example becomes its text's
tokens followed by the end-of-text token, whose id is one past the
tokenizer's vocabulary; the same id is fed first, as "start of text", so the
label's initial state alone decides the first token.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from rnncli.core.errors import DataError
from rnncli.core.labelled import LABEL_SEP, Examples, ReadOptions, read_examples, stratified_split
from rnncli.core.tokenizers import Tokenizer, encode_known, train_tokenizer
from rnncli.tasks.language_model.config import TextConfig


@dataclass
class Sequences:
    """Encoded examples: each one's token ids (ending in end-of-text unless cut) and its label's index."""

    ids: list[list[int]]
    labels: list[int]
    num_chars: int  # characters of the texts, plus one per end-of-text
    num_bytes: int  # their UTF-8 bytes, plus one per end-of-text

    @property
    def num_tokens(self) -> int:
        return sum(len(seq) for seq in self.ids)


@dataclass
class ConditionalData:
    """What a conditional run trains on: the tokenizer, the labels and the encoded splits."""

    source: str
    tokenizer: Tokenizer
    labels: list[str]
    train: Sequences
    val: Sequences | None
    stats: dict[str, Any]  # sha256 of the examples, counts
    notes: list[str] = field(default_factory=list)

    @property
    def end_id(self) -> int:
        return self.tokenizer.vocab_size


def read_labelled(path: str, text: TextConfig) -> Examples:
    """The examples of ``path``, one label each; several labels on one example are refused."""
    examples = read_examples(
        path, ReadOptions(text_col=text.text_col, label_col=text.condition_col or None, label_flag="--condition-col")
    )
    several = next((i for i, label in enumerate(examples.labels) if LABEL_SEP in label), None)
    if several is not None:
        where = f"line {examples.lines[several]}" if examples.lines else f"example {several + 1}"
        raise DataError(
            f"{examples.source}: {where}: several labels ({examples.labels[several]!r}); "
            "a conditional language model starts each text from one label"
        )
    return examples


def fingerprint(examples: Examples) -> str:
    """sha256 of the texts and labels as read: the same data whatever the file's layout or line endings."""
    digest = hashlib.sha256()
    for text, label in zip(examples.texts, examples.labels, strict=True):
        digest.update(f"{len(label)}:{label}{len(text)}:{text}".encode())
    return digest.hexdigest()


def prepare_conditional(
    path: str,
    text: TextConfig,
    *,
    seq_len: int,
    val_frac: float,
    seed: int,
    tokenizer: Tokenizer | None = None,
    labels: list[str] | None = None,
) -> ConditionalData:
    """Read, fit a tokenizer (or use a resumed run's), split by label and encode; refuse unknown labels."""
    examples = read_labelled(path, text)
    found = sorted(examples.counts())
    if labels is not None and set(found) - set(labels):
        raise DataError(f"{path}: {unknown_labels(set(found) - set(labels), labels)}; resume with the same data")
    labels = labels if labels is not None else found
    if len(labels) < 2:
        raise DataError(f"{path}: every example has the label {labels[0]!r}; a condition needs two labels or more")
    # the tokenizer reads chunks as one stream: a space keeps one text's last word from joining the next's first
    tokenizer = tokenizer or train_tokenizer(text.tokenizer_settings(), lambda: (f"{t} " for t in examples.texts))
    val_examples = read_labelled(text.val, text) if text.val else None
    train_index, val_index = (
        (list(range(len(examples.texts))), []) if val_examples else stratified_split(examples, val_frac, seed)
    )
    train, cut = encode_examples(tokenizer, examples.subset(train_index), labels, seq_len)
    val, val_cut = (None, 0)
    if val_examples is not None or val_index:
        held = val_examples or examples.subset(val_index)
        val, val_cut = encode_examples(tokenizer, held, labels, seq_len, where="validation")
    stats = {
        "sha256": fingerprint(examples),
        "num_examples": len(examples.texts),
        "num_tokens": train.num_tokens,
        "layout": examples.layout,
        "column": examples.columns[1] if examples.columns else None,
    }
    if val_examples is not None:
        stats["val"] = {"source": val_examples.source, "sha256": fingerprint(val_examples)}
    data = ConditionalData(examples.source, tokenizer, labels, train, val, stats, list(examples.notes))
    if cut + val_cut:
        data.notes.append(
            f"{cut + val_cut} example(s) longer than --seq-len {seq_len} tokens were cut (they never end)"
        )
    return data


def encode_examples(
    tokenizer: Tokenizer,
    examples: Examples,
    labels: list[str],
    seq_len: int,
    *,
    policy: str | None = None,
    where: str = "text",
) -> tuple[Sequences, int]:
    """Each text's ids and end-of-text, cut at ``seq_len``; the number cut. Unknown labels are refused."""
    index = {label: i for i, label in enumerate(labels)}
    unknown = {label for label in examples.labels if label not in index}
    if unknown:
        raise DataError(f"{examples.source}: {unknown_labels(unknown, labels)}")
    end, ids, cut = tokenizer.vocab_size, [], 0
    for text in examples.texts:
        seq = [*encode_known(tokenizer, text, policy=policy, where=f"{examples.source}: {where}"), end]
        cut += len(seq) > seq_len
        ids.append(seq[:seq_len])
    num_chars = sum(len(t) + 1 for t in examples.texts)
    num_bytes = sum(len(t.encode()) + 1 for t in examples.texts)
    return Sequences(ids, [index[label] for label in examples.labels], num_chars, num_bytes), cut


def unknown_labels(unknown: set[str], labels: list[str]) -> str:
    """``label(s) 'x' not among the model's labels: a, b``: the one line for every unknown label."""
    named = ", ".join(repr(label) for label in sorted(unknown)[:5])
    return f"label(s) {named} not among the model's labels: {', '.join(labels)}"
