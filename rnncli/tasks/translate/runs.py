"""A translation run for ``rnn train``: pairs read and split, a tokenizer learnt on both sides, the model
trained by the shared trainer, and the closing note: BLEU and chrF on the held-out pairs beside copying the source.

``train`` starts a run, ``resume`` continues one on the same pairs; both report through the command's
``Reporter`` and never print.
"""

from __future__ import annotations

import random
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnncli.core.errors import DataError, UsageError
from rnncli.core.runs import choose_run_dir
from rnncli.tasks.requests import Reporter, TrainRequest
from rnncli.tasks.resuming import SavedRun, interrupts_explained
from rnncli.tasks.translate.config import TranslateConfig
from rnncli.tasks.translate.options import DataOptions, TranslateSettings
from rnncli.tasks.translate.pairs import Pairs, read_pairs, read_parallel

if TYPE_CHECKING:
    from rnncli.core.settings import TrainConfig
    from rnncli.core.tokenizers import Tokenizer
    from rnncli.core.training import History

THROUGHPUT_UNIT = "tok/s"
CLOSING_PAIRS = 500  # held-out pairs translated for the closing note


@dataclass
class Split:
    """The pairs a run trains and validates on, as text and as ids, and the tokenizer that made the ids."""

    pairs: Pairs
    train: list[int]  # indices into pairs
    val: list[int]
    tokenizer: Tokenizer  # the source side's (both sides' where shared)
    encoded: list[tuple[list[int], list[int]]]  # every pair, as ids
    too_long: int
    target_tokenizer: Tokenizer | None = None  # None where one tokenizer serves both sides

    def rows(self, indices: list[int]):
        return [self.encoded[i] for i in indices if self.encoded[i] is not None]


def inputs(data: list[str], options: DataOptions) -> tuple[list[str], str]:
    """What to read (one file of pairs, or --source and --target) and the run's default name."""
    if options.source is not None:
        if data:
            raise UsageError("give either DATA (a file of pairs) or --source and --target, not both")
        return [options.source, options.target], options.source
    if len(data) != 1:
        raise UsageError(
            "a translator trains on one file of pairs (source<TAB>target lines, or JSONL) "
            "or on two line-aligned files given as --source and --target"
        )
    return data, data[0]


def read_inputs(files: list[str]) -> Pairs:
    return read_parallel(*files) if len(files) == 2 else read_pairs(files[0])


def train(request: TrainRequest, reporter: Reporter) -> History:
    """``rnn train pairs.tsv --task translate``: train and save a self-describing translation run."""
    settings = TranslateSettings.resolve(request.options, request.config)
    files, name = inputs(request.data, settings.data)
    cfg = settings.train_config()
    out_dir, note = choose_run_dir(request.out, name, force=request.force)
    split = prepare(read_inputs(files), settings.data, cfg, reporter)
    if note:  # said once the pairs are read and checked: a failure before makes no folder
        reporter.info(note)
    config = settings.model
    config.vocab_size = split.tokenizer.vocab_size
    config.target_vocab_size = 0 if split.target_tokenizer is None else split.target_tokenizer.vocab_size
    history = fit(split, config, cfg, settings.data, files, out_dir=out_dir, request=request, reporter=reporter)
    closing_note(out_dir, split, history, reporter)
    return history


def resume(request: TrainRequest, saved: SavedRun, reporter: Reporter) -> History:
    """``rnn train --resume RUN`` for a translator: the saved settings, the same pairs, more budget."""
    settings = TranslateSettings.resolve(request.options, request.config)
    config, cfg = settings.resumed(saved.meta)
    options = DataOptions(**saved.meta["data_options"])
    files = saved.inputs(request.data, saved.meta["data"]["inputs"], what="pairs")
    pairs = read_inputs(files)
    if pairs.fingerprint() != saved.meta["data"]["fingerprint"]:
        raise UsageError(f"{pairs.origin}: not the pairs this run was trained on; resume with the same data")
    split = prepare(pairs, options, cfg, reporter, tokenizers=_saved_tokenizers(saved.meta))
    saved.say_resuming(reporter, cfg.steps)
    history = fit(
        split, config, cfg, options, files, out_dir=saved.folder, request=request, reporter=reporter, resume=saved
    )
    closing_note(saved.folder, split, history, reporter)
    return history


