"""A tiny model must actually learn a learnable sequence."""

from __future__ import annotations

import math

import pytest
from conftest import tiny_run_config

from rnncli.tasks.language_model.training import prepare_text, train_text


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn", "rnn-relu"])
def test_validation_bpc_falls_below_half_the_uniform_baseline(cell, repetitive_file, tmp_path):
    prepared = prepare_text(str(repetitive_file))
    run = tiny_run_config(steps=150, eval_every=50, lr=0.01)
    run.model.cell = cell
    run.model.hidden_size = 64
    history = train_text(prepared, run, out_dir=tmp_path / "run", command=["test"])
    uniform = math.log2(prepared.tokenizer.vocab_size)
    assert history.best_val_bpc < uniform / 2, (cell, history.best_val_bpc, uniform)


def test_run_folder_holds_what_the_design_promises(trained_run):
    names = {p.name for p in trained_run.iterdir()}
    assert {"model.safetensors", "last.safetensors", "metrics.jsonl", "config.yaml"} <= names
    lines = (trained_run / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 3  # evaluations at steps 50, 100 and 150
