"""Labelled examples from CSV, TSV, JSONL, a folder with one subfolder per class, or fastText ``__label__`` lines.

Shared by the classifier and the conditional language model (``--condition-col``), so neither task
imports the other. Nothing here imports torch or prints: readers return ``Examples`` and notes
(warnings) for the command to show; a flaw in the file is one ``DataError``
that names the file, the line or field, and what to do.
"""

from __future__ import annotations

import csv
import io
import json
import random
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rnncli.core.errors import DataError, UsageError

TEXT_NAMES = ("text", "review", "sentence", "content", "comment", "body", "message", "tweet", "document", "utterance")
LABEL_NAMES = (
    "label",
    "labels",
    "class",
    "category",
    "sentiment",
    "target",
    "stars",
    "rating",
    "intent",
    "y",
    "topic",
    "language",
    "lang",
)
FASTTEXT_PREFIX = "__label__"
MAX_FIELD_CHARS = 10_000_000
LABEL_SEP = ";"  # several labels in one cell: "funny;sad"


def label_set(label: str) -> list[str]:
    """The labels of one example (a multi-label example's labels are kept joined by ``;``)."""
    return [part for part in label.split(LABEL_SEP) if part]


@dataclass
class Examples:
    """Texts and their labels, in file order, and where they came from."""

    texts: list[str]
    labels: list[str]
    source: str
    columns: tuple[str, str] | None = None  # (text, label) of a CSV/TSV/JSONL
    layout: str = "csv"  # csv, tsv, jsonl, folder or fasttext
    notes: list[str] = field(default_factory=list)  # warnings for the user
    lines: list[int] | None = None  # each example's line in the file, where it has lines
    multi_label: bool = False  # some example has several labels (joined by ``;``)

    def counts(self) -> Counter:
        """Examples per class (per label, for multi-label data)."""
        if self.multi_label:
            return Counter(part for label in self.labels for part in label_set(label))
        return Counter(self.labels)

    def subset(self, index: list[int]) -> Examples:
        lines = [self.lines[i] for i in index] if self.lines else None
        texts, labels = [self.texts[i] for i in index], [self.labels[i] for i in index]
        multi = self.multi_label
        return Examples(texts, labels, self.source, self.columns, self.layout, lines=lines, multi_label=multi)


@dataclass(frozen=True)
class ReadOptions:
    text_col: str | None = None
    label_col: str | None = None
    strict: bool = False  # an empty text is an error, not skipped
    label_flag: str = "--label-col"  # what the command calls the label column's option (--condition-col)


def read_examples(path: str, options: ReadOptions, *, labelled: bool = True) -> Examples:
    """The examples of ``path`` by its layout: folder, .jsonl, .csv/.tsv, else fastText lines."""
    if path != "-" and Path(path).is_dir():
        return _checked(_read_folder(Path(path)), options)
    text = _read_text(path)
    suffix = Path(path).suffix.lower() if path != "-" else ""
    if suffix in (".jsonl", ".ndjson"):
        examples = _read_jsonl(text, path, options, labelled)
    elif suffix in (".csv", ".tsv") or (suffix != ".txt" and _looks_tabular(text)):
        examples = _read_table(text, path, options, delimiter="\t" if suffix == ".tsv" else ",", labelled=labelled)
    else:
        examples = _read_fasttext(text, path, labelled)
    return _checked(examples, options) if labelled else examples


def _looks_tabular(text: str) -> bool:
    first = text.split("\n", 1)[0]
    return not first.startswith(FASTTEXT_PREFIX) and "," in first


def _read_text(path: str) -> str:
    try:
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(
            f"{path}: line {line}: bytes that are not UTF-8 (at byte {exc.start}); convert the file to UTF-8"
        ) from None


# --- CSV and TSV ---------------------------------------------------------------------


