"""What ``rnn inspect`` shows about a text corpus, gathered in one streaming pass.

The file (or every file of a folder, or stdin) is read in chunks of
``chunk_size`` bytes, so memory stays bounded whatever its size: only
counters are kept, never the text. Problems (invalid UTF-8, control
characters, mixed line endings, a byte-order mark) are reported, not raised.
"""

from __future__ import annotations

import math
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np

from rnncli.core.errors import DataError
from rnncli.tasks.language_model.data.sources import ReadSettings, check_stdin_alone, corpus_files

CHUNK_SIZE = 1 << 20
MAX_CODE_POINT = 0x10FFFF
BOM = b"\xef\xbb\xbf"
# Words for the word-vocabulary estimate: runs of letters/digits/underscore, or
# any single other non-space symbol (so "don't." is: don ' t .).
WORD_PATTERN = r"\w+|[^\w\s]"
_WORDS = re.compile(WORD_PATTERN)
MAX_TRACKED_WORDS = 1_000_000  # beyond this the word count is reported as a lower bound
MAX_LISTED_OFFSETS = 10
ALLOWED_CONTROLS = {"\n", "\t", "\r"}
# Unicode category Cc (C0 and C1 control characters) except tab, line feed and carriage return.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@dataclass
class _Tally:
    """Running counts over the decoded text; nothing here grows with the file size."""

    num_bytes: int = 0
    # Counts per code point; a fixed-size array (8.9 MB), filled by numpy much faster than a Counter.
    code_points: np.ndarray = field(default_factory=lambda: np.zeros(MAX_CODE_POINT + 1, dtype=np.int64))
    byte_counts: np.ndarray = field(default_factory=lambda: np.zeros(256, dtype=np.int64))
    words: Counter = field(default_factory=Counter)
    words_capped: bool = False
    crlf: int = 0
    ended_with_cr: bool = False
    bom_files: int = 0
    invalid_offsets: list[str] = field(default_factory=list)
    invalid_count: int = 0
    first_control_line: int | None = None
    last_char: str = ""
    partial_lines: int = 0
    lines_before: int = 0
    chunks: int = 0


def inspect_text(path: str, *, glob: str | None = None, chunk_size: int = CHUNK_SIZE, top: int = 10) -> dict[str, Any]:
    """Summarise a text file, a folder of text files or ``-`` (stdin) in one streaming pass.

    A folder's files are the ones ``rnn train`` would read with the same ``glob``: hidden files are
    never searched and binary files are left out (and listed among the problems).
    """
    files, skipped = _text_files(path, ReadSettings(glob=glob))
    tally = _Tally()
    for name, handle in _open_each(path, files):
        with handle:
            _tally_file(tally, name, handle, chunk_size=chunk_size, several=len(files) > 1)
    summary = _summarise(tally, source=path, num_files=len(files), top=top)
    summary["problems"] += _skipped_problems(skipped)
    summary["suggested_model"] = None
    if _is_blank(tally):
        # rnn train refuses an empty or whitespace-only text: suggesting a model for it would mislead.
        summary["problems"].append("the text is empty or only whitespace: there is nothing to train on")
        return summary
    # + 1: a char model's vocabulary also holds the unknown token
    suggestion = suggest_model(summary["characters"], summary["vocabulary"]["char"] + 1)
    suggestion["command"] = train_command(path, suggestion, glob=glob)
    summary["suggested_model"] = suggestion
    return summary


def _is_blank(tally: _Tally) -> bool:
    return all(chr(int(c)).isspace() or chr(int(c)) == "\ufeff" for c in np.flatnonzero(tally.code_points))


def _text_files(path: str, settings: ReadSettings) -> tuple[list[str], list[str]]:
    """The files to read, found as ``rnn train`` finds them, and the binary files it would skip."""
    if path == "-":
        check_stdin_alone([path], settings)
        return ["-"], []  # streamed as it comes: inspect reads it once, so it need not be spooled
    files, skipped = corpus_files([path], settings)
    return [str(f) for f in files], skipped


