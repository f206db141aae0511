"""Memory estimates before allocation: a model, its training batch, a beam or a batch of samples must fit.

The limit is ``RNN_MAX_MEMORY`` (bytes, or with a K/M/G/T suffix) when set, else the
machine's available memory (``MemAvailable`` in /proc/meminfo); where neither is
known nothing is refused. Estimates are deliberately rough (within a factor of
two): they exist to refuse a request that cannot fit (``--hidden-size 65536``
asks for about 70 GB) with a message, instead of an allocation failure or a
machine that swaps until the process is killed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

import torch

from rnncli.core.errors import UsageError

FLOAT_BYTES = 4
# Weights, gradients and AdamW's two moments: four floats per parameter while training.
TRAINING_COPIES = 4
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def memory_limit() -> int | None:
    """Bytes a request may use: ``RNN_MAX_MEMORY``, else MemAvailable, else None (unknown)."""
    given = os.environ.get("RNN_MAX_MEMORY", "").strip()
    if given:
        match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?", given, flags=re.IGNORECASE)
        if match is None:
            raise UsageError(f"RNN_MAX_MEMORY: cannot read {given!r}; write bytes, or e.g. 512M or 8G")
        return int(float(match.group(1)) * _UNITS[match.group(2).upper()])
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def human(num_bytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if num_bytes < 1024 or unit == "TB":
            return f"{num_bytes:,.0f} {unit}" if unit == "B" else f"{num_bytes:,.1f} {unit}"
        num_bytes /= 1024
    return f"{num_bytes:.1f} TB"


def check_fits(estimate: float, *, flag: str, what: str, advice: str = "use a smaller value") -> None:
    """Refuse, naming ``flag``, a request whose estimate exceeds the memory limit."""
    limit = memory_limit()
    if limit is not None and estimate > limit:
        source = "RNN_MAX_MEMORY" if os.environ.get("RNN_MAX_MEMORY", "").strip() else "available memory"
        raise UsageError(
            f"{flag}: {what} needs about {human(estimate)} of memory, more than the {human(limit)} of {source}; "
            f"{advice}"
        )


def parameter_count(build: Callable[[], torch.nn.Module]) -> int:
    """The parameters ``build`` would make, counted on the meta device (nothing is allocated)."""
    with torch.device("meta"):
        return sum(p.numel() for p in build().parameters())


def floats_per_token(
    *, embed: int, hidden: int, layers: int, directions: int = 1, outputs: int = 0, training: bool = True
) -> int:
    """Floats one token of a batch keeps in a pass through a recurrent model.

    Training keeps, for the backward pass, its embedding three times (the values, their gradient and the
    first layer's gradient for its input), each layer's gates (4 wide for an LSTM) and outputs, and an
    output layer of ``outputs`` values twice (the values and their softmax). Without
    gradients a layer's gates are dropped once it is done: the embedding, every layer's outputs, one
    layer's gates and the outputs.
    """
    if training:
        return 3 * embed + layers * directions * 6 * hidden + 2 * outputs
    return embed + (layers + 4) * directions * hidden + outputs


def check_model_fits(build: Callable[[], torch.nn.Module], *, flag: str) -> int:
    """Refuse a model whose weights alone cannot fit (``flag`` names its widest size); its parameter count."""
    params = parameter_count(build)
    check_fits(params * FLOAT_BYTES, flag=flag, what=f"a model of {params:,} parameters")
    return params


def check_batch_fits(
    params: int, *, floats: float, flag: str, what: str, training: bool = True, advice: str = "use a smaller value"
) -> None:
    """Refuse a batch of ``floats`` activations beside a model of ``params`` (with its optimizer when training)."""
    copies = TRAINING_COPIES if training else 1
    check_fits((params * copies + floats) * FLOAT_BYTES, flag=flag, what=what, advice=advice)


def widest_flag(*, embed: int, hidden: int) -> str:
    """The size flag to name when a model is too big: the wider of --embed-size and --hidden-size."""
    return "--embed-size" if embed > hidden else "--hidden-size"
