"""The language model: train on text, then sample it, score text with it and inspect it.

``TASK`` tells the registry (rnncli/tasks/__init__.py) what this task reads
and which options it takes. Each entry point imports its module when called,
so importing this package costs no torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rnncli.tasks.language_model.config import run_option_types
from rnncli.tasks.spec import TaskSpec

if TYPE_CHECKING:
    from rnncli.tasks.requests import EvalRequest, Evaluation, Reporter, Summary, TrainRequest
    from rnncli.tasks.resuming import SavedRun


def train(request: TrainRequest, reporter: Reporter) -> Any:
    from rnncli.tasks.language_model import runs

    return runs.train(request, reporter)


def resume(request: TrainRequest, saved: SavedRun, reporter: Reporter) -> Any:
    from rnncli.tasks.language_model import runs

    return runs.resume(request, saved, reporter)


def evaluate(request: EvalRequest, reporter: Reporter) -> Evaluation:
    from rnncli.tasks.language_model import scoring

    return scoring.evaluate(request, reporter)


def summarise_run(path: str) -> dict[str, Any]:
    from rnncli.tasks.language_model import report

    return report.summarise_run(path)


def summarise_data(path: str, top: int | None = None) -> Summary:
    from rnncli.tasks.language_model import report

    return report.summarise_text(path, top)


TASK = TaskSpec(
    name="language-model",
    label="language models",
    data_hint="a text file",
    suffixes=(),  # the default: text in any file no other task claims
    options={
        "train": frozenset(run_option_types()),
        "eval": frozenset({"per_line", "carry", "unknown", "device", "impl"}),
        "inspect": frozenset({"top"}),
    },
    train=train,
    resume=resume,
    evaluate=evaluate,
    summarise_run=summarise_run,
    summarise_data=summarise_data,
    instead_of_predict="rnn sample {run} continues a prompt",
)
