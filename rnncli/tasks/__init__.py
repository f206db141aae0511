"""The task registry: which task a path belongs to, and each task's entry points.

A task is a package under rnncli/tasks/ whose ``__init__.py`` defines
``TASK``, a ``TaskSpec`` (rnncli/tasks/spec.py). A new task is one new package
and one line in ``TASKS``. Packages are imported when first asked for, and
their entry points import torch only when called, so ``rnn --help`` loads none
of it.

Every command that reads data asks ``detect`` which task it is, by one rule:
a run folder or checkpoint is the task recorded in it (a run that records none
is a language model); other data is the task named by ``--task``, else the task
that claims the file's suffix (.csv and .tsv: forecast), else a language model.
"""

from __future__ import annotations

import copy
import importlib
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnncli.core.documents import check_regular_file
from rnncli.core.errors import CheckpointError, DataError, NotThisKindOfData, RnnError, UsageError
from rnncli.tasks.requests import (
    EvalRequest,
    Evaluation,
    Prediction,
    PredictRequest,
    Reporter,
    TrainRequest,
    given,
)
from rnncli.tasks.spec import TaskSpec

TASKS: dict[str, str] = {
    "language-model": "rnncli.tasks.language_model",
    "forecast": "rnncli.tasks.forecast",
    "classify": "rnncli.tasks.classify",
    "tag": "rnncli.tasks.tag",
    "translate": "rnncli.tasks.translate",
}
DEFAULT_TASK = "language-model"  # runs that record no task were all language models
CHECKPOINT_FILES = ("model.safetensors", "last.safetensors")
RUN_FILES = (*CHECKPOINT_FILES, "last.state.safetensors", "metrics.jsonl")
PAIRED_INPUTS = {"source", "target"}  # eval options that stand in for DATA (a translator's two aligned files)


ALIASES = {"lm": "language-model"}  # short names --task also takes


def get_task(name: str) -> TaskSpec:
    """The spec of the task called ``name`` (as --task spells it, or its short name: lm)."""
    name = ALIASES.get(name, name)
    if name not in TASKS:
        raise UsageError(f"--task: unknown value '{name}' (choose one of: {', '.join(TASKS)})")
    return importlib.import_module(TASKS[name]).TASK


def all_tasks() -> list[TaskSpec]:
    return [get_task(name) for name in TASKS]


@dataclass(frozen=True)
class Detection:
    """The task a path belongs to, whether the path is a run (else data), and why."""

    task: TaskSpec
    path: str | None
    run: bool
    because: str  # "run" (it records its task), "--task", "suffix" (a task claims it) or "default"

    @contextmanager
    def guess_explained(self, options: Mapping[str, Any]) -> Iterator[None]:
        """A task chosen by the file's suffix may be the wrong one: errors that may come from that say so.

        Those are data that is not this task's kind at all (text given to the forecaster) and usage errors
        about an option the user did not give (--horizon, required for forecasting). A flaw in data of the
        right kind (an unsorted time column) or in an option the user gave is left alone.
        """
        try:
            yield
        except (DataError, UsageError) as exc:
            if self.because != "suffix" or not _may_come_from_the_guess(exc, options):
                raise
            explained = copy.copy(exc)
            explained.args = (f"{exc.message} ({self._how_to_change()})",)
            raise explained from None

    def _how_to_change(self) -> str:
        others = "; ".join(f"for {t.label} give --task {t.name}" for t in all_tasks() if t is not self.task)
        return f"read for {self.task.label} because of its {Path(str(self.path)).suffix} suffix; {others}"


def _may_come_from_the_guess(exc: RnnError, options: Mapping[str, Any]) -> bool:
    if isinstance(exc, NotThisKindOfData):
        return True
    if not isinstance(exc, UsageError):
        return False
    flag = re.match(r"--([a-z][a-z-]*)", exc.message)
    return not (flag and flag.group(1).replace("-", "_") in given(dict(options)))


def detect(path: str | Path | None, *, task: str | None = None) -> Detection:
    """The one detection rule of every command that reads data (see the module's docstring)."""
    shown = None if path is None else str(path)
    if shown not in (None, "-") and os.path.exists(shown) and not os.path.isdir(shown):
        check_regular_file(shown)  # a FIFO or a device would block or never end: refused before it is opened
    if shown is not None and is_run(shown):
        recorded = get_task(_known(recorded_task(shown), shown))
        if task is not None and get_task(task) is not recorded:
            raise UsageError(f"--task {task}: {shown} is a {recorded.name} run; leave out --task")
        return Detection(recorded, shown, run=True, because="run")
    if task is not None:
        return Detection(get_task(task), shown, run=False, because="--task")
    suffix = Path(shown).suffix.lower() if shown not in (None, "-") else ""
    claimed = [spec for spec in all_tasks() if suffix and suffix in spec.suffixes]
    if claimed:
        return Detection(claimed[0], shown, run=False, because="suffix")
    return Detection(get_task(DEFAULT_TASK), shown, run=False, because="default")


