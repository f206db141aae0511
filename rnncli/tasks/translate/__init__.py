"""Translation: an encoder-decoder with attention maps each source line to a target line (many-to-many,
unequal lengths). Dates to ISO, spelling modernised, one language into another.

``TASK`` tells the registry (rnncli/tasks/__init__.py) what this task reads and which options it takes.
It claims no suffix (a .tsv is a forecaster's by default): give ``--task translate``. Each entry point
imports its module when called, so importing this package costs no torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rnncli.tasks.spec import TaskSpec
from rnncli.tasks.translate.options import option_types

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

DECODING = frozenset({"beam", "n_best", "length_penalty", "max_len_ratio", "device"})


def train(request: TrainRequest, reporter: Reporter) -> Any:
    from rnncli.tasks.translate import runs

    return runs.train(request, reporter)


def resume(request: TrainRequest, saved: SavedRun, reporter: Reporter) -> Any:
    from rnncli.tasks.translate import runs

    return runs.resume(request, saved, reporter)


def evaluate(request: EvalRequest, reporter: Reporter) -> Evaluation:
    from rnncli.tasks.translate import jobs

    return jobs.evaluate(request, reporter)


def predict(request: PredictRequest, reporter: Reporter) -> Prediction:
    from rnncli.tasks.translate import jobs

    return jobs.predict(request, reporter)


def summarise_run(path: str) -> dict[str, Any]:
    from rnncli.tasks.translate import report

    return report.summarise_run(path)


def inspect_run(path: str, options: dict[str, Any]) -> Summary:
    from rnncli.tasks.translate import attention

    return attention.attention_summary(path, options)


def summarise_data(path: str, top: int | None = None) -> Summary:
    from rnncli.tasks.translate import report

    return report.summarise_pairs(path, top)


TASK = TaskSpec(
    name="translate",
    label="translation",
    data_hint="a file of sentence pairs",
    suffixes=(),  # a .tsv is a forecaster's by default: --task translate says otherwise
    options={
        "train": frozenset(option_types()),
        "eval": DECODING | {"per_line", "source", "target"},
        "predict": DECODING | {"output_format"},
        "inspect": frozenset({"attention"}),
    },
    option_notes={
        "seq_len": "a batch holds whole sentence pairs; --max-len bounds their length",
        "horizon": "a translator writes until its end token",
    },
    train=train,
    resume=resume,
    evaluate=evaluate,
    summarise_run=summarise_run,
    summarise_data=summarise_data,
    inspect_run=inspect_run,
    predict=predict,
)
