"""The language model: train on text, then sample it, score text with it and inspect it.

``TASK`` tells the registry (rnncli/tasks/__init__.py) what this task reads
and which options it takes. Each entry point imports its module when called,
so importing this package costs no torch.
"""

from __future__ import annotations

from rnncli.tasks.language_model.config import run_option_types
from rnncli.tasks.spec import TaskSpec, entry

TASK = TaskSpec(
    name="language-model",
    label="language models",
    data_hint="a text file",
    suffixes=(),  # the default: text in any file no other task claims
    options={
        "train": frozenset(run_option_types()) | {"init_from", "sample_every"},
        "eval": frozenset({"per_line", "carry", "unknown", "device", "impl"}),
        "inspect": frozenset({"top"}),
    },
    train=entry("rnncli.tasks.language_model.runs", "train"),
    resume=entry("rnncli.tasks.language_model.runs", "resume"),
    evaluate=entry("rnncli.tasks.language_model.scoring", "evaluate"),
    summarise_run=entry("rnncli.tasks.language_model.report", "summarise_run"),
    summarise_data=entry("rnncli.tasks.language_model.report", "summarise_text"),
    instead_of_predict="rnn sample {run} continues a prompt",
)
