"""The run folder: config.yaml, checkpoints, resume state, step files, metrics.jsonl and TensorBoard.

``config.yaml`` holds the resolved settings; at each validation come
``last.safetensors`` and its resume state ``last.state.safetensors``,
``model.safetensors`` when the validation loss is the best so far, a step
file ``step-NNNNNNNN.safetensors`` with ``--keep``, one line of
``metrics.jsonl`` and, with ``--tensorboard``, scalars under ``tensorboard/``.
With several processes only rank 0 writes; the others hold a writer that is
not ``enabled`` and does nothing, so the trainer calls it the same way on
every rank.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch
import yaml

from rnncli.core.checkpoint import LAST_FILE, MODEL_FILE, atomic_write_bytes, encode_checkpoint
from rnncli.core.errors import UsageError
from rnncli.core.resume_state import STATE_FILE, TrainState, save_train_state

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.jsonl"
STEP_FILE = "step-{step:08d}.safetensors"
BOARD_SCALARS = ("train_loss", "val_loss", "val_bpc", "lr", "grad_norm", "tokens_per_s")


class RunWriter:
    """Writes one run folder; ``keep`` step files are kept besides the best one (0: none)."""

    def __init__(self, folder: Path, *, keep: int, tensorboard: bool, enabled: bool = True):
        self.folder, self.keep, self.tensorboard, self.enabled = Path(folder), keep, tensorboard, enabled
        self.board = None

    def open(self, config: dict[str, Any]) -> None:
        """Create the folder, clear what a killed process left, write the resolved settings."""
        if not self.enabled:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        for path in self.folder.glob(".*.safetensors.*.tmp"):  # a process killed mid-write; the real files are intact
            path.unlink(missing_ok=True)
        text = yaml.safe_dump(config, sort_keys=False)
        atomic_write_bytes(self.folder / CONFIG_FILE, text.encode("utf-8"))
        self.board = _open_tensorboard(self.folder) if self.tensorboard else None

    def close(self) -> None:
        if self.board is not None:
            self.board.close()
            self.board = None

    def save(
        self,
        model: torch.nn.Module,
        meta: dict[str, Any],
        state: TrainState,
        *,
        step: int,
        best_step: int | None,
        improved: bool,
    ) -> list[str]:
        """last, its state, the best model and a step file; the order keeps every pair consistent.

        Returns the names of the files written (none on a rank that does not write).
        """
        if not self.enabled:
            return []
        payload = encode_checkpoint(model, meta)
        atomic_write_bytes(self.folder / LAST_FILE, payload)
        save_train_state(self.folder / STATE_FILE, state.tensors, state.meta)
        saved = [LAST_FILE]
        if improved:
            atomic_write_bytes(self.folder / MODEL_FILE, payload)
            saved.append(MODEL_FILE)
        if self.keep > 0:
            name = STEP_FILE.format(step=step)
            atomic_write_bytes(self.folder / name, payload)
            saved.append(name)
            self._prune_step_files(best_step)
        return saved

    def log(self, record: dict[str, Any]) -> None:
        """One evaluation: a line of metrics.jsonl and, with --tensorboard, its scalars."""
        if not self.enabled:
            return
        with open(self.folder / METRICS_FILE, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        if self.board is not None:
            for key in BOARD_SCALARS:
                if record[key] is not None:
                    self.board.add_scalar(key, record[key], record["step"])
            self.board.flush()

    def _prune_step_files(self, best_step: int | None) -> None:
        """Keep the newest ``keep`` step files, and always the best step's."""
        steps = sorted(
            int(m.group(1)) for p in self.folder.iterdir() if (m := re.fullmatch(r"step-(\d+)\.safetensors", p.name))
        )
        keep = set(steps[-self.keep :]) | {best_step}
        for step in steps:
            if step not in keep:
                (self.folder / STEP_FILE.format(step=step)).unlink(missing_ok=True)


def _open_tensorboard(folder: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise UsageError("--tensorboard needs the tensorboard package: pip install tensorboard") from None
    return SummaryWriter(log_dir=str(folder / "tensorboard"))
