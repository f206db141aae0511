"""One trainer for every task: the optimisation loop, validation, and stopping.

The trainer never prints. It reports progress through ``on_event``, a
callback the CLI supplies (nanoGPT/minGPT style). What it leans on lives
beside it: the run folder (run_writer), the known-good state to roll back to
(rollback), the learning-rate schedule (schedule), the step budget, wall
clock and throughput (clocks), stop flags and signals (stop_signals),
precision, and the resume state (resume_state). Anything task-specific comes
through the ``Task`` protocol (task).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rnncli.core import clocks
from rnncli.core.checkpoint import LAST_FILE
from rnncli.core.clocks import StepBudget, Throughput, WallClock
from rnncli.core.distributed import Distributed
from rnncli.core.errors import EXIT_INTERRUPTED, CheckpointError, RnnError, UsageError
from rnncli.core.history import History
from rnncli.core.precision import Precision
from rnncli.core.resume_state import STATE_FILE, TrainState, capture_train_state, restore_train_state
from rnncli.core.rollback import Rollback, rollback_note
from rnncli.core.run_writer import RunWriter
from rnncli.core.schedule import learning_rate
from rnncli.core.settings import TrainConfig
from rnncli.core.stop_signals import Stop, StopSignals
from rnncli.core.task import Metric, Task

__all__ = ["History", "StopSignals", "Task", "TrainEvent", "Trainer", "TrainingInterrupted"]


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
    metric: Metric | None = None  # the task's own validation figure, where it has one


@dataclass
class StepResult:
    loss: float  # the mean over every process
    grad_norm: float  # before clipping


def task_metric(task: Task, model: nn.Module, device: torch.device) -> Metric | None:
    """The task's validation metric; None for a task without one (or one written before the hook)."""
    hook = getattr(task, "validation_metric", None)
    with torch.no_grad():
        return hook(model, device) if hook is not None else None


def metric_fields(metric: Metric | None, *, best_by: str = "metric") -> dict[str, Any]:
    """The metric's fields of a metrics.jsonl record (``best_by``: what judged the run); none without a metric."""
    if metric is None:
        return {}

    def finite(value: float) -> float | None:
        return value if math.isfinite(value) else None  # JSON has no NaN

    extra = {f"val_{name}": finite(value) for name, value in metric.extra.items()}
    goal = "max" if metric.higher_is_better else "min"
    judged = {"metric_name": metric.name, "metric_goal": goal, "best_by": best_by}
    return {"val_metric": finite(metric.value), **judged, **extra}


