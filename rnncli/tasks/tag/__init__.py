"""Sequence tagging: a tag for every token (named entities, parts of speech), from CoNLL, CoNLL-U or JSONL.

``TASK`` tells the registry (rnncli/tasks/__init__.py) what this task reads and which options it takes.
Each entry point imports its module when called, so importing this package costs no torch.
"""

from __future__ import annotations

from rnncli.tasks.spec import TaskSpec, entry
from rnncli.tasks.tag.options import option_types

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
    train=entry("rnncli.tasks.tag.runs", "train"),
    resume=entry("rnncli.tasks.tag.runs", "resume"),
    evaluate=entry("rnncli.tasks.tag.tagging", "evaluate"),
    summarise_run=entry("rnncli.tasks.tag.report", "summarise_run"),
    summarise_data=entry("rnncli.tasks.tag.report", "summarise_data"),
    predict=entry("rnncli.tasks.tag.tagging", "predict"),
)
