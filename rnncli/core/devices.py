"""Choosing the device: ``auto`` prefers CUDA, then Apple's MPS, then the CPU."""

from __future__ import annotations

import torch

from rnncli.core.errors import UsageError


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available here; use --device cpu or auto")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UsageError("--device mps: Apple's MPS is not available here; use --device cpu or auto")
    return torch.device(name)