def is_run(path: str) -> bool:
    """A run folder (it holds a checkpoint, resume state or metrics.jsonl) or a safetensors file."""
    if path == "-":
        return False
    p = Path(path)
    if p.is_dir():
        return any(_holds(p, name) for name in RUN_FILES)
    return p.suffix.lower() == ".safetensors" or _looks_like_safetensors(p)


def recorded_task(path: str) -> str:
    """The task a run folder or checkpoint file records (read from its metadata, weights unread)."""
    from rnncli.core.checkpoint import read_meta, resolve_checkpoint_path

    p = Path(path)
    if p.is_dir() and not any(_holds(p, name) for name in CHECKPOINT_FILES):
        return _state_task(p)
    return read_meta(resolve_checkpoint_path(p)).get("task") or DEFAULT_TASK


def _holds(folder: Path, name: str) -> bool:
    """The run folder holds ``name``, as its last committed save left it (core/run_journal.py)."""
    from rnncli.core.run_journal import existing

    return existing(folder, name) is not None


def _state_task(folder: Path) -> str:
    """A run folder with resume state but no checkpoint beside it (or only metrics.jsonl)."""
    from rnncli.core.resume_state import STATE_FILE, read_state_meta
    from rnncli.core.run_journal import existing

    state = existing(folder, STATE_FILE)
    if state is None:
        return DEFAULT_TASK
    return (read_state_meta(state).get("checkpoint") or {}).get("task") or DEFAULT_TASK


def _known(name: Any, path: str) -> str:
    if not isinstance(name, str) or name not in TASKS:
        raise CheckpointError(
            f"{path}: a run of task {name!r}, which this version of rnn does not know; upgrade rnncli"
        )
    return name


def _looks_like_safetensors(path: Path) -> bool:
    """An 8-byte little-endian header length followed by a JSON object."""
    if not path.is_file():
        return False
    try:
        with open(path, "rb") as handle:
            head = handle.read(9)
    except OSError:
        return False
    return len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < 1 << 32


def check_options(detection: Detection, command: str, options: Mapping[str, Any]) -> None:
    """Refuse, in one line, an option of ``command`` that another task takes and the detected one does not."""
    spec = detection.task
    for name in given(dict(options)):
        owner = next((t for t in all_tasks() if t is not spec and t.takes(command, name)), None)
        if owner is not None and not spec.takes(command, name):
            raise UsageError(_refusal(name, detection, owner))


def _refusal(name: str, detection: Detection, owner: TaskSpec) -> str:
    spec, flag = detection.task, "--" + name.replace("_", "-")
    note = f" ({spec.option_notes[name]})" if name in spec.option_notes else ""
    if detection.run:
        return f"{flag} does not apply to {spec.label}{note}: {detection.path} is a {spec.name} run"
    return (
        f"{flag} does not apply to {spec.label}{note}; {flag} is for {owner.label}: "
        f"give {owner.data_hint} or --task {owner.name}"
    )


def train(request: TrainRequest, reporter: Reporter) -> Any:
    """``rnn train``: a fresh run, or ``--resume`` of a saved one, by the task the data (or the run) is."""
    detection = detect(request.resume or (request.data[0] if request.data else None), task=request.task)
    check_options(detection, "train", request.options)
    if request.resume is None:
        with detection.guess_explained({**request.options, "out": request.out, "force": request.force}):
            return detection.task.train(request, reporter)
    from rnncli.tasks.resuming import open_saved_run

    return detection.task.resume(request, open_saved_run(request), reporter)


def evaluate(request: EvalRequest, reporter: Reporter) -> Evaluation:
    """``rnn eval``: score a checkpoint on data, as the task the checkpoint records."""
    detection = detect(request.checkpoint, task=request.task)
    check_options(detection, "eval", request.options)
    if request.data is None and not given(request.options).keys() & PAIRED_INPUTS:
        raise UsageError(f"give DATA: the file to score {request.checkpoint} on")
    return detection.task.evaluate(request, reporter)


def predict(request: PredictRequest, reporter: Reporter) -> Prediction:
    """``rnn predict``: map each input to an output with a trained model, as the task its checkpoint records."""
    detection = detect(request.checkpoint)
    if not detection.run:
        raise UsageError(
            f"{request.checkpoint}: not a run folder or .safetensors checkpoint; "
            "give the run to predict with, then the inputs"
        )
    spec = detection.task
    if spec.predict is None:
        instead = f"; {spec.instead_of_predict.format(run=request.checkpoint)}" if spec.instead_of_predict else ""
        raise UsageError(f"rnn predict maps inputs to outputs, which {spec.label} do not do{instead}")
    check_options(detection, "predict", request.options)
    return spec.predict(request, reporter)
