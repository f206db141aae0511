"""The training progress bar (CLI layer): turns a task's TrainEvents into a rich display on stderr."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from rnncli.cli import console as messages
from rnncli.tasks.requests import Reporter

if TYPE_CHECKING:  # the trainer imports torch; `rnn --help` must not
    from rnncli.core.training import TrainEvent


class TrainProgress:
    """Step, train loss, validation loss, throughput and ETA.

    On a terminal it is a live bar, started by the trainer's first event (so
    the notes before training print plainly); elsewhere (a log file, CI) each
    validation prints one plain line instead, so logs stay readable.
    """

    def __init__(self, console: Console):
        self.console, self.unit = console, "tok/s"
        self.live = console.is_terminal and not console.quiet
        self.val_text = "val -"
        self.progress = Progress(
            TextColumn("step"),
            MofNCompleteColumn(),
            BarColumn(),
            TextColumn("{task.fields[loss]}"),
            TextColumn("{task.fields[val]}"),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.task = None

    def __enter__(self) -> TrainProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        if self.live and self.task is not None:
            self.progress.stop()
        self.live = False

    def reporter(self) -> Reporter:
        """Notes and warnings on stderr, and the trainer's events on this bar."""
        return messages.reporter(self.update)

    def update(self, event: TrainEvent, unit: str = "tok/s") -> None:
        if event.kind == "start":
            self._start(event, unit)
            return
        if event.kind == "rollback":
            self.console.print(
                f"rnn: warning: {event.note}; learning rate now {event.lr:.3g}", markup=False, style="yellow"
            )
            return
        if event.kind == "eval":
            self.val_text = f"val {event.val_loss:.4f}" if event.val_loss is not None else "val -"
            if event.metric is not None:
                self.val_text += f" {event.metric.name} {event.metric.value:.4g}"
            if not self.live:
                bpc = f" bpc {event.val_bpc:.3f}" if event.val_bpc is not None else ""
                total = event.total_steps if event.total_steps is not None else "?"
                self.console.print(
                    f"step {event.step}/{total} loss {event.train_loss:.4f} "
                    f"{self.val_text}{bpc} {event.tokens_per_s:,.0f} {self.unit}",
                    markup=False,
                )
        if self.live and self.task is not None and event.kind in ("step", "eval"):
            rate = f"{event.tokens_per_s:,.0f} {self.unit}" if event.tokens_per_s else ""
            self.progress.update(
                self.task, completed=event.step, loss=f"loss {event.train_loss:.4f}", val=self.val_text, rate=rate
            )
        if event.kind == "done":
            self.stop()  # the notes after training print below the finished bar

    def _start(self, event: TrainEvent, unit: str) -> None:
        self.unit = unit
        if self.live and self.task is None:
            self.progress.start()
            self.task = self.progress.add_task(
                "train", total=event.total_steps, start=True, loss="loss -", val=self.val_text, rate=""
            )
