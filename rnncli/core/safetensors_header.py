"""The header of an untrusted safetensors file: size-checked and parsed before anything trusts it.

A safetensors file starts with eight bytes that give the length of a JSON
header; the header lists the tensors and holds string ``__metadata__``. Both
checkpoints and resume-state files keep one JSON document in that metadata.
Every check on those bytes and documents lives here, so the two files are
validated alike and fail with the same wording.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from rnncli.core.documents import check_regular_file, load_json
from rnncli.core.errors import CheckpointError

MAX_HEADER_BYTES = 64 * 1024 * 1024  # the JSON header of a safetensors file


def read_header(path: Path) -> dict[str, Any]:
    """Parse a safetensors header ourselves, with size limits, before trusting it.

    ``__data_bytes__`` in the result is the number of bytes after the header
    (the tensors' bytes), for checking the byte ranges the header lists.
    """
    size = check_regular_file(path, error=CheckpointError).st_size
    try:
        with open(path, "rb") as handle:
            prefix = handle.read(8)
            if len(prefix) < 8:
                raise CheckpointError(f"{path}: not a safetensors checkpoint (file too short)")
            (header_len,) = struct.unpack("<Q", prefix)
            if header_len > MAX_HEADER_BYTES or 8 + header_len > size:
                raise CheckpointError(f"{path}: not a safetensors checkpoint, or truncated (bad header length)")
            raw = handle.read(header_len)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror or exc})") from None
    header = parse_json_mapping(path, raw, what="the safetensors header")
    header["__data_bytes__"] = size - 8 - header_len
    return header


def read_json_document(path: Path, document: Any, *, what: str, max_chars: int) -> dict[str, Any]:
    """The JSON mapping that a metadata string holds; ``what`` names it in the errors.

    The string comes from an untrusted file: its length is bounded before it is parsed.
    """
    if not isinstance(document, str) or len(document) > max_chars:
        raise CheckpointError(f"{path}: {what} is missing or too large")
    return parse_json_mapping(path, document, what=what)


def parse_json_mapping(path: Path, text: str | bytes, *, what: str) -> dict[str, Any]:
    """``text`` parsed as JSON (bytes must be UTF-8; bounded by ``documents.load_json``), which must be a mapping."""
    value = load_json(text, where=str(path), what=what, error=CheckpointError, max_chars=MAX_HEADER_BYTES)
    if not isinstance(value, dict):
        raise CheckpointError(f"{path}: {what} is corrupted")
    return value
