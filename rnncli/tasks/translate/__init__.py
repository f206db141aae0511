"""Translation: an encoder-decoder with attention maps each source line to a target line (many-to-many,
unequal lengths). Dates to ISO, spelling modernised, one language into another.

``TASK`` tells the registry (rnncli/tasks/__init__.py) what this task reads and which options it takes.
It claims no suffix (a .tsv is a forecaster's by default): give ``--task translate``. Its entry points are
imported when called, so importing this package costs no torch.
"""

from __future__ import annotations

from rnncli.tasks.spec import TaskSpec, entry
from rnncli.tasks.translate.options import option_types

DECODING = frozenset({"beam", "n_best", "length_penalty", "max_len_ratio", "device"})


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
    train=entry("rnncli.tasks.translate.runs", "train"),
    resume=entry("rnncli.tasks.translate.runs", "resume"),
    evaluate=entry("rnncli.tasks.translate.jobs", "evaluate"),
    summarise_run=entry("rnncli.tasks.translate.report", "summarise_run"),
    summarise_data=entry("rnncli.tasks.translate.report", "summarise_pairs"),
    inspect_run=entry("rnncli.tasks.translate.attention", "attention_summary"),
    predict=entry("rnncli.tasks.translate.jobs", "predict"),
)
