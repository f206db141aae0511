"""A conditional language-model run (``rnn train LABELLED --task language-model --condition-col COL``).

The same trainer, run folder, checkpoint and resume as a plain language model;
the checkpoint's ``condition`` section records the label column and the
labels (their order gives each its embedding row) and the end-of-text id.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch

from rnncli.core.checkpoint import versions
from rnncli.core.devices import resolve_device
from rnncli.core.distributed import Distributed
from rnncli.core.errors import CheckpointError, UsageError
from rnncli.core.resume_state import command_record
from rnncli.core.tokenizers import Tokenizer
from rnncli.core.training import History, Trainer
from rnncli.tasks.language_model.conditional import ConditionalData, prepare_conditional
from rnncli.tasks.language_model.conditional_task import ConditionalTask
from rnncli.tasks.language_model.config import RunConfig
from rnncli.tasks.language_model.model import build_model
from rnncli.tasks.language_model.run_lines import THROUGHPUT_UNIT, closing_note, report_settings
from rnncli.tasks.requests import Reporter, TrainRequest
from rnncli.tasks.resuming import SavedRun, interrupts_explained

TASK_LM = "language-model"


def refuse_other_options(request: TrainRequest) -> None:
    """Options of a plain text run that a labelled file has no use for."""
    for option, why in (("init_from", "starts from a plain language model"), ("sample_every", "samples plain text")):
        if request.options.get(option):
            flag = "--" + option.replace("_", "-")
            raise UsageError(f"{flag} {why}: leave it out with --condition-col")


def prepare(data: str, run: RunConfig, **saved: Any) -> ConditionalData:
    train = run.train
    return prepare_conditional(data, run.text, seq_len=train.seq_len, val_frac=train.val_frac, seed=train.seed, **saved)


def train(request: TrainRequest, run: RunConfig, reporter: Reporter, dist: Distributed) -> History:
    """A fresh conditional run: the labelled file read and encoded, a new folder, then training."""
    refuse_other_options(request)
    if len(request.data) != 1:
        raise UsageError("--condition-col reads one labelled file or folder: give one DATA")
    out_dir = request.fresh_folder(reporter)
    data = prepare(request.data[0], run)
    return _train(data, run, out_dir=out_dir, request=request, reporter=reporter, dist=dist)


def resume(request: TrainRequest, saved: SavedRun, run: RunConfig, reporter: Reporter, dist: Distributed) -> History:
    """``--resume`` of a conditional run: the same file, tokenizer and labels."""
    recorded = saved.meta.get("data", {})
    given = saved.inputs(
        request.data, recorded.get("inputs") or [], what="examples", absolute=recorded.get("inputs_absolute")
    )
    tokenizer, labels = saved_condition(saved)
    data = prepare(given[0], run, tokenizer=tokenizer, labels=labels)
    if data.stats["sha256"] != recorded.get("sha256"):
        raise UsageError(
            f"{data.source}: not the examples this run was trained on ({recorded.get('source', '?')}); "
            "resume with the same data"
        )
    return _train(data, run, out_dir=saved.folder, request=request, reporter=reporter, dist=dist, saved=saved)


def saved_condition(saved: SavedRun) -> tuple[Tokenizer, list[str]]:
    from rnncli.tasks.language_model.checkpoint import read_condition

    try:
        return read_condition(saved.meta)
    except CheckpointError as exc:
        raise CheckpointError(f"--resume {saved.folder}: {exc.message}") from None


def _train(
    data: ConditionalData,
    run: RunConfig,
    *,
    out_dir: Path,
    request: TrainRequest,
    reporter: Reporter,
    dist: Distributed,
    saved: SavedRun | None = None,
) -> History:
    report_settings(run, reporter)
    for line in describe(data):
        reporter.info(line)
    for note in data.notes:
        reporter.warn(note)
    if saved is not None:
        saved.say_resuming(reporter, None)
    request.announce_folder(reporter)
    try:
        with interrupts_explained(out_dir):
            trainer = _trainer(data, run, out_dir, request, reporter.events(THROUGHPUT_UNIT), dist, saved)
            if saved is not None:
                trainer.restore(saved.state)
            history = trainer.fit()
    finally:
        dist.stop()
    reporter.info(closing_note(history, out_dir).replace("--temp 0.8", f"--condition {data.labels[0]} --num 5"))
    return history


def _trainer(
    data: ConditionalData, run: RunConfig, out_dir: Path, request: TrainRequest, on_event, dist, saved
) -> Trainer:
    from rnncli.tasks.language_model.training import check_training_fits

    device = dist.start(resolve_device(run.train.device))
    torch.manual_seed(run.train.seed)
    run.model.vocab_size = data.end_id + 1  # the tokenizer's symbols and end-of-text
    run.model.validate()
    check_training_fits(run)
    task = ConditionalTask(
        data.train,
        data.val,
        end_id=data.end_id,
        batch_size=run.train.batch_size,
        seed=run.train.seed,
        rank=dist.rank,
        world_size=dist.world_size,
    )
    model = build_model(run.model, conditions=len(data.labels))
    config = run.to_dict()
    meta = {**_meta(data, request, saved), **config}
    return Trainer(
        model,
        task,
        run.train,
        out_dir=out_dir,
        meta=meta,
        config=config,
        device=device,
        on_event=on_event,
        dist=dist,
        started=request.started,
    )


def _meta(data: ConditionalData, request: TrainRequest, saved: SavedRun | None) -> dict[str, Any]:
    given = data.source
    absolute = given if given == "-" else str(Path(given).resolve())
    return {
        "task": TASK_LM,
        "tokenizer": data.tokenizer.to_dict(),
        "condition": {"column": data.stats.get("column"), "labels": list(data.labels), "end_id": data.end_id},
        "data": {"source": data.source, "inputs": [given], "inputs_absolute": [absolute], **data.stats},
        "versions": versions(),
        **command_record(request.command if request.command is not None else sys.argv, saved and saved.state),
    }


def describe(data: ConditionalData) -> list[str]:
    """What was read: examples per label, tokens, and the validation split."""
    counts = [0] * len(data.labels)
    for label in data.train.labels:
        counts[label] += 1
    per_label = ", ".join(f"{name} {n}" for name, n in zip(data.labels, counts, strict=True))
    val = f"; validation: {len(data.val.ids)} examples" if data.val is not None else "; no validation examples"
    return [
        f"{data.source}: {data.stats['num_examples']} examples, {len(data.labels)} labels to condition on "
        f"(training: {per_label})",
        f"{data.train.num_tokens:,} {data.tokenizer.kind} tokens with end-of-text; vocabulary of "
        f"{data.tokenizer.vocab_size:,} symbols{val}",
    ]