class Trainer:
    """Runs the optimisation loop for any task: budgets, schedule, clipping, validation, saving.

    ``meta`` is the checkpoint metadata without the history, ``config`` the
    resolved settings written to ``config.yaml``. With ``dist`` active the
    model is wrapped in DistributedDataParallel and only rank 0 writes.
    ``started`` (on ``clocks.now``'s scale) is when the command began, so
    that a ``--time`` budget covers reading the data and building the model.
    """

    def __init__(
        self,
        model: nn.Module,
        task: Task,
        cfg: TrainConfig,
        *,
        out_dir: Path,
        meta: dict[str, Any],
        config: dict[str, Any],
        device: torch.device,
        on_event: Callable[[TrainEvent], None] | None = None,
        dist: Distributed | None = None,
        started: float | None = None,
    ):
        self.task, self.cfg, self.device = task, cfg, device
        self.started = started  # when the command started (clocks.now): the --time budget counts from there
        self.dist = dist or Distributed()
        self.model = model.to(device)  # the plain module: what checkpoints hold
        self.net = self.dist.wrap(self.model, device)  # what the task trains
        self.out_dir, self.meta, self.config = Path(out_dir), meta, config
        self.on_event = on_event if self.dist.is_main and on_event else (lambda event: None)
        self.budget = StepBudget.of(cfg, task.windows_per_epoch)
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.precision = Precision(cfg.precision, device)
        self.writer = RunWriter(self.out_dir, keep=cfg.keep, tensorboard=cfg.tensorboard, enabled=self.dist.is_main)
        self.rollback = Rollback(self.model, self.optimizer, task, self.precision, last_file=self.out_dir / LAST_FILE)
        self.history = History()
        self.last: StepResult | None = None  # this session's latest step
        self.resumed = False  # set by ``restore``: the folder holds this run's own earlier saves
        self.clock = WallClock(None)  # fit() starts the session's clock

    def fit(self) -> History:
        """Train until a budget is spent, validation stops improving, or a signal arrives."""
        self._open()
        self.clock = WallClock(
            self.cfg.time_budget_s,
            earlier_s=self.history.elapsed_s,
            eval_every=self.cfg.eval_every,
            started=self.started,
        )
        speed, first_step = Throughput(), self.history.step
        try:
            with StopSignals(escalate=not self.dist.active) as signals:
                while not self.budget.spent(self.history.step):
                    stop = self._agree_on_stop(signals, trained=self.history.step > first_step)
                    if stop is Stop.SIGNAL:
                        self._save_and_interrupt()
                    if stop is Stop.TIME:
                        self._stop_on_time(speed)
                        break
                    if self._step_and_validate(speed):
                        self.history.stop_reason = "patience"
                        break
        finally:
            self.writer.close()
        self.on_event(
            TrainEvent(
                "done",
                self.history.step,
                self.budget.total,
                train_loss=self.last.loss if self.last else None,
                val_loss=self.history.best_val_loss,
                val_bpc=self.history.best_val_bpc,
                note=self.history.stop_reason,
            )
        )
        return self.history

    def _step_and_validate(self, speed: Throughput) -> bool:
        """One step (timed, for the --time budget), and a validation when due; True when out of patience."""
        started = clocks.now()
        result = self._train_step()
        self.clock.step_s = clocks.now() - started
        if result is None:
            self._roll_back(speed)
            return False
        self._count_step(result, speed)
        if not self._validation_due():
            return False
        validated = self._validate(speed)  # False: it rolled back instead
        return validated and self.history.out_of_patience(self.cfg.patience)

    def _stop_on_time(self, speed: Throughput) -> None:
        """The budget is spent but for the closing validation: the steps since the last one count too."""
        self.history.stop_reason = "time"
        if self.history.step > 0 and self.history.step % self.cfg.eval_every != 0:
            self._validate(speed)

    def _open(self) -> None:
        """Refuse a spent budget, prepare the run folder, and keep the starting state as good."""
        if self.budget.spent(self.history.step):
            raise UsageError(
                f"the run has already trained {self.history.step} steps; "
                f"give a larger --steps (the run's total) to continue it"
            )
        self.writer.open(self.config, resuming=self.resumed)
        self.history.stop_reason = None
        self.on_event(TrainEvent("start", self.history.step, self.budget.total))
        self.rollback.remember(self.history)

    def _agree_on_stop(self, signals: StopSignals, *, trained: bool) -> Stop:
        """Why to stop before the next step, the same on every process (one all-reduce).

        The wall clock stops a session only once it has trained a step, so a --time run always saves a model.
        """
        expired = trained and self.clock.expired()
        mine = Stop.SIGNAL if signals.received else Stop.TIME if expired else Stop.NO
        return self.dist.most_urgent(mine)

    def _validation_due(self) -> bool:
        """Every --eval-every steps and at the last; under --time also after a session's first step, so that the
        closing validation's cost (saving included) is measured, not guessed."""
        untimed = self.clock.budget_s is not None and self.clock.closing_s is None
        return untimed or self.history.step % self.cfg.eval_every == 0 or self.budget.is_last(self.history.step)

    # --- one step -----------------------------------------------------------------

    def _lr(self) -> float:
        return learning_rate(
            self.history.step,
            peak=self.cfg.lr * self.history.lr_scale,
            warmup=self.cfg.warmup,
            schedule=self.cfg.lr_schedule,
            total_steps=self.budget.total,
            time_used=self.clock.progress(),
        )

    def _train_step(self) -> StepResult | None:
        """One optimiser step; None (and no update) if the loss or gradient is not finite."""
        self.net.train()
        lr = self._lr()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        with self.precision.autocast():
            loss = self.task.train_loss(self.net, self.device)
        self.optimizer.zero_grad(set_to_none=True)
        self.precision.backward(loss, self.optimizer)
        max_norm = self.cfg.clip if self.cfg.clip > 0 else float("inf")
        grad_norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm))
        loss_value = self.dist.mean(float(loss.item()))
        bad = not math.isfinite(loss_value) or (not self.precision.scaled and not math.isfinite(grad_norm))
        if self.dist.any(bad):
            return None
        self.precision.step(self.optimizer)
        return StepResult(loss_value, grad_norm)

    def _count_step(self, result: StepResult, speed: Throughput) -> None:
        items = self.task.items_per_step * self.dist.world_size
        history = self.history
        history.step += 1
        history.tokens_seen += items
        history.train_loss = result.loss
        history.elapsed_s = self.clock.elapsed_s()
        speed.add(items)
        self.last = result
        self.on_event(
            TrainEvent("step", history.step, self.budget.total, train_loss=result.loss, tokens_per_s=speed.per_second())
        )

    def _roll_back(self, speed: Throughput) -> None:
        """Back to the last good state with half the learning rate (see rollback.py)."""
        bad_step = self.history.step + 1
        self.history = self.rollback.restore(self.history)
        self.on_event(
            TrainEvent(
                "rollback",
                self.history.step,
                self.budget.total,
                lr=self._lr(),
                note=rollback_note(bad_step, self.history),
            )
        )
        speed.restart()

    # --- validation and saving ------------------------------------------------------

    def _validate(self, speed: Throughput) -> bool:
        """Validate, log and save (timed, for the --time budget); if the model has gone non-finite, roll back
        instead and return False."""
        started = clocks.now()
        self.history.tokens_per_s, self.history.elapsed_s = speed.per_second(), self.clock.elapsed_s()
        self._limit_validation()
        measured = self._measure()
        if measured is None:
            self._roll_back(speed)
            return False
        val_loss, metric = measured
        improved = self._judge(val_loss, metric)
        record = self._metrics_record(val_loss, metric)
        saved = self._save(self._capture_state(), improved=improved, record=record)
        self.writer.log(record)
        self._report_eval(record, val_loss, saved, metric)
        self.rollback.remember(self.history)
        self.clock.closing_s = clocks.now() - started
        speed.restart()
        return True

    def _report_eval(
        self, record: dict[str, Any], val_loss: float | None, saved: list[str], metric: Metric | None
    ) -> None:
        self.on_event(
            TrainEvent(
                "eval",
                self.history.step,
                self.budget.total,
                train_loss=record["train_loss"],
                val_loss=val_loss,
                val_bpc=record["val_bpc"],
                tokens_per_s=record["tokens_per_s"],
                lr=record["lr"],
                grad_norm=record["grad_norm"],
                saved=saved,
                metric=metric,
            )
        )

    def _limit_validation(self) -> None:
        """Under --time, the task fits a validation into its share of the budget (on one process only: ranks
        timing their own validations could choose different amounts of it, and then disagree on the best step)."""
        allowance = self.clock.validation_allowance_s()
        if allowance is not None and not self.dist.active:
            self.task.limit_validation(allowance)

    def _measure(self) -> tuple[float | None, Metric | None] | None:
        """The validation loss and the task's own metric; None if the model has gone non-finite."""
        self.model.eval()
        with self.precision.autocast():
            val_loss = self.task.validation_loss(self.model, self.device)
            finite = val_loss is None or math.isfinite(val_loss)
            metric = task_metric(self.task, self.model, self.device) if finite else None
        finite = finite and all(bool(torch.isfinite(p).all()) for p in self.model.parameters())
        if self.dist.any(not finite):
            return None
        return val_loss, metric

    def _judge(self, val_loss: float | None, metric: Metric | None) -> bool:
        """Record the validation in the history; True if this step is the best so far.

        The task's metric judges where it has one; otherwise the loss (the
        validation loss, or the training loss without validation data).
        """
        score = val_loss if val_loss is not None else self.history.train_loss
        scale = self.task.text_scale
        bits = scale.bits_per_char(score) if scale else None
        if metric is not None and math.isfinite(metric.value) and self.cfg.best_by == "metric":
            return self.history.record_metric(metric, score, bits)
        return self.history.record_score(score, bits)

    def _metrics_record(self, val_loss: float | None, metric: Metric | None = None) -> dict[str, Any]:
        """One line of metrics.jsonl; ``val_bpb`` only for a task over text, ``val_metric`` only with a metric."""
        history, scale = self.history, self.task.text_scale
        measured = val_loss is not None and scale is not None
        bits: dict[str, float | None] = {"val_bpc": scale.bits_per_char(val_loss) if measured else None}
        if scale is not None:
            bits["val_bpb"] = scale.bits_per_byte(val_loss) if measured else None
            bits["val_tokens"] = self.task.validation_tokens if measured else None
        return {
            "step": history.step,
            "tokens_seen": history.tokens_seen,
            "train_loss": history.train_loss,
            "val_loss": val_loss,
            **bits,
            **metric_fields(metric, best_by=self.cfg.best_by),
            "lr": self.optimizer.param_groups[0]["lr"],
            "grad_norm": self.last.grad_norm if self.last else None,
            "tokens_per_s": history.tokens_per_s,
            "elapsed_s": round(history.elapsed_s, 3),
        }

    def _save_and_interrupt(self) -> None:
        """Save last + state at a step boundary, then stop with exit code 130."""
        self.history.elapsed_s = self.clock.elapsed_s()
        self.history.stop_reason = "interrupted"
        state = self._capture_state()  # a collective: every rank takes part
        if self.history.step > 0:
            self._save(state, improved=False, record=None)
        raise TrainingInterrupted(f"interrupted at step {self.history.step}", step=self.history.step)

    def _save(self, state: TrainState, *, improved: bool, record: dict[str, Any] | None) -> list[str]:
        """One save of the run folder (a transaction: see core/run_writer.py)."""
        history = self.history
        return self.writer.save(
            self.model,
            self._meta(),
            state,
            step=history.step,
            best_step=history.best_step,
            improved=improved,
            record=record,
        )

    # --- resume state ---------------------------------------------------------------

    def _capture_state(self) -> TrainState:
        """Everything resuming needs, gathered from every rank (a collective; rank 0 writes it)."""
        history = self.history
        meta = {
            "step": history.step,
            "history": history.to_dict(),
            "scaler": self.precision.state_dict(),
            "checkpoint": self._meta(),
        }
        return capture_train_state(
            self.model, self.optimizer, self.task.state_dict(), device=self.device, dist=self.dist, meta=meta
        )

    def restore(self, state: TrainState) -> None:
        """Continue from a saved state: weights, optimizer, task position, generators, history."""
        try:
            task_state = restore_train_state(state, self.model, self.optimizer, device=self.device, dist=self.dist)
            self.task.load_state_dict(task_state, self.device)
            if hasattr(self.task, "check_state"):  # a task that carries tensors checks they fit the model
                self.task.check_state(getattr(self.model, "module", self.model))
            self.precision.load_state_dict(state.meta.get("scaler"))
            self.history = History.from_dict(state.meta["history"])
            self.resumed = True
        except (KeyError, ValueError, TypeError, RuntimeError) as exc:
            raise CheckpointError(
                f"{self.out_dir / STATE_FILE}: the training state does not fit this "
                f"run ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
            ) from None

    def _meta(self) -> dict[str, Any]:
        return {**self.meta, "history": self.history.to_dict()}
