"""Shared fixtures and helpers: one thread for torch (two cores are shared), tiny corpora and runs,
doctored checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from rnncli.tasks.language_model.config import RunConfig
from rnncli.tasks.language_model.training import prepare_text, train_text


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
    train_text(
        prepare_text(str(data)), tiny_run_config(steps=150, eval_every=50, lr=0.01), out_dir=out, command=["test"]
    )
    return out


def rewrite_checkpoint(source: Path, target: Path, *, meta=None, tensors=None, metadata=None) -> None:
    """Copy a checkpoint with edited rnncli metadata, tensors or raw safetensors metadata."""
    with safe_open(str(source), framework="pt") as handle:
        weights = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
        raw = dict(handle.metadata())
    document = json.loads(raw["rnncli"])
    if meta is not None:
        meta(document)
    raw["rnncli"] = json.dumps(document)
    if metadata is not None:
        metadata(raw)
    if tensors is not None:
        tensors(weights)
    save_file(weights, str(target), metadata=raw)
