"""A classification run for ``rnn train``: examples read, a tokenizer fitted, the model trained beside its baselines.

``train`` starts a run, ``resume`` continues one on the same examples; both
report through the command's ``Reporter`` and never print.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnncli.core.errors import UsageError
from rnncli.core.training import History, Trainer
from rnncli.tasks.classify.baseline import class_shares, fit_bag_of_words
from rnncli.tasks.classify.checkpoint import (
    TASK_NAME,
    ClassifierRun,
    load_classifier,
    save_baselines,
    thresholds_text,
)
from rnncli.tasks.classify.metrics import choose_threshold, choose_thresholds
from rnncli.tasks.classify.model import Classifier, check_training_fits
from rnncli.tasks.classify.options import ClassifySettings, DataOptions
from rnncli.tasks.classify.prepare import (
    Prepared,
    data_facts,
    encode,
    load_examples,
    multi_hot,
    prepare,
    split,
    warn_cut,
)
from rnncli.tasks.classify.scoring import compare_on, probabilities, verdict_lines
from rnncli.tasks.classify.task import ClassifyTask, Encoded
from rnncli.tasks.requests import Reporter, TrainRequest
from rnncli.tasks.resuming import SavedRun, interrupts_explained
from rnncli.tasks.training_curve import best_words

THROUGHPUT_UNIT = "examples/s"
STOP_REASONS = {"time": "the --time budget is spent; ", "patience": "validation stopped improving; "}


def train(request: TrainRequest, reporter: Reporter) -> History:
    """``rnn train reviews.csv --task classify``: train and save a self-describing classification run."""
    settings = ClassifySettings.resolve(request.options, request.config)
    data = _one_input(request.data)
    out_dir = request.fresh_folder(reporter)
    examples = load_examples(data, settings.data, reporter)
    cfg = settings.train
    train_set, val_set = split(examples, settings.data, val_frac=cfg.val_frac, seed=cfg.seed, reporter=reporter)
    prepared = prepare(train_set, val_set, settings.data)
    request.announce_folder(reporter)
    settings.model.vocab_size, settings.model.num_classes = prepared.tokenizer.vocab_size, len(prepared.classes)
    settings.model.multi_label = prepared.multi_label
    reporter.info(
        f"tokenizer {prepared.tokenizer.kind}: {prepared.tokenizer.vocab_size} symbols; "
        f"{settings.model.cell} x {settings.model.num_layers}"
        f"{' bidirectional' if settings.model.bidirectional else ''}, "
        f"pool {settings.model.pool}"
        f"{'; multi-label: a sigmoid per label' if prepared.multi_label else ''}"
    )
    facts = data_facts(examples, val_set, settings.data)
    history = _fit(prepared, settings, out_dir=out_dir, facts=facts, request=request, reporter=reporter)
    _closing_note(out_dir, prepared, settings.data, history, reporter)
    return history


def resume(request: TrainRequest, saved: SavedRun, reporter: Reporter) -> History:
    """``rnn train --resume RUN`` for a classifier: the saved settings and tokenizer, the same examples, more budget."""
    from rnncli.core.tokenizers import tokenizer_from_dict

    settings = ClassifySettings.resolve(request.options, request.config)
    model, data_options, cfg = settings.resumed(saved.meta)
    facts = saved.meta["data"]
    data = _one_input(saved.inputs(request.data, [facts.get("source")], what="examples"))
    examples = load_examples(data, data_options, reporter)
    if len(examples.texts) != facts["examples"] or dict(examples.counts()) != facts["counts"]:
        raise UsageError(f"{data}: not the examples this run was trained on (counts differ); resume with the same data")
    train_set, val_set = split(examples, data_options, val_frac=cfg.val_frac, seed=cfg.seed, reporter=Reporter())
    tokenizer = tokenizer_from_dict(saved.meta["tokenizer"])
    prepared = prepare(train_set, val_set, data_options, tokenizer=tokenizer, classes=saved.meta["classes"])
    settings = dataclasses.replace(settings, model=model, data=data_options, train=cfg)
    saved.say_resuming(reporter, cfg.steps)
    history = _fit(
        prepared, settings, out_dir=saved.folder, facts=facts, request=request, reporter=reporter, state=saved
    )
    _closing_note(saved.folder, prepared, data_options, history, reporter)
    return history


def _fit(
    prepared: Prepared,
    settings: ClassifySettings,
    *,
    out_dir: Path,
    facts: dict[str, Any],
    request: TrainRequest,
    reporter: Reporter,
    state: SavedRun | None = None,
) -> History:
    from rnncli.core.checkpoint import versions
    from rnncli.core.devices import resolve_device
    from rnncli.core.resume_state import command_record

    cfg, data, model_config = settings.train, settings.data, settings.model
    train_ids, cut = encode(prepared.tokenizer, prepared.train.texts, data.max_len)
    warn_cut(cut, len(train_ids), data.max_len, reporter, "training")
    val = None
    if prepared.val is not None:
        val = Encoded(encode(prepared.tokenizer, prepared.val.texts, data.max_len)[0], prepared.targets(prepared.val))
    weights = _class_weights(prepared, data.class_weight)
    train = Encoded(train_ids, prepared.targets(prepared.train))
    task = ClassifyTask(train, val, batch_size=cfg.batch_size, seed=cfg.seed, weights=weights)
    if state is None:
        settings.eval_every(task.windows_per_epoch)
    torch.manual_seed(cfg.seed)
    config = {
        "model": model_config.to_dict(),
        "train": dataclasses.asdict(cfg),
        "data_options": dataclasses.asdict(data),
    }
    meta = {
        "task": TASK_NAME,
        **config,
        "classes": prepared.classes,
        "tokenizer": prepared.tokenizer.to_dict(),
        "data": facts,
        "versions": versions(),
        **command_record(request.command or sys.argv, state.state if state is not None else None),
    }
    device, events = resolve_device(cfg.device), reporter.events(THROUGHPUT_UNIT)
    check_training_fits(model_config, batch_size=cfg.batch_size, ids=train_ids, max_len=data.max_len)
    model = Classifier(model_config)
    trainer = Trainer(model, task, cfg, out_dir=out_dir, meta=meta, config=config, device=device, on_event=events)
    if state is not None:
        trainer.restore(state.state)
    with interrupts_explained(out_dir):
        return trainer.fit()


def _class_weights(prepared: Prepared, how: str) -> torch.Tensor | None:
    """--class-weight balanced: n / (classes x count), as scikit-learn's ``class_weight='balanced'``."""
    if how != "balanced":
        return None
    if prepared.multi_label:  # each label's positives weighed by its negatives over its positives
        positives = torch.tensor(prepared.targets(prepared.train)).sum(0)
        return (len(prepared.train.texts) - positives) / positives.clamp(min=1)
    counts = torch.bincount(torch.tensor(prepared.targets(prepared.train)), minlength=len(prepared.classes)).float()
    return len(prepared.train.texts) / (len(prepared.classes) * counts.clamp(min=1))


