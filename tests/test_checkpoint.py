"""Checkpoints round-trip exactly, open with plain safetensors, and reject what is not theirs."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from rnncli.core.checkpoint import FORMAT_VERSION, atomic_write_bytes, read_meta
from rnncli.core.errors import CheckpointError, RuntimeFailure
from rnncli.tasks.language_model.checkpoint import load_checkpoint


def test_loaded_model_gives_bit_identical_logits(trained_run):
    a = load_checkpoint(trained_run)
    b = load_checkpoint(trained_run / "model.safetensors")
    x = torch.randint(0, a.config.vocab_size, (3, 17))
    with torch.no_grad():
        la, _ = a.model(x)
        lb, _ = b.model(x)
    assert torch.equal(la, lb)
    # and the stored tensors are exactly the model's parameters
    raw = load_file(str(trained_run / "model.safetensors"))
    for name, tensor in a.model.state_dict().items():
        assert torch.equal(raw[name], tensor)


def test_metadata_is_self_describing(trained_run):
    meta = read_meta(trained_run / "model.safetensors")
    assert meta["task"] == "language-model"
    assert meta["model"]["cell"] == "lstm"
    assert meta["tokenizer"]["kind"] == "char"
    assert len(meta["data"]["sha256"]) == 64
    assert {"rnncli", "torch"} <= set(meta["versions"])
    assert meta["history"]["step"] == 150


def test_not_a_checkpoint_is_a_clear_error(tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_text("hello, this is not a checkpoint")
    with pytest.raises(CheckpointError, match="not a safetensors checkpoint"):
        load_checkpoint(junk)


def test_foreign_safetensors_file_is_refused(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(CheckpointError, match="not an rnncli checkpoint"):
        load_checkpoint(path)


def test_unknown_format_version_names_the_readable_ones(trained_run, tmp_path):
    path = tmp_path / "future.safetensors"
    tensors = load_file(str(trained_run / "model.safetensors"))
    meta = read_meta(trained_run / "model.safetensors")
    meta.pop("_tensors", None)
    save_file(tensors, str(path), metadata={"format": "rnncli", "format_version": "99", "rnncli": json.dumps(meta)})
    with pytest.raises(CheckpointError, match=f"readable versions: {FORMAT_VERSION}"):
        load_checkpoint(path)


def test_shape_mismatch_is_refused(trained_run, tmp_path):
    path = tmp_path / "bad.safetensors"
    tensors = load_file(str(trained_run / "model.safetensors"))
    tensors["head.bias"] = torch.zeros(3)
    meta = read_meta(trained_run / "model.safetensors")
    meta.pop("_tensors", None)
    save_file(tensors, str(path), metadata={"format": "rnncli", "format_version": "1", "rnncli": json.dumps(meta)})
    with pytest.raises(CheckpointError, match="head.bias"):
        load_checkpoint(path)


def test_truncated_checkpoint_is_refused(trained_run, tmp_path):
    data = (trained_run / "model.safetensors").read_bytes()
    path = tmp_path / "cut.safetensors"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_failed_write_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    target = tmp_path / "model.safetensors"
    atomic_write_bytes(target, b"good")

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("rnncli.core.files.os.replace", disk_full)
    with pytest.raises(RuntimeFailure, match="No space left"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"good"
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]  # no temporary left behind


# The checkpoint's "rnncli" document and the resume state's "state" document are checked by one function:
# each damage gives the same wording in both files.
JSON_DAMAGE = {
    "not a string": (None, "is missing or too large"),
    "too large": ("{}" + " " * 64, "is missing or too large"),
    "not JSON": ("{'step': 1", "is corrupted (not JSON)"),
    "not a mapping": ("[1, 2]", "is corrupted"),
}


@pytest.mark.parametrize("damage", JSON_DAMAGE, ids=str)
@pytest.mark.parametrize(
    ("file", "key", "what"),
    [
        ("model.safetensors", "rnncli", "the rnncli metadata"),
        ("last.state.safetensors", "state", "the training state metadata"),
    ],
)
def test_json_metadata_is_checked_alike_in_checkpoints_and_resume_state(
    trained_run, tmp_path, monkeypatch, damage, file, key, what
):
    from rnncli.core.checkpoint import read_meta
    from rnncli.core.resume_state import read_state_meta

    monkeypatch.setattr("rnncli.core.checkpoint.MAX_METADATA_CHARS", 64)
    monkeypatch.setattr("rnncli.core.resume_state.MAX_STATE_META_CHARS", 64)
    document, message = JSON_DAMAGE[damage]
    with safe_open(str(trained_run / file), framework="pt") as handle:
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
        metadata = dict(handle.metadata())
    if document is None:
        metadata.pop(key)
    else:
        metadata[key] = document
    path = tmp_path / file
    save_file(tensors, str(path), metadata=metadata)
    read = read_meta if key == "rnncli" else read_state_meta
    with pytest.raises(CheckpointError) as caught:
        read(path)
    assert caught.value.message == f"{path}: {what} {message}"
