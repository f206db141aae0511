"""What a task tells the registry: its name, the data it claims, the options it takes and its entry points.

Each task package defines ``TASK = TaskSpec(...)`` in its ``__init__.py``, naming its entry points with
``entry(module, function)``: they import the task's heavy modules (torch) only when they are called.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rnncli.tasks.requests import (
        EvalRequest,
        Evaluation,
        Prediction,
        PredictRequest,
        Reporter,
        Summary,
        TrainRequest,
    )
    from rnncli.tasks.resuming import SavedRun


def entry(module: str, function: str) -> Callable[..., Any]:
    """A task's entry point, imported when it is first called: naming it in ``TASK`` costs no torch."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), function)(*args, **kwargs)

    call.__qualname__ = call.__name__ = f"{module}.{function}"
    return call


@dataclass(frozen=True)
class TaskSpec:
    """A task as the commands see it.

    ``options`` maps a command (train, eval, inspect) to the names of its
    options that this task takes; an option that another task takes and this
    one does not is refused with one line that names both. ``option_notes``
    says why an option does not apply here, where that helps.
    """

    name: str  # as --task spells it
    label: str  # in messages: "language models", "forecasting"
    data_hint: str  # the data that picks this task: "a text file", "a .csv file"
    suffixes: tuple[str, ...]  # data files this task claims by their suffix
    options: Mapping[str, frozenset[str]]
    train: Callable[[TrainRequest, Reporter], Any]
    resume: Callable[[TrainRequest, SavedRun, Reporter], Any]
    evaluate: Callable[[EvalRequest, Reporter], Evaluation]
    summarise_run: Callable[[str], dict[str, Any]]  # a run folder or checkpoint, for inspect
    summarise_data: Callable[[str, int | None], Summary]  # a data file, for inspect (the int: --top)
    option_notes: Mapping[str, str] = field(default_factory=dict)
    predict: Callable[[PredictRequest, Reporter], Prediction] | None = None  # rnn predict: inputs to outputs
    # inspect's questions to a run beyond its summary (translate: --attention TEXT), given as {option: value}
    inspect_run: Callable[[str, dict[str, Any]], Summary] | None = None
    instead_of_predict: str = ""  # what to use where a task has no predict ("rnn sample RUN")
    # whether the start of a nameless input (stdin) is this task's data: a CSV of series for inspect -
    claims_text: Callable[[str], bool] | None = None

    def takes(self, command: str, option: str) -> bool:
        return option in self.options.get(command, frozenset())
