"""The resume state file: everything besides the config that a run needs to continue exactly.

``last.state.safetensors`` sits next to ``last.safetensors``. It is
self-contained: it holds a copy of the weights (``model.*``), the optimizer
tensors (``optim.<param>.<key>``), the random generators (``rng.*``, uint8)
and the task's tensors (``task.r<rank>.<name>``, such as the carried hidden
state), and as JSON metadata the optimizer's settings, the history, Python's
and NumPy's generator state and the task's scalars (such as the stream
position). Because the weights travel with the rest, a crash between writing
``last.safetensors`` and this file can never pair a state with other weights.
Nothing is pickled; the file is validated like a checkpoint before use.
``capture_train_state`` and ``restore_train_state`` are the one place that
knows this layout.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save as safetensors_bytes

from rnncli.core.checkpoint import read_tensors
from rnncli.core.distributed import Distributed
from rnncli.core.errors import CheckpointError, UsageError
from rnncli.core.safetensors_header import read_header, read_json_document

STATE_FILE = "last.state.safetensors"
STATE_FORMAT = "rnncli-train-state"
STATE_VERSION = "1"
MAX_STATE_META_CHARS = 64 * 1024 * 1024


@dataclass
class TrainState:
    """A decoded state file: named CPU tensors and a JSON document."""

    tensors: dict[str, torch.Tensor]
    meta: dict[str, Any]

    def section(self, prefix: str) -> dict[str, torch.Tensor]:
        """The tensors named ``prefix.*``, with the prefix removed."""
        cut = len(prefix) + 1
        return {name[cut:]: t for name, t in self.tensors.items() if name.startswith(prefix + ".")}


# --- optimizer -------------------------------------------------------------


def flatten_optimizer(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Optimizer state as named tensors plus JSON (its param groups and scalar entries)."""
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, entries in state["state"].items():
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{key}"] = value.detach().to("cpu").contiguous().clone()
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    """The inverse of ``flatten_optimizer``: a dict for ``optimizer.load_state_dict``."""
    state: dict[int, dict[str, Any]] = {}
    for name, tensor in tensors.items():
        index, _, key = name.partition(".")
        state.setdefault(int(index), {})[key] = tensor
    for index, entries in meta.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(entries)
    return {"state": state, "param_groups": meta["param_groups"]}


# --- random generators -----------------------------------------------------


def capture_local_rng(device: torch.device) -> dict[str, torch.Tensor]:
    """This process's torch generators (CPU and, where used, the current CUDA device)."""
    rng = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state(device)
    return rng


def restore_local_rng(rng: dict[str, torch.Tensor], device: torch.device) -> None:
    torch.set_rng_state(rng["torch"].to(torch.uint8))
    if device.type == "cuda" and "cuda" in rng:
        torch.cuda.set_rng_state(rng["cuda"].to(torch.uint8), device)


def capture_host_rng() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Python's and NumPy's generators: the big integer arrays as tensors, the rest as JSON."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    tensors = {"python": torch.tensor(internal, dtype=torch.int64), "numpy": torch.from_numpy(keys.astype(np.int64))}
    meta = {"python": [version, gauss], "numpy": [kind, int(pos), int(has_gauss), float(cached)]}
    return tensors, meta


def restore_host_rng(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    version, gauss = meta["python"]
    random.setstate((version, tuple(int(v) for v in tensors["python"].tolist()), gauss))
    kind, pos, has_gauss, cached = meta["numpy"]
    np.random.set_state((kind, tensors["numpy"].numpy().astype(np.uint32), pos, has_gauss, cached))


# --- the whole state ------------------------------------------------------------


def capture_train_state(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    task_state: dict[str, Any],
    *,
    device: torch.device,
    dist: Distributed,
    meta: dict[str, Any],
) -> TrainState:
    """Everything resuming needs besides the config, gathered from every rank.

    A collective: every rank calls it at the same point and rank 0 writes the
    result. ``task_state`` is the task's ``state_dict()``: its tensors are kept
    per rank, its scalars as JSON. ``meta`` is the trainer's own JSON (history, ...).
    """
    tensors = {
        f"model.{k}": v.detach().to("cpu", torch.float32).contiguous().clone() for k, v in model.state_dict().items()
    }
    optim_tensors, optim_meta = flatten_optimizer(optimizer)
    tensors.update({f"optim.{k}": v for k, v in optim_tensors.items()})
    task_scalars: dict[str, Any] = {}
    for name, value in task_state.items():
        if isinstance(value, torch.Tensor):
            for rank, part in enumerate(dist.gather(value)):
                tensors[f"task.r{rank}.{name}"] = part.contiguous()
        else:
            task_scalars[name] = value
    for name, value in capture_local_rng(device).items():
        for rank, part in enumerate(dist.gather(value)):
            tensors[f"rng.r{rank}.{name}"] = part
    host_tensors, host_meta = capture_host_rng()
    tensors.update({f"host.{k}": v for k, v in host_tensors.items()})
    return TrainState(
        tensors,
        {**meta, "optimizer": optim_meta, "task": task_scalars, "host_rng": host_meta, "world_size": dist.world_size},
    )


def restore_train_state(
    state: TrainState,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    *,
    device: torch.device,
    dist: Distributed,
) -> dict[str, Any]:
    """Weights, optimizer and generators back from ``state``; returns this rank's task state.

    A state whose parts do not fit raises KeyError, ValueError, TypeError or RuntimeError.
    """
    saved_world = state.meta.get("world_size", 1)
    if saved_world != dist.world_size:
        raise UsageError(
            f"this run was trained with {saved_world} process(es); resume it with the same "
            f"number (now {dist.world_size}) so that every stream continues exactly"
        )
    model.load_state_dict(state.section("model"))
    optimizer.load_state_dict(unflatten_optimizer(state.section("optim"), state.meta["optimizer"]))
    rank = f"r{dist.rank}"
    task_state = {**state.meta["task"], **state.section(f"task.{rank}")}
    restore_local_rng(state.section(f"rng.{rank}"), device)
    restore_host_rng(state.section("host"), state.meta["host_rng"])
    return task_state


# --- the file ----------------------------------------------------------------


def encode_train_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> bytes:
    """The bytes of a state file: the tensors, and the JSON document as its metadata."""
    metadata = {"format": STATE_FORMAT, "format_version": STATE_VERSION, "state": json.dumps(meta, sort_keys=True)}
    return safetensors_bytes({k: v.contiguous() for k, v in tensors.items()}, metadata=metadata)


def read_state_meta(path: Path) -> dict[str, Any]:
    """The JSON document of a state file, without reading its tensors."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"{path}: no resume state here; only runs trained by this version "
            "of rnn can be resumed (the weights alone can be sampled)"
        )
    metadata = read_header(path).get("__metadata__")
    if not isinstance(metadata, dict) or metadata.get("format") != STATE_FORMAT:
        raise CheckpointError(f"{path}: not an rnncli training state file")
    if metadata.get("format_version") != STATE_VERSION:
        raise CheckpointError(
            f"{path}: training state version {metadata.get('format_version')!r} "
            f"is not readable (readable: {STATE_VERSION}); upgrade rnncli"
        )
    return read_json_document(
        path, metadata.get("state"), what="the training state metadata", max_chars=MAX_STATE_META_CHARS
    )


def load_train_state(path: Path) -> TrainState:
    """Read and check a state file; every failure is a ``CheckpointError``."""
    meta = read_state_meta(path)
    return TrainState(tensors=read_tensors(path, what="training state"), meta=meta)
