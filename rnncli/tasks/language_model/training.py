"""Training a language model: a corpus read and tokenised once, then the shared trainer on it.

``prepare_text`` turns paths into a token file (reused from the cache when it
exists); ``train_text`` trains on it and writes the run folder. Progress goes
through a callback; nothing here prints.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rnncli.core.checkpoint import versions
from rnncli.core.devices import resolve_device
from rnncli.core.distributed import Distributed
from rnncli.core.errors import DataError, UsageError
from rnncli.core.memory import FLOAT_BYTES, TRAINING_COPIES, check_fits, parameter_count
from rnncli.core.resume_state import TrainState
from rnncli.core.tokenizers import Tokenizer, TokenizerSettings, train_tokenizer
from rnncli.core.training import History, Trainer, TrainEvent
from rnncli.tasks.language_model.config import RunConfig, TextConfig
from rnncli.tasks.language_model.data.sources import Inputs, TextReader, find_inputs
from rnncli.tasks.language_model.data.token_cache import TokenCache, cache_key
from rnncli.tasks.language_model.data.windows import split_train_val
from rnncli.tasks.language_model.model import build_model
from rnncli.tasks.language_model.task import LanguageModelTask

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
) -> PreparedText:
    """Read a corpus and tokenise it once, in chunks, into a token file (reused when it exists).

    With ``tokenizer`` (a resumed run's own) the text is encoded with it
    instead of fitting a new one.
    """
    text = text or TextConfig()
    read, settings = text.read_settings(), text.tokenizer_settings()
    cache = cache or TokenCache()
    inputs = find_inputs([data] if isinstance(data, str) else list(data), read, spool_dir=cache.root.parent)
    try:
        reader = TextReader(inputs, read)
        fingerprint = reader.fingerprint()
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
) -> History:
    """Train a character language model on a prepared corpus and write its run folder.

    With ``resume`` (a run's saved state) training continues exactly where it
    stopped; with ``dist`` this process is one rank of several.
    """
    dist = dist or Distributed()
    device = dist.start(resolve_device(run.train.device))
    torch.manual_seed(run.train.seed)
    run.model.vocab_size = prepared.tokenizer.vocab_size
    run.model.validate()
    train_ids, val_ids = split_train_val(prepared.ids, run.train.val_frac)
    if resume is not None:
        _check_same_data(resume, prepared)
    stats = prepared.stats
    meta: dict[str, Any] = {
        "task": TASK_LM,
        "tokenizer": prepared.tokenizer.to_dict(),
        "data": {"source": prepared.source, "inputs": prepared.given, **stats},
        "versions": versions(),
        "command": command if command is not None else sys.argv,
    }
    task = LanguageModelTask(
        train_ids,
        val_ids,
        batch_size=run.train.batch_size,
        seq_len=run.train.seq_len,
        eval_batches=run.train.eval_batches,
        source=prepared.source,
        chars_per_token=stats["num_chars"] / stats["num_tokens"],
        bytes_per_token=stats.get("num_utf8_bytes", stats["num_bytes"]) / stats["num_tokens"],
        rank=dist.rank,
        world_size=dist.world_size,
    )
    config = run.to_dict()
    meta.update(config)
    check_training_fits(run)
    model = build_model(run.model)
    if dist.rank > 0:
        torch.manual_seed(run.train.seed + dist.rank)  # its own dropout masks; weights come from rank 0
    trainer = Trainer(
        model, task, run.train, out_dir=out_dir, meta=meta, config=config, device=device, on_event=on_event, dist=dist
    )
    if resume is not None:
        trainer.restore(resume)
    return trainer.fit()


def check_training_fits(run: RunConfig) -> None:
    """The model, its optimizer state and one batch's activations fit in memory, estimated before allocation."""
    model, train = run.model, run.train
    params = parameter_count(lambda: build_model(model))
    check_fits(params * FLOAT_BYTES, flag=_widest(model), what=f"a model of {params:,} parameters")
    # per token: the embedding, each layer's gates (4 wide for an LSTM) and output, and the logits twice
    per_token = model.embed_size + model.num_layers * 6 * model.hidden_size + 2 * model.vocab_size
    activations = train.batch_size * train.seq_len * per_token * FLOAT_BYTES
    estimate = params * FLOAT_BYTES * TRAINING_COPIES + activations
    check_fits(
        estimate,
        flag=f"{_widest(model)} with --batch-size {train.batch_size} --seq-len {train.seq_len}",
        what="training",
    )


def _widest(model) -> str:
    return "--embed-size" if model.embed_size > model.hidden_size else "--hidden-size"


def _check_same_data(resume: TrainState, prepared: PreparedText) -> None:
    saved = resume.meta.get("checkpoint", {}).get("data", {})
    if saved.get("sha256") != prepared.stats["sha256"]:
        raise UsageError(
            f"{prepared.source}: not the text this run was trained on "
            f"({saved.get('source', '?')}, sha256 {str(saved.get('sha256'))[:12]}...); "
            "resume with the same data"
        )