def _read_table(text: str, path: str, options: ReadOptions, *, delimiter: str, labelled: bool) -> Examples:
    csv.field_size_limit(MAX_FIELD_CHARS)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise DataError(f"{path}: the file is empty; give a header line and one example per row") from None
    except csv.Error as exc:
        raise DataError(f"{path}: line 1: {exc}") from None
    rows = _rows(reader, path, len(header))
    text_col, label_col = choose_columns(header, rows, path, options, labelled=labelled)
    t = header.index(text_col)
    labels = [row[header.index(label_col)] for row, _ in rows] if label_col else [""] * len(rows)
    layout = "tsv" if delimiter == "\t" else "csv"
    columns = (text_col, label_col or "")
    return Examples([row[t] for row, _ in rows], labels, path, columns, layout, lines=[n for _, n in rows])


def _rows(reader, path: str, width: int) -> list[tuple[list[str], int]]:
    rows = []
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip() and width > 1):
                continue  # a blank line
            if len(row) != width:
                raise DataError(
                    f"{path}: line {reader.line_num}: {len(row)} fields where the header has {width}; "
                    "quote fields that hold the delimiter"
                )
            rows.append((row, reader.line_num))
    except csv.Error as exc:
        raise DataError(f"{path}: line {reader.line_num}: {exc}") from None
    return rows


def choose_columns(
    header: list[str], rows: list, path: str, options: ReadOptions, *, labelled: bool = True
) -> tuple[str, str | None]:
    """--text-col and --label-col, else the columns whose names say so, else the only two columns."""
    for flag, name in (("--text-col", options.text_col), (options.label_flag, options.label_col)):
        if name is not None and name not in header:
            raise UsageError(f"{flag} {name}: {path} has no such column (its columns: {', '.join(header)})")
    text_col = options.text_col or _by_name(header, TEXT_NAMES)
    label_col = options.label_col or _by_name([h for h in header if h != text_col], LABEL_NAMES)
    if (text_col is None or label_col is None) and len(header) == 2:
        text_col, label_col = _by_length(header, rows, text_col, label_col)
        _refuse_data_header(header, rows, path, label_col if labelled and not options.label_col else None)
    if labelled and label_col is None and len(header) == 1:
        raise UsageError(
            f"{path}: one column ({header[0]}), no label column; training and scoring need text,label "
            "(to label text without gold labels: rnn predict RUN FILE)"
        )
    if text_col is None or (labelled and label_col is None):
        missing = "--text-col" if text_col is None else options.label_flag
        raise UsageError(
            f"{path}: cannot tell which column is the {'text' if text_col is None else 'label'} "
            f"(columns: {', '.join(header)}); say it with {missing}"
        )
    return text_col, label_col


def _refuse_data_header(header: list[str], rows: list, path: str, label_col: str | None) -> None:
    """A first line whose label cell is one of the labels below it is data: the file has no header."""
    if label_col is None:
        return
    index = header.index(label_col)
    if any(row[index].strip() == label_col.strip() for row, _ in rows):
        raise UsageError(
            f"{path}: line 1 looks like an example, not a header ('{label_col.strip()}' is also a label below it); "
            "add a header line such as text,label"
        )


def _by_name(header: list[str], names: tuple[str, ...]) -> str | None:
    lowered = {h.lower(): h for h in header}
    return next((lowered[n] for n in names if n in lowered), None)


def _by_length(header: list[str], rows: list, text_col: str | None, label_col: str | None) -> tuple[str, str]:
    """Of two columns, the one with the longer cells on average is the text."""
    mean = [sum(len(row[i]) for row, _ in rows) / max(1, len(rows)) for i in range(2)]
    longer = header[0] if mean[0] >= mean[1] else header[1]
    text_col = text_col or (longer if longer != label_col else next(h for h in header if h != label_col))
    return text_col, label_col or next(h for h in header if h != text_col)


# --- JSONL, folders, fastText ---------------------------------------------------------