def _closing_note(out_dir: Path, prepared: Prepared, data: DataOptions, history: History, reporter: Reporter) -> None:
    """Fit the bag-of-words baselines on the training split, save them, and compare on the validation split."""
    targets = prepared.targets(prepared.train)
    baselines = [fit_bag_of_words(prepared.train.texts, targets, len(prepared.classes), ngrams=n) for n in (1, 2)]
    save_baselines(
        out_dir / "baselines.safetensors",
        baselines,
        majority=class_shares(targets, len(prepared.classes)),
        classes=prepared.classes,
    )
    stop = STOP_REASONS.get(history.stop_reason or "", "")
    best = best_words(history) if prepared.val is not None else "best training loss"
    reporter.info(f"{stop}{best} at step {history.best_step} of {history.step}")
    if prepared.val is None:
        reporter.info(f"saved {out_dir}/ (no validation split to score the baselines on); try: rnn eval {out_dir} TEST")
        return
    run = load_classifier(out_dir)
    if prepared.multi_label:
        gold = np.asarray(multi_hot(prepared.val.labels, run.classes)) > 0.5
        probs = probabilities(run, prepared.val.texts)
        run.meta["threshold"] = choose_threshold(gold, probs)  # what runs from before per-label thresholds read
        run.meta["thresholds"] = choose_thresholds(gold, probs)
        reporter.info(
            f"decision thresholds {thresholds_text(run)} (each label's best F1 on the validation split), saved"
        )
    table = compare_on(run, prepared.val, baselines=run.baselines)
    record_validation(run, table)
    for line in verdict_lines(table, what="validation"):
        reporter.info(line)
    reporter.info(f"saved {out_dir}/; try: rnn eval {out_dir} TEST.csv, or: echo 'some text' | rnn predict {out_dir}")


def record_validation(run: ClassifierRun, table: dict[str, Any]) -> None:
    """Write the threshold and the validation scores (confusion matrix included) into the best checkpoint."""
    from rnncli.core.checkpoint import save_checkpoint

    keep = ("examples", "accuracy", "macro_f1", "micro_f1", "weighted_f1", "confusion", "per_class", "classes")
    validation = {k: v for k, v in table["model"].items() if k in keep}
    validation["baselines"] = table["baselines"]
    meta = {k: v for k, v in run.meta.items() if not k.startswith("_")}
    save_checkpoint(run.path, run.model, {**meta, "validation": validation})


def _one_input(data: list[str]) -> str:
    if not data:
        raise UsageError(
            "missing DATA: give a CSV, TSV or JSONL file, a folder with one subfolder per class, or fastText lines"
        )
    if len(data) > 1:
        raise UsageError("a classifier trains on one file or folder; give one DATA (and --val FILE for validation)")
    return data[0]
