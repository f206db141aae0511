"""Sequence classification (many-to-one): a label for each text, from a bidirectional recurrent encoder.

``TASK`` tells the registry (rnncli/tasks/__init__.py) what this task reads
and which options it takes. It claims no file suffix (a .csv is a forecast
unless ``--task classify`` says otherwise). Each entry point imports its
module when called, so importing this package costs no torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rnncli.tasks.spec import TaskSpec

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


def train(request: TrainRequest, reporter: Reporter) -> Any:
    from rnncli.tasks.classify import runs

    return runs.train(request, reporter)


def resume(request: TrainRequest, saved: SavedRun, reporter: Reporter) -> Any:
    from rnncli.tasks.classify import runs

    return runs.resume(request, saved, reporter)


def evaluate(request: EvalRequest, reporter: Reporter) -> Evaluation:
    from rnncli.tasks.classify import scoring

    return scoring.evaluate(request, reporter)


def predict(request: PredictRequest, reporter: Reporter) -> Prediction:
    from rnncli.tasks.classify import scoring

    return scoring.predict(request, reporter)


def summarise_run(path: str) -> dict[str, Any]:
    from rnncli.tasks.classify import report

    return report.summarise_run(path)


def summarise_data(path: str, top: int | None = None) -> Summary:
    from rnncli.tasks.classify import report

    return report.summarise_data(path, top)


def _train_options() -> frozenset[str]:
    from rnncli.tasks.classify.options import option_types

    return frozenset(option_types())


TASK = TaskSpec(
    name="classify",
    label="classification",
    data_hint="a labelled CSV, TSV, JSONL, folder or fastText file",
    suffixes=(),
    options={
        "train": _train_options(),
        "eval": frozenset({"per_line", "device"}),
        "predict": frozenset({"output_format", "top_k", "device"}),
        "inspect": frozenset({"top"}),
    },
    option_notes={
        "seq_len": "a classifier reads each example whole (--max-len cuts long ones)",
        "eval_batches": "a classifier validates on its whole validation split",
    },
    train=train,
    resume=resume,
    evaluate=evaluate,
    predict=predict,
    summarise_run=summarise_run,
    summarise_data=summarise_data,
)
