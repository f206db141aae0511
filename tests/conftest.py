"""Shared fixtures: one thread for torch (two cores are shared), tiny corpora and runs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rnncli.config import RunConfig
from rnncli.workflows import prepare_text, train_text


@pytest.fixture(autouse=True, scope="session")
def _private_token_cache(tmp_path_factory):
    """Token files go to a folder of the test session's, not the user's cache (subprocesses inherit it)."""
    import os

    os.environ["RNN_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    torch.set_num_threads(1)


REPETITIVE = "the quick brown fox jumps over the lazy dog. " * 120


@pytest.fixture
def repetitive_file(tmp_path: Path) -> Path:
    path = tmp_path / "repeat.txt"
    path.write_text(REPETITIVE, encoding="utf-8")
    return path


def tiny_run_config(**train) -> RunConfig:
    run = RunConfig()
    run.model.hidden_size, run.model.num_layers, run.model.embed_size = 32, 1, 16
    run.train.seq_len, run.train.batch_size, run.train.steps, run.train.eval_every = 32, 8, 60, 30
    run.train.device = "cpu"
    for key, value in train.items():
        setattr(run.train, key, value)
    return run


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """A tiny LSTM trained once for the whole session; tests must not modify it."""
    folder = tmp_path_factory.mktemp("runs")
    data = folder / "repeat.txt"
    data.write_text(REPETITIVE, encoding="utf-8")
    out = folder / "repeat"
    train_text(prepare_text(str(data)), tiny_run_config(steps=150, eval_every=50, lr=0.01),
               out_dir=out, command=["test"])
    return out
