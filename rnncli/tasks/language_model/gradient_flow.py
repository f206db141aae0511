"""How far back the gradient reaches: ``|| d loss_T / d h_{T-k} ||`` for each distance ``k``.

A window of ``steps_back + 1`` tokens is run one step at a time from a zero
state, keeping every hidden state ``h_t`` in the autograd graph. The loss of
the last prediction only, ``loss_T``, is differentiated with respect to each
``h_{T-k}`` (the last recurrent layer, the one the head reads). Several
windows at random places in the text run as one batch; the norms are averaged
over them. The work is done in float64 on a copy of the model, so that the
Elman RNN's tiny gradients are measured rather than rounded to zero.

This shows the vanishing-gradient problem (Hochreiter 1991; Bengio, Simard
and Frasconi 1994): for the Elman RNN the norm falls geometrically with
``k``, while the LSTM's additive cell state keeps it up for much longer.

minGRU and minLSTM (rnncli/core/min_cells.py) differ in kind: no gate reads
``h_{t-1}``, so ``d h_t / d h_{t-1} = diag(a_t)`` exactly (``a_t = 1 - z_t``,
or the normalised forget gate), with no recurrent matrix and no tanh
derivative in it. Their gradient over ``k`` steps is the product of the gates
and nothing else: it cannot explode, and it shrinks only as much as the
gates, learned from the inputs alone, choose to forget.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F

from rnncli.core.errors import DataError
from rnncli.core.settings import ModelConfig
from rnncli.tasks.language_model.checkpoint import Checkpoint
from rnncli.tasks.language_model.data.sources import ReadSettings, read_corpus
from rnncli.tasks.language_model.model import LanguageModel, build_model

# What the curve of a min cell means, said beside it (rnn grad-flow prints it; --json carries it as "note").
MIN_CELL_NOTE = (
    "{cell}: no gate reads h_(t-1), so d h_t / d h_(t-1) = diag(a_t) ({gate}): the gradient k steps back is the "
    "product of k gates, with no recurrent matrix and no tanh derivative; it never explodes and fades only as "
    "much as the gates forget"
)
GATES = {"mingru": "a_t = 1 - z_t", "minlstm": "a_t = f_t / (f_t + i_t)"}
RANDOM_VOCAB = 64  # vocabulary of the random text used when an untrained model is given no --data
RANDOM_TOKENS = 20_000


def gradient_norms(
    model: LanguageModel, ids: torch.Tensor, *, steps_back: int, windows: int, seed: int = 0
) -> list[float]:
    """``norms[k]`` = mean over windows of ``|| d loss_T / d h_{T-k} ||``, for k = 0..steps_back."""
    span = steps_back + 1
    check_flow_fits(model, steps_back=steps_back, windows=windows)
    if len(ids) < span + 1:
        raise DataError(f"the text has {len(ids)} tokens; --steps-back {steps_back} needs at least {span + 1}")
    model = copy.deepcopy(model).to("cpu", torch.float64).eval()
    generator = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, len(ids) - span, (windows,), generator=generator)
    x = torch.stack([ids[s : s + span] for s in starts.tolist()])  # (W, T)
    y = ids[starts + span]  # (W,): the token after the window
    with torch.enable_grad():
        hs = _hidden_states(model, x)  # T tensors (L, W, H)
        logits = model.head(hs[-1][-1])  # (W, V)
        # Summed, not averaged: windows are independent, so each window's
        # gradient is the gradient of its own loss_T.
        loss = F.cross_entropy(logits, y, reduction="sum")
        grads = torch.autograd.grad(loss, hs)  # each (L, W, H)
    return [g[-1].norm(dim=-1).mean().item() for g in reversed(grads)]


def check_flow_fits(model: LanguageModel, *, steps_back: int, windows: int) -> None:
    """The float64 copy of the model and the graph of every window's every step fit in memory.

    Each step keeps, per window, its embedding and each layer's gates and states in the graph (float64:
    twice a float's bytes, hence the doubled counts).
    """
    from rnncli.core.memory import check_batch_fits, floats_per_token

    config = model.config
    per_step = floats_per_token(embed=config.embed_size, hidden=config.hidden_size, layers=config.num_layers)
    check_batch_fits(
        2 * sum(p.numel() for p in model.parameters()),
        floats=2 * windows * (steps_back + 1) * (per_step + 2 * config.num_layers * config.hidden_size),
        flag=f"--steps-back {steps_back} --windows {windows}",
        what=f"following the gradient through {windows:,} windows of {steps_back + 1:,} steps",
        training=False,
    )


def _hidden_states(model: LanguageModel, x: torch.Tensor) -> list[torch.Tensor]:
    """Step the model through ``x`` (W, T); the state h_t (L, W, H) after every step.

    Gradients are taken with respect to these whole tensors (the next step
    reads them whole) and the last layer's slice is kept afterwards.
    """
    state = model.init_state(x.shape[0], "cpu")
    state = tuple(s.to(torch.float64) for s in state)
    emb = model.embedding(x)  # (W, T, E)
    hs = []
    for e_t in emb.unbind(1):
        _, state = model.recurrent(e_t.unsqueeze(1), state)  # state[0]: (L, W, H)
        hs.append(state[0])
    return hs


def ratio(norms: list[float], far: int, near: int = 1) -> float | None:
    """``norms[far] / norms[near]``, or None when ``far`` is out of range."""
    if far >= len(norms) or norms[near] == 0:
        return None
    return norms[far] / norms[near]


def report(
    model: LanguageModel, ids: torch.Tensor, *, source: str, steps_back: int, windows: int, seed: int, trained: bool
) -> dict[str, Any]:
    """The grad-flow numbers as one JSON-able document."""
    norms = gradient_norms(model, ids, steps_back=steps_back, windows=windows, seed=seed)
    return {
        "model": dataclasses.asdict(model.config),
        "trained": trained,
        "text": source,
        "steps_back": steps_back,
        "windows": windows,
        "seed": seed,
        "norms": norms,
        "ratio_10_to_1": ratio(norms, 10),
        "ratio_50_to_1": ratio(norms, 50),
        "note": MIN_CELL_NOTE.format(cell=cell, gate=GATES[cell]) if (cell := model.config.cell) in GATES else None,
    }


def checkpoint_text(ckpt: Checkpoint, data: str | None) -> tuple[torch.Tensor, str]:
    """Token ids to measure on: ``data``, or the validation part of the text the run trained on."""
    if data is not None:  # read as the run read its text; grad-flow has no --encoding to say otherwise
        corpus = read_corpus(data, ReadSettings.of_run(ckpt.meta.get("text"), flags=False))
        return torch.tensor(ckpt.tokenizer.encode(corpus.text)), corpus.source
    recorded = ckpt.meta.get("data") or {}
    source = recorded.get("source")
    inputs = recorded.get("inputs") or [source]  # checkpoints from before folders name one file
    if not all(isinstance(i, str) and i != "-" and Path(i).exists() for i in inputs):
        raise DataError(f"{ckpt.path}: the training text ({source}) is not at hand; give --data FILE")
    corpus = read_corpus(inputs, _read_settings(ckpt.meta))
    if corpus.sha256 != recorded.get("sha256"):
        raise DataError(f"{source} has changed since {ckpt.path} was trained; give --data FILE")
    ids = torch.tensor(ckpt.tokenizer.encode(corpus.text))
    val_frac = float((ckpt.meta.get("train") or {}).get("val_frac") or 0.0)
    n_val = int(len(ids) * val_frac)
    if n_val == 0:
        return ids, f"{source} (the whole text: the run kept no validation part)"
    return ids[len(ids) - n_val :], f"{source} (validation part, last {val_frac:g})"


def _read_settings(meta: dict):
    """How the run read its text (glob, encoding), so the same text is read again."""
    from rnncli.core.errors import CheckpointError, UsageError
    from rnncli.tasks.language_model.config import RunConfig

    try:
        return dataclasses.replace(
            RunConfig.from_dict({"text": meta.get("text") or {}}).text.read_settings(), flags=False
        )
    except UsageError as exc:
        raise CheckpointError(f"the checkpoint's text settings are damaged: {exc.message}") from None


def untrained_model(config: ModelConfig, data: str | None, *, seed: int) -> tuple[LanguageModel, torch.Tensor, str]:
    """A model at initialisation and the text to measure it on (``data``, or random tokens)."""
    if data is not None:
        from rnncli.core.tokenizers import CharTokenizer

        corpus = read_corpus(data, ReadSettings(flags=False))
        tokenizer = CharTokenizer.train(corpus.text)
        ids, source = torch.tensor(tokenizer.encode(corpus.text)), corpus.source
        config = dataclasses.replace(config, vocab_size=tokenizer.vocab_size)
    else:
        config = dataclasses.replace(config, vocab_size=RANDOM_VOCAB)
        generator = torch.Generator().manual_seed(seed)
        ids = torch.randint(0, RANDOM_VOCAB, (RANDOM_TOKENS,), generator=generator)
        source = f"random tokens (uniform over {RANDOM_VOCAB} symbols)"
    config.validate()
    from rnncli.core.memory import check_model_fits, widest_flag

    check_model_fits(lambda: build_model(config), flag=widest_flag(embed=config.embed_size, hidden=config.hidden_size))
    torch.manual_seed(seed)
    return build_model(config), ids, source
