"""The safetensors checkpoint file, whatever the task: atomic saves and validated reads.

A checkpoint is one ``.safetensors`` file. Its string metadata holds
``format`` (always ``"rnncli"``), ``format_version`` and ``rnncli``: one JSON
document with the task, model config, tokenizer, training settings, history,
data fingerprint and versions. Nothing is ever unpickled: a checkpoint is
untrusted input, so its header and metadata are size-checked and validated
before any tensor is allocated from them.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_bytes

import rnncli
from rnncli.core import run_journal
from rnncli.core.documents import validate
from rnncli.core.errors import CheckpointError
from rnncli.core.files import atomic_write_bytes as atomic_write_bytes  # where callers look for it
from rnncli.core.safetensors_header import MAX_HEADER_BYTES as MAX_HEADER_BYTES  # where callers look for it
from rnncli.core.safetensors_header import read_header, read_json_document
from rnncli.core.schemas import CheckpointDoc

FORMAT_NAME = "rnncli"
FORMAT_VERSION = 1
READABLE_VERSIONS = (1,)
MODEL_FILE = "model.safetensors"
LAST_FILE = "last.safetensors"

MAX_METADATA_CHARS = 32 * 1024 * 1024  # our JSON document inside it
MAX_PARAMETERS = 2_000_000_000


def encode_checkpoint(model: torch.nn.Module, meta: dict[str, Any]) -> bytes:
    """Serialise weights (CPU, float32, contiguous) and metadata to bytes."""
    tensors = {name: t.detach().to("cpu", torch.float32).contiguous().clone() for name, t in model.state_dict().items()}
    metadata = {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "rnncli": json.dumps(meta, sort_keys=True),
    }
    return safetensors_bytes(tensors, metadata=metadata)


def save_checkpoint(path: Path, model: torch.nn.Module, meta: dict[str, Any]) -> None:
    atomic_write_bytes(Path(path), encode_checkpoint(model, meta))


def resolve_checkpoint_path(path: str | Path) -> Path:
    """Accept a run folder (its best model) or a ``.safetensors`` file."""
    path = Path(path)
    if path.is_dir():
        for name in (MODEL_FILE, LAST_FILE):
            found = run_journal.existing(path, name)  # a save a killed process committed but did not finish
            if found is not None:
                return found
        raise CheckpointError(f"{path}: no {MODEL_FILE} in this folder; give a run folder or a .safetensors file")
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint; give a run folder or a .safetensors file")
    return path


def read_meta(path: Path) -> dict[str, Any]:
    """The rnncli metadata document of a checkpoint file, validated for format."""
    header = read_header(path)
    metadata = header.get("__metadata__")
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise CheckpointError(f"{path}: a safetensors file, but not an rnncli checkpoint (no rnncli metadata)")
    version = metadata.get("format_version")
    readable = ", ".join(str(v) for v in READABLE_VERSIONS)
    if not isinstance(version, str) or not version.isdigit() or int(version) not in READABLE_VERSIONS:
        raise CheckpointError(
            f"{path}: checkpoint format version {version!r} is not readable "
            f"by rnncli (readable versions: {readable}); upgrade rnncli"
        )
    meta = read_json_document(path, metadata.get("rnncli"), what="the rnncli metadata", max_chars=MAX_METADATA_CHARS)
    validate(CheckpointDoc, meta, where=f"{path}: the rnncli metadata", error=CheckpointError)
    meta["_data_bytes"] = header.pop("__data_bytes__")
    meta["_tensors"] = {k: v for k, v in header.items() if k != "__metadata__"}
    return meta


def check_byte_ranges(path: Path, listed: dict[str, Any], data_bytes: int) -> None:
    """Every tensor's bytes lie inside the file, four per float, and the last one ends the file."""
    end_of_data = 0
    for name, info in listed.items():
        offsets = info.get("data_offsets")
        ok = (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(type(o) is int for o in offsets)
            and 0 <= offsets[0] <= offsets[1]
            and offsets[1] - offsets[0] == 4 * numel(tuple(info["shape"]))
        )
        if not ok:
            raise CheckpointError(f"{path}: tensor '{name}' has a corrupted byte range in the header")
        end_of_data = max(end_of_data, offsets[1])
    if end_of_data != data_bytes:
        state = "truncated" if end_of_data > data_bytes else "followed by unexpected bytes"
        raise CheckpointError(
            f"{path}: the file is {state} ({data_bytes:,} bytes of tensor data, "
            f"the header lists {end_of_data:,}); the checkpoint is damaged"
        )


def numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def check_tensor_table(path: Path, listed: dict[str, Any], expected: dict[str, tuple]) -> None:
    names = set(listed)
    missing, extra = sorted(expected.keys() - names), sorted(names - expected.keys())
    if missing or extra:
        raise CheckpointError(
            f"{path}: tensors do not match the model config "
            f"(missing: {', '.join(missing) or 'none'}; unexpected: {', '.join(extra) or 'none'})"
        )
    for name, shape in expected.items():
        info = listed[name]
        got = tuple(info.get("shape", ())) if isinstance(info, dict) else None
        if got != shape:
            raise CheckpointError(f"{path}: tensor '{name}' has shape {got}, but the config implies {shape}")
        if info.get("dtype") != "F32":
            raise CheckpointError(f"{path}: tensor '{name}' is {info.get('dtype')}, expected F32")


def read_tensors(path: Path, *, what: str = "checkpoint") -> dict[str, torch.Tensor]:
    """Every tensor of a safetensors file (a checkpoint, or a run's training state), none of them non-finite."""
    tensors: dict[str, torch.Tensor] = {}
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            for name in handle.keys():  # noqa: SIM118 (safe_open is not iterable)
                tensors[name] = handle.get_tensor(name)
    except Exception as exc:  # the library raises its own error types for damaged files
        raise CheckpointError(f"{path}: damaged {what} ({_first_line(exc)})") from None
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise CheckpointError(f"{path}: tensor '{name}' holds NaN or infinite values; the {what} is unusable")
    return tensors


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def check_tensors_match(path: Path, meta: dict[str, Any], build: Callable[[], torch.nn.Module]) -> None:
    """The file's tensor table matches the model ``build`` makes, and its byte ranges tile the file.

    ``build`` runs on the meta device, so nothing is allocated from the
    metadata; pops ``_tensors`` and ``_data_bytes`` from ``read_meta``'s result.
    """
    listed, data_bytes = meta.pop("_tensors"), meta.pop("_data_bytes")
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in build().state_dict().items()}
    if sum(numel(s) for s in expected.values()) > MAX_PARAMETERS:
        raise CheckpointError(f"{path}: the model config describes an implausibly large model")
    check_tensor_table(path, listed, expected)
    check_byte_ranges(path, listed, data_bytes)


def versions() -> dict[str, str]:
    """What wrote a checkpoint, recorded in its metadata."""
    return {"rnncli": rnncli.__version__, "torch": torch.__version__, "python": platform.python_version()}
