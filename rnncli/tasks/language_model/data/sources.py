"""Where a corpus comes from: files, folders and stdin, read as text in bounded chunks.

``find_inputs`` turns what the user typed into a list of files (a folder is
searched recursively, hidden entries and binary files left out, each real file read once
however many names it has; ``rnn inspect``
finds its files the same way, with ``corpus_files``);
``TextReader`` decodes them chunk by chunk, as many times as asked (one pass
to fit a tokenizer, one to encode), so no corpus is ever held whole; only the
small texts that eval and --grad-flow score are read whole (``read_corpus``). Line
endings are normalised (CRLF -> LF) and a byte-order mark is dropped.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rnncli.core.documents import check_regular_file
from rnncli.core.errors import DataError, UsageError

CHUNK_BYTES = 4 << 20  # 4 MiB of raw bytes per chunk: big enough for numpy, small next to any corpus
SNIFF_BYTES = 8192  # how much of a file decides whether it is binary (as git and grep do)
ERROR_POLICIES = ("strict", "replace")
# Encodings whose text legitimately holds NUL bytes, so a NUL does not mean binary.
_WIDE_ENCODINGS = ("utf-16", "utf-32")  # as codecs.lookup names them


@dataclass
class ReadSettings:
    """How to read the input files; part of a run's settings (and of the token cache key)."""

    glob: str | None = None
    encoding: str = "utf-8"
    errors: str = "strict"
    flags: bool = True  # the command has --encoding and --errors, so a decoding error may advise them

    def validate(self) -> None:
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise UsageError(
                f"--encoding: unknown encoding '{self.encoding}' (for example utf-8, latin-1, "
                "cp1252, utf-16, shift_jis)"
            ) from None
        if self.errors not in ERROR_POLICIES:
            raise UsageError(f"--errors: unknown value '{self.errors}' (choose one of: {', '.join(ERROR_POLICIES)})")
        if self.glob is not None and not self.glob.strip():
            raise UsageError("--glob needs a pattern, for example '*.py'")

    @classmethod
    def of_run(
        cls, recorded: dict | None, *, encoding: str | None = None, errors: str | None = None, flags: bool = True
    ) -> ReadSettings:
        """How ``eval``, ``sample --prime-file`` and ``grad-flow --data`` read text for a model: as its
        training text was read (the ``text`` section its checkpoint records), unless ``--encoding`` or
        ``--errors`` say otherwise (``flags``: whether the command has them)."""
        recorded = recorded or {}
        settings = cls(
            encoding=encoding or recorded.get("encoding") or cls.encoding,
            errors=errors or recorded.get("errors") or cls.errors,
            flags=flags,
        )
        settings.validate()
        return settings

    @property
    def codec(self) -> str:
        """The codec's canonical name (``utf-8`` for ``UTF8``, ``utf-8-sig`` ...)."""
        return codecs.lookup(self.encoding).name


@dataclass
class Inputs:
    """The files of a corpus, in reading order, and what was left out on the way."""

    files: list[Path]
    source: str  # how to name the corpus in messages and checkpoints
    given: list[str]  # what the user typed, to find the same files again on resume
    skipped: list[str] = field(default_factory=list)  # binary files of a folder, not read
    spooled: Path | None = None  # stdin's copy on disk, removed by ``close``

    def close(self) -> None:
        if self.spooled is not None:
            self.spooled.unlink(missing_ok=True)
            self.spooled = None


def find_inputs(given: list[str], settings: ReadSettings, *, spool_dir: Path | None = None) -> Inputs:
    """The files behind ``given`` (files, folders, or ``-`` for stdin)."""
    if not given:
        raise UsageError("missing DATA: give a text file, a folder, or - for stdin")
    if "-" in given:
        check_stdin_alone(given, settings)
        spooled = spool_stdin(spool_dir)
        return Inputs(files=[spooled], source="-", given=["-"], spooled=spooled)
    files, skipped = corpus_files(given, settings)
    source = given[0] if len(given) == 1 else f"{given[0]} and {len(given) - 1} more"
    return Inputs(files=files, source=source, given=list(given), skipped=skipped)


def check_stdin_alone(given: list[str], settings: ReadSettings) -> None:
    """``-`` (stdin) is the only input when given, and has no folder for ``--glob`` to search."""
    if len(given) > 1:
        raise UsageError("- (stdin) cannot be combined with other inputs; give files or a folder instead")
    if settings.glob is not None:
        raise UsageError("--glob selects files in a folder; it does not apply to stdin")