def _saved_tokenizers(meta: dict[str, Any]) -> tuple[Tokenizer, Tokenizer | None]:
    """The run's source (or shared) tokenizer and its target tokenizer (None where shared: the first runs)."""
    from rnncli.core.tokenizers import tokenizer_from_dict

    target = meta.get("target_tokenizer")
    return tokenizer_from_dict(meta["tokenizer"]), None if target is None else tokenizer_from_dict(target)


def prepare(pairs: Pairs, options: DataOptions, cfg: TrainConfig, reporter: Reporter, *, tokenizers=None) -> Split:
    """Split by the seed, learn the tokenizers on the training pairs (one on both sides, or one per side),
    encode, drop long pairs."""
    for note in pairs.notes:
        reporter.warn(note)
    order = list(range(len(pairs)))
    random.Random(cfg.seed).shuffle(order)
    n_val = round(len(order) * cfg.val_frac) if len(order) >= 10 else 0
    if cfg.val_frac > 0 and n_val == 0 and len(order) >= 2:
        n_val = 1
    val, train_idx = sorted(order[:n_val]), sorted(order[n_val:])
    if tokenizers is None:
        tokenizers = _learn_tokenizers(pairs, train_idx, options)
    encoded, too_long = _encode(pairs, tokenizers, options.max_len)
    split = Split(pairs, train_idx, val, tokenizers[0], encoded, too_long, tokenizers[1])
    if not split.rows(train_idx):
        raise DataError(f"{pairs.origin}: every training pair is longer than --max-len {options.max_len} tokens")
    _report_read(split, options, reporter)
    return split


def _learn_tokenizers(pairs: Pairs, indices: list[int], options: DataOptions) -> tuple[Tokenizer, Tokenizer | None]:
    from rnncli.core.tokenizers import train_tokenizer

    def learn(texts: list[str]) -> Tokenizer:
        return train_tokenizer(options.tokenizer_settings(), lambda: ["\n".join(texts) + "\n"])

    sources, targets = [pairs.sources[i] for i in indices], [pairs.targets[i] for i in indices]
    if options.shared_vocab:
        return learn(sources + targets), None
    return learn(sources), learn(targets)


def _encode(pairs: Pairs, tokenizers: tuple[Tokenizer, Tokenizer | None], max_len: int):
    from rnncli.core.tokenizers import encode_known

    source_tok, target_tok = tokenizers[0], tokenizers[1] or tokenizers[0]
    encoded, too_long = [], 0
    for source, target in zip(pairs.sources, pairs.targets, strict=True):
        s = encode_known(source_tok, source, policy="unk")
        t = encode_known(target_tok, target, policy="unk")
        if len(s) > max_len or len(t) > max_len:
            encoded.append(None)
            too_long += 1
        else:
            encoded.append((s, t))
    return encoded, too_long


def _report_read(split: Split, options: DataOptions, reporter: Reporter) -> None:
    kept = [e for e in split.encoded if e is not None]
    source_lengths, target_lengths = [len(s) for s, _ in kept], [len(t) for _, t in kept]
    reporter.info(
        f"{split.pairs.origin}: {len(split.pairs):,} pairs ({len(split.rows(split.train)):,} to train on, "
        f"{len(split.rows(split.val)):,} held out); {_vocabularies(split)}; tokens per sentence: "
        f"source {_lengths(source_lengths)}, target {_lengths(target_lengths)}"
    )
    if split.too_long:
        reporter.warn(f"left out {split.too_long:,} pairs longer than --max-len {options.max_len} tokens")
    reporter.info(coverage_line(split))