def _read_jsonl(text: str, path: str, options: ReadOptions, labelled: bool) -> Examples:
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: line {number}: not a JSON object ({exc.msg}); give one object per line") from None
        if not isinstance(record, dict):
            raise DataError(f"{path}: line {number}: not a JSON object; give one object per line")
        records.append((record, number))
    if not records:
        raise DataError(f"{path}: no examples; give one JSON object per line")
    keys = list(records[0][0])
    cells = [([str(r.get(k, "")) for k in keys], n) for r, n in records]
    text_col, label_col = choose_columns(keys, cells, path, options, labelled=labelled)
    texts, labels = [], []
    for record, number in records:
        for key in (text_col, label_col) if labelled else (text_col,):
            if key not in record:
                raise DataError(f"{path}: line {number}: no '{key}' field; every line needs one")
        texts.append(str(record[text_col]) if record[text_col] is not None else "")
        labels.append(_label_text(record.get(label_col), path, number) if labelled else "")
    return Examples(texts, labels, path, (text_col, label_col or ""), "jsonl")


def _label_text(value, path: str, number: int) -> str:
    if isinstance(value, list):
        return LABEL_SEP.join(str(v) for v in value if v is not None)
    return "" if value is None else str(value)


def _read_folder(folder: Path) -> Examples:
    """data/<class>/<file>: each file one example, each subfolder one class."""
    texts, labels = [], []
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(f"{folder}: a folder of examples needs one subfolder per class (e.g. {folder}/positive/*.txt)")
    for sub in classes:
        for file in sorted(p for p in sub.rglob("*") if p.is_file() and not p.name.startswith(".")):
            texts.append(_read_text(str(file)))
            labels.append(sub.name)
    return Examples(texts, labels, str(folder), None, "folder")


def _read_fasttext(text: str, path: str, labelled: bool) -> Examples:
    """fastText lines: ``__label__pos great film``; without labels (predict), each line is one text."""
    texts, labels = [], []
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words:
            continue
        tags = [w for w in words if w.startswith(FASTTEXT_PREFIX)]
        if labelled and not tags:
            raise DataError(
                f"{path}: line {number}: no __label__ (fastText lines read '__label__pos great film'); "
                "for a CSV or JSONL file, give it a .csv, .tsv or .jsonl name"
            )
        body = " ".join(w for w in words if not w.startswith(FASTTEXT_PREFIX)) if tags else line
        if tags and not body:
            raise DataError(f"{path}: line {number}: a __label__ without text; every line needs some text")
        texts.append(body)
        labels.append(LABEL_SEP.join(dict.fromkeys(t[len(FASTTEXT_PREFIX) :] for t in tags)))
    return Examples(texts, labels, path, None, "fasttext")


# --- checks, the split and what was read --------------------------------------------


def _checked(examples: Examples, options: ReadOptions) -> Examples:
    """Stray spaces stripped; empty texts skipped (or refused with --strict); labels that differ only in case named."""
    keep, empty_labels = [], 0
    for i, (text, label) in enumerate(zip(examples.texts, examples.labels, strict=True)):
        if not _normalised(label):
            empty_labels += 1
            continue
        if not text.strip():
            if options.strict:
                where = f"{examples.source}: {_where(examples, i)}"
                raise DataError(f"{where}: an empty text; fill it or leave out --strict")
            continue
        keep.append(i)
    skipped = len(examples.texts) - len(keep) - empty_labels
    checked = examples.subset(keep)
    checked.labels = [_normalised(label) for label in checked.labels]
    checked.multi_label = any(LABEL_SEP in label for label in checked.labels)
    checked.notes = list(examples.notes)
    if skipped:
        checked.notes.append(f"skipped {skipped} example(s) with an empty text (--strict makes this an error)")
    if empty_labels:
        checked.notes.append(f"skipped {empty_labels} example(s) with an empty label")
    checked.notes.extend(_case_variants(checked.labels))
    _check_texts(checked)
    return checked