def corpus_files(given: list[str], settings: ReadSettings) -> tuple[list[Path], list[str]]:
    """The files a corpus of files and folders is read from, in order, and the binary ones left out.

    A file named is read as it is; a folder is searched for its text files (``_folder_files``). Every
    command that reads a corpus from disk (``rnn train``, ``eval``, ``inspect``) finds its files here,
    so that they all see the same ones.
    """
    if settings.glob is not None and not any(Path(g).is_dir() for g in given):
        raise UsageError(f"--glob {settings.glob!r} selects files in a folder; none of the inputs is a folder")
    files: list[Path] = []
    skipped: list[str] = []
    for name in given:
        path = Path(name)
        if not path.exists():
            raise DataError(f"{name}: no such file or folder; check the path")
        if path.is_dir():
            found, binary = _folder_files(path, settings)
            files.extend(found)
            skipped.extend(binary)
        else:
            check_regular_file(path, error=DataError)  # a FIFO or a device would block or never end
            files.append(path)
    return _each_real_file_once(files), skipped


def _each_real_file_once(files: list[Path]) -> list[Path]:
    """The files in order, without a second name for a file already listed (a symlink, or a file given twice).

    A package of texts often holds ``chinese.u8 -> chinese``: read twice, the same text would land in both the
    training and the validation part.
    """
    seen: set[Path] = set()
    kept = []
    for path in files:
        real = path.resolve()
        if real not in seen:
            seen.add(real)
            kept.append(path)
    return kept


def _folder_files(folder: Path, settings: ReadSettings) -> tuple[list[Path], list[str]]:
    """Text files under ``folder`` matching ``--glob``, sorted, and the binary files left out.

    Hidden files and folders (``.git``, ``.venv``) are never searched.
    """
    pattern = settings.glob or "*"
    candidates = sorted(
        f
        for f in folder.rglob(pattern)
        if f.is_file() and not any(part.startswith(".") for part in f.relative_to(folder).parts)
    )
    text, binary = [], []
    for path in candidates:
        (binary if looks_binary(path, settings) else text).append(path)
    if not text:
        what = f"no text files matching --glob {pattern!r}" if settings.glob else "no text files"
        note = f" ({len(binary)} binary files skipped)" if binary else ""
        hint = "; check --glob" if settings.glob else "; give a folder of text files"
        raise DataError(f"{folder}: the folder holds {what}{note}{hint}")
    return text, [str(p) for p in binary]


def looks_binary(path: Path, settings: ReadSettings) -> bool:
    """A NUL byte near the start means binary, unless the encoding is UTF-16/32 (whose text has them)."""
    if settings.codec.startswith(_WIDE_ENCODINGS):
        return False
    try:
        with open(path, "rb") as handle:
            return b"\x00" in handle.read(SNIFF_BYTES)
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None


def spool_stdin(spool_dir: Path | None) -> Path:
    """Copy stdin to a file, so that it can be read twice (fit, then encode) in bounded memory."""
    folder = spool_dir or Path(tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix="stdin-", suffix=".txt", dir=folder)
    with os.fdopen(handle, "wb") as out:
        shutil.copyfileobj(sys.stdin.buffer, out, CHUNK_BYTES)
    return Path(name)


@dataclass
class TextStats:
    """What one full pass over the corpus measured."""

    num_bytes: int = 0  # of the files as they are
    num_chars: int = 0  # of the text as read (line endings normalised)
    num_utf8_bytes: int = 0  # of that text in UTF-8, whatever the files' encoding: what bits per byte count
    sha256: str = ""
    blank: bool = True  # nothing but whitespace so far


