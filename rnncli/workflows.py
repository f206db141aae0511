"""The language-model jobs behind ``rnn train`` and ``rnn eval``.

Each function goes from paths and settings to results, and reports progress
through a callback; none of them prints.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

import rnncli
from rnncli.checkpoint import Checkpoint
from rnncli.config import RunConfig
from rnncli.data.text import Corpus, read_corpus, split_train_val
from rnncli.devices import resolve_device
from rnncli.distributed import Distributed
from rnncli.errors import DataError, UsageError
from rnncli.lm_task import LanguageModelTask
from rnncli.metrics import LN2, bits_per_char, line_log_probs, mean_loss, perplexity, stream_log_probs
from rnncli.models import build_model
from rnncli.tokenizers import CharTokenizer, encode_known
from rnncli.train_state import TrainState
from rnncli.training import History, Trainer, TrainEvent

TASK_LM = "language-model"


@dataclass
class PreparedText:
    corpus: Corpus
    tokenizer: CharTokenizer
    ids: torch.Tensor


def prepare_text(data: str) -> PreparedText:
    """Read a corpus and tokenise it once into a flat tensor of ids."""
    corpus = read_corpus(data)
    tokenizer = CharTokenizer.train(corpus.text)
    ids = torch.tensor(tokenizer.encode(corpus.text), dtype=torch.long)
    return PreparedText(corpus=corpus, tokenizer=tokenizer, ids=ids)


def versions() -> dict[str, str]:
    return {"rnncli": rnncli.__version__, "torch": torch.__version__, "python": platform.python_version()}


def train_text(prepared: PreparedText, run: RunConfig, *, out_dir: Path,
               on_event: Callable[[TrainEvent], None] | None = None,
               command: list[str] | None = None, resume: TrainState | None = None,
               dist: Distributed | None = None) -> History:
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
    corpus = prepared.corpus
    if resume is not None:
        _check_same_data(resume, corpus)
    meta: dict[str, Any] = {
        "task": TASK_LM,
        "tokenizer": prepared.tokenizer.to_dict(),
        "data": {"source": corpus.source, "sha256": corpus.sha256, "num_bytes": corpus.num_bytes,
                 "num_chars": len(corpus.text), "num_tokens": len(prepared.ids)},
        "versions": versions(),
        "command": command if command is not None else sys.argv,
    }
    task = LanguageModelTask(train_ids, val_ids, batch_size=run.train.batch_size, seq_len=run.train.seq_len,
                             eval_batches=run.train.eval_batches, source=corpus.source,
                             chars_per_token=len(corpus.text) / len(prepared.ids),
                             rank=dist.rank, world_size=dist.world_size)
    config = run.to_dict()
    meta.update(config)
    model = build_model(run.model)
    if dist.rank > 0:
        torch.manual_seed(run.train.seed + dist.rank)  # its own dropout masks; weights come from rank 0
    trainer = Trainer(model, task, run.train, out_dir=out_dir, meta=meta, config=config,
                      device=device, on_event=on_event, dist=dist)
    if resume is not None:
        trainer.restore(resume)
    return trainer.fit()


def _check_same_data(resume: TrainState, corpus: Corpus) -> None:
    saved = resume.meta.get("checkpoint", {}).get("data", {})
    if saved.get("sha256") != corpus.sha256:
        raise UsageError(f"{corpus.source}: not the text this run was trained on "
                         f"({saved.get('source', '?')}, sha256 {str(saved.get('sha256'))[:12]}...); "
                         "resume with the same data")


def evaluate_text(ckpt: Checkpoint, data: str, *, unknown: str | None = None) -> dict[str, Any]:
    """Loss, perplexity and bits per character of a checkpoint on a text."""
    corpus = read_corpus(data)
    ids = torch.tensor(encode_known(ckpt.tokenizer, corpus.text, policy=unknown, where=f"{corpus.source}: text"),
                       dtype=torch.long)
    if len(ids) < 2:
        raise DataError(f"{corpus.source}: needs at least two characters to evaluate")
    loss = mean_loss(ckpt.model, ids)
    predicted = len(ids) - 1
    return {"data": corpus.source, "tokens": predicted, "chars": len(corpus.text), "loss": loss,
            "perplexity": perplexity(loss),
            "bpc": bits_per_char(loss, tokens=predicted, chars=len(corpus.text) - 1)}


def score_lines(ckpt: Checkpoint, data: str, *, carry: bool = False,
                unknown: str | None = None) -> Iterator[dict[str, Any]]:
    """One record per line of ``data``: its tokens, log-probability and bits per character.

    A line's score covers its own tokens, not the newline that ends it. The
    first token is predicted after the start token (a newline), exactly as
    ``rnn sample`` starts. Without ``carry`` every line starts from a fresh
    state; with it the state runs on through the whole file, newlines
    included, so each line is read in the context of the lines before it.
    """
    corpus = read_corpus(data)
    lines = corpus.text.split("\n")
    if corpus.text.endswith("\n"):
        lines.pop()
    encoded = [encode_known(ckpt.tokenizer, line, policy=unknown, where=f"{corpus.source} line {n}: text")
               for n, line in enumerate(lines, 1)]
    start = start_token(ckpt.tokenizer)
    totals = _carried_line_totals(ckpt, encoded, start) if carry else line_log_probs(ckpt.model, encoded,
                                                                                     start_id=start)
    for number, (line, ids, total) in enumerate(zip(lines, encoded, totals, strict=True), 1):
        chars = len(line)
        yield {"line": number, "text": line, "tokens": len(ids), "chars": chars, "log_prob": total,
               "log_prob_per_char": total / chars if chars else None,
               "bpc": -total / chars / LN2 if chars else None}


def start_token(tokenizer) -> int:
    """The token that stands for "start of a line": a newline when the vocabulary has one, else 0."""
    return tokenizer.start_id


def _carried_line_totals(ckpt: Checkpoint, encoded: list[list[int]], start: int) -> list[float]:
    """Per-line totals from one pass over start + line 1 + newline + line 2 + ..."""
    newline = start_token(ckpt.tokenizer)
    stream, spans = [start], []
    for ids in encoded:
        spans.append((len(stream) - 1, len(stream) - 1 + len(ids)))  # positions in the log-prob vector
        stream.extend(ids)
        stream.append(newline)
    log_probs = stream_log_probs(ckpt.model, torch.tensor(stream, dtype=torch.long))
    return [float(log_probs[a:b].sum()) for a, b in spans]
