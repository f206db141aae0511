"""A language-model run for ``rnn train``: its settings, its folder, the corpus, the trainer, and what to say.

``train`` starts a run, ``resume`` continues one; both end in the same
training call and report through the command's ``Reporter``.
"""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

from rnncli.core.clocks import StepBudget
from rnncli.core.distributed import Distributed
from rnncli.core.errors import CheckpointError, UsageError
from rnncli.core.settings import REFERENCE_ONLY_CELLS
from rnncli.core.tokenizers import Tokenizer, tokenizer_from_dict
from rnncli.core.training import History
from rnncli.tasks.language_model import sizing
from rnncli.tasks.language_model.config import (
    RunConfig,
    given_options,
    resolve_resume_settings,
    resolve_train_settings,
)
from rnncli.tasks.language_model.fine_tune import StartingPoint, check_covered, fine_tune_settings, load_starting_point
from rnncli.tasks.language_model.run_lines import THROUGHPUT_UNIT, closing_note, report_settings
from rnncli.tasks.language_model.training import (
    PreparedText,
    coverage,
    prepare_text,
    prepare_validation,
    train_text,
)
from rnncli.tasks.requests import Reporter, TrainRequest
from rnncli.tasks.resuming import SavedRun, interrupts_explained
from rnncli.tasks.training_curve import passes_text


def train(request: TrainRequest, reporter: Reporter) -> History:
    """A fresh run: defaults < --config < flags, a new run folder, the corpus tokenised, then training."""
    dist = Distributed.from_env()
    reporter = reporter.only_if(dist.is_main)
    if not request.data:
        raise UsageError("missing DATA: give a text file, a folder (or - for stdin), or --resume RUN_FOLDER")
    if request.options.get("init_from") and request.options.get("condition_col"):
        raise UsageError("--init-from starts from a plain language model: leave it out with --condition-col")
    start = load_starting_point(request.options["init_from"]) if request.options.get("init_from") else None
    if start is not None:
        run = fine_tune_settings(start, request.options, request.config)
    else:
        run = resolve_train_settings(request.options, request.config)
    if run.text.condition_col is not None:
        from rnncli.tasks.language_model import conditional_runs

        return conditional_runs.train(request, run, reporter, dist)
    if run.model.cell in REFERENCE_ONLY_CELLS and request.options.get("impl") is None:
        reporter.info(f"{run.model.cell} has no fused kernel: training with --impl reference")
    out_dir = request.fresh_folder(reporter)
    if start is None:
        prepared = prepare_text(request.data, run.text)
        _fit_to_budget(run, prepared, given_options(request.options, request.config), reporter)
    else:  # the starting point fixes the model's size
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
    if saved.meta.get("condition") is not None:
        from rnncli.tasks.language_model import conditional_runs

        return conditional_runs.resume(request, saved, run, reporter, dist)
    recorded = saved.meta.get("data", {})
    data = saved.inputs(
        request.data,
        recorded.get("inputs") or [recorded.get("source")],
        what="text",
        absolute=recorded.get("inputs_absolute"),
    )
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
    report_settings(run, reporter)
    _report_prepared(prepared, reporter)
    if val is not None:
        _report_validation(val, reporter)
    reporter.info(_budget_line(run, prepared))
    if saved is not None:
        saved.say_resuming(reporter, _planned_steps(run, prepared))
    request.announce_folder(reporter)  # after the data is read and checked: a failure before makes no folder
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
                started=request.started,
            )
    finally:
        dist.stop()
    reporter.info(closing_note(history, out_dir))
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


def _fit_to_budget(run: RunConfig, prepared: PreparedText, given: set[str], reporter: Reporter) -> None:
    """A --time run alone on the CPU: the model size and schedule the budget affords, where the user left them."""
    from rnncli.core.devices import resolve_device

    train = run.train
    if train.time is None or train.steps is not None or train.epochs is not None:
        return
    if resolve_device(train.device).type != "cpu":
        return
    model, vocab = run.model, prepared.tokenizer.vocab_size
    choice = sizing.choose(
        train.time_budget_s,
        given=given,
        speed=lambda: sizing.probe_tokens_per_s(
            cell=model.cell, embed=model.embed_size, vocab=vocab, batch_size=train.batch_size, seq_len=train.seq_len
        ),
        train_tokens=len(prepared.ids) - int(len(prepared.ids) * train.val_frac),
        embed=model.embed_size,
        vocab=vocab,
    )
    if choice is None:
        return
    if choice.hidden_size is not None:
        run.model.num_layers, run.model.hidden_size = choice.num_layers, choice.hidden_size
    if choice.lr_schedule is not None:
        train.lr_schedule = choice.lr_schedule
    run.chosen = choice.to_dict()
    reporter.info(choice.describe(train.time))


def _training_tokens(run: RunConfig, prepared: PreparedText) -> int:
    return max(1, round(prepared.stats["num_tokens"] * (1 - run.train.val_frac)))


def _planned_steps(run: RunConfig, prepared: PreparedText) -> int | None:
    """The run's step budget (--steps, or --epochs in steps); None when only --time ends it."""
    per_step = run.train.batch_size * run.train.seq_len
    return StepBudget.of(run.train, max(1, _training_tokens(run, prepared) // per_step)).total


def _budget_line(run: RunConfig, prepared: PreparedText) -> str:
    """How long the run trains, in steps and in passes over the training part of the text."""
    cfg = run.train
    per_step = cfg.batch_size * cfg.seq_len
    train_tokens = _training_tokens(run, prepared)
    shape = f"steps of {cfg.batch_size} x {cfg.seq_len} tokens"
    steps = _planned_steps(run, prepared)
    if steps is None:
        return f"budget: --time {cfg.time}; one pass over the data is {math.ceil(train_tokens / per_step):,} {shape}"
    limit = f", or --time {cfg.time} if sooner" if cfg.time is not None else ""
    return f"budget: {steps:,} {shape}{limit}; passes over the data: {passes_text(steps * per_step / train_tokens)}"


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

    meta, where = saved.meta, saved.folder / STATE_FILE
    run = RunConfig.from_dict(
        {key: meta.get(key, {}) for key in ("model", "train", "text", "chosen")},
        where=str(where),
    )
    try:
        run.text.read_settings().validate()
    except UsageError as exc:
        raise CheckpointError(f"{where}: the stored text settings: {exc.message.lstrip('-')}") from None
    return run


def _saved_tokenizer(saved: SavedRun) -> Tokenizer:
    """A resumed run keeps its own tokenizer: the ids it trained on must not change."""
    try:
        return tokenizer_from_dict(saved.meta.get("tokenizer"))
    except CheckpointError as exc:
        raise CheckpointError(f"--resume {saved.folder}: {exc.message}") from None
