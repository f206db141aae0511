"""--precision: fp32, bf16 autocast, or fp16 autocast with a gradient scaler (CUDA only)."""

from __future__ import annotations

import contextlib
import functools
from typing import Any

import torch

from rnncli.core.errors import UsageError


class Precision:
    """Autocast for the forward pass and, for fp16, the loss scaling around backward and step.

    With fp16 an overflowing gradient is routine: the scaler skips that step and
    lowers its scale, so a non-finite gradient is not a divergence (``scaled``).
    """

    def __init__(self, name: str, device: torch.device):
        self.device = device
        self.dtype = _autocast_dtype(name, device)
        self.scaler = torch.amp.GradScaler("cuda") if name == "fp16" else None

    @property
    def scaled(self) -> bool:
        return self.scaler is not None

    def autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def backward(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        """Gradients at their true size (unscaled), ready for clipping."""
        if self.scaler is None:
            loss.backward()
            return
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(optimizer)

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        if self.scaler is None:
            optimizer.step()
            return
        self.scaler.step(optimizer)
        self.scaler.update()

    def state_dict(self) -> dict[str, Any] | None:
        return self.scaler.state_dict() if self.scaler is not None else None

    def load_state_dict(self, saved: dict[str, Any] | None) -> None:
        if self.scaler is not None and saved:
            self.scaler.load_state_dict(saved)


def _autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    if precision == "fp32":
        return None
    if precision == "fp16" and device.type != "cuda":
        raise UsageError(
            f"--precision fp16 needs a CUDA device (this run is on {device.type}); use --precision bf16 or fp32"
        )
    if precision == "bf16" and device.type == "cpu" and not _cpu_runs_bf16_recurrence():
        raise UsageError(
            "--precision bf16: this CPU cannot run PyTorch's recurrent layers in bfloat16 "
            "(its oneDNN kernels need AVX-512 bf16 support); use --precision fp32"
        )
    return torch.bfloat16 if precision == "bf16" else torch.float16


@functools.cache
def _cpu_runs_bf16_recurrence() -> bool:
    """Whether a one-step LSTM runs under CPU bf16 autocast here (it fails on CPUs without AVX-512 bf16)."""
    try:
        with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
            torch.nn.LSTM(2, 2)(torch.zeros(1, 1, 2))
    except RuntimeError:
        return False
    return True
