"""A trained translator loaded from its checkpoint (validated before anything is allocated), and translation
of many sentences at once: sorted by length into batches, decoded, returned in the order given."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnncli.core.checkpoint import check_tensors_match, read_meta, read_tensors, resolve_checkpoint_path
from rnncli.core.errors import CheckpointError, UsageError
from rnncli.core.settings import build_section
from rnncli.core.tokenizers import Tokenizer, encode_known, tokenizer_from_dict
from rnncli.tasks.translate.config import TranslateConfig
from rnncli.tasks.translate.decoding import Hypothesis, beam_search, greedy
from rnncli.tasks.translate.model import Translator, check_decoding_fits
from rnncli.tasks.translate.task import pad

TASK_NAME = "translate"
BATCH_SENTENCES = 64


@dataclass
class Decoding:
    """How to decode: greedy (beam 1) or beam search, and the bound on the output's length."""

    beam: int = 1
    n_best: int = 1
    length_penalty: float = 1.0
    max_len_ratio: float = 2.0

    def validate(self) -> None:
        from rnncli.core.settings import check_float, check_int

        check_int(self.beam, 1, 1000, "--beam")
        check_int(self.n_best, 1, 1000, "--n-best")
        if self.n_best > self.beam:
            raise UsageError(f"--n-best {self.n_best} is more than --beam {self.beam}: give a beam at least as wide")
        check_float(self.length_penalty, 0.0, 10.0, "--length-penalty")
        check_float(self.max_len_ratio, 0.0, 1000.0, "--max-len-ratio", low_open=True)


@dataclass
class Loaded:
    path: Path
    model: Translator
    config: TranslateConfig
    tokenizer: Tokenizer  # the source side's (and the target's, where shared)
    meta: dict[str, Any]
    target_tokenizer: Tokenizer | None = None  # None where one tokenizer serves both sides

    @property
    def target(self) -> Tokenizer:
        return self.target_tokenizer or self.tokenizer

    def encode(self, text: str, *, where: str = "text") -> list[int]:
        """A source sentence as the encoder reads it."""
        return encode_known(self.tokenizer, text, policy="unk", where=where)

    def encode_target(self, text: str, *, where: str = "text") -> list[int]:
        return encode_known(self.target, text, policy="unk", where=where)

    def decode(self, ids: list[int]) -> str:
        """Output ids (the decoder's) as text."""
        return self.target.decode(ids)


def load_translator(path: str | Path, *, device: str | None = None) -> Loaded:
    """Load and validate a translation checkpoint (safetensors only; nothing unpickled)."""
    from rnncli.core.devices import resolve_device

    path = resolve_checkpoint_path(path)
    meta = read_meta(path)
    config, tokenizer, target = validate_layout(path, meta)
    tensors = read_tensors(path)
    if config.tie_embeddings and not tensors["out.weight"].equal(tensors["target_embed.weight"]):
        raise CheckpointError(f"{path}: the tied embeddings differ (out.weight, target_embed.weight); damaged")
    model = Translator(config)
    model.load_state_dict(tensors)
    model.to(resolve_device(device or "cpu")).eval()
    return Loaded(path, model, config, tokenizer, meta, target)


def validate_layout(path: Path, meta: dict[str, Any]) -> tuple[TranslateConfig, Tokenizer, Tokenizer | None]:
    """The metadata and the tensor table checked against each other, weights unread.

    Returns the config, the source (or shared) tokenizer and the target's (None where shared).
    """
    if meta.get("task") != TASK_NAME:
        raise CheckpointError(f"{path}: not a translation model (task {meta.get('task')!r})")
    try:
        config = build_section(TranslateConfig, meta.get("model"), where=f"{path}: model")
        config.validate(where=f"{path}: model")
        tokenizer = tokenizer_from_dict(meta.get("tokenizer"))
        target = None if "target_tokenizer" not in meta else tokenizer_from_dict(meta["target_tokenizer"])
    except UsageError as exc:
        raise CheckpointError(f"the translation metadata is damaged ({exc.message})") from None
    sizes = [(tokenizer.vocab_size, config.vocab_size, "source")]
    if (target is None) != config.shared_vocab:
        raise CheckpointError(f"{path}: the model and its tokenizers disagree on a shared vocabulary; damaged")
    if target is not None:
        sizes.append((target.vocab_size, config.target_vocab_size, "target"))
    for found, expected, side in sizes:
        if found != expected:
            raise CheckpointError(f"{path}: the {side} tokenizer has {found} tokens but the model {expected}; damaged")
    check_tensors_match(path, meta, lambda: Translator(config))
    return config, tokenizer, target


def translate(
    loaded: Loaded, sources: list[str], decoding: Decoding, *, where: str = "input"
) -> list[list[Hypothesis]]:
    """The ``n_best`` translations of each source, in the order given; an empty source gives one empty output."""
    results: list[list[Hypothesis]] = [[Hypothesis([], 0.0)] for _ in sources]
    ids = {i: loaded.encode(s, where=f"{where} line {i + 1}") for i, s in enumerate(sources) if s.strip()}
    order = sorted(ids, key=lambda i: len(ids[i]))  # similar lengths together: less padding
    longest = max((len(ids[i]) for i in order), default=0)
    check_decoding_fits(
        loaded.model,
        rows=min(len(order), BATCH_SENTENCES),
        beam=decoding.beam,
        source_len=longest,
        steps=int(decoding.max_len_ratio * longest) + 1,
    )
    device = next(loaded.model.parameters()).device
    for start in range(0, len(order), BATCH_SENTENCES):
        rows = order[start : start + BATCH_SENTENCES]
        for i, hyps in zip(rows, decode_batch(loaded, [ids[i] for i in rows], decoding, device), strict=True):
            results[i] = hyps
    return results


def decode_batch(loaded: Loaded, rows: list[list[int]], decoding: Decoding, device, *, keep_attention=False):
    source, lengths = pad(rows, loaded.config.source_pad_id)
    source, lengths = source.to(device), lengths.to(device)
    if decoding.beam == 1:
        found = greedy(loaded.model, source, lengths, ratio=decoding.max_len_ratio, keep_attention=keep_attention)
        return [[h] for h in found]
    return beam_search(
        loaded.model,
        source,
        lengths,
        beam=decoding.beam,
        n_best=decoding.n_best,
        length_penalty=decoding.length_penalty,
        ratio=decoding.max_len_ratio,
    )


def texts(loaded: Loaded, results: list[list[Hypothesis]]) -> list[str]:
    """The best translation of each sentence, as text."""
    return [loaded.decode(hyps[0].tokens) for hyps in results]
