"""Sequence tagging: a tag for every token (named entities, parts of speech), from CoNLL, CoNLL-U or JSONL.

``TASK`` tells the registry (rnncli/tasks/__init__.py) what this task reads and which options it takes.
Each entry point imports its module when called, so importing this package costs no torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rnncli.tasks.spec import TaskSpec
from rnncli.tasks.tag.options import option_types

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
    from rnncli.tasks.tag import runs

    return runs.train(request, reporter)


def resume(request: TrainRequest, saved: SavedRun, reporter: Reporter) -> Any:
    from rnncli.tasks.tag import runs

    return runs.resume(request, saved, reporter)


def evaluate(request: EvalRequest, reporter: Reporter) -> Evaluation:
    from rnncli.tasks.tag import tagging

    return tagging.evaluate(request, reporter)


def predict(request: PredictRequest, reporter: Reporter) -> Prediction:
    from rnncli.tasks.tag import tagging

    return tagging.predict(request, reporter)


def summarise_run(path: str) -> dict[str, Any]:
    from rnncli.tasks.tag import report

    return report.summarise_run(path)


def summarise_data(path: str, top: int | None = None) -> Summary:
    from rnncli.tasks.tag import report

    return report.summarise_data(path, top)


TASK = TaskSpec(
    name="tag",
    label="tagging",
    data_hint="a .conll or .conllu file",
    suffixes=(".conll", ".conllu"),
    options={
        "train": frozenset(option_types()),
        "eval": frozenset({"per_line", "device", "tag_col", "tag_field"}),
        "predict": frozenset({"output_format", "device", "pretokenized"}),
        "inspect": frozenset(),
    },
    option_notes={"seq_len": "a tagger reads whole sentences"},
    train=train,
    resume=resume,
    evaluate=evaluate,
    summarise_run=summarise_run,
    summarise_data=summarise_data,
    predict=predict,
)
