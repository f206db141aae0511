"""The forecaster: a recurrent encoder over a context window and a direct multi-horizon quantile head.

Each window is scaled by statistics of its own context (DeepAR, ES-RNN), so
one global model serves series of any magnitude. The head emits every step of
the horizon at once (MQ-RNN) for every quantile; quantiles are the median plus
or minus cumulative softplus offsets, so they cannot cross. A linear map from
the scaled context to the horizon runs beside the encoder: it can express the
seasonal naive and drift forecasts exactly, so the network only has to learn
what those miss (the idea behind DLinear and N-BEATS' linear basis).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from rnncli.core.layers import build_fused
from rnncli.tasks.forecast.config import ForecastConfig, median_index

MIN_SCALE = 1e-6


class _Member(nn.Module):
    """One forecaster: encoder + head + linear context skip, all in scaled units."""

    def __init__(self, config: ForecastConfig):
        super().__init__()
        self.config = config
        q, h = len(config.quantiles), config.horizon
        self.rnn = build_fused(config, config.num_features)
        self.head = nn.Sequential(
            nn.Linear(config.hidden_size, config.hidden_size), nn.ReLU(), nn.Linear(config.hidden_size, h * q)
        )
        self.skip = nn.Linear(config.lookback, h)
        self.anchor = median_index(config.quantiles)  # the others are offsets from it

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, F) scaled context -> (B, H, Q) scaled quantiles, increasing along Q."""
        out, _ = self.rnn(x[:, -self.config.encoder_steps :])  # (B, T, H_rnn)
        raw = self.head(out[:, -1]).view(x.shape[0], self.config.horizon, -1)  # (B, H, Q)
        centre = raw[..., self.anchor] + self.skip(x[..., 0])  # (B, H)
        return _monotone(centre, raw, self.anchor)


def _monotone(centre: torch.Tensor, raw: torch.Tensor, anchor: int) -> torch.Tensor:
    """Quantiles that cannot cross: the centre plus (minus) cumulative positive gaps."""
    gaps = F.softplus(raw) + 1e-4  # (B, H, Q)
    above = centre.unsqueeze(-1) + torch.cumsum(gaps[..., anchor + 1 :], dim=-1)
    below = centre.unsqueeze(-1) - torch.flip(torch.cumsum(torch.flip(gaps[..., :anchor], [-1]), -1), [-1])
    return torch.cat([below, centre.unsqueeze(-1), above], dim=-1)


class ForecastModel(nn.Module):
    """``ensemble`` members trained side by side; ``forward`` returns each member's quantiles."""

    def __init__(self, config: ForecastConfig):
        super().__init__()
        self.config = config
        self.members = nn.ModuleList(_Member(config) for _ in range(config.ensemble))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, F) -> (E, B, H, Q)."""
        return torch.stack([member(x) for member in self.members])

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """The ensemble's median of each quantile, re-sorted: (B, H, Q)."""
        return torch.sort(self(x).median(dim=0).values, dim=-1).values


def pinball_loss(pred: torch.Tensor, target: torch.Tensor, quantiles: torch.Tensor) -> torch.Tensor:
    """Mean quantile (pinball) loss; ``pred`` (..., H, Q), ``target`` (..., H)."""
    diff = target.unsqueeze(-1) - pred  # (..., H, Q)
    return torch.maximum(quantiles * diff, (quantiles - 1) * diff).mean()


# --- scaling and features ------------------------------------------------------------------


def apply_scaling(values: np.ndarray, scaling: str) -> np.ndarray:
    """The series as the model reads it: its log for ``--scaling log``, log(1 + x) for ``log1p`` (counts with
    zeros); each window is standardised later, by ``model_inputs``."""
    if scaling == "log":
        return np.log(values)
    return np.log1p(values) if scaling == "log1p" else values


def undo_scaling(values: np.ndarray, scaling: str) -> np.ndarray:
    """``apply_scaling`` undone, without overflow."""
    if scaling == "log":
        return np.exp(np.clip(values, -700, 700))
    return np.expm1(np.clip(values, -700, 700)) if scaling == "log1p" else values


def context_stats(context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Location and scale of each window from its own context: (B, L) -> (B, 1), (B, 1)."""
    loc = context.mean(dim=1, keepdim=True)
    scale = context.std(dim=1, keepdim=True, unbiased=False)
    floor = MIN_SCALE * (1 + loc.abs())
    return loc, torch.maximum(scale, floor)


def season_features(positions: torch.Tensor, season: int) -> torch.Tensor:
    """sin and cos of the position within the season: (...,) -> (..., 2); zeros without a season."""
    if season <= 1:
        return torch.zeros(*positions.shape, 2)
    angle = 2 * math.pi * (positions % season).to(torch.float32) / season
    return torch.stack([torch.sin(angle), torch.cos(angle)], dim=-1)


def model_inputs(context: torch.Tensor, positions: torch.Tensor, seasons: list[int]):
    """Scaled inputs (B, L, F) and the (loc, scale) that undo the scaling; F = 1 + 2 per season."""
    loc, scale = context_stats(context)
    scaled = (context - loc) / scale  # (B, L)
    features = [season_features(positions, season) for season in seasons]
    return torch.cat([scaled.unsqueeze(-1), *features], dim=-1), loc, scale


def step_index(start, freq: str) -> int:
    """The number of ``freq`` steps from a fixed origin to ``start``: the same date gets the
    same season position in every series, in training and in forecasting."""
    if freq.startswith("step:"):
        return int(start) // int(freq[5:])
    offset = pd.tseries.frequencies.to_offset(freq)
    stamp = pd.Timestamp(start)
    months = stamp.year * 12 + stamp.month - 1
    name = type(offset).__name__
    n = max(getattr(offset, "n", 1), 1)
    if "Month" in name:
        return months // n
    if "Quarter" in name:
        return months // (3 * n)
    if "Year" in name:
        return stamp.year // n
    if "Week" in name:
        return (stamp - pd.Timestamp(0)).days // (7 * n)
    nanos = getattr(offset, "nanos", None)
    if nanos:
        return int(stamp.as_unit("ns").value // nanos)
    return 0


def check_training_fits(config: ForecastConfig, *, batch_size: int) -> None:
    """The forecaster (every ensemble member), its optimizer and a batch of windows fit in memory."""
    from rnncli.core.memory import check_batch_fits, check_model_fits, floats_per_token

    params = check_model_fits(lambda: ForecastModel(config), flag="--hidden-size")
    steps = config.encoder_steps + config.horizon
    per_step = floats_per_token(embed=config.lookback + 8, hidden=config.hidden_size, layers=config.num_layers)
    check_batch_fits(
        params,
        floats=config.ensemble * batch_size * steps * per_step,
        flag="--hidden-size with --batch-size",
        what=f"training on {batch_size:,} windows of {steps:,} steps",
    )
