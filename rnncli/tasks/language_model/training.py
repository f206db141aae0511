"""Training a language model: a corpus read and tokenised once, then the shared trainer on it.

``prepare_text`` turns paths into a token file (reused from the cache when it
exists); ``train_text`` trains on it and writes the run folder. Progress goes
through a callback; nothing here prints.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from rnncli.core.checkpoint import versions
from rnncli.core.devices import resolve_device
from rnncli.core.distributed import Distributed
from rnncli.core.errors import DataError, UsageError
from rnncli.core.memory import check_batch_fits, check_model_fits, floats_per_token, widest_flag
from rnncli.core.resume_state import TrainState, command_record
from rnncli.core.tokenizers import Tokenizer, TokenizerSettings, train_tokenizer, unseen_characters
from rnncli.core.tokenizers.char import describe_unknown
from rnncli.core.training import History, Trainer, TrainEvent
from rnncli.tasks.language_model.config import RunConfig, TextConfig
from rnncli.tasks.language_model.data.sources import Inputs, TextReader, find_inputs
from rnncli.tasks.language_model.data.token_cache import TokenCache, cache_key
from rnncli.tasks.language_model.data.windows import split_train_val
from rnncli.tasks.language_model.model import build_model
from rnncli.tasks.language_model.task import LanguageModelTask
from rnncli.tasks.language_model.training_samples import SamplesWhileTraining

if TYPE_CHECKING:
    from rnncli.tasks.language_model.fine_tune import StartingPoint

TASK_LM = "language-model"


@dataclass
class PreparedText:
    """A corpus as one flat tensor of token ids (memory-mapped from the token cache)."""

    source: str
    given: list[str]  # the inputs as typed, to find them again on resume
    tokenizer: Tokenizer
    ids: torch.Tensor
    stats: dict[str, Any]  # sha256, num_bytes, num_chars, num_tokens, num_files
    skipped: list[str]  # binary files of a folder that were left out
    reused: bool  # the token file came from the cache


def prepare_text(
    data: str | list[str],
    text: TextConfig | None = None,
    *,
    tokenizer: Tokenizer | None = None,
    cache: TokenCache | None = None,
    expect: dict[str, Any] | None = None,
    check: Callable[[Callable[[], Iterable[str]], str], None] | None = None,
) -> PreparedText:
    """Read a corpus and tokenise it once, in chunks, into a token file (reused when it exists).

    With ``tokenizer`` (a resumed or fine-tuned run's own) the text is encoded
    with it instead of fitting a new one. With ``expect`` (a resumed run's data
    record) files of another size or hash are refused before anything is
    tokenised; ``check`` sees the text first (its chunks, and the name of the
    source) and may refuse it.
    """
    text = text or TextConfig()
    read, settings = text.read_settings(), text.tokenizer_settings()
    cache = cache or TokenCache()
    inputs = find_inputs([data] if isinstance(data, str) else list(data), read, spool_dir=cache.root.parent)
    try:
        reader = TextReader(inputs, read)
        if expect is not None:
            _check_size(inputs, expect)
        if check is not None:
            check(reader.chunks, inputs.source)
        fingerprint = reader.fingerprint()
        if expect is not None and fingerprint != expect.get("sha256"):
            raise _not_the_same_data(inputs.source, expect)
        key = cache_key(
            {
                "sha256": fingerprint,
                "sizes": [p.stat().st_size for p in inputs.files],
                "encoding": read.codec,
                "errors": read.errors,
                "tokenizer": _settings_key(settings),
            }
        )
        found = cache.load(key)
        if found is None or (tokenizer is not None and found.tokenizer.to_dict() != tokenizer.to_dict()):
            tokenizer = tokenizer or train_tokenizer(settings, reader.chunks)
            found = cache.write(key, tokenizer, reader.chunks(), stats=lambda n: _measured(reader, inputs, n))
    finally:
        inputs.close()
    return PreparedText(
        source=inputs.source,
        given=inputs.given,
        tokenizer=found.tokenizer,
        ids=found.ids,
        stats=found.stats,
        skipped=inputs.skipped,
        reused=found.reused,
    )


def coverage(prepared: PreparedText) -> float:
    """The share of the training tokens that are not the unknown token."""
    # counted while the token file was written, so no pass over a large corpus is needed here
    return 1.0 - prepared.stats.get("num_unknown", 0) / max(prepared.stats["num_tokens"], 1)


def _settings_key(settings: TokenizerSettings) -> dict[str, Any]:
    """The tokenizer settings that change the ids, for the cache key."""
    used = {"word": ("min_count", "max_vocab"), "bpe": ("vocab_size",)}.get(settings.kind, ())
    return {"kind": settings.kind, **{name: getattr(settings, name) for name in used}}


def _measured(reader: TextReader, inputs: Inputs, num_tokens: int) -> dict[str, Any]:
    stats = reader.stats
    if stats.blank:
        raise DataError(f"{inputs.source}: the file is empty or only whitespace; give a text file with content")
    return {
        "sha256": stats.sha256,
        "num_bytes": stats.num_bytes,
        "num_chars": stats.num_chars,
        "num_utf8_bytes": stats.num_utf8_bytes,
        "num_files": len(inputs.files),
    }


def train_text(
    prepared: PreparedText,
    run: RunConfig,
    *,
    out_dir: Path,
    on_event: Callable[[TrainEvent], None] | None = None,
    command: list[str] | None = None,
    resume: TrainState | None = None,
    dist: Distributed | None = None,
    start: StartingPoint | None = None,
    val: PreparedText | None = None,
    sample_every: int = 0,
    on_sample: Callable[[int, str], None] | None = None,
    started: float | None = None,
) -> History:
    """Train a character language model on a prepared corpus and write its run folder.

    With ``resume`` (a run's saved state) training continues exactly where it
    stopped; with ``start`` (--init-from) a new run starts from a trained
    run's weights; ``val`` (--val FILE) is validation text of its own, else the
    last ``val_frac`` of the corpus is; ``on_sample`` gets (step, text) of a
    sample after every ``sample_every``-th validation; with ``dist`` this
    process is one rank of several; ``started`` is when the command began (the
    ``--time`` budget counts from there).
    """
    dist = dist or Distributed()
    device = dist.start(resolve_device(run.train.device))
    torch.manual_seed(run.train.seed)
    run.model.vocab_size = prepared.tokenizer.vocab_size
    run.model.validate()
    if resume is not None:
        _check_same_data(resume, prepared, val)
    task = _language_model_task(prepared, val, run, dist)
    config = run.to_dict()
    meta = {**_run_meta(prepared, val, command=command, start=start, resume=resume), **config}
    check_training_fits(run)
    model = build_model(run.model)
    if start is not None:
        model.load_state_dict(start.weights)
    if dist.rank > 0:
        torch.manual_seed(run.train.seed + dist.rank)  # its own dropout masks; weights come from rank 0
    if sample_every and on_sample is not None:
        on_event = SamplesWhileTraining(
            on_event,
            model=model,
            tokenizer=prepared.tokenizer,
            every=sample_every,
            seed=run.train.seed,
            report=on_sample,
        )
    trainer = Trainer(
        model,
        task,
        run.train,
        out_dir=out_dir,
        meta=meta,
        config=config,
        device=device,
        on_event=on_event,
        dist=dist,
        started=started,
    )
    if resume is not None:
        trainer.restore(resume)
    return trainer.fit()


def _language_model_task(
    prepared: PreparedText, val: PreparedText | None, run: RunConfig, dist: Distributed
) -> LanguageModelTask:
    """The windows to train and validate on; bits per character are counted on the validation text's own."""
    if val is None:
        train_ids, val_ids = split_train_val(prepared.ids, run.train.val_frac)
    else:
        train_ids, val_ids = prepared.ids, val.ids
    stats = (val or prepared).stats
    return LanguageModelTask(
        train_ids,
        val_ids,
        batch_size=run.train.batch_size,
        seq_len=run.train.seq_len,
        eval_batches=run.train.eval_batches,
        source=prepared.source,
        val_source=val.source if val is not None else None,
        chars_per_token=stats["num_chars"] / stats["num_tokens"],
        bytes_per_token=stats.get("num_utf8_bytes", stats["num_bytes"]) / stats["num_tokens"],
        rank=dist.rank,
        world_size=dist.world_size,
    )


def _run_meta(
    prepared: PreparedText,
    val: PreparedText | None,
    *,
    command: list[str] | None,
    start: StartingPoint | None,
    resume: TrainState | None,
) -> dict[str, Any]:
    """What every checkpoint of the run records besides its settings and history."""
    data: dict[str, Any] = {"source": prepared.source, "inputs": prepared.given, **prepared.stats}
    data["inputs_absolute"] = _absolute(prepared)
    if val is not None:
        data["val"] = {"source": val.source, **val.stats}
    return {
        "task": TASK_LM,
        "tokenizer": prepared.tokenizer.to_dict(),
        "data": data,
        "versions": versions(),
        **command_record(command if command is not None else sys.argv, resume),
        **({"init_from": start.record()} if start is not None else {}),
    }


def prepare_validation(run: RunConfig, tokenizer: Tokenizer) -> PreparedText | None:
    """``--val FILE`` read with the training text's settings and encoded with its tokenizer (None without it).

    As ``rnn eval`` does by default, a character model refuses characters it never saw, naming them; a word
    model reads unseen words as the unknown token.
    """
    if run.text.val is None:
        return None
    return prepare_text(run.text.val, run.text, tokenizer=tokenizer, check=partial(_refuse_unseen, tokenizer))


def _refuse_unseen(tokenizer: Tokenizer, chunks: Callable[[], Iterable[str]], source: str) -> None:
    missing = unseen_characters(tokenizer, chunks)
    if missing:
        raise DataError(
            f"--val {source}: characters the training text lacks, which the model cannot learn: "
            f"{describe_unknown(missing)}; remove them from the validation file, or add text with them to DATA"
        )


def _absolute(prepared: PreparedText) -> list[str]:
    """The inputs as absolute paths, so that ``--resume`` finds them from any working directory."""
    return [given if given == "-" else str(Path(given).resolve()) for given in prepared.given]


def check_training_fits(run: RunConfig) -> None:
    """The model, its optimizer state and one batch's activations fit in memory, estimated before allocation."""
    model, train = run.model, run.train
    params = check_model_fits(lambda: build_model(model), flag=_widest(model))
    per_token = floats_per_token(
        embed=model.embed_size, hidden=model.hidden_size, layers=model.num_layers, outputs=model.vocab_size
    )
    check_batch_fits(
        params,
        floats=train.batch_size * train.seq_len * per_token,
        flag=f"{_widest(model)} with --batch-size {train.batch_size} --seq-len {train.seq_len}",
        what="training",
    )


def _widest(model) -> str:
    return widest_flag(embed=model.embed_size, hidden=model.hidden_size)


def _check_same_data(resume: TrainState, prepared: PreparedText, val: PreparedText | None) -> None:
    saved = resume.meta.get("checkpoint", {}).get("data", {})
    if saved.get("sha256") != prepared.stats["sha256"]:
        raise _not_the_same_data(prepared.source, saved)
    saved_val = saved.get("val") or {}
    if val is not None and saved_val.get("sha256") != val.stats["sha256"]:
        raise UsageError(f"--val {val.source}: not the validation text this run was trained with; give the same file")


def _check_size(inputs: Inputs, expect: dict[str, Any]) -> None:
    """The cheapest check first: the files' total size against the recorded one."""
    recorded = expect.get("num_bytes")
    if type(recorded) is int and sum(p.stat().st_size for p in inputs.files) != recorded:
        raise _not_the_same_data(inputs.source, expect)


def _not_the_same_data(source: str, saved: dict[str, Any]) -> UsageError:
    return UsageError(
        f"{source}: not the text this run was trained on "
        f"({saved.get('source', '?')}, sha256 {str(saved.get('sha256'))[:12]}...); "
        "resume with the same data"
    )
