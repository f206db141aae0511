"""Sampling carries the state token by token and is reproducible from a seed."""

from __future__ import annotations

import torch

from rnncli.tasks.language_model.checkpoint import load_checkpoint
from rnncli.tasks.language_model.sampling import generate, step


def test_carried_state_matches_running_the_whole_prefix(trained_run):
    model = load_checkpoint(trained_run).model
    tokens = torch.randint(0, model.config.vocab_size, (2, 25))
    with torch.inference_mode():
        full, _ = model(tokens)  # (2, 25, V)
        state = model.init_state(2)
        for t in range(tokens.shape[1]):
            logits, state = step(model, tokens[:, t], state)
            torch.testing.assert_close(logits.softmax(-1), full[:, t].softmax(-1), rtol=1e-5, atol=1e-6)


def test_same_seed_same_text_different_seed_different_text(trained_run):
    ckpt = load_checkpoint(trained_run)
    prime = ckpt.tokenizer.encode("the ")
    a = list(generate(ckpt.model, prime, length=80, temperature=2.0, seed=5))
    b = list(generate(ckpt.model, prime, length=80, temperature=2.0, seed=5))
    c = list(generate(ckpt.model, prime, length=80, temperature=2.0, seed=6))
    assert a == b
    assert a != c
    assert len(a) == 80


def test_greedy_sampling_continues_the_learned_text(trained_run):
    ckpt = load_checkpoint(trained_run)
    prime = ckpt.tokenizer.encode("the quick brown ")
    text = ckpt.tokenizer.decode(list(generate(ckpt.model, prime, length=3, temperature=0, seed=0)))
    assert text == "fox"