def _skipped_problems(skipped: list[str]) -> list[str]:
    if not skipped:
        return []
    shown = ", ".join(skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
    return [f"{len(skipped)} binary file(s) left out, as rnn train leaves them out: {shown}"]


def _open_each(path: str, files: list[str]) -> Iterator[tuple[str, BinaryIO]]:
    for name in files:
        if name == "-":
            yield "-", _Unclosed(sys.stdin.buffer)
            continue
        try:
            yield name, open(name, "rb")  # noqa: SIM115 (closed by the caller's with)
        except OSError as exc:
            raise DataError(f"{name}: cannot read ({exc.strerror or exc})") from None


class _Unclosed:
    """stdin for a ``with`` block that must not close it."""

    def __init__(self, stream: BinaryIO):
        self.stream = stream

    def __enter__(self) -> BinaryIO:
        return self.stream

    def __exit__(self, *exc: Any) -> None:
        return None

    def read(self, n: int) -> bytes:
        return self.stream.read(n)


def _tally_file(tally: _Tally, name: str, handle: BinaryIO, *, chunk_size: int, several: bool) -> None:
    where = f"{name} " if several else ""
    first, carry = True, ""
    tally.ended_with_cr = False
    for text in _decode_chunks(tally, handle, chunk_size=chunk_size, where=where):
        if first and text:
            first = False
            if text[0] == "\ufeff":
                tally.bom_files += 1
                text = text[1:]
        if text:
            carry = _tally_text(tally, text, carry=carry)
    if carry:
        _count_words(tally, carry)
    if tally.last_char not in ("", "\n", "\r"):
        tally.partial_lines += 1  # a last line without a line break still counts
    tally.last_char = ""


def _decode_chunks(tally: _Tally, handle: BinaryIO, *, chunk_size: int, where: str) -> Iterator[str]:
    """Decode UTF-8 chunk by chunk; record each invalid byte sequence with its offset and go on."""
    pending, start = b"", tally.num_bytes  # ``start``: absolute offset of pending[0]
    while True:
        chunk = handle.read(chunk_size)
        final = not chunk
        tally.chunks += 0 if final else 1
        tally.num_bytes += len(chunk)
        _count_bytes(tally, chunk)
        data, pos = pending + chunk, 0
        while pos < len(data):
            try:
                yield data[pos:].decode("utf-8")
                pos = len(data)
            except UnicodeDecodeError as exc:
                yield data[pos : pos + exc.start].decode("utf-8")
                cut_at_end = exc.end == len(data) - pos and exc.reason == "unexpected end of data"
                if cut_at_end and not final:  # a character split between chunks: finish it next time
                    pos += exc.start
                    break
                tally.invalid_count += 1
                if len(tally.invalid_offsets) < MAX_LISTED_OFFSETS:
                    tally.invalid_offsets.append(f"{where}byte {start + pos + exc.start}")
                pos += exc.end
        pending, start = data[pos:], start + pos
        if final:
            return


def _count_bytes(tally: _Tally, chunk: bytes) -> None:
    if chunk:
        tally.byte_counts += np.bincount(np.frombuffer(chunk, dtype=np.uint8), minlength=256)


def _tally_text(tally: _Tally, text: str, *, carry: str) -> str:
    """Count one decoded piece; return its trailing partial word, to be joined to the next piece."""
    _count_code_points(tally, text)
    if tally.ended_with_cr and text[0] == "\n":
        tally.crlf += 1
    tally.crlf += text.count("\r\n")
    tally.ended_with_cr = text[-1] == "\r"
    tally.last_char = text[-1]
    _find_controls(tally, text)
    tally.lines_before += text.count("\n")
    joined = carry + text
    cut = max(joined.rfind(" "), joined.rfind("\n"))
    if cut < 0 and len(joined) < 10_000:  # no break yet; a very long "word" is counted as it is
        return joined
    _count_words(tally, joined[: cut + 1] if cut >= 0 else joined)
    return joined[cut + 1 :] if cut >= 0 else ""


def _count_code_points(tally: _Tally, text: str) -> None:
    codes = np.frombuffer(text.encode("utf-32-le", errors="surrogatepass"), dtype=np.uint32)
    counts = np.bincount(codes)
    tally.code_points[: len(counts)] += counts


def _count_words(tally: _Tally, text: str) -> None:
    if tally.words_capped:
        return
    tally.words.update(_WORDS.findall(text))
    if len(tally.words) > MAX_TRACKED_WORDS:
        tally.words_capped = True
        tally.words = Counter(dict(tally.words.most_common(1000)))


def _find_controls(tally: _Tally, text: str) -> None:
    if tally.first_control_line is not None:
        return
    found = _CONTROLS.search(text)
    if found:
        tally.first_control_line = tally.lines_before + text.count("\n", 0, found.start()) + 1


def _summarise(tally: _Tally, *, source: str, num_files: int, top: int) -> dict[str, Any]:
    chars = Counter({chr(int(c)): int(tally.code_points[c]) for c in np.flatnonzero(tally.code_points)})
    cr_total, lf_total = chars.get("\r", 0), chars.get("\n", 0)
    lone_cr, lone_lf = cr_total - tally.crlf, lf_total - tally.crlf
    # What ``rnn train`` sees: CRLF becomes LF, so each CRLF pair is one character.
    seen = Counter(chars)
    seen["\r"] -= tally.crlf
    seen = +seen
    num_chars = sum(seen.values())
    controls = {
        _show(c): n for c, n in sorted(chars.items()) if c not in ALLOWED_CONTROLS and unicodedata.category(c) == "Cc"
    }
    line_endings = {"lf": lone_lf, "crlf": tally.crlf, "cr": lone_cr}
    unusual = {
        "bom": tally.bom_files,
        "invalid_utf8": {"count": tally.invalid_count, "offsets": tally.invalid_offsets},
        "control_characters": {
            "count": sum(controls.values()),
            "distinct": controls,
            "first_line": tally.first_control_line,
        },
        "line_endings": {**line_endings, "mixed": sum(1 for n in line_endings.values() if n) > 1},
    }
    return {
        "kind": "text",
        "source": source,
        "files": num_files,
        "bytes": tally.num_bytes,
        "characters": num_chars,
        "lines": lone_lf + tally.crlf + lone_cr + tally.partial_lines,
        "vocabulary": _vocabulary(tally, seen),
        "top_symbols": [
            {"symbol": c, "shown": _show(c), "count": n, "share": n / max(num_chars, 1)}
            for c, n in seen.most_common(top)
        ],
        "top_words": [{"word": w, "count": n} for w, n in tally.words.most_common(top)],
        "entropy_bits_per_char": unigram_entropy(seen.values()),
        "unusual": unusual,
        "problems": _problems(unusual),
        "chunks_read": tally.chunks,
    }


def _vocabulary(tally: _Tally, seen: Counter) -> dict[str, Any]:
    return {
        "char": len(seen),
        "byte": 256,
        "byte_values_used": int(np.count_nonzero(tally.byte_counts)),
        "word": len(tally.words),
        "word_is_lower_bound": tally.words_capped,
        "word_pattern": WORD_PATTERN,
        "bpe": None,
    }


def unigram_entropy(counts: Any) -> float:
    """Bits per symbol of the best model that ignores context: -sum p log2 p."""
    values = [n for n in counts if n > 0]
    total = sum(values)
    if not total:
        return 0.0
    return -sum(n / total * math.log2(n / total) for n in values)


def _problems(unusual: dict[str, Any]) -> list[str]:
    found = []
    bad = unusual["invalid_utf8"]
    if bad["count"]:
        found.append(
            f"{bad['count']} invalid UTF-8 sequence(s), first at {bad['offsets'][0]}; "
            "rnn train refuses the file until it is converted to UTF-8"
        )
    ctrl = unusual["control_characters"]
    if ctrl["count"]:
        names = ", ".join(list(ctrl["distinct"])[:8])
        nul = " (NUL bytes: rnn train refuses binary data)" if "\\x00" in ctrl["distinct"] else ""
        found.append(f"{ctrl['count']} control character(s) ({names}), first on line {ctrl['first_line']}{nul}")
    if unusual["line_endings"]["mixed"]:
        e = unusual["line_endings"]
        found.append(
            f"mixed line endings: {e['lf']} LF, {e['crlf']} CRLF, {e['cr']} lone CR "
            "(rnn train turns CRLF into LF; lone CRs stay characters)"
        )
    if unusual["bom"]:
        found.append("starts with a UTF-8 byte-order mark (rnn train drops it)")
    return found


def _show(char: str) -> str:
    """A symbol as a person can read it: escapes for whitespace and control characters."""
    names = {"\n": "\\n", "\t": "\\t", "\r": "\\r", " ": "space"}
    if char in names:
        return names[char]
    if unicodedata.category(char) in ("Cc", "Cf", "Zs", "Zl", "Zp"):
        return f"\\x{ord(char):02x}" if ord(char) < 256 else f"U+{ord(char):04X}"
    return char


HIDDEN_SIZES = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048)


