"""One trainer for the language model: TBPTT loop, validation, checkpoints.

The trainer never prints. It reports progress through ``on_event``, a
callback the CLI supplies (nanoGPT/minGPT style), and writes the run folder:
``model.safetensors`` (best validation loss), ``last.safetensors``,
``metrics.jsonl`` and ``config.yaml``.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
import yaml
from torch import nn

from rnncli.checkpoint import LAST_FILE, MODEL_FILE, atomic_write_bytes, save_checkpoint
from rnncli.config import RunConfig
from rnncli.data.text import WindowStream
from rnncli.errors import RuntimeFailure
from rnncli.metrics import LN2
from rnncli.models import LanguageModel, State, detach_state

DEFAULT_STEPS = 2000


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


class Trainer:
    """Trains ``model`` on ``train_ids`` with truncated backpropagation through time.

    ``chars_per_token`` turns the loss per token into bits per character of
    the raw text (1.0 for a character tokenizer).
    """

    def __init__(self, model: LanguageModel, run: RunConfig, *, train_ids: torch.Tensor,
                 val_ids: torch.Tensor, out_dir: Path, meta: dict[str, Any],
                 device: torch.device, chars_per_token: float = 1.0,
                 on_event: Callable[[TrainEvent], None] | None = None):
        cfg = run.train
        self.run, self.cfg, self.device = run, cfg, device
        self.model = model.to(device)
        self.out_dir, self.meta = Path(out_dir), meta
        self.chars_per_token = chars_per_token
        self.on_event = on_event or (lambda event: None)
        source = meta.get("data", {}).get("source", "data")
        self.train_stream = WindowStream(train_ids, batch_size=cfg.batch_size, seq_len=cfg.seq_len, source=source)
        self.val_stream = (WindowStream.for_validation(val_ids, batch_size=cfg.batch_size,
                                                       seq_len=cfg.seq_len, source=source)
                           if len(val_ids) > 0 else None)
        self.total_steps = self._budget()
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.loss_fn = nn.CrossEntropyLoss()
        self.history = History()

    def _budget(self) -> int:
        if self.cfg.steps is not None:
            return self.cfg.steps
        if self.cfg.epochs is not None:
            return max(1, math.ceil(self.cfg.epochs * self.train_stream.windows_per_epoch))
        return DEFAULT_STEPS

    def fit(self) -> History:
        """Train to the step budget; on Ctrl-C save ``last.safetensors`` and re-raise."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._write_config()
        self.on_event(TrainEvent("start", 0, self.total_steps))
        state: State | None = None
        elapsed_before, t0 = self.history.elapsed_s, time.perf_counter()
        tokens_since, clock = 0, t0
        last_loss, grad_norm = None, None
        try:
            while self.history.step < self.total_steps:
                state, last_loss, grad_norm = self._train_step(state)
                tokens = self.train_stream.tokens_per_window
                self.history.step += 1
                self.history.tokens_seen += tokens
                self.history.train_loss = last_loss
                tokens_since += tokens
                now = time.perf_counter()
                self.history.elapsed_s = elapsed_before + now - t0
                rate = tokens_since / max(now - clock, 1e-9)
                self.on_event(TrainEvent("step", self.history.step, self.total_steps,
                                         train_loss=last_loss, tokens_per_s=rate))
                if self.history.step % self.cfg.eval_every == 0 or self.history.step == self.total_steps:
                    self.history.tokens_per_s = rate
                    self._evaluate_and_save(grad_norm)
                    tokens_since, clock = 0, time.perf_counter()
        except KeyboardInterrupt:
            self.history.elapsed_s = elapsed_before + time.perf_counter() - t0
            save_checkpoint(self.out_dir / LAST_FILE, self.model, self._meta())
            raise
        self.on_event(TrainEvent("done", self.history.step, self.total_steps,
                                 train_loss=last_loss, val_loss=self.history.best_val_loss,
                                 val_bpc=self.history.best_val_bpc))
        return self.history

    def _train_step(self, state: State | None) -> tuple[State, float, float]:
        self.model.train()
        x, y, new_epoch = self.train_stream.next()
        x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        if state is None or new_epoch:
            state = self.model.init_state(x.shape[0], self.device)
        logits, state = self.model(x, detach_state(state))  # (B, T, V)
        loss = self.loss_fn(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        max_norm = self.cfg.clip if self.cfg.clip > 0 else float("inf")
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm)
        loss_value = loss.item()
        if not math.isfinite(loss_value) or not torch.isfinite(grad_norm):
            raise RuntimeFailure(f"training diverged at step {self.history.step + 1} (loss {loss_value}); "
                                 "try a lower --lr or a smaller --clip")
        self.optimizer.step()
        return state, loss_value, float(grad_norm)

    @torch.no_grad()
    def validation_loss(self) -> float | None:
        """Mean loss over the validation windows, state carried from window to window."""
        if self.val_stream is None:
            return None
        self.model.eval()
        windows = min(self.cfg.eval_batches, self.val_stream.windows_per_epoch)
        state = self.model.init_state(self.val_stream.streams.shape[0], self.device)
        total = 0.0
        for i in range(windows):
            x, y = (t.to(self.device) for t in self.val_stream.window(i))
            logits, state = self.model(x, state)
            total += self.loss_fn(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)).item()
        return total / windows

    def _evaluate_and_save(self, grad_norm: float | None) -> None:
        val_loss = self.validation_loss()
        val_bpc = val_loss / self.chars_per_token / LN2 if val_loss is not None else None
        score = val_loss if val_loss is not None else self.history.train_loss
        history = self.history
        improved = history.best_val_loss is None or score < history.best_val_loss
        if improved:
            history.best_val_loss, history.best_step = score, history.step
            history.best_val_bpc = score / self.chars_per_token / LN2
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
        return {**self.meta, "model": self.run.to_dict()["model"], "train": self.run.to_dict()["train"],
                "history": self.history.to_dict()}

    def _write_config(self) -> None:
        text = yaml.safe_dump(self.run.to_dict(), sort_keys=False)
        atomic_write_bytes(self.out_dir / "config.yaml", text.encode("utf-8"))
