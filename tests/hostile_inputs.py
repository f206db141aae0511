"""Hostile documents for the error catalogue: checkpoints, resume states, metrics and YAML, doctored."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from safetensors import safe_open
from safetensors.torch import save_file


def rewrite(source: Path, target: Path, *, document: str = "rnncli", edit=None, raw_text=None, tensors=None) -> None:
    """Copy a safetensors file with its JSON metadata ``document`` edited (or replaced by ``raw_text``)."""
    with safe_open(str(source), framework="pt") as handle:
        weights = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
        raw = dict(handle.metadata())
    if raw_text is not None:
        raw[document] = raw_text
    else:
        value = json.loads(raw[document])
        edit(value)
        raw[document] = json.dumps(value)
    if tensors is not None:
        tensors(weights)
    save_file(weights, str(target), metadata=raw)


def make_forecaster(folder: Path) -> Path:
    """A forecasting run of two steps on two short daily series, the seed of the doctored forecasters."""
    import subprocess
    import sys

    rows = [f"2020-01-{day:02d},{10 + day % 3},{5 + day % 4}" for day in range(1, 29)]
    (folder / "series.csv").write_text("date,a,b\n" + "\n".join(rows) + "\n")
    out = folder / "forecaster"
    argv = ["train", str(folder / "series.csv"), "--out", str(out), "--steps", "2", "--horizon", "3"]
    argv += ["--lookback", "8", "--hidden-size", "8", "--device", "cpu", "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "rnncli", *argv], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    return out


def copy_run(run: Path, target: Path) -> Path:
    shutil.copytree(run, target)
    return target


DEEP = "[" * 200_000 + "]" * 200_000
HUGE_INT = "9" * 5000
BIG_INT = "1" + "0" * 400


def _nested(document: str) -> str:
    return document[:-1] + f', "extra": {DEEP}}}'


def _set(path: tuple, value):
    def edit(document):
        target = document
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


FORECASTER_EDITS = {
    "fc-float-width": (("model", "hidden_size"), 64.0),
    "fc-float-horizon": (("model", "horizon"), 3.0),
    "fc-float-lookback": (("model", "lookback"), 8.0),
    "fc-text-context": (("series", "context", 0, 0), "abc"),
    "fc-nan-context": (("series", "context", 0, 0), float("nan")),
    "fc-path-freq": (("series", "freq"), "../../etc/passwd"),
    "fc-not-a-date": (("series", "last_time", 0), "yesterday"),
    "fc-year-9999": (("series", "last_time", 0), "9999-12-31T00:00:00"),
    "fc-formula-id": (("series", "ids", 0), "=cmd|' /C calc'!A0"),
    "fc-escape-id": (("series", "ids", 0), "\x1b[2J\x1b]8;;http://x\x07a"),
}

STATE_EDITS = {
    "state-negative-step": (("step",), -1),
    "state-string-betas": (("optimizer", "param_groups", 0, "betas"), ["a", "b"]),
    "state-history-list": (("history",), [1, 2]),
    "state-checkpoint-list": (("checkpoint",), [1, 2]),
    "state-unknown-encoding": (("checkpoint", "text", "encoding"), "klingon"),
    "state-number-encoding": (("checkpoint", "text", "encoding"), 7),
}


def make_hostile_files(lm_run: Path, forecaster_run: Path, bad: Path) -> None:
    model = lm_run / "model.safetensors"
    with safe_open(str(model), framework="pt") as handle:
        document = handle.metadata()["rnncli"]
    rewrite(model, bad / "deep_meta.safetensors", raw_text=_nested(document))
    rewrite(model, bad / "huge_int_meta.safetensors", raw_text=document[:-1] + f', "extra": {HUGE_INT}}}')
    rewrite(model, bad / "big_int_meta.safetensors", edit=_set(("model", "hidden_size"), int(BIG_INT)))
    rewrite(model, bad / "escapes_meta.safetensors", edit=_set(("data", "source"), "\x1b[2J\x1b]8;;http://x\x07evil"))
    for name, (path, value) in FORECASTER_EDITS.items():
        rewrite(forecaster_run / "model.safetensors", bad / f"{name}.safetensors", edit=_set(path, value))
    state = lm_run / "last.state.safetensors"
    for name, (path, value) in STATE_EDITS.items():
        folder = copy_run(lm_run, bad / name)
        rewrite(state, folder / state.name, document="state", edit=_set(path, value))
    folder = copy_run(lm_run, bad / "state-deep")
    with safe_open(str(state), framework="pt") as handle:
        state_doc = handle.metadata()["state"]
    rewrite(state, folder / state.name, document="state", raw_text=_nested(state_doc))
    folder = copy_run(lm_run, bad / "state-huge-int")
    rewrite(state, folder / state.name, document="state", raw_text=state_doc[:-1] + f', "extra": {HUGE_INT}}}')
    folder = copy_run(lm_run, bad / "state-optimizer-shape")
    rewrite(state, folder / state.name, document="state", edit=lambda d: None, tensors=_grow("optim.0.exp_avg"))
    folder = copy_run(lm_run, bad / "state-hidden-shape")
    rewrite(state, folder / state.name, document="state", edit=lambda d: None, tensors=_grow("task.r0.state.0"))
    for name, line in {"metrics-deep": DEEP, "metrics-huge-int": '{"step": ' + HUGE_INT + "}"}.items():
        folder = copy_run(lm_run, bad / name)
        with open(folder / "metrics.jsonl", "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
    _make_yaml(bad)
    _make_special(bad)
    rewrite(model, bad / "overflow.safetensors", edit=lambda d: None, tensors=_overflowing)


def _overflowing(weights) -> None:
    """Finite weights whose logits differ by more than float32 holds: the loss overflows to inf."""
    weights["head.bias"][0], weights["head.bias"][1] = 3e38, -3e38


def _grow(name: str):
    def edit(weights):
        import torch

        weights[name] = torch.zeros(*(d + 1 for d in weights[name].shape))

    return edit


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


def _make_yaml(bad: Path) -> None:
    (bad / "latin1.yaml").write_bytes("hidden_size: 8\n# caf\u00e9\n".encode("latin-1"))
    (bad / "huge_seed.yaml").write_text(f"seed: {10**30}\n")
    (bad / "huge_int.yaml").write_text(f"seed: {HUGE_INT}\n")
    (bad / "big_seed.yaml").write_text(f"seed: {2**40}\n")
    (bad / "deep.yaml").write_text("seed: " + "[" * 100_000 + "]" * 100_000 + "\n")
    (bad / "bomb.yaml").write_text(BOMB + "seed: *i\n")
    (bad / "duplicate.yaml").write_text("hidden_size: 8\nhidden_size: 16\n")


def _make_special(bad: Path) -> None:
    fifo = bad / "fifo.safetensors"
    if not fifo.exists():
        os.mkfifo(fifo)