def suggest_model(num_chars: int, vocab_size: int, *, cell: str = "lstm") -> dict[str, Any]:
    """A model with about as many parameters as the corpus has characters.

    char-rnn's rule of thumb: parameters of the same order as characters of
    text; the smallest width on offer is 16, so a very small text gets more.
    Much fewer underfits, much more overfits without dropout. One layer for
    small corpora, two from 100k characters (deeper helps once the width
    is there). The count comes from the real model builder, on the meta device
    so nothing is allocated.
    """
    import torch

    from rnncli.core.layers import count_parameters
    from rnncli.core.settings import ModelConfig
    from rnncli.tasks.language_model.model import build_model

    num_layers = 1 if num_chars < 100_000 else 2
    target = max(num_chars, 1)
    best: tuple[float, int, int] | None = None
    for hidden_size in HIDDEN_SIZES:
        embed_size = min(ModelConfig.embed_size, hidden_size)  # a tiny model gets a narrower embedding
        config = ModelConfig(
            cell=cell,
            vocab_size=max(vocab_size, 1),
            embed_size=embed_size,
            hidden_size=hidden_size,
            num_layers=num_layers,
        )
        with torch.device("meta"):
            count = count_parameters(build_model(config))
        distance = abs(math.log(count / target))
        if best is None or distance < best[0]:
            best = (distance, hidden_size, count)
    _, hidden_size, count = best
    embed_size = min(ModelConfig.embed_size, hidden_size)
    return {
        "rule": "parameters of the order of the number of characters (char-rnn)",
        "target_parameters": target,
        "cell": cell,
        "hidden_size": hidden_size,
        "num_layers": num_layers,
        "embed_size": embed_size,
        "parameters": count,
        "dropout": 0.2 if num_layers > 1 else 0.0,
    }


def train_command(source: str, suggestion: dict[str, Any], *, glob: str | None = None) -> str:
    """The ``rnn train`` line that trains the suggested model on ``source`` (a folder with the same ``glob``)."""
    parts = ["rnn", "train", _quote(source)]
    if glob is not None:
        parts += ["--glob", _quote(glob)]
    parts += [
        "--cell",
        suggestion["cell"],
        "--hidden-size",
        str(suggestion["hidden_size"]),
        "--num-layers",
        str(suggestion["num_layers"]),
        "--embed-size",
        str(suggestion["embed_size"]),
    ]
    if suggestion["dropout"]:
        parts += ["--dropout", str(suggestion["dropout"])]
    return " ".join(parts)


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)
