"""Tagging with several processes: torchrun with 2 CPU processes (gloo) trains like one process on the same batches."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from rnncli.cli import app
from rnncli.core.checkpoint import read_meta

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
# no dropout: the random masks are the one thing the ranks draw differently from a single process
ARGS = ["--hidden-size", "16", "--embed-size", "8", "--dropout", "0", "--word-dropout", "0", "--batch-size", "5",
        "--eval-every", "5", "--device", "cpu", "--crf"]  # fmt: skip


def _torchrun(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "rnncli"]
    return subprocess.run([*cmd, "train", *args], capture_output=True, text=True, env=ENV, timeout=300)


# two torchrun launches of two processes each: about 20 s on 2 cores
@pytest.mark.slow  # 12-30 s; the DDP path itself is covered by test_train_cli's two-process test
def test_two_processes_train_a_tagger_like_one_and_resume(tmp_path):
    data = tmp_path / "ner.conll"
    blocks = (ROOT / "sample_data" / "ner.conll").read_text(encoding="utf-8").split("\n\n")[:120]
    data.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    ddp, single = tmp_path / "ddp", tmp_path / "single"
    proc = _torchrun(str(data), "--out", str(ddp), "--steps", "10", *ARGS)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("training on ") == 1 and proc.stderr.count("sentences): model") == 1  # rank 0 talks
    result = CliRunner().invoke(app, ["train", str(data), "--out", str(single), "--steps", "10", *ARGS, "--quiet"])
    assert result.exit_code == 0, result.output
    a, b = load_file(str(ddp / "last.safetensors")), load_file(str(single / "last.safetensors"))
    assert a.keys() == b.keys()
    for name in a:  # each rank trains on its share of the same batch; the averaged gradient is the whole batch's
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-5)
    proc = _torchrun("--resume", str(ddp), "--steps", "15")
    assert proc.returncode == 0, proc.stderr
    assert read_meta(ddp / "last.safetensors")["history"]["step"] == 15
