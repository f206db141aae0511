"""Sampling carries the state token by token and is reproducible from a seed."""

from __future__ import annotations

import pytest
import torch

from rnncli.tasks.language_model.checkpoint import load_checkpoint
from rnncli.tasks.language_model.logit_processors import DecodingSettings
from rnncli.tasks.language_model.sampling import sample_steps
from rnncli.tasks.language_model.token_steps import ModelStepper, make_stepper


def sampled(ckpt, prime: str, *, length: int, temperature: float, seed: int) -> list[int]:
    """One sample's token ids, drawn the way ``rnn sample`` draws them."""
    settings = DecodingSettings(temperature=temperature).validate()
    steps = sample_steps(
        ckpt.model,
        ckpt.tokenizer.encode(prime),
        length=length,
        settings=settings,
        seeds=[seed],
        newline_id=ckpt.tokenizer.start_id,
    )
    return [tokens[0] for tokens, _ in steps]


# make_stepper picks FastStepper for this fused model; ModelStepper steps the model's own forward one token
# at a time (the reference cells sample with it).
@pytest.mark.parametrize("stepper_class", [make_stepper, ModelStepper])
def test_carried_state_matches_running_the_whole_prefix(trained_run, stepper_class):
    model = load_checkpoint(trained_run).model
    tokens = torch.randint(0, model.config.vocab_size, (2, 25))
    with torch.inference_mode():
        full, _ = model(tokens)  # (2, 25, V)
        stepper = stepper_class(model)
        state = stepper.split_state(model.init_state(2))
        for t in range(tokens.shape[1]):
            logits, state = stepper.step(tokens[:, t], state)
            torch.testing.assert_close(logits.softmax(-1), full[:, t].softmax(-1), rtol=1e-5, atol=1e-6)


def test_same_seed_same_text_different_seed_different_text(trained_run):
    ckpt = load_checkpoint(trained_run)
    a = sampled(ckpt, "the ", length=80, temperature=2.0, seed=5)
    b = sampled(ckpt, "the ", length=80, temperature=2.0, seed=5)
    c = sampled(ckpt, "the ", length=80, temperature=2.0, seed=6)
    assert a == b
    assert a != c
    assert len(a) == 80


def test_greedy_sampling_continues_the_learned_text(trained_run):
    ckpt = load_checkpoint(trained_run)
    text = ckpt.tokenizer.decode(sampled(ckpt, "the quick brown ", length=3, temperature=0, seed=0))
    assert text == "fox"
