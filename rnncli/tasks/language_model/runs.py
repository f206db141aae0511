"""A language-model run for ``rnn train``: its settings, its folder, the corpus, the trainer, and what to say.

``train`` starts a run, ``resume`` continues one; both end in the same
training call and report through the command's ``Reporter``.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import yaml

from rnncli.core.distributed import Distributed
from rnncli.core.errors import CheckpointError, UsageError
from rnncli.core.settings import REFERENCE_ONLY_CELLS
from rnncli.core.tokenizers import Tokenizer, tokenizer_from_dict
from rnncli.core.training import History
from rnncli.tasks.language_model.config import RunConfig, resolve_resume_settings, resolve_train_settings
from rnncli.tasks.language_model.fine_tune import StartingPoint, check_covered, fine_tune_settings, load_starting_point
from rnncli.tasks.language_model.training import (
    PreparedText,
    coverage,
    prepare_text,
    prepare_validation,
    train_text,
)
from rnncli.tasks.requests import Reporter, TrainRequest
from rnncli.tasks.resuming import SavedRun, interrupts_explained

THROUGHPUT_UNIT = "tok/s"
STOP_REASONS = {"time": "the --time budget is spent; ", "patience": "no improvement for --patience evaluations; "}


def train(request: TrainRequest, reporter: Reporter) -> History:
    """A fresh run: defaults < --config < flags, a new run folder, the corpus tokenised, then training."""
    dist = Distributed.from_env()
    reporter = reporter.only_if(dist.is_main)
    if not request.data:
        raise UsageError("missing DATA: give a text file, a folder (or - for stdin), or --resume RUN_FOLDER")
    start = load_starting_point(request.options["init_from"]) if request.options.get("init_from") else None
    if start is not None:
        run = fine_tune_settings(start, request.options, request.config)
    else:
        run = resolve_train_settings(request.options, request.config)
    if run.model.cell in REFERENCE_ONLY_CELLS and request.options.get("impl") is None:
        reporter.info(f"{run.model.cell} has no fused kernel: training with --impl reference")
    out_dir = request.fresh_folder(reporter)
    if start is None:
        prepared = prepare_text(request.data, run.text)
    else:
        prepared = prepare_text(request.data, run.text, tokenizer=start.tokenizer, check=partial(check_covered, start))
        reporter.info(_fine_tune_note(start))
    return _train(prepared, run, out_dir=out_dir, request=request, reporter=reporter, dist=dist, start=start)


def resume(request: TrainRequest, saved: SavedRun, reporter: Reporter) -> History:
    """``--resume``: the saved settings (budgets may change), the same text and tokenizer, then training."""
    if request.options.get("init_from"):
        raise UsageError(
            "--init-from starts a new run from a trained run's weights and --resume continues a run exactly: "
            "give one of them"
        )
    dist = Distributed.from_env()
    reporter = reporter.only_if(dist.is_main)
    run = resolve_resume_settings(_saved_settings(saved), request.options, request.config)
    recorded = saved.meta.get("data", {})
    data = saved.inputs(request.data, recorded.get("inputs") or [recorded.get("source")], what="text")
    prepared = prepare_text(data, run.text, tokenizer=_saved_tokenizer(saved), expect=recorded)
    return _train(prepared, run, out_dir=saved.folder, request=request, reporter=reporter, dist=dist, saved=saved)


def _train(
    prepared: PreparedText,
    run: RunConfig,
    *,
    out_dir: Path,
    request: TrainRequest,
    reporter: Reporter,
    dist: Distributed,
    saved: SavedRun | None = None,
    start: StartingPoint | None = None,
) -> History:
    val = prepare_validation(run, prepared.tokenizer)
    _report_settings(run, reporter)
    _report_prepared(prepared, reporter)
    if val is not None:
        _report_validation(val, reporter)
    try:
        with interrupts_explained(out_dir):
            history = train_text(
                prepared,
                run,
                out_dir=out_dir,
                on_event=reporter.events(THROUGHPUT_UNIT),
                command=request.command,
                resume=saved.state if saved else None,
                dist=dist,
                start=start,
                val=val,
                sample_every=_sample_every(request),
                on_sample=lambda step, text: reporter.info(f"sample at step {step}:\n{text.rstrip()}"),
            )
    finally:
        dist.stop()
    reporter.info(_closing_note(history, out_dir))
    return history


def _sample_every(request: TrainRequest) -> int:
    every = request.options.get("sample_every")
    if every is None:
        return 0
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise UsageError(f"--sample-every must be a whole number of 1 or more (evaluations), got {every!r}")
    return every


def _fine_tune_note(start: StartingPoint) -> str:
    step = start.record()["step"]
    at = f" (step {step})" if step is not None else ""
    return (
        f"fine-tuning from {start.path}{at}: its weights, model and {start.tokenizer.kind} vocabulary of "
        f"{start.tokenizer.vocab_size:,}; a fresh optimizer and step count"
    )


def _closing_note(history: History, out_dir: Path) -> str:
    why = STOP_REASONS.get(history.stop_reason or "", "")
    if history.best_val_loss is None:
        return f"{why}stopped before the first step; nothing saved"
    return (
        f"{why}saved {out_dir}/ (best loss {history.best_val_loss:.4f} at step {history.best_step}); "
        f"try: rnn sample {out_dir} --temp 0.8"
    )


def _report_settings(run: RunConfig, reporter: Reporter) -> None:
    shown = run.to_dict()
    shown["model"].pop("vocab_size")  # measured from the data
    reporter.info("config:\n  " + yaml.safe_dump(shown, sort_keys=False).rstrip().replace("\n", "\n  "))


def _report_prepared(prepared: PreparedText, reporter: Reporter) -> None:
    """What the data layer found: files left out, size, vocabulary and how much of the text it covers."""
    for name in prepared.skipped[:5]:
        reporter.warn(f"{name}: looks like binary data; skipped")
    if len(prepared.skipped) > 5:
        reporter.warn(f"... and {len(prepared.skipped) - 5} more binary files skipped")
    stats, tok = prepared.stats, prepared.tokenizer
    files = f" in {stats['num_files']} files" if stats.get("num_files", 1) > 1 else ""
    cached = " (token file reused from the cache)" if prepared.reused else ""
    reporter.info(
        f"{prepared.source}: {stats['num_chars']:,} characters{files}, {stats['num_tokens']:,} "
        f"{tok.kind} tokens{cached}; vocabulary of {tok.vocab_size:,} symbols covering "
        f"{coverage(prepared):.2%} of the tokens"
    )


def _report_validation(val: PreparedText, reporter: Reporter) -> None:
    unknown = val.stats.get("num_unknown", 0)
    outside = f", {unknown:,} of them outside the vocabulary (read as <unk>)" if unknown else ""
    stats = val.stats
    reporter.info(
        f"validation text: {val.source}, {stats['num_chars']:,} characters, {stats['num_tokens']:,} tokens{outside}"
    )


def _saved_settings(saved: SavedRun) -> RunConfig:
    from rnncli.core.resume_state import STATE_FILE

    meta = saved.meta
    return RunConfig.from_dict(
        {"model": meta.get("model", {}), "train": meta.get("train", {}), "text": meta.get("text", {})},
        where=str(saved.folder / STATE_FILE),
    )


def _saved_tokenizer(saved: SavedRun) -> Tokenizer:
    """A resumed run keeps its own tokenizer: the ids it trained on must not change."""
    try:
        return tokenizer_from_dict(saved.meta.get("tokenizer"))
    except CheckpointError as exc:
        raise CheckpointError(f"--resume {saved.folder}: {exc.message}") from None
