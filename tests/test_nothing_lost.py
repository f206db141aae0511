"""A failed or refused write never loses a good checkpoint, and says where it could not write.

(kill -9 during saves: tests/test_train_cli.py::test_kill_9_at_any_moment_leaves_a_loadable_checkpoint.)
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnncli.cli import app
from rnncli.core.checkpoint import save_checkpoint
from rnncli.core.errors import RuntimeFailure
from rnncli.tasks.language_model.checkpoint import load_checkpoint

runner = CliRunner()
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture
def run_copy(trained_run, tmp_path) -> Path:
    folder = tmp_path / "run"
    shutil.copytree(trained_run, folder)
    return folder


def test_out_never_overwrites_an_existing_run_without_force(run_copy, repetitive_file):
    before = _snapshot(run_copy)
    result = runner.invoke(app, ["train", str(repetitive_file), "--out", str(run_copy), "--steps", "2", "--quiet"])
    assert result.exit_code == 2
    assert "a run already exists there" in result.stderr and "--force" in result.stderr
    assert _snapshot(run_copy) == before


def _refuse_new_files(monkeypatch):
    """What a read-only folder does to mkstemp, for when chmod cannot restrict us (root)."""

    def read_only(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr("rnncli.core.files.tempfile.mkstemp", read_only)


def test_read_only_folder_keeps_the_previous_checkpoint_and_names_the_folder(run_copy, monkeypatch):
    ckpt = load_checkpoint(run_copy)
    before = _snapshot(run_copy)
    if IS_ROOT:
        _refuse_new_files(monkeypatch)
    else:
        run_copy.chmod(0o555)
    try:
        with pytest.raises(RuntimeFailure) as caught:
            save_checkpoint(run_copy / "model.safetensors", ckpt.model, ckpt.meta)
    finally:
        run_copy.chmod(0o755)
    assert f"{run_copy}: cannot write a checkpoint here" in caught.value.message
    assert "Permission denied" in caught.value.message
    assert _snapshot(run_copy) == before


@pytest.mark.parametrize("failing", ["os.fsync", "os.replace"])
def test_full_disk_keeps_the_previous_checkpoint_and_leaves_no_temporary(failing, run_copy, monkeypatch):
    ckpt = load_checkpoint(run_copy)
    before = _snapshot(run_copy)

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(f"rnncli.core.files.{failing}", disk_full)
    with pytest.raises(RuntimeFailure) as caught:
        save_checkpoint(run_copy / "model.safetensors", ckpt.model, ckpt.meta)
    assert str(run_copy / "model.safetensors") in caught.value.message
    assert "No space left on device" in caught.value.message
    assert "previous checkpoint is untouched" in caught.value.message
    assert _snapshot(run_copy) == before  # no half-written file, no temporary left behind
    assert load_checkpoint(run_copy).meta == ckpt.meta


def test_training_that_cannot_save_exits_1_and_keeps_the_run(run_copy, monkeypatch):
    """`rnn train --resume` into a folder that has become unwritable: exit 1, one line, the run unharmed."""
    before = _snapshot(run_copy)
    step = load_checkpoint(run_copy / "last.safetensors").meta["history"]["step"]
    _refuse_new_files(monkeypatch)
    result = runner.invoke(
        app, ["train", "--resume", str(run_copy), "--steps", str(step + 4), "--eval-every", "2", "--quiet"]
    )
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnn: error: ")
    assert f"{run_copy}: cannot write" in lines[0]
    assert _snapshot(run_copy) == before
    assert load_checkpoint(run_copy / "last.safetensors").meta["history"]["step"] == step