class TextReader:
    """Reads the files of ``inputs`` as one text, in chunks; iterate it as many times as needed.

    Files are joined with a newline where one does not already end with one,
    so the last line of a file never runs into the first line of the next.
    """

    def __init__(self, inputs: Inputs, settings: ReadSettings, *, chunk_bytes: int = CHUNK_BYTES):
        self.inputs, self.settings, self.chunk_bytes = inputs, settings, chunk_bytes
        self.stats = TextStats()
        self._sha256: str | None = None  # known once ``fingerprint`` has run: later passes need not hash

    def fingerprint(self) -> str:
        """sha256 of the raw bytes of every file in order (what a checkpoint records as its data)."""
        digest = hashlib.sha256()
        for path in self.inputs.files:
            for block in _raw_blocks(path, self.chunk_bytes):
                digest.update(block)
        self._sha256 = digest.hexdigest()
        return self._sha256

    def chunks(self) -> Iterator[str]:
        """The decoded, normalised text, chunk by chunk; also fills ``stats``."""
        stats = TextStats()
        digest = hashlib.sha256() if self._sha256 is None else None
        ends_with_newline = True
        for path in self.inputs.files:
            if not ends_with_newline:
                stats.num_chars += 1
                stats.num_utf8_bytes += 1
                yield "\n"
            for text in self._file_chunks(path, digest, stats):
                if text:
                    stats.num_chars += len(text)
                    stats.num_utf8_bytes += len(text.encode("utf-8", "surrogateescape"))
                    stats.blank = stats.blank and text.isspace()
                    ends_with_newline = text.endswith("\n")
                    yield text
        stats.sha256 = digest.hexdigest() if digest is not None else self._sha256
        self.stats = stats

    def _file_chunks(self, path: Path, digest, stats: TextStats) -> Iterator[str]:
        name = self._name(path)
        decoder = codecs.getincrementaldecoder(self.settings.codec)(errors=self.settings.errors)
        check_nul = not self.settings.codec.startswith(_WIDE_ENCODINGS)
        offset, held_cr, first = 0, "", True
        for block in _raw_blocks(path, self.chunk_bytes):
            if digest is not None:
                digest.update(block)
            stats.num_bytes += len(block)
            if check_nul and (nul := block.find(b"\x00")) >= 0:
                raise DataError(
                    f"{name}: looks like binary data (a NUL byte at byte offset {offset + nul}); give a text file"
                )
            text = held_cr + self._decode(decoder, block, offset=offset, name=name)
            if first and text:
                # A UTF-8 byte-order mark is not text. Dropped here rather than by utf-8-sig, whose
                # error offsets would not count it.
                text, first = text.removeprefix("\ufeff"), False
            offset += len(block)
            text, held_cr = (text[:-1], "\r") if text.endswith("\r") else (text, "")  # CRLF may straddle chunks
            yield text.replace("\r\n", "\n")
        yield held_cr + self._decode(decoder, b"", offset=offset, name=name, final=True)

    def _decode(self, decoder, block: bytes, *, offset: int, name: str, final: bool = False) -> str:
        pending = len(decoder.getstate()[0])  # bytes of the previous block not yet decoded
        try:
            return decoder.decode(block, final)
        except UnicodeDecodeError as exc:
            at = offset - pending + exc.start
            encoding = "UTF-8" if self.settings.codec.startswith("utf-8") else self.settings.encoding
            advice = (
                "convert the file to UTF-8, give its --encoding, or add --errors replace"
                if self.settings.flags
                else f"convert the file to {encoding}"
            )
            raise DataError(f"{name}: not valid {encoding} at byte offset {at}; {advice}") from None
        except UnicodeError as exc:  # a codec's own complaint, e.g. UTF-16 without a byte-order mark
            advice = "; check --encoding (utf-16-le or utf-16-be name the byte order)" if self.settings.flags else ""
            raise DataError(f"{name}: cannot be read as {self.settings.encoding} ({exc}){advice}") from None

    def _name(self, path: Path) -> str:
        return "-" if self.inputs.spooled is not None else str(path)


def _raw_blocks(path: Path, size: int) -> Iterator[bytes]:
    try:
        with open(path, "rb") as handle:
            while block := handle.read(size):
                yield block
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder; give files or one folder") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None


def read_all(given: list[str] | str, settings: ReadSettings | None = None) -> tuple[str, Inputs, TextStats]:
    """The whole text at once, for the small texts that eval and inspect read."""
    settings = settings or ReadSettings()
    inputs = find_inputs([given] if isinstance(given, str) else given, settings)
    try:
        reader = TextReader(inputs, settings)
        text = "".join(reader.chunks())
    finally:
        inputs.close()
    return text, inputs, reader.stats


@dataclass
class Corpus:
    """A decoded text and where it came from."""

    text: str
    source: str
    sha256: str
    num_bytes: int


def read_corpus(path: str | Path | list[str], settings: ReadSettings | None = None) -> Corpus:
    """Read a text (a file, files, a folder or ``-`` for stdin) whole, for the texts eval and inspect score.

    Training never does this: it tokenises in chunks (``jobs.prepare_text``).
    """
    text, inputs, stats = read_all([str(p) for p in path] if isinstance(path, list) else str(path), settings)
    if stats.blank:
        raise DataError(f"{inputs.source}: the file is empty or only whitespace; give a text file with content")
    return Corpus(text=text, source=inputs.source, sha256=stats.sha256, num_bytes=stats.num_bytes)
