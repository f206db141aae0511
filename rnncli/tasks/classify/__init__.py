"""Sequence classification (many-to-one): a label for each text, from a bidirectional recurrent encoder.

``TASK`` tells the registry (rnncli/tasks/__init__.py) what this task reads
and which options it takes. It claims no file suffix (a .csv is a forecast
unless ``--task classify`` says otherwise). Each entry point imports its
module when called, so importing this package costs no torch.
"""

from __future__ import annotations

from rnncli.tasks.spec import TaskSpec, entry


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
        "eval": frozenset({"per_line", "device", "text_col", "label_col"}),
        "predict": frozenset({"output_format", "top_k", "device", "text_col"}),
        "inspect": frozenset({"top"}),
    },
    option_notes={
        "seq_len": "a classifier reads each example whole (--max-len cuts long ones)",
        "eval_batches": "a classifier validates on its whole validation split",
    },
    train=entry("rnncli.tasks.classify.runs", "train"),
    resume=entry("rnncli.tasks.classify.runs", "resume"),
    evaluate=entry("rnncli.tasks.classify.scoring", "evaluate"),
    predict=entry("rnncli.tasks.classify.scoring", "predict"),
    summarise_run=entry("rnncli.tasks.classify.report", "summarise_run"),
    summarise_data=entry("rnncli.tasks.classify.report", "summarise_data"),
)
