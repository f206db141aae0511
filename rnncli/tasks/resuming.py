"""One way back into a run for every task: the saved run opened for ``--resume``, and the one
message that tells how to resume a run that was interrupted."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnncli.core.errors import EXIT_INTERRUPTED, RnnError, UsageError
from rnncli.tasks.requests import Reporter, TrainRequest

if TYPE_CHECKING:
    from rnncli.core.resume_state import TrainState


@dataclass
class SavedRun:
    """A run folder and its resume state, as ``rnn train --resume`` found them."""

    folder: Path
    state: TrainState

    @property
    def meta(self) -> dict[str, Any]:
        """The checkpoint's document the state carries: task, settings, data facts."""
        return self.state.meta.get("checkpoint", {})

    @property
    def step(self) -> int:
        """The step the run stopped at, where it goes on from."""
        return int((self.state.meta.get("history") or {}).get("step") or 0)

    def say_resuming(self, reporter: Reporter, total: int | None) -> None:
        """``resuming runs/x at step 235 of 300`` (``total``: the step budget, None when --time alone ends it)."""
        reporter.info(f"resuming {self.folder} at step {self.step:,}" + (f" of {total:,}" if total else ""))

    def inputs(
        self, given: list[str], recorded: list[Any], *, what: str, absolute: list[Any] | None = None
    ) -> list[str]:
        """DATA as given again, else the inputs the run recorded (stdin cannot be read a second time).

        A recorded path is relative to where the run was started; from elsewhere its ``absolute`` twin
        (recorded beside it since runs record one) is read instead.
        """
        if given:
            return given
        if not recorded or not all(isinstance(item, str) for item in recorded) or recorded == ["-"]:
            raise UsageError(
                f"--resume {self.folder}: the run read its {what} from stdin; give DATA (- for stdin) again"
            )
        twins = absolute if absolute and len(absolute) == len(recorded) else [None] * len(recorded)
        return [self._found(path, twin, what) for path, twin in zip(recorded, twins, strict=True)]

    def _found(self, path: str, twin: Any, what: str) -> str:
        if Path(path).exists():
            return path
        if isinstance(twin, str) and Path(twin).exists():
            return twin
        where = f" ({twin})" if isinstance(twin, str) and twin != path else ""
        raise UsageError(
            f"--resume {self.folder}: the run's stored {what} {path}{where} is not there; "
            f"give DATA again: rnn train DATA --resume {shlex.quote(str(self.folder))}"
        )


def open_saved_run(request: TrainRequest) -> SavedRun:
    """The folder of ``--resume`` checked and its resume state read (and validated)."""
    from rnncli.core.resume_state import STATE_FILE, load_train_state
    from rnncli.core.run_journal import current
    from rnncli.core.run_lock import busy, writer_alive

    if request.out is not None or request.force:
        raise UsageError("--resume continues the run in its own folder; leave out --out and --force")
    folder = Path(request.resume)
    if not folder.is_dir():
        raise UsageError(f"--resume {folder}: not a run folder; give the folder that holds {STATE_FILE}")
    writer = writer_alive(folder)
    if writer is not None:  # its state changes under us: refused before it is read (training takes the lock)
        raise busy(folder, f" (PID {writer})")
    return SavedRun(folder=folder, state=load_train_state(current(folder, STATE_FILE) or folder / STATE_FILE))


@contextmanager
def interrupts_explained(out_dir: Path, *, kept: bool = True) -> Iterator[None]:
    """Word a Ctrl-C or SIGTERM during training once, for every task: what was saved and how to go on.

    ``kept`` is False for a run in a temporary folder, which nothing can resume.
    """
    from rnncli.core.training import TrainingInterrupted

    try:
        yield
    except TrainingInterrupted as exc:
        raise TrainingInterrupted(interrupt_message(exc.step, out_dir, kept=kept), step=exc.step) from None
    except KeyboardInterrupt:  # a second signal stops at once, between saves
        where = f"the latest saved weights are in {out_dir / 'last.safetensors'}" if kept else _NOTHING_KEPT
        raise RnnError(f"interrupted; {where}", exit_code=EXIT_INTERRUPTED) from None


_NOTHING_KEPT = "nothing kept (give --out to keep a run that can be resumed)"


def interrupt_message(step: int, out_dir: Path, *, kept: bool = True) -> str:
    if not kept:
        return f"interrupted at step {step}; {_NOTHING_KEPT}"
    saved = f"saved {out_dir / 'last.safetensors'} and its state" if step > 0 else "nothing to save yet"
    return f"interrupted at step {step}; {saved}; resume with: rnn train --resume {shlex.quote(str(out_dir))}"
