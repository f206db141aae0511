"""One trainer for every task: optimisation loop, validation, checkpoints, resume.

The trainer never prints. It reports progress through ``on_event``, a
callback the CLI supplies (nanoGPT/minGPT style), and writes the run folder:
``model.safetensors`` (best validation loss), ``last.safetensors`` and its
resume state ``last.state.safetensors``, ``metrics.jsonl`` and ``config.yaml``.
Anything task-specific that resuming needs (data position, carried state)
comes from the task's ``state_dict`` / ``load_state_dict``.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import re
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
import yaml
from torch import nn

from rnncli.core.checkpoint import LAST_FILE, MODEL_FILE, atomic_write_bytes, encode_checkpoint
from rnncli.core.distributed import Distributed
from rnncli.core.errors import EXIT_INTERRUPTED, CheckpointError, RnnError, RuntimeFailure, UsageError
from rnncli.core.resume_state import (
    STATE_FILE,
    TrainState,
    capture_host_rng,
    capture_local_rng,
    flatten_optimizer,
    restore_host_rng,
    restore_local_rng,
    save_train_state,
    unflatten_optimizer,
)
from rnncli.core.settings import DEFAULT_STEPS, TrainConfig

MAX_ROLLBACKS = 3  # divergences survived by rolling back and halving the learning rate
COSINE_FLOOR = 0.1  # cosine decay ends at this fraction of --lr
STEP_FILE = "step-{step:08d}.safetensors"


class TrainingInterrupted(RnnError):
    """Ctrl-C or SIGTERM: the latest state was saved; the CLI explains how to resume."""

    exit_code = EXIT_INTERRUPTED

    def __init__(self, message: str, *, step: int):
        super().__init__(message)
        self.step = step


@dataclass
class TrainEvent:
    """What the trainer tells its caller: ``kind`` is start, step, eval, rollback or done."""

    kind: str
    step: int
    total_steps: int | None
    train_loss: float | None = None
    val_loss: float | None = None
    val_bpc: float | None = None
    tokens_per_s: float | None = None
    lr: float | None = None
    grad_norm: float | None = None
    saved: list[str] = field(default_factory=list)
    note: str | None = None


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
    lr_scale: float = 1.0  # halved by each rollback after a divergence
    rollbacks: int = 0
    evals_since_best: int = 0
    stop_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})


class Task(Protocol):
    """What the trainer needs from a task (see lm_task.py for the language model).

    ``state_dict`` returns tensors and JSON-able scalars (for example the
    carried hidden state and the data position) that ``load_state_dict`` puts
    back, so that a resumed run continues exactly.
    """

    windows_per_epoch: int
    items_per_step: int

    def train_loss(self, model: nn.Module, device: torch.device) -> torch.Tensor: ...

    def validation_loss(self, model: nn.Module, device: torch.device) -> float | None: ...

    def bits(self, loss_nats: float) -> float | None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, saved: dict[str, Any], device: torch.device) -> None: ...


class StopSignals:
    """SIGINT and SIGTERM set a flag that the loop checks between steps.

    Saving from inside a signal handler could interleave with a half-done
    step; the loop stops cleanly at the next step boundary instead. A second
    signal stops at once (KeyboardInterrupt).
    """

    def __init__(self, *, escalate: bool = True):
        self.received: str | None = None
        self.escalate = escalate  # off under torchrun, which forwards the user's Ctrl-C a second time
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum, frame) -> None:
        if self.received is not None and self.escalate:
            raise KeyboardInterrupt
        self.received = signal.Signals(signum).name


class Trainer:
    """Runs the optimisation loop for any task: budgets, schedule, clipping, validation, saving.

    ``meta`` is the checkpoint metadata without the history, ``config`` the
    resolved settings written to ``config.yaml``. With ``dist`` active the
    model is wrapped in DistributedDataParallel and only rank 0 writes.
    """

    def __init__(self, model: nn.Module, task: Task, cfg: TrainConfig, *, out_dir: Path,
                 meta: dict[str, Any], config: dict[str, Any], device: torch.device,
                 on_event: Callable[[TrainEvent], None] | None = None, dist: Distributed | None = None):
        self.task, self.cfg, self.device = task, cfg, device
        self.dist = dist or Distributed()
        self.model = model.to(device)  # the plain module: what checkpoints hold
        self.net = self.dist.wrap(self.model, device)  # what the task trains
        self.out_dir, self.meta, self.config = Path(out_dir), meta, config
        self.on_event = on_event if self.dist.is_main and on_event else (lambda event: None)
        self.total_steps = self._budget()
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.autocast_dtype = _autocast_dtype(cfg.precision, device)
        self.scaler = torch.amp.GradScaler("cuda") if cfg.precision == "fp16" else None
        self.history = History()
        self._good: dict[str, Any] | None = None
        self._board = None

    def _budget(self) -> int | None:
        if self.cfg.steps is not None:
            return self.cfg.steps
        if self.cfg.epochs is not None:
            return max(1, math.ceil(self.cfg.epochs * self.task.windows_per_epoch))
        if self.cfg.time is not None:
            return None  # the clock decides
        return DEFAULT_STEPS

    # --- the loop -------------------------------------------------------------

    def fit(self) -> History:
        """Train until a budget is spent, early stopping triggers, or a signal arrives."""
        if self.total_steps is not None and self.history.step >= self.total_steps:
            raise UsageError(f"the run has already trained {self.history.step} steps; "
                             f"give a larger --steps (the run's total) to continue it")
        if self.dist.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            _remove_stale_temporaries(self.out_dir)
            self._write_config()
            self._board = _open_tensorboard(self.out_dir) if self.cfg.tensorboard else None
        self.history.stop_reason = None
        self.on_event(TrainEvent("start", self.history.step, self.total_steps))
        self._remember_good_state()
        budget_s = self.cfg.time_budget_s
        elapsed_before, t0 = self.history.elapsed_s, time.perf_counter()
        items_since, clock = 0, t0
        last_loss, grad_norm = None, None
        try:
            with StopSignals(escalate=not self.dist.active) as signals:
                while self.total_steps is None or self.history.step < self.total_steps:
                    out_of_time = budget_s is not None and time.perf_counter() - t0 >= budget_s
                    why = self.dist.most(2 if signals.received else 1 if out_of_time else 0)
                    if why == 2:
                        self._save_on_signal(elapsed_before + time.perf_counter() - t0)
                    if why == 1:
                        self.history.stop_reason = "time"
                        break
                    result = self._train_step()
                    if result is None:
                        self._roll_back()
                        items_since, clock = 0, time.perf_counter()
                        continue
                    last_loss, grad_norm = result
                    items = self.task.items_per_step * self.dist.world_size
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
                        if not self._evaluate_and_save(grad_norm):
                            self._roll_back()
                        elif self._patience_spent():
                            self.history.stop_reason = "patience"
                            break
                        items_since, clock = 0, time.perf_counter()
                if self.history.stop_reason == "time" and self.history.step > 0:
                    self.history.tokens_per_s = items_since / max(time.perf_counter() - clock, 1e-9)
                    self.history.elapsed_s = elapsed_before + time.perf_counter() - t0
                    if self.history.step % self.cfg.eval_every != 0 and not self._evaluate_and_save(grad_norm):
                        self._roll_back()
        finally:
            if self._board is not None:
                self._board.close()
        self.on_event(TrainEvent("done", self.history.step, self.total_steps,
                                 train_loss=last_loss, val_loss=self.history.best_val_loss,
                                 val_bpc=self.history.best_val_bpc, note=self.history.stop_reason))
        return self.history

    def _lr(self) -> float:
        """Warm-up over ``--warmup`` steps, then constant or cosine decay to COSINE_FLOOR x lr."""
        step, cfg = self.history.step, self.cfg
        base = cfg.lr * self.history.lr_scale
        if step < cfg.warmup:
            return base * (step + 1) / cfg.warmup
        if cfg.lr_schedule == "cosine" and self.total_steps is not None:
            progress = min(1.0, (step - cfg.warmup) / max(1, self.total_steps - cfg.warmup))
            return base * (COSINE_FLOOR + (1 - COSINE_FLOOR) * 0.5 * (1 + math.cos(math.pi * progress)))
        return base

    def _autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    def _train_step(self) -> tuple[float, float] | None:
        """One optimiser step; None (and no update) if the loss or gradient is not finite."""
        self.net.train()
        lr = self._lr()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        with self._autocast():
            loss = self.task.train_loss(self.net, self.device)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
        else:
            loss.backward()
        max_norm = self.cfg.clip if self.cfg.clip > 0 else float("inf")
        grad_norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm))
        loss_value = self.dist.mean(float(loss.item()))
        # With fp16 an overflowing gradient is routine: the scaler skips the step and lowers its scale.
        bad = not math.isfinite(loss_value) or (self.scaler is None and not math.isfinite(grad_norm))
        if self.dist.any(bad):
            return None
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        return loss_value, grad_norm

    # --- divergence -------------------------------------------------------------

    def _remember_good_state(self) -> None:
        """Keep the latest known-good state in memory, to roll back to after a divergence."""
        self._good = {
            "model": {k: v.detach().clone() for k, v in self.model.state_dict().items()},
            "optimizer": copy.deepcopy(self.optimizer.state_dict()),
            "task": _clone(self.task.state_dict()),
            "rng": capture_local_rng(self.device),
            "history": History.from_dict(self.history.to_dict()),
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
        }

    def _roll_back(self) -> None:
        """Back to the last good state with half the learning rate, a bounded number of times."""
        bad_step = self.history.step + 1
        rollbacks = self.history.rollbacks + 1
        lr_scale = self.history.lr_scale * 0.5
        good = self._good
        if rollbacks > MAX_ROLLBACKS:
            where = self.out_dir / LAST_FILE
            raise RuntimeFailure(
                f"training diverged (non-finite loss or gradient at step {bad_step}) after {MAX_ROLLBACKS} "
                f"rollbacks that each halved the learning rate; the last good weights are in {where}; "
                "try a lower --lr, a smaller --clip or --precision fp32")
        self.model.load_state_dict(good["model"])
        self.optimizer.load_state_dict(copy.deepcopy(good["optimizer"]))
        self.task.load_state_dict(_clone(good["task"]), self.device)
        restore_local_rng(good["rng"], self.device)
        if self.scaler is not None and good["scaler"] is not None:
            self.scaler.load_state_dict(good["scaler"])
        self.history = History.from_dict(good["history"].to_dict())
        self.history.rollbacks, self.history.lr_scale = rollbacks, lr_scale
        self._good["history"] = History.from_dict(self.history.to_dict())
        self.on_event(TrainEvent("rollback", self.history.step, self.total_steps, lr=self._lr(),
                                 note=f"non-finite loss or gradient at step {bad_step}; rolled back to step "
                                      f"{self.history.step} and halved the learning rate "
                                      f"(rollback {rollbacks} of {MAX_ROLLBACKS})"))

    # --- validation and saving ------------------------------------------------------

    def _evaluate_and_save(self, grad_norm: float | None) -> bool:
        """Validate, log and save; False (nothing saved) if the model has gone non-finite."""
        self.model.eval()
        with self._autocast():
            val_loss = self.task.validation_loss(self.model, self.device)
        finite = val_loss is None or math.isfinite(val_loss)
        finite = finite and all(bool(torch.isfinite(p).all()) for p in self.model.parameters())
        if self.dist.any(not finite):
            return False
        val_bpc = self.task.bits(val_loss) if val_loss is not None else None
        score = val_loss if val_loss is not None else self.history.train_loss
        history = self.history
        improved = history.best_val_loss is None or score < history.best_val_loss
        if improved:
            history.best_val_loss, history.best_step = score, history.step
            history.best_val_bpc = self.task.bits(score)
            history.evals_since_best = 0
        else:
            history.evals_since_best += 1
        state_tensors, state_meta = self._collect_state()  # a collective: every rank takes part
        lr = self.optimizer.param_groups[0]["lr"]
        saved: list[str] = []
        if self.dist.is_main:
            saved = self._write_checkpoints(state_tensors, state_meta, improved=improved)
            record = {"step": history.step, "tokens_seen": history.tokens_seen,
                      "train_loss": history.train_loss, "val_loss": val_loss, "val_bpc": val_bpc,
                      **self._bits_per_byte(val_loss), "lr": lr, "grad_norm": grad_norm,
                      "tokens_per_s": history.tokens_per_s,
                      "elapsed_s": round(history.elapsed_s, 3)}
            with open(self.out_dir / "metrics.jsonl", "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
            if self._board is not None:
                for key in ("train_loss", "val_loss", "val_bpc", "lr", "grad_norm", "tokens_per_s"):
                    if record[key] is not None:
                        self._board.add_scalar(key, record[key], history.step)
                self._board.flush()
        self.on_event(TrainEvent("eval", history.step, self.total_steps, train_loss=history.train_loss,
                                 val_loss=val_loss, val_bpc=val_bpc, tokens_per_s=history.tokens_per_s,
                                 lr=lr, grad_norm=grad_norm, saved=saved))
        self._remember_good_state()
        return True

    def _bits_per_byte(self, val_loss: float | None) -> dict[str, float | None]:
        """``val_bpb`` for a task over text (comparable across tokenizers); nothing for other tasks."""
        per_byte = getattr(self.task, "bits_per_byte", None)
        if per_byte is None:
            return {}
        return {"val_bpb": per_byte(val_loss) if val_loss is not None else None}

    def _patience_spent(self) -> bool:
        return self.cfg.patience is not None and self.history.evals_since_best >= self.cfg.patience

    def _write_checkpoints(self, state_tensors: dict[str, torch.Tensor], state_meta: dict[str, Any], *,
                           improved: bool) -> list[str]:
        """last, its state, the best model and step files; the order keeps every pair consistent."""
        meta = self._meta()
        payload = encode_checkpoint(self.model, meta)
        atomic_write_bytes(self.out_dir / LAST_FILE, payload)
        save_train_state(self.out_dir / STATE_FILE, state_tensors, state_meta)
        saved = [LAST_FILE]
        if improved:
            atomic_write_bytes(self.out_dir / MODEL_FILE, payload)
            saved.append(MODEL_FILE)
        if self.cfg.keep > 0:
            name = STEP_FILE.format(step=self.history.step)
            atomic_write_bytes(self.out_dir / name, payload)
            saved.append(name)
            self._prune_step_files()
        return saved

    def _prune_step_files(self) -> None:
        """Keep the newest ``--keep`` step checkpoints, and always the best step's."""
        steps = sorted(int(m.group(1)) for p in self.out_dir.iterdir()
                       if (m := re.fullmatch(r"step-(\d+)\.safetensors", p.name)))
        keep = set(steps[-self.cfg.keep:]) | {self.history.best_step}
        for step in steps:
            if step not in keep:
                (self.out_dir / STEP_FILE.format(step=step)).unlink(missing_ok=True)

    def _save_on_signal(self, elapsed_s: float) -> None:
        """Save last + state at a step boundary, then stop with exit code 130."""
        self.history.elapsed_s = elapsed_s
        self.history.stop_reason = "interrupted"
        state_tensors, state_meta = self._collect_state()
        if self.dist.is_main and self.history.step > 0:
            self._write_checkpoints(state_tensors, state_meta, improved=False)
        raise TrainingInterrupted(f"interrupted at step {self.history.step}", step=self.history.step)

    def _collect_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Everything resuming needs, gathered from every rank (rank 0 writes it)."""
        tensors = {f"model.{k}": v.detach().to("cpu", torch.float32).contiguous().clone()
                   for k, v in self.model.state_dict().items()}
        optim_tensors, optim_meta = flatten_optimizer(self.optimizer)
        tensors.update({f"optim.{k}": v for k, v in optim_tensors.items()})
        task_scalars: dict[str, Any] = {}
        for name, value in self.task.state_dict().items():
            if isinstance(value, torch.Tensor):
                for rank, part in enumerate(self.dist.gather(value)):
                    tensors[f"task.r{rank}.{name}"] = part.contiguous()
            else:
                task_scalars[name] = value
        for name, value in capture_local_rng(self.device).items():
            for rank, part in enumerate(self.dist.gather(value)):
                tensors[f"rng.r{rank}.{name}"] = part
        host_tensors, host_meta = capture_host_rng()
        tensors.update({f"host.{k}": v for k, v in host_tensors.items()})
        meta = {"step": self.history.step, "history": self.history.to_dict(), "optimizer": optim_meta,
                "task": task_scalars, "host_rng": host_meta, "world_size": self.dist.world_size,
                "scaler": self.scaler.state_dict() if self.scaler is not None else None,
                "checkpoint": self._meta()}
        return tensors, meta

    def restore(self, state: TrainState) -> None:
        """Continue from a saved state: weights, optimizer, task position, generators, history."""
        saved_world = state.meta.get("world_size", 1)
        if saved_world != self.dist.world_size:
            raise UsageError(f"this run was trained with {saved_world} process(es); resume it with the same "
                             f"number (now {self.dist.world_size}) so that every stream continues exactly")
        try:
            self.model.load_state_dict(state.section("model"))
            self.optimizer.load_state_dict(unflatten_optimizer(state.section("optim"), state.meta["optimizer"]))
            rank = f"r{self.dist.rank}"
            self.task.load_state_dict({**state.meta["task"], **state.section(f"task.{rank}")}, self.device)
            restore_local_rng(state.section(f"rng.{rank}"), self.device)
            restore_host_rng(state.section("host"), state.meta["host_rng"])
            if self.scaler is not None and state.meta.get("scaler"):
                self.scaler.load_state_dict(state.meta["scaler"])
            self.history = History.from_dict(state.meta["history"])
        except (KeyError, ValueError, TypeError, RuntimeError) as exc:
            raise CheckpointError(f"{self.out_dir / STATE_FILE}: the training state does not fit this "
                                  f"run ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from None

    def _meta(self) -> dict[str, Any]:
        return {**self.meta, "history": self.history.to_dict()}

    def _write_config(self) -> None:
        text = yaml.safe_dump(self.config, sort_keys=False)
        atomic_write_bytes(self.out_dir / "config.yaml", text.encode("utf-8"))


def _autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    if precision == "fp32":
        return None
    if precision == "fp16" and device.type != "cuda":
        raise UsageError(f"--precision fp16 needs a CUDA device (this run is on {device.type}); "
                         "use --precision bf16 or fp32")
    return torch.bfloat16 if precision == "bf16" else torch.float16


def _clone(saved: dict[str, Any]) -> dict[str, Any]:
    return {k: v.detach().clone() if isinstance(v, torch.Tensor) else copy.deepcopy(v) for k, v in saved.items()}


def _remove_stale_temporaries(folder: Path) -> None:
    """Temporary files left by a process killed mid-write (the real files are intact)."""
    for path in folder.glob(".*.safetensors.*.tmp"):
        path.unlink(missing_ok=True)


def _open_tensorboard(folder: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise UsageError("--tensorboard needs the tensorboard package: pip install tensorboard") from None
    return SummaryWriter(log_dir=str(folder / "tensorboard"))
