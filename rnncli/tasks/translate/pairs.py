"""Sentence pairs from a TSV file (source, target, extra columns ignored), two line-aligned files, or JSONL.

Every reader gives a ``Pairs``; an empty source or target is left out with a
count, and a flaw that makes the file unreadable is one ``DataError`` naming
the file, the line and what to do.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rnncli.core.errors import DataError

JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")


@dataclass
class Pairs:
    """Source and target sentences, aligned, and what was left out while reading."""

    sources: list[str]
    targets: list[str]
    origin: str  # what was read, for messages
    empty: int = 0  # pairs with an empty source or target, left out
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.sources)

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for source, target in zip(self.sources, self.targets, strict=True):
            digest.update(source.encode("utf-8") + b"\t" + target.encode("utf-8") + b"\n")
        return digest.hexdigest()


def read_lines(path: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of a UTF-8 file or stdin (``-``), line ends removed; bad bytes name their line."""
    handle = sys.stdin.buffer if path == "-" else _open(path)
    try:
        for number, raw in enumerate(handle, 1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"{_shown(path)}:{number}: not UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); "
                    "convert the file to UTF-8"
                ) from None
            yield number, text.rstrip("\r\n")
    finally:
        if handle is not sys.stdin.buffer:
            handle.close()


def _open(path: str):
    try:
        return open(path, "rb")
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _shown(path: str) -> str:
    return "<stdin>" if path == "-" else path


def read_pairs(path: str) -> Pairs:
    """A file of pairs: JSONL by its suffix (.jsonl, .json, .ndjson), else tab-separated."""
    if Path(path).suffix.lower() in JSONL_SUFFIXES:
        return _collect(_jsonl_rows(path), _shown(path))
    return _collect(_tsv_rows(path), _shown(path))


def _tsv_rows(path: str) -> Iterator[tuple[str, str]]:
    for number, line in read_lines(path):
        if not line.strip():
            continue
        columns = line.split("\t")
        if len(columns) < 2:
            raise DataError(
                f"{_shown(path)}:{number}: no tab; each line is source<TAB>target (further columns are ignored)"
            )
        yield columns[0], columns[1]


def _jsonl_rows(path: str) -> Iterator[tuple[str, str]]:
    for number, line in read_lines(path):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if not isinstance(row, dict):
            shape = '{"source": ..., "target": ...}'
            raise DataError(f"{_shown(path)}:{number}: not a JSON object; each line is {shape}")
        for name in ("source", "target"):
            if not isinstance(row.get(name), str):
                raise DataError(f"{_shown(path)}:{number}: field '{name}' is missing or not text")
        yield row["source"], row["target"]


def read_parallel(source: str, target: str) -> Pairs:
    """Two line-aligned files: line k of one translates line k of the other."""
    if source == "-" and target == "-":
        raise DataError("--source and --target cannot both be stdin; give at least one file")
    sources = [text for _, text in read_lines(source)]
    targets = [text for _, text in read_lines(target)]
    if len(sources) != len(targets):
        raise DataError(
            f"{_shown(source)} has {len(sources):,} lines but {_shown(target)} has {len(targets):,}; "
            "the two files must be line-aligned (line k of one translates line k of the other)"
        )
    return _collect(zip(sources, targets, strict=True), f"{_shown(source)} + {_shown(target)}")


def _collect(rows, origin: str) -> Pairs:
    pairs = Pairs([], [], origin)
    for source, target in rows:
        if not source.strip() or not target.strip():
            pairs.empty += 1
            continue
        pairs.sources.append(source)
        pairs.targets.append(target)
    if pairs.empty:
        pairs.notes.append(f"{origin}: left out {pairs.empty:,} pairs with an empty source or target")
    if not pairs.sources:
        raise DataError(f"{origin}: no sentence pairs found; give source<TAB>target lines, two aligned files or JSONL")
    return pairs
