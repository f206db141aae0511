"""A tagging run for ``rnn train``: data read and described, the tagger trained by the shared trainer, and
its validation scores reported beside the most-frequent-tag baseline. Also loading a trained tagger.
"""

from __future__ import annotations

import dataclasses
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnncli.core.distributed import Distributed
from rnncli.core.errors import CheckpointError, DataError, UsageError
from rnncli.tasks.requests import Reporter, TrainRequest
from rnncli.tasks.resuming import SavedRun, interrupts_explained
from rnncli.tasks.tag.config import TagConfig, Vocab
from rnncli.tasks.tag.corpus import Corpus, Sentence, read_corpus
from rnncli.tasks.tag.metrics import MostFrequentTag, headline, scores
from rnncli.tasks.tag.options import READ_KEYS, ReadOptions, TagSettings
from rnncli.tasks.training_curve import best_words

TASK_TAG = "tag"
THROUGHPUT_UNIT = "tok/s"


def train(request: TrainRequest, reporter: Reporter) -> Any:
    """``rnn train data.conll --task tag``: read, train, and report the model beside the baseline."""
    reporter = reporter.only_if(Distributed.from_env().is_main)  # under torchrun, rank 0 alone talks
    settings = TagSettings.resolve(request.options, request.config)
    config, cfg = settings.checked_config(), settings.train_config()  # flags first, then the data
    data = _one_file(request.data)
    out_dir = request.fresh_folder(reporter)
    corpus = load_corpus(data, settings.read, reporter).repaired()
    for note in corpus.warnings:
        reporter.warn(note)
    train_part, val_part = parts(corpus, settings.read, cfg.val_frac, reporter)
    vocab = Vocab.build(train_part, min_count=settings.read.min_count, scheme=corpus.scheme)
    tokens_per_step = cfg.batch_size * sum(len(s.tokens) for s in train_part) / len(train_part)
    settings.follow_the_data(cfg, val_tokens=sum(len(s.tokens) for s in val_part), tokens_per_step=tokens_per_step)
    request.announce_folder(reporter)
    config = dataclasses.replace(
        config, vocab_size=len(vocab.words), char_vocab_size=len(vocab.chars), num_tags=len(vocab.tags)
    )
    head, source = "CRF" if config.crf else "softmax", _val_source(settings.read)
    reporter.info(
        f"training on {len(train_part):,} sentences, validating on {len(val_part):,}{source}; {len(vocab.words) - 2:,} "
        f"words (--min-count {settings.read.min_count}), {len(vocab.tags)} tags, {head} head"
    )
    meta = {
        "task": TASK_TAG,
        "model": config.to_dict(),
        "train": dataclasses.asdict(cfg),
        "vocab": vocab.to_dict(),
        "baseline": MostFrequentTag.fit(train_part).to_dict(),
        "data": {**dataclasses.asdict(settings.read), "tag_col": corpus.tag_col or settings.read.tag_col,
                 "source": data, "sentences": len(corpus.sentences), "tokens": corpus.tokens, "format": corpus.format,
                 "val_sentences": len(val_part), "tag_counts": dict(Counter(t for s in train_part for t in s.tags))},
    }  # fmt: skip
    return fit_and_report(train_part, val_part, meta, out_dir=out_dir, request=request, reporter=reporter)


def resume(request: TrainRequest, saved: SavedRun, reporter: Reporter) -> Any:
    """``rnn train --resume RUN``: the same sentences, the saved settings and position, more budget."""
    reporter = reporter.only_if(Distributed.from_env().is_main)
    settings = TagSettings.resolve(request.options, request.config)
    config, cfg = settings.resumed(saved.meta)
    info = saved.meta["data"]
    read = ReadOptions(**{k: info.get(k) for k in READ_KEYS if k in info})
    corpus = load_corpus(saved.inputs(request.data, [info.get("source")], what="tagged data")[0], read, reporter)
    if len(corpus.sentences) != info["sentences"] or corpus.tokens != info["tokens"]:
        raise UsageError(f"{corpus.source}: not the sentences this run was trained on; resume with the same file")
    train_part, val_part = parts(corpus.repaired(), read, cfg.val_frac, Reporter())
    saved.say_resuming(reporter, cfg.steps)
    if len(val_part) != info.get("val_sentences", len(val_part)):
        raise UsageError(f"{read.val}: not the validation sentences this run was trained on; give the same --val")
    meta = {**{k: v for k, v in saved.meta.items() if k != "history"}, "model": config.to_dict(),
            "train": dataclasses.asdict(cfg)}  # fmt: skip
    return fit_and_report(
        train_part, val_part, meta, out_dir=saved.folder, request=request, reporter=reporter, resume=saved.state
    )


