"""Sentences as tensors: word ids, the characters of every real token, tags and masks, batched by length.

Batches hold sentences of similar length (sorted, then cut), so little of a batch is padding; the
order in which training visits them is drawn from the task's own generator.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from rnncli.tasks.tag.config import Vocab
from rnncli.tasks.tag.corpus import Sentence


def encode_batch(token_lists: Sequence[list[str]], vocab: Vocab, tag_lists: Sequence[list[str]] | None = None):
    """One padded batch: words (B, T), mask (B, T), lengths (B,), chars (N, C) and their lengths, tags (B, T)."""
    lengths = torch.tensor([len(t) for t in token_lists])
    B, T = len(token_lists), int(lengths.max())
    words = torch.zeros(B, T, dtype=torch.long)
    tags = torch.zeros(B, T, dtype=torch.long)
    spellings = []
    for i, tokens in enumerate(token_lists):
        words[i, : len(tokens)] = torch.tensor(vocab.word_ids(tokens))
        spellings.extend(vocab.char_ids(t) for t in tokens)
        if tag_lists is not None:
            tags[i, : len(tokens)] = torch.tensor([vocab.tag_index.get(t, 0) for t in tag_lists[i]])
    char_lengths = torch.tensor([len(s) for s in spellings])
    chars = torch.zeros(len(spellings), int(char_lengths.max()), dtype=torch.long)
    for n, spelled in enumerate(spellings):
        chars[n, : len(spelled)] = torch.tensor(spelled)
    mask = torch.arange(T).unsqueeze(0) < lengths.unsqueeze(1)
    return {
        "words": words, "mask": mask, "lengths": lengths, "chars": chars, "char_lengths": char_lengths, "tags": tags,
    }  # fmt: skip


def to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """``lengths`` stay on the CPU (packing reads them there)."""
    return {k: v if k in ("lengths", "char_lengths") else v.to(device) for k, v in batch.items()}


def length_batches(sentences: Sequence[Sentence], batch_size: int, vocab: Vocab) -> list[dict[str, torch.Tensor]]:
    """Every sentence once, in batches of similar lengths (encoded once, up front)."""
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i].tokens))
    groups = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return [encode_batch([sentences[i].tokens for i in g], vocab, [sentences[i].tags for i in g]) for g in groups]


def rows_of(batch: dict[str, torch.Tensor], rows: list[int]) -> dict[str, torch.Tensor]:
    """The sentences ``rows`` of an encoded batch (their characters too), as a batch of their own."""
    starts = torch.cumsum(batch["lengths"], 0) - batch["lengths"]  # each sentence's first token in ``chars``
    tokens = torch.cat([torch.arange(int(starts[r]), int(starts[r] + batch["lengths"][r])) for r in rows])
    picked = {k: batch[k][rows] for k in ("words", "mask", "lengths", "tags")}
    return {**picked, "chars": batch["chars"][tokens], "char_lengths": batch["char_lengths"][tokens]}
