"""Token files: a corpus tokenised once into a flat array on disk, memory-mapped for training.

A token file holds the ids of a whole corpus as little-endian uint8, uint16
or uint32 (the smallest that fits the vocabulary) next to a small JSON file
with the tokenizer and the corpus statistics. They live in a cache keyed by
the content's sha256 and the reading and tokenizer settings, so a second run
on the same data skips tokenisation. Training reads the array through a
memory map: the operating system pages it in and out, so a corpus larger
than memory trains in bounded memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnncli.core.errors import RuntimeFailure
from rnncli.core.tokenizers import Tokenizer, tokenizer_from_dict

FORMAT = 2  # bump when the ids or statistics for the same settings change, so old files are not reused
CACHE_ENV = "RNN_CACHE_DIR"
MAX_SIDECAR_BYTES = 64 << 20  # a BPE tokenizer's JSON is the biggest part


def cache_root() -> Path:
    """``$RNN_CACHE_DIR``, else ``$XDG_CACHE_HOME/rnncli``, else ``~/.cache/rnncli``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rnncli"


def token_dtype(vocab_size: int) -> np.dtype:
    """The smallest unsigned type that holds every id."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if vocab_size <= np.iinfo(dtype).max + 1:
            return np.dtype(dtype).newbyteorder("<")
    raise ValueError(f"a vocabulary of {vocab_size} does not fit 32-bit ids")


def cache_key(parts: dict[str, Any]) -> str:
    """A stable name for the token file of ``parts`` (fingerprint and settings, JSON-able)."""
    text = json.dumps({"format": FORMAT, **parts}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass
class TokenFile:
    """A corpus as token ids: ``ids`` is a read-only view of the memory-mapped file."""

    ids: torch.Tensor
    tokenizer: Tokenizer
    stats: dict[str, Any]  # num_bytes, num_chars, num_tokens, sha256
    path: Path
    reused: bool  # found in the cache rather than tokenised now


class TokenCache:
    """The folder of token files. An unreadable or damaged entry is treated as missing."""

    def __init__(self, root: Path | None = None):
        self.root = (root or cache_root()) / "tokens"

    def paths(self, key: str) -> tuple[Path, Path]:
        return self.root / f"{key}.tokens", self.root / f"{key}.json"

    def load(self, key: str) -> TokenFile | None:
        tokens_path, meta_path = self.paths(key)
        try:
            if meta_path.stat().st_size > MAX_SIDECAR_BYTES:
                return None
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            tokenizer = tokenizer_from_dict(meta["tokenizer"])
            dtype = token_dtype(tokenizer.vocab_size)
            count = int(meta["stats"]["num_tokens"])
            if tokens_path.stat().st_size != count * dtype.itemsize or count <= 0:
                return None
            if _largest_id(tokens_path, dtype) >= tokenizer.vocab_size:  # guards the embedding lookup
                return None
            ids = _map(tokens_path, dtype, count)
        except Exception:  # noqa: BLE001 - a damaged or foreign entry is rebuilt, whatever is wrong with it
            return None
        return TokenFile(ids=ids, tokenizer=tokenizer, stats=meta["stats"], path=tokens_path, reused=True)

    def write(
        self, key: str, tokenizer: Tokenizer, chunks: Iterable[str], stats: Callable[[int], dict[str, Any]]
    ) -> TokenFile:
        """Encode ``chunks`` into the token file of ``key``, atomically; ``stats(n)`` gives the sidecar's stats.

        Falls back to a private temporary folder when the cache folder cannot be written.
        """
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.root):  # can we write here at all?
                pass
        except OSError:  # a read-only home or cache folder: the run still works, without reuse
            folder = Path(tempfile.mkdtemp(prefix="rnncli-"))
            try:
                fallback = TokenCache(folder)
                fallback.root.mkdir(parents=True, exist_ok=True)
                return fallback._write_or_fail(key, tokenizer, chunks, stats)
            finally:
                shutil.rmtree(folder, ignore_errors=True)  # the memory map keeps the file's data alive
        return self._write_or_fail(key, tokenizer, chunks, stats)

    def _write_or_fail(
        self, key: str, tokenizer: Tokenizer, chunks: Iterable[str], stats: Callable[[int], dict[str, Any]]
    ) -> TokenFile:
        try:
            return self._write(self.root, key, tokenizer, chunks, stats)
        except OSError as exc:  # a full disk, typically; the partial file is already removed
            raise RuntimeFailure(
                f"{self.root}: could not write the token file ({exc.strerror or exc}); "
                f"free some space or point {CACHE_ENV} at another folder"
            ) from None

    def _write(
        self,
        folder: Path,
        key: str,
        tokenizer: Tokenizer,
        chunks: Iterable[str],
        stats: Callable[[int], dict[str, Any]],
    ) -> TokenFile:
        tokens_path, meta_path = self.paths(key)
        dtype = token_dtype(tokenizer.vocab_size)
        handle, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=folder)
        count = unknown = 0
        try:
            with os.fdopen(handle, "wb") as out:
                for chunk in chunks:
                    ids = tokenizer.encode_array(chunk)
                    out.write(np.ascontiguousarray(ids, dtype=dtype).tobytes())
                    count += len(ids)
                    if tokenizer.unknown_id is not None:
                        unknown += int(np.count_nonzero(ids == tokenizer.unknown_id))
                out.flush()
                os.fsync(out.fileno())
            summary = {**stats(count), "num_tokens": count, "num_unknown": unknown}  # stats may refuse the text
            os.replace(tmp, tokens_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _write_json(meta_path, {"format": FORMAT, "tokenizer": tokenizer.to_dict(), "stats": summary})
        ids = _map(tokens_path, dtype, count) if count else torch.zeros(0, dtype=torch.long)
        return TokenFile(ids=ids, tokenizer=tokenizer, stats=summary, path=tokens_path, reused=False)


def _largest_id(path: Path, dtype: np.dtype, *, block: int = 1 << 26) -> int:
    """The largest id in a token file, read in blocks rather than mapped, so the check adds
    no resident memory however big the file."""
    largest = 0
    with open(path, "rb") as handle:
        while data := handle.read(block):
            largest = max(largest, int(np.frombuffer(data, dtype=dtype).max()))
    return largest


def _map(path: Path, dtype: np.dtype, count: int) -> torch.Tensor:
    # mode "c" (copy-on-write) gives a writable array, which torch.from_numpy accepts without a
    # warning; nothing ever writes to it, so no page is ever copied.
    return torch.from_numpy(np.memmap(path, dtype=dtype, mode="c", shape=(count,)))


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)
