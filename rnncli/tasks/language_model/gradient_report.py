"""``rnn grad-flow`` (also ``rnn inspect --grad-flow``) as a library call: options checked, model found, norms measured.

The model is a trained checkpoint, or an untrained one of the shape the
options give; the measuring itself is ``gradient_flow.report``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from rnncli.core.errors import UsageError
from rnncli.core.settings import REFERENCE_ONLY_CELLS, ModelConfig

STEPS_BACK, WINDOWS, SEED = 100, 16, 0
MAX_STEPS_BACK = MAX_WINDOWS = 10_000
UNTRAINED_SHAPE = ("cell", "hidden_size", "num_layers", "embed_size")  # options that describe an untrained model


@dataclass
class GradFlowRequest:
    """Which model to measure (a checkpoint, or the shape of an untrained one) and how (None: the default)."""

    path: str | None = None
    data: str | None = None
    steps_back: int | None = None
    windows: int | None = None
    seed: int | None = None
    impl: str | None = None
    cell: str | None = None
    hidden_size: int | None = None
    num_layers: int | None = None
    embed_size: int | None = None

    @classmethod
    def from_options(cls, options: dict[str, Any], paths: list[str] | None = None) -> GradFlowRequest:
        """From a command's options; ``paths`` are inspect's PATH arguments (one checkpoint at most)."""
        paths = paths or []
        if len(paths) > 1:
            raise UsageError(f"--grad-flow looks at one checkpoint; got {len(paths)} paths")
        known = {f.name for f in fields(cls)} - {"path"}
        request = cls(**{k: v for k, v in options.items() if k in known})
        request.path = paths[0] if paths else options.get("path")
        return request

    def shape_given(self) -> list[str]:
        return [f"--{name.replace('_', '-')}" for name in UNTRAINED_SHAPE if getattr(self, name) is not None]

    def untrained_config(self) -> ModelConfig:
        """Defaults of the settings, the shape options given, and the only implementation gru-textbook has."""
        shape = {name: getattr(self, name) for name in UNTRAINED_SHAPE}
        config = ModelConfig(**{name: value for name, value in shape.items() if value is not None})
        if self.impl is not None:
            config.impl = self.impl
        elif config.cell in REFERENCE_ONLY_CELLS:
            config.impl = "reference"
        return config


def measure_gradient_flow(request: GradFlowRequest) -> dict[str, Any]:
    """The norm of d loss_T / d h_(T-k) for every distance k back, as one JSON-able document."""
    from rnncli.tasks.language_model import gradient_flow
    from rnncli.tasks.language_model.checkpoint import load_checkpoint

    steps_back = STEPS_BACK if request.steps_back is None else request.steps_back
    windows = WINDOWS if request.windows is None else request.windows
    seed = SEED if request.seed is None else request.seed
    _check(request, steps_back=steps_back, windows=windows)
    if request.path is not None:
        ckpt = load_checkpoint(request.path, impl=request.impl)
        ids, source = gradient_flow.checkpoint_text(ckpt, request.data)
        model, checkpoint = ckpt.model, str(ckpt.path)
    else:
        model, ids, source = gradient_flow.untrained_model(request.untrained_config(), request.data, seed=seed)
        checkpoint = None
    result = gradient_flow.report(
        model, ids, source=source, steps_back=steps_back, windows=windows, seed=seed, trained=checkpoint is not None
    )
    result["checkpoint"] = checkpoint
    return result


def _check(request: GradFlowRequest, *, steps_back: int, windows: int) -> None:
    shape = request.shape_given()
    if request.path is not None and shape:
        raise UsageError(f"{shape[0]} describes an untrained model; leave it out when inspecting {request.path}")
    if not 1 <= steps_back <= MAX_STEPS_BACK:
        raise UsageError(f"--steps-back must be a whole number from 1 to {MAX_STEPS_BACK}, got {steps_back}")
    if not 1 <= windows <= MAX_WINDOWS:
        raise UsageError(f"--windows must be a whole number from 1 to {MAX_WINDOWS}, got {windows}")