def fit_and_report(train_part, val_part, meta, *, out_dir: Path, request: TrainRequest, reporter, resume=None):
    """Train (one rank of several under torchrun), then rank 0 compares the best model with the baseline."""
    dist = Distributed.from_env()
    try:
        with interrupts_explained(out_dir):
            history = fit(
                train_part, val_part, meta, out_dir=out_dir, command=request.command, reporter=reporter,
                resume=resume, dist=dist, started=request.started,
            )  # fmt: skip
    finally:
        dist.stop()
    if dist.is_main:
        reporter.info(f"{best_words(history)} at step {history.best_step} of {history.step}")
        report_against_baseline(out_dir, val_part, reporter)
    return history


def fit(
    train_part, val_part, meta, *, out_dir: Path, command: list[str], reporter: Reporter, resume=None, dist=None,
    started: float | None = None,
):  # fmt: skip
    """Build the task and the model from ``meta`` and run the shared trainer (continuing ``resume``); a --time
    budget counts from ``started`` (when the command began: reading the data is part of it)."""
    import torch

    from rnncli.core.checkpoint import versions
    from rnncli.core.devices import resolve_device
    from rnncli.core.resume_state import command_record
    from rnncli.core.settings import TrainConfig
    from rnncli.core.training import Trainer
    from rnncli.tasks.tag.model import check_tagging_fits
    from rnncli.tasks.tag.task import TagTask

    cfg, vocab, dist = TrainConfig(**meta["train"]), Vocab.from_dict(meta["vocab"]), dist or Distributed()
    device = dist.start(resolve_device(cfg.device))
    torch.manual_seed(cfg.seed)
    task = TagTask(train_part, val_part, vocab, batch_size=cfg.batch_size, seed=cfg.seed, dist=dist)
    meta = {**meta, "versions": versions(), **command_record(command or sys.argv, resume)}
    settings = {"model": meta["model"], "train": meta["train"], "data": meta["data"]}
    longest = max((len(s.tokens) for s in train_part), default=1)
    check_tagging_fits(TagConfig(**meta["model"]), rows=min(cfg.batch_size, len(train_part)), longest=longest,
                       training=True, batch_flag=" with --batch-size")  # fmt: skip
    model = build_model(TagConfig(**meta["model"]), vocab)
    if dist.rank > 0:
        torch.manual_seed(cfg.seed + dist.rank)  # its own dropout masks; the weights come from rank 0
    trainer = Trainer(
        model, task, cfg, out_dir=out_dir, meta=meta, config=settings, device=device,
        on_event=reporter.events(THROUGHPUT_UNIT), dist=dist, started=started,
    )  # fmt: skip
    if resume is not None:
        trainer.restore(resume)
    return trainer.fit()


def build_model(config: TagConfig, vocab: Vocab):
    import torch

    from rnncli.tasks.tag.crf import Penalties
    from rnncli.tasks.tag.model import TaggerModel

    pairs, starts, ends = vocab.transitions()
    penalties = Penalties(torch.tensor(pairs), torch.tensor(starts), torch.tensor(ends))
    return TaggerModel(config, penalties)


def report_against_baseline(out_dir: Path, val_part: list[Sentence], reporter: Reporter) -> None:
    """The closing note: the best model and the most-frequent-tag baseline on the validation sentences."""
    if not val_part:
        reporter.info(f"saved {out_dir}/ (no validation sentences, so no comparison with the baseline)")
        return
    tagger = load_tagger(out_dir)
    gold = [s.tags for s in val_part]
    model = scores(gold, tagger.tag([s.tokens for s in val_part]), tagger.vocab.scheme)
    base = scores(gold, [tagger.baseline.tag(s.tokens) for s in val_part], tagger.vocab.scheme)
    reporter.info(comparison_line(model, base, where=f"validation ({len(val_part):,} sentences)"))
    reporter.info(f"saved {out_dir}/; try: rnn eval {out_dir} test.conll; echo 'A sentence' | rnn predict {out_dir}")


def comparison_line(model: dict[str, Any], base: dict[str, Any], *, where: str) -> str:
    name, ours = headline(model)
    theirs = headline(base)[1]
    verdict = "the model wins" if ours > theirs else "the baseline wins" if theirs > ours else "a tie"

    def also(scores: dict[str, Any]) -> str:  # token accuracy beside entity F1 (not twice when it is the headline)
        return "" if name == "token accuracy" else f", token accuracy {scores['token_accuracy']:.3f}"

    return (
        f"{where}: model {name} {ours:.3f}{also(model)}; most-frequent-tag baseline {name} {theirs:.3f}{also(base)}: "
        f"{verdict}"
    )


def load_corpus(path: str | None, read: ReadOptions, reporter: Reporter) -> Corpus:
    if path is None:
        raise UsageError("missing DATA: give a CoNLL, CoNLL-U or JSONL file of tagged sentences (or - for stdin)")
    corpus = read_corpus(path, tag_col=read.tag_col, tag_field=read.tag_field)
    reporter.info(corpus.describe())
    for note in corpus.notes:
        reporter.info(note)
    return corpus


