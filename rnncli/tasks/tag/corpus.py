"""Tagged sentences from CoNLL column files, CoNLL-U (through the ``conllu`` library) and JSONL.

Every reader returns a ``Corpus``: the sentences (tokens and tags, and the line each starts on), the
format read and the scheme of its tags. A flaw is one ``DataError`` naming the file, the line and what
to do. Nothing here imports torch.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rnncli.core.errors import DataError, NotThisKindOfData, UsageError
from rnncli.tasks.tag.schemes import PLAIN, detect_scheme, repair

MAX_TOKEN_CHARS = 1000  # a longer "token" is a file read the wrong way (or a run-on string), not a word
FORMATS = ("conll", "conllu", "jsonl")
CONLLU_FIELDS = ("upos", "xpos", "deprel", "feats", "lemma", "misc", "head", "deps")


@dataclass
class Sentence:
    tokens: list[str]
    tags: list[str]
    line: int = 0  # where it starts in its file (1-based), for messages


@dataclass
class Corpus:
    sentences: list[Sentence]
    source: str
    format: str
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # said beside the description (a column chosen for the tags)
    tag_col: int | None = None  # the CoNLL column the tags came from when it was not the last one by default

    @property
    def tokens(self) -> int:
        return sum(len(s.tokens) for s in self.sentences)

    def tag_counts(self) -> Counter:
        return Counter(t for s in self.sentences for t in s.tags)

    @property
    def scheme(self) -> str:
        return detect_scheme(set(self.tag_counts()))

    def describe(self) -> str:
        counts = ", ".join(f"{tag} {n:,}" for tag, n in self.tag_counts().most_common(12))
        more = len(self.tag_counts()) - 12
        extra = f", and {more} more" if more > 0 else ""
        return (
            f"{self.source}: {len(self.sentences):,} sentences, {self.tokens:,} tokens ({self.format}), "
            f"{len(self.tag_counts())} tags, {self.scheme} scheme: {counts}{extra}"
        )

    def repaired(self) -> Corpus:
        """Invalid BIO/BIOES sequences rewritten by the CoNLL convention, with a warning that counts them."""
        scheme, fixed = self.scheme, 0
        if scheme == PLAIN:
            return self
        for sentence in self.sentences:
            valid = repair(sentence.tags, scheme)
            if valid != sentence.tags:
                sentence.tags, fixed = valid, fixed + 1
        if fixed:
            self.warnings.append(
                f"{self.source}: {fixed} sentence(s) had invalid {scheme} sequences (an I- tag that continues "
                "no entity); repaired as the CoNLL evaluation reads them (that I- starts an entity)"
            )
        return self


def read_corpus(path: str, *, tag_col: int | None = None, tag_field: str | None = None) -> Corpus:
    """The tagged sentences of ``path`` (``-``: stdin), in the format its suffix or its first line says."""
    text, source = _read_text(path)
    fmt, chosen = choose_format(path, text, tag_field=tag_field), None
    if fmt == "conllu":
        sentences = read_conllu(text, source, tag_field or "upos")
    elif fmt == "jsonl":
        sentences = read_jsonl(text, source)
    else:
        sentences, chosen = conll_columns(text, source, tag_col=tag_col)
    if not sentences:
        raise DataError(f"{source}: no tagged sentences found; give CoNLL columns, CoNLL-U or JSONL")
    corpus = Corpus(sentences, source, fmt)
    if chosen is not None:
        corpus.tag_col = chosen  # the last column held one value throughout, so an earlier one was read
        corpus.notes.append(
            f"{source}: tags read from column {chosen}: the last column holds the same value on every line; "
            "--tag-col N reads another"
        )
    return corpus


def choose_format(path: str, text: str, *, tag_field: str | None = None) -> str:
    suffix = Path(path).suffix.lower() if path != "-" else ""
    if suffix == ".conllu" or tag_field is not None:
        if tag_field is not None and tag_field not in CONLLU_FIELDS:
            raise UsageError(f"--tag-field: unknown value '{tag_field}' (choose one of: {', '.join(CONLLU_FIELDS)})")
        return "conllu"
    if suffix in (".jsonl", ".json") or text.lstrip().startswith("{"):
        return "jsonl"
    return "conll"


def _read_text(path: str) -> tuple[str, str]:
    if path == "-":
        return sys.stdin.read(), "<stdin>"
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        return raw.decode("utf-8-sig"), path
    except UnicodeDecodeError as exc:
        raise NotThisKindOfData(f"{path}: not UTF-8 text (byte {exc.start}); tagged data is read as UTF-8") from None


def check_token(token: str, where: str) -> None:
    if len(token) > MAX_TOKEN_CHARS:
        raise DataError(
            f"{where}: a token of {len(token):,} characters (at most {MAX_TOKEN_CHARS:,}); "
            "is this a tagged file with one token per line?"
        )


# --- CoNLL columns -------------------------------------------------------------------------------


def read_conll(text: str, source: str, *, tag_col: int | None = None) -> list[Sentence]:
    """Token first, the tag in column ``tag_col`` (1-based; default: see ``default_tag_col``), a blank line
    between sentences.

    ``-DOCSTART-`` lines are skipped, and so are lines starting with ``#`` between sentences (inside a
    sentence ``#`` is a token).
    """
    return conll_columns(text, source, tag_col=tag_col)[0]


def conll_columns(text: str, source: str, *, tag_col: int | None = None) -> tuple[list[Sentence], int | None]:
    """The sentences of a CoNLL column file, and the tag column read when it is not the one asked for (the
    last by default), else None."""
    rows: list[list[list[str]]] = []  # sentences of token lines, each line its columns
    current: list[list[str]] = []
    width, starts = None, []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip().strip("\ufeff").strip()  # a byte-order mark alone (WNUT-17's dev file ends so) is blank
        if not line or line.startswith("-DOCSTART-") or (line.startswith("#") and not current):
            if current:
                rows.append(current)
                current = []
            continue
        columns = line.split("\t") if "\t" in line else line.split()
        width = width or len(columns)
        _check_columns(columns, width, tag_col, f"{source}:{number}")
        if not current:
            starts.append(number)
        current.append(columns)
    if current:
        rows.append(current)
    if width is None:
        return [], None
    col = tag_col or default_tag_col(rows, width)
    chosen = None if col == (tag_col or width) else col
    sentences = [
        Sentence([c[0].strip() for c in lines], [c[col - 1].strip() for c in lines], start)
        for lines, start in zip(rows, starts, strict=True)
    ]
    return sentences, chosen


def default_tag_col(rows: list[list[list[str]]], width: int) -> int:
    """The last column, unless it holds one value on every line (a constant filler such as the ``0`` some
    CoNLL-2003 copies add after the tag) and an earlier column beyond the token varies: then the last one that
    varies."""
    for col in range(width, 1, -1):
        values = {line[col - 1] for lines in rows for line in lines}
        if len(values) > 1:
            return col
    return width


def _check_columns(columns: list[str], width: int, tag_col: int | None, where: str) -> None:
    if len(columns) < 2:
        raise NotThisKindOfData(
            f"{where}: one column ('{columns[0][:40]}'); a tagged line holds a token and its tag "
            "(CoNLL columns, a blank line between sentences)"
        )
    if len(columns) != width:
        raise DataError(f"{where}: {len(columns)} columns, but the file's first token line has {width}; fix the line")
    if tag_col is not None and not 2 <= tag_col <= len(columns):
        raise UsageError(f"--tag-col {tag_col}: the lines have {len(columns)} columns; give 2 to {len(columns)}")
    check_token(columns[0], where)


# --- JSONL ---------------------------------------------------------------------------------------


def read_jsonl(text: str, source: str) -> list[Sentence]:
    """One ``{"tokens": [...], "tags": [...]}`` object per line, the lists of equal length."""
    sentences = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                f'{where}: not a JSON object ({exc.msg}); write one {{"tokens", "tags"}} per line'
            ) from None
        tokens, tags = _lists(record, where)
        for token in tokens:
            check_token(token, where)
        sentences.append(Sentence(tokens, tags, number))
    return sentences


def _lists(record: object, where: str) -> tuple[list[str], list[str]]:
    if not isinstance(record, dict) or "tokens" not in record or "tags" not in record:
        raise DataError(f'{where}: expected an object with "tokens" and "tags" lists')
    tokens, tags = record["tokens"], record["tags"]
    for name, items in (("tokens", tokens), ("tags", tags)):
        if not isinstance(items, list) or not all(isinstance(x, str) and x.strip() for x in items):
            raise DataError(f'{where}: "{name}" must be a list of non-empty strings')
    if not tokens:
        raise DataError(f"{where}: a sentence with no tokens; remove the line")
    if len(tokens) != len(tags):
        raise DataError(f"{where}: {len(tokens)} tokens but {len(tags)} tags; give one tag per token")
    return [t.strip() for t in tokens], [t.strip() for t in tags]


# --- CoNLL-U -------------------------------------------------------------------------------------


def read_conllu(text: str, source: str, tag_field: str) -> list[Sentence]:
    """The syntactic words of each sentence and their ``tag_field``.

    As UD specifies, a multi-word token's range line (``1-2 du``) is the surface form and its words
    (``de``, ``le``) carry the tags, so the words are tagged and the range is skipped; empty nodes
    (``8.1``) belong to the enhanced graph, not the sentence, and are skipped too.
    """
    import conllu

    try:
        parsed = conllu.parse(text)
    except Exception as exc:  # the library's ParseException and friends: its message, with the file and line
        number = _first_rejected_line(text)
        where = f"{source}:{number}" if number else source
        raise DataError(f"{where}: not valid CoNLL-U ({str(exc).splitlines()[0][:300]})") from None
    _check_ud_columns(text, source)
    sentences, line = [], 1
    for sentence in parsed:
        words = [w for w in sentence if isinstance(w["id"], int)]
        tokens = [str(w["form"]) for w in words]
        for token in tokens:
            check_token(token, f"{source}: sentence {len(sentences) + 1}")
        if tokens:
            sentences.append(Sentence(tokens, [_field(w, tag_field) for w in words], line))
        line += len(sentence) + len(sentence.metadata) + 1
    return sentences


def _first_rejected_line(text: str) -> int | None:
    """The number of the first word line that the conllu library rejects when it is parsed on its own."""
    import conllu

    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not line.startswith("#"):
            try:
                conllu.parse(line + "\n\n")
            except Exception:
                return number
    return None


def _check_ud_columns(text: str, source: str) -> None:
    """Every word line has UD's ten tab-separated columns (the library would read a short line's fields as _)."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not line.startswith("#") and line.count("\t") != 9:
            raise DataError(
                f"{source}:{number}: {line.count(chr(9)) + 1} tab-separated columns, CoNLL-U has 10 "
                "(ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC)"
            )


def _field(word, name: str) -> str:
    value = word.get(name)
    if value is None:
        return "_"
    if isinstance(value, dict):
        return "|".join(f"{k}={v}" for k, v in sorted(value.items())) or "_"
    return str(value)
