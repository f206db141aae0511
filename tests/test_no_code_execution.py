"""Untrusted files never run code: no pickle, no torch.load, safe YAML, no eval; metadata size-checked first."""

from __future__ import annotations

import ast
import json
import struct
import tracemalloc
from pathlib import Path

import pytest
from safetensors import safe_open
from safetensors.torch import save_file

from rnncli.core.checkpoint import MAX_HEADER_BYTES
from rnncli.core.errors import CheckpointError
from rnncli.tasks.inspection import inspect_checkpoint
from rnncli.tasks.language_model.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
SCANNED = sorted([*ROOT.glob("rnncli/**/*.py"), *ROOT.glob("benchmarks/**/*.py"), *ROOT.glob("sample_data/*.py")])
UNPICKLING_MODULES = {"pickle", "cPickle", "_pickle", "dill", "shelve", "marshal", "joblib", "cloudpickle"}
UNSAFE_YAML = {"load", "load_all", "unsafe_load", "unsafe_load_all", "full_load", "full_load_all"}


def _dotted(node: ast.AST) -> str:
    """``torch.jit.load`` for the expression ``torch.jit.load``; '' for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def unsafe_uses(source: str) -> list[str]:
    """What in ``source`` could execute code from data, as ``line: what``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [
                f"{node.lineno}: import {a.name}" for a in node.names if a.name.split(".")[0] in UNPICKLING_MODULES
            ]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in UNPICKLING_MODULES:
            found.append(f"{node.lineno}: from {node.module} import")
        elif isinstance(node, ast.ImportFrom) and node.module == "torch":
            found += [f"{node.lineno}: from torch import load" for a in node.names if a.name == "load"]
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            keywords = {k.arg: k.value for k in node.keywords}
            runs_code = name in ("eval", "exec", "compile", "__import__")
            if runs_code or name == "torch.load" or (name.startswith("torch.") and name.endswith(".load")):
                found.append(f"{node.lineno}: {name}()")
            elif name.startswith("yaml.") and name.split(".")[-1] in UNSAFE_YAML:
                loader = _dotted(keywords["Loader"]) if "Loader" in keywords else ""
                if not loader.endswith("SafeLoader"):
                    found.append(f"{node.lineno}: {name}() without SafeLoader")
            elif name in ("np.load", "numpy.load") and "allow_pickle" in keywords:
                found.append(f"{node.lineno}: {name}(allow_pickle=...)")
    return found


def test_the_scanner_finds_every_unsafe_pattern():
    bad = """
import pickle
from dill import loads
import torch, yaml, numpy as np
torch.load("x")
torch.jit.load("x")
yaml.load(text)
yaml.load(text, Loader=yaml.Loader)
yaml.unsafe_load(text)
eval("1")
exec("x = 1")
np.load("x", allow_pickle=True)
"""
    assert len(unsafe_uses(bad)) == 10
    good = "import yaml, torch\nyaml.safe_load(t)\nyaml.load(t, Loader=yaml.SafeLoader)\nmodel.eval()\n"
    assert unsafe_uses(good) == []


@pytest.mark.parametrize("path", SCANNED, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_code_execution_from_data(path):
    assert unsafe_uses(path.read_text(encoding="utf-8")) == []


def test_scan_covers_the_package():
    names = {p.relative_to(ROOT).as_posix() for p in SCANNED}
    assert {
        "rnncli/core/checkpoint.py",
        "rnncli/core/settings.py",
        "rnncli/core/resume_state.py",
        "rnncli/tasks/language_model/data/sources.py",
        "rnncli/tasks/language_model/checkpoint.py",
    } <= names


def _peak_bytes(func) -> tuple[int, str]:
    """Peak Python-heap bytes allocated while ``func`` runs (it must raise CheckpointError)."""
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError) as caught:
            func()
        return tracemalloc.get_traced_memory()[1], caught.value.message
    finally:
        tracemalloc.stop()


def _doctor(good: Path, target: Path, *, model=None, header=None) -> None:
    """A copy of a checkpoint with edited model metadata, or with its header JSON edited raw."""
    with safe_open(str(good), framework="pt") as handle:
        weights = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
        metadata = dict(handle.metadata())
    document = json.loads(metadata["rnncli"])
    document["model"].update(model or {})
    metadata["rnncli"] = json.dumps(document)
    save_file(weights, str(target), metadata=metadata)
    if header is not None:
        data = target.read_bytes()
        (length,) = struct.unpack("<Q", data[:8])
        table = json.loads(data[8 : 8 + length])
        header(table)
        raw = json.dumps(table).encode()
        target.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + length :])


LOADERS = {"load": load_checkpoint, "inspect": inspect_checkpoint}


@pytest.mark.parametrize("loader", LOADERS)
def test_header_claiming_a_huge_size_is_refused_before_reading_it(loader, tmp_path):
    path = tmp_path / "huge.safetensors"
    path.write_bytes(struct.pack("<Q", 1 << 62) + b"{}" * 100)
    peak, message = _peak_bytes(lambda: LOADERS[loader](path))
    assert "bad header length" in message
    assert peak < 1 << 20
    path.write_bytes(struct.pack("<Q", MAX_HEADER_BYTES + 1) + b" " * 64)  # over the limit, whatever the file holds
    assert "bad header length" in _peak_bytes(lambda: LOADERS[loader](path))[1]


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize(
    "model, expected",
    [
        ({"vocab_size": 10**9}, "vocab_size must be a whole number from 1 to"),
        ({"hidden_size": 65_536, "num_layers": 64, "embed_size": 65_536}, "implausibly large"),
        ({"num_layers": 10**12}, "num_layers must be a whole number"),
    ],
)
def test_absurd_model_sizes_are_refused_before_allocating(loader, model, expected, trained_run, tmp_path):
    path = tmp_path / "absurd.safetensors"
    _doctor(trained_run / "model.safetensors", path, model=model)
    peak, message = _peak_bytes(lambda: LOADERS[loader](path))
    assert expected in message
    assert peak < 16 << 20  # a 65,536-wide model would need terabytes; the check itself needs almost nothing


@pytest.mark.parametrize("loader", LOADERS)
def test_a_huge_tensor_shape_in_the_header_is_refused_unread(loader, trained_run, tmp_path):
    path = tmp_path / "huge_shape.safetensors"
    _doctor(
        trained_run / "model.safetensors", path, header=lambda table: table["head.weight"].update(shape=[10**9, 10**9])
    )
    peak, message = _peak_bytes(lambda: LOADERS[loader](path))
    assert "head.weight" in message and "shape" in message
    assert peak < 1 << 20


@pytest.mark.parametrize("loader", LOADERS)
def test_byte_ranges_pointing_outside_the_file_are_refused(loader, trained_run, tmp_path):
    path = tmp_path / "offsets.safetensors"
    _doctor(
        trained_run / "model.safetensors",
        path,
        header=lambda table: table["head.bias"].update(data_offsets=[0, 10**15]),
    )
    assert "head.bias" in _peak_bytes(lambda: LOADERS[loader](path))[1]
