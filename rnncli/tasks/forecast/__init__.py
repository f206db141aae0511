"""Forecasting: quantile forecasts for every series of a CSV, from one recurrent model trained on them all.

``TASK`` tells the registry (rnncli/tasks/__init__.py) what this task reads
and which options it takes. Each entry point imports its module when called,
so importing this package costs no torch.
"""

from __future__ import annotations

from rnncli.tasks.forecast.options import option_types
from rnncli.tasks.spec import TaskSpec, entry

# How eval and inspect read a CSV of series, as train and forecast do (inspect forecasts nothing: no --strict).
READING = frozenset({"time_col", "value_col", "id_col", "freq", "missing", "decimal", "thousands"})

TASK = TaskSpec(
    name="forecast",
    label="forecasting",
    data_hint="a .csv file",
    suffixes=(".csv", ".tsv"),
    options={
        "train": frozenset(option_types()),
        "eval": READING | {"backtest", "step", "backtest_out", "strict", "allow_overlap"},
        "inspect": READING,
    },
    option_notes={
        "seq_len": "the context is --lookback",
        "val_frac": "validation is the last horizon of every series",
        "embed_size": "a forecaster reads numbers, not tokens",
        "impl": "a forecaster runs on PyTorch's fused layers",
    },
    train=entry("rnncli.tasks.forecast.runs", "train"),
    resume=entry("rnncli.tasks.forecast.runs", "resume"),
    evaluate=entry("rnncli.tasks.forecast.predict", "evaluate"),
    summarise_run=entry("rnncli.tasks.forecast.report", "summarise_run"),
    summarise_data=entry("rnncli.tasks.forecast.report", "summarise_series"),
    instead_of_predict="rnn forecast DATA --model {run} forecasts a CSV",
    claims_text=entry("rnncli.tasks.forecast.series", "looks_like_series"),
)
