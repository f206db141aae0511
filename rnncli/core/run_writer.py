"""The run folder: config.yaml, checkpoints, resume state, step files, metrics.jsonl and TensorBoard.

``config.yaml`` holds the resolved settings; at each validation come
``last.safetensors`` and its resume state ``last.state.safetensors``,
``model.safetensors`` when the validation loss is the best so far, a step
file ``step-NNNNNNNN.safetensors`` with ``--keep``, one line of
``metrics.jsonl`` and, with ``--tensorboard``, scalars under ``tensorboard/``.
Each save is one transaction (run_journal.py) and the folder is locked for
the whole run (run_lock.py). A run that replaces another (``--force``)
leaves the old run whole until its own first save, which removes it in the
same transaction. With several processes only rank 0 writes; the others
hold a writer that is not ``enabled`` and does nothing, so the trainer calls
it the same way on every rank.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import torch
import yaml

from rnncli.core import run_journal
from rnncli.core.checkpoint import LAST_FILE, MODEL_FILE, atomic_write_bytes, encode_checkpoint
from rnncli.core.errors import UsageError
from rnncli.core.resume_state import STATE_FILE, TrainState, encode_train_state
from rnncli.core.run_lock import RunLock
from rnncli.core.runs import may_replace

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.jsonl"
BOARD_DIR = "tensorboard"
STEP_FILE = "step-{step:08d}.safetensors"
BOARD_SCALARS = ("train_loss", "val_loss", "val_bpc", "lr", "grad_norm", "tokens_per_s")


class RunWriter:
    """Writes one run folder; ``keep`` step files are kept besides the best one (0: none)."""

    def __init__(self, folder: Path, *, keep: int, tensorboard: bool, enabled: bool = True):
        self.folder, self.keep, self.tensorboard, self.enabled = Path(folder), keep, tensorboard, enabled
        self.board = None
        self.lock: RunLock | None = None
        self.replacing: list[str] = []  # the old run's files, removed by the first save
        self.pending_config: bytes | None = None  # config.yaml, when it waits for the first save
        self.metrics = b""  # metrics.jsonl as the last save left it

    def open(self, config: dict[str, Any], *, resuming: bool = False) -> None:
        """Lock the folder, finish or clear what a killed process left, and write (or stage) the settings."""
        if not self.enabled:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        self.lock = RunLock.acquire(self.folder)
        try:
            self._prepare(config, resuming)
        except BaseException:
            self.close()
            raise

    def _prepare(self, config: dict[str, Any], resuming: bool) -> None:
        run_journal.recover(self.folder)
        text = yaml.safe_dump(config, sort_keys=False).encode("utf-8")
        old = [] if resuming else self._old_run()
        if old:
            self.replacing, self.pending_config = old, text
        else:
            atomic_write_bytes(self.folder / CONFIG_FILE, text)
            self.metrics = _read_bytes(self.folder / METRICS_FILE) if resuming else b""
        if self.tensorboard and BOARD_DIR in self.replacing:
            shutil.rmtree(self.folder / BOARD_DIR, ignore_errors=True)  # its scalars would mix with this run's
        self.board = _open_tensorboard(self.folder) if self.tensorboard else None

    def _old_run(self) -> list[str]:
        """The files of a run already in the folder; refused unless --force named this folder."""
        old = sorted(p.name for p in self.folder.iterdir() if run_journal.RUN_FILE.fullmatch(p.name))
        if old and not may_replace(self.folder):
            raise UsageError(
                f"{self.folder}: a run was written there while this one was starting; "
                "use --force to overwrite it, or choose another --out"
            )
        return old

    def close(self) -> None:
        if self.board is not None:
            self.board.close()
            self.board = None
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def save(
        self,
        model: torch.nn.Module,
        meta: dict[str, Any],
        state: TrainState,
        *,
        step: int,
        best_step: int | None,
        improved: bool,
        record: dict[str, Any] | None = None,
    ) -> list[str]:
        """One transaction: last, its state, the best model, a step file, the metrics line (``record``).

        Returns the names of the checkpoint files written (none on a rank that does not write).
        """
        if not self.enabled:
            return []
        payload = encode_checkpoint(model, meta)
        staged = {LAST_FILE: payload, STATE_FILE: encode_train_state(state.tensors, state.meta)}
        if improved:
            staged[MODEL_FILE] = payload
        if self.keep > 0:
            staged[STEP_FILE.format(step=step)] = payload
        if record is not None or self.replacing:
            line = json.dumps(record).encode("utf-8") + b"\n" if record is not None else b""
            staged[METRICS_FILE] = self.metrics + line
        if self.pending_config is not None:
            staged[CONFIG_FILE] = self.pending_config
        run_journal.stage(self.folder, staged)
        run_journal.commit(self.folder, list(staged), [*self.replacing, *self._pruned(step, best_step)])
        self.metrics = staged.get(METRICS_FILE, self.metrics)
        self.replacing, self.pending_config = [], None
        return [name for name in staged if name.endswith(".safetensors") and name != STATE_FILE]

    def log(self, record: dict[str, Any]) -> None:
        """With --tensorboard, an evaluation's scalars (its metrics.jsonl line is part of ``save``)."""
        if not self.enabled or self.board is None:
            return
        for key in BOARD_SCALARS:
            if record[key] is not None:
                self.board.add_scalar(key, record[key], record["step"])
        if record.get("val_metric") is not None:  # a task's own metric, under its name
            self.board.add_scalar(f"val_metric/{record['metric_name']}", record["val_metric"], record["step"])
        self.board.flush()

    def _pruned(self, step: int, best_step: int | None) -> list[str]:
        """Step files beyond the newest ``keep`` (this save's included), never the best step's."""
        if self.keep <= 0:
            return []
        names = [] if self.replacing else [p.name for p in self.folder.iterdir()]  # an old run's go anyway
        steps = sorted({int(m.group(1)) for n in names if (m := re.fullmatch(r"step-(\d+)\.safetensors", n))} | {step})
        keep = set(steps[-self.keep :]) | {best_step}
        return [STEP_FILE.format(step=s) for s in steps if s not in keep]


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def _open_tensorboard(folder: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise UsageError("--tensorboard needs the tensorboard package: pip install tensorboard") from None
    return SummaryWriter(log_dir=str(folder / BOARD_DIR))