def coverage_line(split: Split) -> str:
    """The share of source and target tokens the vocabularies cover (not their unknown token), per part."""
    unknown = (split.tokenizer.unknown_id, (split.target_tokenizer or split.tokenizer).unknown_id)
    parts = []
    for name, indices in (("training", split.train), ("held-out", split.val)):
        rows = split.rows(indices)
        if not rows:
            continue
        shares = []
        for side, unk in enumerate(unknown):
            total = sum(len(row[side]) for row in rows)
            missed = 0 if unk is None else sum(row[side].count(unk) for row in rows)
            covered = 100 * (1 - missed / max(1, total))
            shares.append(f"{('source', 'target')[side]} {covered:.1f}% ({missed:,} unknown)")
        parts.append(f"{name} pairs: {', '.join(shares)}")
    return "vocabulary coverage of " + "; ".join(parts)


def _vocabularies(split: Split) -> str:
    kind, source = split.tokenizer.kind, split.tokenizer.vocab_size
    if split.target_tokenizer is None:
        return f"{kind} tokenizer of {source:,} tokens learnt on both sides"
    return f"{kind} tokenizers learnt per side: source {source:,} tokens, target {split.target_tokenizer.vocab_size:,}"


def _lengths(values: list[int]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"mean {statistics.fmean(values):.1f}, 95th percentile {p95}"


def fit(
    split: Split,
    config: TranslateConfig,
    cfg: TrainConfig,
    options: DataOptions,
    files: list[str],
    *,
    out_dir: Path,
    request: TrainRequest,
    reporter: Reporter,
    resume: SavedRun | None = None,
) -> History:
    """Train with the shared trainer, writing the run folder (every checkpoint self-describing)."""
    import dataclasses

    import torch

    from rnncli.core.checkpoint import versions
    from rnncli.core.devices import resolve_device
    from rnncli.core.resume_state import command_record
    from rnncli.core.training import Trainer
    from rnncli.tasks.translate.model import Translator, check_training_fits
    from rnncli.tasks.translate.task import References, TranslateTask

    torch.manual_seed(cfg.seed)
    train_rows, val_rows = split.rows(split.train), split.rows(split.val)
    targets = [split.pairs.targets[i] for i in split.val if split.encoded[i] is not None]  # as val_rows
    references = References(targets, (split.target_tokenizer or split.tokenizer).decode)
    task = TranslateTask(train_rows, val_rows, config, batch_size=cfg.batch_size, seed=cfg.seed, references=references)
    check_training_fits(config, batch_size=cfg.batch_size, pairs=train_rows)
    settings = {"model": config.to_dict(), "train": dataclasses.asdict(cfg), "data_options": options.to_dict()}
    data = {"inputs": files, "fingerprint": split.pairs.fingerprint(), "pairs": len(split.pairs)}
    meta = {
        "task": "translate",
        **settings,
        "tokenizer": split.tokenizer.to_dict(),
        **({} if split.target_tokenizer is None else {"target_tokenizer": split.target_tokenizer.to_dict()}),
        "data": data,
        "versions": versions(),
        **command_record(request.command or sys.argv, resume.state if resume is not None else None),
    }
    trainer = Trainer(
        Translator(config),
        task,
        cfg,
        out_dir=out_dir,
        meta=meta,
        config=settings,
        device=resolve_device(cfg.device),
        on_event=reporter.events(THROUGHPUT_UNIT),
    )
    if resume is not None:
        trainer.restore(resume.state)
    with interrupts_explained(out_dir):
        return trainer.fit()


def closing_note(out_dir: Path, split: Split, history: History, reporter: Reporter) -> None:
    """The best step, and the best model's BLEU and chrF on the held-out pairs, beside copying the source."""
    from rnncli.tasks.training_curve import best_words

    reporter.info(f"{best_words(history)} at step {history.best_step} of {history.step}")
    from rnncli.tasks.translate.scores import compare, describe
    from rnncli.tasks.translate.translator import Decoding, load_translator, texts, translate

    held = [i for i in split.val if split.encoded[i] is not None][:CLOSING_PAIRS]
    if held:
        loaded = load_translator(out_dir)
        sources = [split.pairs.sources[i] for i in held]
        references = [split.pairs.targets[i] for i in held]
        hypotheses = texts(loaded, translate(loaded, sources, Decoding()))
        for line in describe(compare(sources, references, hypotheses), pairs=len(held), what="held-out pairs, greedy"):
            reporter.info(line)
    reporter.info(f"saved {out_dir}/; try: rnn predict {out_dir} --beam 5 < sources.txt")
