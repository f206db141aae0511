"""Forecasting: quantile forecasts for every series of a CSV, from one recurrent model trained on them all.

``TASK`` tells the registry (rnncli/tasks/__init__.py) what this task reads
and which options it takes. Each entry point imports its module when called,
so importing this package costs no torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rnncli.tasks.forecast.options import option_types
from rnncli.tasks.spec import TaskSpec

if TYPE_CHECKING:
    from rnncli.tasks.requests import EvalRequest, Evaluation, Reporter, Summary, TrainRequest
    from rnncli.tasks.resuming import SavedRun


def train(request: TrainRequest, reporter: Reporter) -> Any:
    from rnncli.tasks.forecast import runs

    return runs.train(request, reporter)


def resume(request: TrainRequest, saved: SavedRun, reporter: Reporter) -> Any:
    from rnncli.tasks.forecast import runs

    return runs.resume(request, saved, reporter)


def evaluate(request: EvalRequest, reporter: Reporter) -> Evaluation:
    from rnncli.tasks.forecast import predict

    return predict.evaluate(request, reporter)


def summarise_run(path: str) -> dict[str, Any]:
    from rnncli.tasks.forecast import report

    return report.summarise_run(path)


def summarise_data(path: str, top: int | None = None) -> Summary:
    from rnncli.tasks.forecast import report

    return report.summarise_series(path, top)


TASK = TaskSpec(
    name="forecast",
    label="forecasting",
    data_hint="a .csv file",
    suffixes=(".csv", ".tsv"),
    options={"train": frozenset(option_types()), "eval": frozenset({"backtest"}), "inspect": frozenset()},
    option_notes={
        "seq_len": "the context is --lookback",
        "val_frac": "validation is the last horizon of every series",
        "embed_size": "a forecaster reads numbers, not tokens",
        "impl": "a forecaster runs on PyTorch's fused layers",
    },
    train=train,
    resume=resume,
    evaluate=evaluate,
    summarise_run=summarise_run,
    summarise_data=summarise_data,
    instead_of_predict="rnn forecast DATA --model {run} forecasts a CSV",
)
