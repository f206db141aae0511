"""One trainer for every task: optimisation loop, validation, checkpoints.

The trainer never prints. It reports progress through ``on_event``, a
callback the CLI supplies (nanoGPT/minGPT style), and writes the run folder:
``model.safetensors`` (best validation loss), ``last.safetensors``,
``metrics.jsonl`` and ``config.yaml``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
import yaml
from torch import nn

from rnncli.checkpoint import LAST_FILE, MODEL_FILE, atomic_write_bytes, save_checkpoint
from rnncli.config import DEFAULT_STEPS, TrainConfig
from rnncli.errors import RuntimeFailure


@dataclass
class TrainEvent:
    """What the trainer tells its caller: ``kind`` is start, step, eval or done."""

    kind: str
    step: int
    total_steps: int
    train_loss: float | None = None
    val_loss: float | None = None
    val_bpc: float | None = None
    tokens_per_s: float | None = None
    lr: float | None = None
    grad_norm: float | None = None
    saved: list[str] = field(default_factory=list)


@dataclass
class History:
    step: int = 0
    tokens_seen: int = 0
    train_loss: float | None = None
    best_val_loss: float | None = None
    best_val_bpc: float | None = None
    best_step: int | None = None
    elapsed_s: float = 0.0
    tokens_per_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Task(Protocol):
    """What the trainer needs from a task (see lm_task.py for the language model)."""

    windows_per_epoch: int
    items_per_step: int

    def train_loss(self, model: nn.Module, device: torch.device) -> torch.Tensor: ...

    def validation_loss(self, model: nn.Module, device: torch.device) -> float | None: ...

    def bits(self, loss_nats: float) -> float | None: ...


class Trainer:
    """Runs the optimisation loop for any task: step budget, clipping, validation, saving.

    ``meta`` is the checkpoint metadata without the history, ``config`` the
    resolved settings written to ``config.yaml``.
    """

    def __init__(self, model: nn.Module, task: Task, cfg: TrainConfig, *, out_dir: Path,
                 meta: dict[str, Any], config: dict[str, Any], device: torch.device,
                 on_event: Callable[[TrainEvent], None] | None = None):
        self.task, self.cfg, self.device = task, cfg, device
        self.model = model.to(device)
        self.out_dir, self.meta, self.config = Path(out_dir), meta, config
        self.on_event = on_event or (lambda event: None)
        self.total_steps = self._budget()
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.history = History()

    def _budget(self) -> int:
        if self.cfg.steps is not None:
            return self.cfg.steps
        if self.cfg.epochs is not None:
            return max(1, math.ceil(self.cfg.epochs * self.task.windows_per_epoch))
        return DEFAULT_STEPS

    def fit(self) -> History:
        """Train to the step budget; on Ctrl-C save ``last.safetensors`` and re-raise."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._write_config()
        self.on_event(TrainEvent("start", 0, self.total_steps))
        elapsed_before, t0 = self.history.elapsed_s, time.perf_counter()
        items_since, clock = 0, t0
        last_loss, grad_norm = None, None
        try:
            while self.history.step < self.total_steps:
                last_loss, grad_norm = self._train_step()
                items = self.task.items_per_step
                self.history.step += 1
                self.history.tokens_seen += items
                self.history.train_loss = last_loss
                items_since += items
                now = time.perf_counter()
                self.history.elapsed_s = elapsed_before + now - t0
                rate = items_since / max(now - clock, 1e-9)
                self.on_event(TrainEvent("step", self.history.step, self.total_steps,
                                         train_loss=last_loss, tokens_per_s=rate))
                if self.history.step % self.cfg.eval_every == 0 or self.history.step == self.total_steps:
                    self.history.tokens_per_s = rate
                    self._evaluate_and_save(grad_norm)
                    items_since, clock = 0, time.perf_counter()
        except KeyboardInterrupt:
            self.history.elapsed_s = elapsed_before + time.perf_counter() - t0
            save_checkpoint(self.out_dir / LAST_FILE, self.model, self._meta())
            raise
        self.on_event(TrainEvent("done", self.history.step, self.total_steps,
                                 train_loss=last_loss, val_loss=self.history.best_val_loss,
                                 val_bpc=self.history.best_val_bpc))
        return self.history

    def _train_step(self) -> tuple[float, float]:
        self.model.train()
        loss = self.task.train_loss(self.model, self.device)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        max_norm = self.cfg.clip if self.cfg.clip > 0 else float("inf")
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm)
        loss_value = loss.item()
        if not math.isfinite(loss_value) or not torch.isfinite(grad_norm):
            raise RuntimeFailure(f"training diverged at step {self.history.step + 1} (loss {loss_value}); "
                                 "try a lower --lr or a smaller --clip")
        self.optimizer.step()
        return loss_value, float(grad_norm)

    def _evaluate_and_save(self, grad_norm: float | None) -> None:
        self.model.eval()
        val_loss = self.task.validation_loss(self.model, self.device)
        val_bpc = self.task.bits(val_loss) if val_loss is not None else None
        score = val_loss if val_loss is not None else self.history.train_loss
        history = self.history
        improved = history.best_val_loss is None or score < history.best_val_loss
        if improved:
            history.best_val_loss, history.best_step = score, history.step
            history.best_val_bpc = self.task.bits(score)
        meta = self._meta()
        saved = [LAST_FILE]
        save_checkpoint(self.out_dir / LAST_FILE, self.model, meta)
        if improved:
            save_checkpoint(self.out_dir / MODEL_FILE, self.model, meta)
            saved.append(MODEL_FILE)
        lr = self.optimizer.param_groups[0]["lr"]
        record = {"step": history.step, "tokens_seen": history.tokens_seen,
                  "train_loss": history.train_loss, "val_loss": val_loss, "val_bpc": val_bpc,
                  "lr": lr, "grad_norm": grad_norm, "tokens_per_s": history.tokens_per_s,
                  "elapsed_s": round(history.elapsed_s, 3)}
        with open(self.out_dir / "metrics.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        self.on_event(TrainEvent("eval", history.step, self.total_steps, train_loss=history.train_loss,
                                 val_loss=val_loss, val_bpc=val_bpc, tokens_per_s=history.tokens_per_s,
                                 lr=lr, grad_norm=grad_norm, saved=saved))

    def _meta(self) -> dict[str, Any]:
        return {**self.meta, "history": self.history.to_dict()}

    def _write_config(self) -> None:
        text = yaml.safe_dump(self.config, sort_keys=False)
        atomic_write_bytes(self.out_dir / "config.yaml", text.encode("utf-8"))
