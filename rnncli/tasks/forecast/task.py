"""The forecasting task the trainer runs: random context/horizon windows and the pinball loss.

The last ``horizon`` points of every series are held out for validation (the
rolling origin of docs/forecasting.md); training windows end before them. Windows
are cut once into in-memory tensors and batches are drawn from them with the
task's own generator, whose state is part of the resume state.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from rnncli.core.task import Task
from rnncli.tasks.forecast.model import ForecastConfig, model_inputs, pinball_loss

MAX_WINDOWS = 200_000  # plenty for a global model; keeps memory bounded on long files


class ForecastTask(Task):
    """Windows of ``lookback`` context and ``horizon`` targets from every series, already transformed."""

    def __init__(
        self, arrays: list[np.ndarray], starts: list[int], config: ForecastConfig, *, batch_size: int, seed: int
    ):
        self.config, self.batch_size = config, batch_size
        self.quantiles = torch.tensor(config.quantiles, dtype=torch.float32)
        L, H = config.lookback, config.horizon
        train_ctx, train_pos, train_y, val_ctx, val_pos, val_y = [], [], [], [], [], []
        for values, start in zip(arrays, starts, strict=False):
            series = torch.as_tensor(values, dtype=torch.float32)
            positions = start + torch.arange(len(values))
            n = len(values)
            ends = torch.arange(L, n - 2 * H + 1)  # context ends; targets stop before the held-out part
            if len(ends):
                take = ends.unsqueeze(1) + torch.arange(-L, H)  # (W, L + H)
                train_ctx.append(series[take[:, :L]])
                train_pos.append(positions[take[:, :L]])
                train_y.append(series[take[:, L:]])
            val_ctx.append(series[n - H - L : n - H])
            val_pos.append(positions[n - H - L : n - H])
            val_y.append(series[n - H :])
        self.context, self.positions, self.targets = (torch.cat(t) for t in (train_ctx, train_pos, train_y))
        if len(self.context) > MAX_WINDOWS:
            keep = torch.randperm(len(self.context), generator=torch.Generator().manual_seed(seed))[:MAX_WINDOWS]
            self.context, self.positions, self.targets = self.context[keep], self.positions[keep], self.targets[keep]
        self.val = (torch.stack(val_ctx), torch.stack(val_pos), torch.stack(val_y))
        self.generator = torch.Generator().manual_seed(seed)

    @property
    def windows_per_epoch(self) -> int:
        return max(1, len(self.context) // self.batch_size)

    @property
    def items_per_step(self) -> int:
        """Forecast points predicted per step (the throughput the progress bar shows)."""
        return self.batch_size * self.config.horizon

    @property
    def text_scale(self) -> None:
        """Forecast points are not text: no bits per character or per byte."""
        return None

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, saved: dict[str, Any], device: torch.device) -> None:
        self.generator.set_state(saved["generator"].to("cpu", torch.uint8))

    def train_loss(self, model: nn.Module, device: torch.device) -> torch.Tensor:
        pick = torch.randint(len(self.context), (self.batch_size,), generator=self.generator)
        return self._loss(model, self.context[pick], self.positions[pick], self.targets[pick], device)

    @torch.no_grad()
    def validation_loss(self, model: nn.Module, device: torch.device) -> float:
        return float(self._loss(model, *self.val, device))

    def _loss(self, model: nn.Module, context, positions, targets, device: torch.device) -> torch.Tensor:
        """Pinball loss in each window's own scaled units, averaged over the ensemble members."""
        x, loc, scale = model_inputs(context, positions, self.config.seasons)
        y = (targets - loc) / scale  # (B, H)
        pred = model(x.to(device))  # (E, B, H, Q)
        return pinball_loss(pred, y.to(device), self.quantiles.to(device))
