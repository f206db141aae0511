"""What a language-model run says as it starts and ends: the settings that matter, and where it saved.

Shared by plain runs (runs.py) and conditional ones (conditional_runs.py).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from rnncli.core.training import History
from rnncli.tasks.language_model.config import RunConfig
from rnncli.tasks.requests import Reporter

THROUGHPUT_UNIT = "tok/s"
STOP_REASONS = {"time": "the --time budget is spent; ", "patience": "no improvement for --patience evaluations; "}


def closing_note(history: History, out_dir: Path) -> str:
    why = STOP_REASONS.get(history.stop_reason or "", "")
    if history.best_val_loss is None:
        return f"{why}stopped before the first step; nothing saved"
    return (
        f"{why}saved {out_dir}/ (best loss {history.best_val_loss:.4f} at step {history.best_step}); "
        f"try: rnn sample {out_dir} --temp 0.8"
    )


# Text settings that only one tokenizer reads: the others leave them out of the config echo.
TOKENIZER_ONLY = {"vocab_size": "bpe", "min_count": "word", "max_vocab": "word"}


def report_settings(run: RunConfig, reporter: Reporter) -> None:
    """The settings that matter for this run: none the tokenizer ignores, none left unset."""
    shown = run.to_dict()
    shown["model"].pop("vocab_size")  # measured from the data
    shown["train"] = {key: value for key, value in shown["train"].items() if value is not None}
    text = shown["text"]
    shown["text"] = {
        key: value
        for key, value in text.items()
        if value is not None and TOKENIZER_ONLY.get(key, text["tokenizer"]) == text["tokenizer"]
    }
    reporter.info("config:\n  " + yaml.safe_dump(shown, sort_keys=False).rstrip().replace("\n", "\n  "))