def _normalised(label: str) -> str:
    """Stray spaces stripped; several labels sorted, without repeats, joined by ``;``."""
    if LABEL_SEP not in label:
        return label.strip()
    return LABEL_SEP.join(sorted({part.strip() for part in label.split(LABEL_SEP) if part.strip()}))


def _where(examples: Examples, i: int) -> str:
    return f"line {examples.lines[i]}" if examples.lines else f"example {i + 1}"


def _case_variants(labels: list[str]) -> list[str]:
    by_lower: dict[str, set[str]] = {}
    for label in {part for cell in labels for part in label_set(cell)}:
        by_lower.setdefault(label.lower(), set()).add(label)
    return [
        f"labels {' and '.join(repr(v) for v in sorted(variants))} differ only in case: "
        "they are kept as different classes"
        for variants in by_lower.values()
        if len(variants) > 1
    ]


def _check_texts(examples: Examples) -> None:
    if not examples.texts:
        raise DataError(f"{examples.source}: no labelled examples with text")
    numeric = sum(_is_number(t) for t in examples.texts)
    if numeric > 0.9 * len(examples.texts):
        column = f" ({examples.columns[0]})" if examples.columns else ""
        raise DataError(
            f"{examples.source}: the text column{column} holds numbers, not text; name the text column with --text-col"
        )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def check_classes(examples: Examples) -> list[str]:
    """Refuse one class; warn about classes too small to appear in validation. Returns the warnings."""
    counts = examples.counts()
    if len(counts) < 2:
        only = next(iter(counts))
        raise DataError(
            f"{examples.source}: every example has the label {only!r}; a classifier needs two classes or more"
        )
    single = sorted(label for label, n in counts.items() if n == 1)
    if single:
        return [f"class(es) with a single example, kept for training only: {', '.join(map(repr, single[:5]))}"]
    return []


def stratified_split(examples: Examples, val_frac: float, seed: int) -> tuple[list[int], list[int]]:
    """Training and validation indices: ``val_frac`` of each class (at least one where it has two or more)."""
    rng = random.Random(seed)
    by_class: dict[str, list[int]] = {}
    for i, label in enumerate(examples.labels):
        by_class.setdefault(label, []).append(i)
    train, val = [], []
    for label in sorted(by_class):
        index = by_class[label]
        rng.shuffle(index)
        n_val = 0 if len(index) < 2 or val_frac <= 0 else max(1, round(val_frac * len(index)))
        val.extend(index[:n_val])
        train.extend(index[n_val:])
    return sorted(train), sorted(val)


def describe(examples: Examples, what: str = "read") -> list[str]:
    """What was read, for people: layout and columns, examples per class, majority share, lengths."""
    counts = examples.counts()
    total = len(examples.texts)
    columns = examples.columns
    how = f"columns text={columns[0]!r}, label={columns[1]!r}" if columns else f"{examples.layout} layout"
    label, n = counts.most_common(1)[0]
    lengths = sorted(len(t) for t in examples.texts)
    per_class = ", ".join(f"{name} {count}" for name, count in counts.most_common(10))
    more = f" and {len(counts) - 10} more" if len(counts) > 10 else ""
    if examples.multi_label:
        several = sum(LABEL_SEP in label for label in examples.labels)
        kind = f"{len(counts)} labels (multi-label: {several} examples have several)"
        share = f"the most frequent {label!r} is on {n / total:.1%} of examples"
    else:
        kind, share = f"{len(counts)} classes", f"majority {label!r} is {n / total:.1%}"
    return [
        f"{examples.source}: {what} {total} examples in {kind} ({how})",
        f"per class: {per_class}{more}; {share}",
        f"length in characters: median {lengths[total // 2]}, "
        f"90th percentile {lengths[int(0.9 * (total - 1))]}, longest {lengths[-1]}",
    ]