def parts(corpus: Corpus, read: ReadOptions, val_frac: float, reporter: Reporter):
    """Training and validation sentences: all of ``corpus`` and the ``--val`` file, else the last ``val_frac``."""
    if read.val is None:
        return split(corpus.sentences, val_frac)
    val = load_corpus(read.val, read, reporter).repaired()
    for note in val.warnings:
        reporter.warn(note)
    unseen = sorted(set(val.tag_counts()) - set(corpus.tag_counts()))
    if unseen:
        raise DataError(
            f"{read.val}: tags the training data never has: {', '.join(unseen[:5])}; "
            "validate on sentences tagged with the training file's tags"
        )
    return corpus.sentences, val.sentences


def _val_source(read: ReadOptions) -> str:
    return f" (from {read.val})" if read.val is not None else ""


def split(sentences: list[Sentence], val_frac: float) -> tuple[list[Sentence], list[Sentence]]:
    """The last ``val_frac`` of the sentences validate (at least one when there are two or more)."""
    n_val = int(round(len(sentences) * val_frac))
    if val_frac > 0 and len(sentences) >= 2:
        n_val = max(1, n_val)
    if len(sentences) - n_val < 1:
        raise DataError("too few sentences to train on; give more tagged sentences or a smaller --val-frac")
    return sentences[: len(sentences) - n_val], sentences[len(sentences) - n_val :]


def _one_file(data: list[str]) -> str | None:
    if len(data) > 1:
        raise UsageError("a tagger trains on one file of tagged sentences; give one DATA")
    return data[0] if data else None


# --- a trained tagger -------------------------------------------------------------------------------


@dataclass
class Tagger:
    """A trained tagger with its vocabularies and baseline, ready to tag token lists."""

    path: Path
    model: Any
    config: TagConfig
    vocab: Vocab
    baseline: MostFrequentTag
    meta: dict[str, Any]

    def tag(self, token_lists: list[list[str]], *, batch_size: int = 64) -> list[list[str]]:
        return [tags for tags, _ in self.tag_with_scores(token_lists, batch_size=batch_size)]

    def tag_with_scores(self, token_lists: list[list[str]], *, batch_size: int = 64) -> list[tuple[list[str], float]]:
        """Tags and the sequence score of each sentence, batched by length, returned in input order."""
        import torch

        from rnncli.tasks.tag.batches import encode_batch, to_device
        from rnncli.tasks.tag.model import check_tagging_fits

        device = next(self.model.parameters()).device
        longest = max(map(len, token_lists), default=1)
        check_tagging_fits(self.model, rows=min(batch_size, len(token_lists)), longest=longest, training=False)
        order = sorted(range(len(token_lists)), key=lambda i: len(token_lists[i]))
        found: dict[int, tuple[list[str], float]] = {}
        with torch.inference_mode():
            for k in range(0, len(order), batch_size):
                group = [i for i in order[k : k + batch_size] if token_lists[i]]
                if not group:
                    continue
                batch = encode_batch([token_lists[i] for i in group], self.vocab)
                paths, score = self.model.decode(to_device(batch, device))
                for i, path, s in zip(group, paths, score.tolist(), strict=True):
                    found[i] = ([self.vocab.tags[j] for j in path], s)
        return [found.get(i, ([], 0.0)) for i in range(len(token_lists))]


def load_tagger(path: str | Path, *, device: str = "cpu") -> Tagger:
    """Load and validate a tagging checkpoint (safetensors only; the layout checked before the weights are read)."""
    from rnncli.core.checkpoint import check_tensors_match, read_meta, read_tensors, resolve_checkpoint_path
    from rnncli.core.devices import resolve_device

    file = resolve_checkpoint_path(path)
    meta = read_meta(file)
    config, vocab, baseline = validate_layout(file, meta)
    check_tensors_match(file, meta, lambda: build_model(config, vocab))
    model = build_model(config, vocab)
    model.load_state_dict(read_tensors(file))
    model.to(resolve_device(device)).eval()
    return Tagger(file, model, config, vocab, baseline, meta)


def validate_layout(path: Path, meta: dict[str, Any]) -> tuple[TagConfig, Vocab, MostFrequentTag]:
    """The tagging metadata checked, and its sizes against each other, before anything is allocated."""
    if meta.get("task") != TASK_TAG:
        raise CheckpointError(f"{path}: not a tagger (task {meta.get('task')!r}); train one with: rnn train data.conll")
    try:
        config = TagConfig(**meta["model"])
        config.validate(where=f"{path}: model")
        vocab = Vocab.from_dict(meta["vocab"])
        sizes = (len(vocab.words), len(vocab.chars), len(vocab.tags))
        if sizes != (config.vocab_size, config.char_vocab_size, config.num_tags):
            raise ValueError("the vocabularies do not match the model's sizes")
        baseline = MostFrequentTag.from_dict(meta["baseline"])
    except (KeyError, TypeError, ValueError, UsageError) as exc:
        raise CheckpointError(f"{path}: the tagging metadata is damaged ({exc})") from None
    return config, vocab, baseline
