"""The error catalogue (docs/errors.md): every bad input, run through the real command.

Each entry starts ``python -m rnncli ...`` as a subprocess and checks the exit
code (2 for bad input or usage, 1 for a runtime failure), that stderr is one
line ``rnn: error: ...`` naming the problem, and that it holds no traceback.
Importing torch costs about 2 s of CPU per process, too much for a hundred
entries on a small machine, so one parent process imports the package once
and forks a child per entry that runs ``rnncli.cli.main()`` (what the ``rnn``
script runs) with that entry's argv (tests/catalogue_runner.py); a few entries
also run as ``python -m rnncli`` to show the two agree. docs/errors.md shows
every case with the message it printed here (a test compares them; RNN_UPDATE_DOCS=1,
which ``python scripts/make_docs.py`` sets, rewrites that block instead).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import struct
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from conftest import REPETITIVE
from conftest import rewrite_checkpoint as _rewrite
from hostile_inputs import make_forecaster, make_hostile_files
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import make_docs  # noqa: E402  (scripts/ is not a package)

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "NO_COLOR": "1"}
ENV.pop("RNN_DEBUG", None)
ENV["RNN_MAX_MEMORY"] = "8G"  # memory refusals print the limit: the same on every machine
TINY = ["--hidden-size", "8", "--num-layers", "1", "--embed-size", "4", "--steps", "2", "--device", "cpu", "--quiet"]

# Bad checkpoints: each is tried with sample, eval and inspect.
BAD_CHECKPOINTS = {
    "missing": ("no such checkpoint",),
    "not_safetensors": ("not a safetensors checkpoint",),
    "truncated": ("truncated", "bytes of tensor data"),
    "huge_header": ("bad header length",),
    "corrupted_header": ("header is corrupted",),
    "foreign": ("not an rnncli checkpoint",),
    "future_version": ("format version '99' is not readable", "readable versions: 1"),
    "shape_mismatch": ("tensor 'head.weight' has shape", "config implies"),
    "missing_tensor": ("tensors do not match the model config", "missing: head.bias"),
    "huge_vocab": ("vocab_size must be a whole number from 1 to",),
    "huge_width": ("hidden_size must be a whole number from 1 to",),
    "unknown_cell": ("unknown value 'tree'", "choose one of: lstm, gru"),
    "unknown_tokenizer": ("unknown tokenizer", "readable kinds: char"),
    "nan_weights": ("NaN or infinite",),
}
# inspect reads metadata only (it must not need the weights), so it does not see NaNs or swapped tensors.
INSPECT_SKIPS = {"nan_weights"}

# (id, argv with {data} {ckpt} {bad} placeholders, exit code, substrings of the message)
CASES: list[tuple[str, list[str], int, tuple[str, ...]]] = [
    # text data
    ("text-missing", ["train", "{bad}/nowhere.txt", *TINY], 2, ("nowhere.txt: no such file",)),
    ("text-missing-eval", ["eval", "{ckpt}", "{bad}/nowhere.txt"], 2, ("nowhere.txt: no such file",)),
    ("text-missing-inspect", ["inspect", "{bad}/nowhere.txt"], 2, ("nowhere.txt: no such file",)),
    ("text-empty", ["train", "{bad}/empty.txt", *TINY], 2, ("empty.txt", "empty or only whitespace")),
    ("text-whitespace", ["train", "{bad}/blank.txt", *TINY], 2, ("blank.txt", "empty or only whitespace")),
    ("text-empty-eval", ["eval", "{ckpt}", "{bad}/empty.txt"], 2, ("empty.txt", "empty or only whitespace")),
    ("text-directory", ["train", "{bad}/emptydir", *TINY], 2, ("emptydir", "the folder holds no text files")),
    ("text-directory-inspect", ["inspect", "{bad}/emptydir"], 2, ("emptydir", "the folder holds no text files")),
    ("text-binary", ["train", "{bad}/binary.txt", *TINY], 2, ("binary.txt", "binary data")),
    ("text-binary-eval", ["eval", "{ckpt}", "{bad}/binary.txt"], 2, ("binary.txt", "binary data")),
    (
        "text-invalid-utf8",
        ["train", "{bad}/latin1.txt", *TINY],
        2,
        ("latin1.txt", "not valid UTF-8 at byte offset 14", "convert the file to UTF-8"),
    ),
    (
        "text-invalid-utf8-eval",
        ["eval", "{ckpt}", "{bad}/latin1.txt"],
        2,
        ("latin1.txt", "not valid UTF-8 at byte offset 14"),
    ),
    (
        "text-too-small",
        ["train", "{bad}/small.txt", *TINY, "--seq-len", "64", "--batch-size", "4"],
        2,
        ("small.txt", "too few for one window of --seq-len 64", "need at least", "smaller --seq-len"),
    ),
    (
        "text-unseen-chars-eval",
        ["eval", "{ckpt}", "{bad}/unseen.txt"],
        2,
        ("unseen.txt: text has characters the model never saw in training", "'Z'"),
    ),
    ("prime-unseen-chars", ["sample", "{ckpt}", "--prime", "Zebra"], 2, ("the prompt: text has characters", "'Z'")),
    (
        "prime-file-invalid-utf8",
        ["sample", "{ckpt}", "--prime-file", "{bad}/latin1.txt"],
        2,
        ("--prime-file", "latin1.txt", "byte offset 14"),
    ),
    (
        "text-glob-matches-nothing",
        ["train", "{bad}", "--glob", "*.rs", *TINY],
        2,
        ("holds no text files matching --glob '*.rs'", "check --glob"),
    ),
    (
        "text-wrong-encoding",
        ["train", "{bad}/latin1.txt", "--encoding", "utf-16", *TINY],
        2,
        ("latin1.txt", "cannot be read as utf-16", "check --encoding"),
    ),
    # options
    (
        "opt-unknown-tokenizer",
        ["train", "{data}", *TINY, "--tokenizer", "sentencepiece"],
        2,
        ("--tokenizer: unknown value 'sentencepiece'", "choose one of: char, byte, word, bpe"),
    ),
    (
        "opt-other-tokenizers-option",
        ["train", "{data}", *TINY, "--vocab-size", "500"],
        2,
        ("--vocab-size applies to --tokenizer bpe, not char",),
    ),
    (
        "opt-unknown-encoding",
        ["train", "{data}", *TINY, "--encoding", "klingon"],
        2,
        ("--encoding: unknown encoding 'klingon'",),
    ),
    (
        "opt-unknown-policy",
        ["sample", "{ckpt}", "--unknown", "guess"],
        2,
        ("--unknown: unknown value 'guess'", "choose one of: error, skip, unk"),
    ),
    ("opt-negative-hidden", ["train", "{data}", *TINY, "--hidden-size", "-3"], 2, ("--hidden-size must be",)),
    ("opt-negative-seq-len", ["train", "{data}", *TINY, "--seq-len", "-1"], 2, ("--seq-len must be",)),
    ("opt-zero-batch", ["train", "{data}", *TINY, "--batch-size", "0"], 2, ("--batch-size must be",)),
    ("opt-negative-length", ["sample", "{ckpt}", "--length", "-5"], 2, ("--length",)),
    ("opt-negative-temp", ["sample", "{ckpt}", "--temp", "-0.5"], 2, ("--temp",)),
    ("opt-top-p-zero", ["sample", "{ckpt}", "--top-p", "0"], 2, ("--top-p", "(0, 1]")),
    ("opt-top-p-above-one", ["sample", "{ckpt}", "--top-p", "1.5"], 2, ("--top-p", "(0, 1]")),
    ("opt-dropout-one", ["train", "{data}", *TINY, "--dropout", "1"], 2, ("--dropout must be in",)),
    ("opt-steps-and-epochs", ["train", "{data}", *TINY, "--epochs", "1"], 2, ("--steps or --epochs, not both",)),
    (
        "opt-prime-and-prime-file",
        ["sample", "{ckpt}", "--prime", "a", "--prime-file", "{data}"],
        2,
        ("--prime or --prime-file, not both",),
    ),
    ("opt-greedy-and-temp", ["sample", "{ckpt}", "--greedy", "--temp", "0.5"], 2, ("--greedy", "--temp")),
    ("opt-carry-without-per-line", ["eval", "{ckpt}", "{data}", "--carry"], 2, ("--carry", "--per-line")),
    (
        "opt-unknown-cell",
        ["train", "{data}", *TINY, "--cell", "tree"],
        2,
        ("--cell: unknown value 'tree'", "choose one of: lstm, gru, rnn, rnn-relu, gru-textbook"),
    ),
    ("opt-unknown-impl", ["train", "{data}", *TINY, "--impl", "magic"], 2, ("choose one of: fused, reference",)),
    ("opt-unknown-device", ["sample", "{ckpt}", "--device", "tpu"], 2, ("choose one of: auto, cpu",)),
    (
        "opt-bad-duration",
        ["train", "{data}", "--hidden-size", "8", "--quiet", "--time", "soon"],
        2,
        ("--time", "as a duration"),
    ),
    ("opt-out-exists", ["train", "{data}", *TINY, "--out", "{run}"], 2, ("a run already exists there", "--force")),
    ("opt-resume-not-a-run", ["train", "--resume", "{bad}/emptydir"], 2, ("emptydir", "no resume state here")),
    (
        "yaml-unknown-key",
        ["train", "{data}", *TINY, "--config", "{bad}/unknown_key.yaml"],
        2,
        ("unknown_key.yaml", "unknown key 'hiden_size'", "valid keys:"),
    ),
    (
        "yaml-wrong-type",
        ["train", "{data}", *TINY, "--config", "{bad}/wrong_type.yaml"],
        2,
        ("wrong_type.yaml", "key 'hidden_size' must be a whole number", "'big'"),
    ),
    (
        "yaml-invalid",
        ["train", "{data}", *TINY, "--config", "{bad}/invalid.yaml"],
        2,
        ("invalid.yaml", "line 2", "not valid YAML"),
    ),
    (
        "yaml-not-mapping",
        ["train", "{data}", *TINY, "--config", "{bad}/list.yaml"],
        2,
        ("list.yaml", "expected a mapping"),
    ),
    (
        "yaml-missing",
        ["train", "{data}", *TINY, "--config", "{bad}/nowhere.yaml"],
        2,
        ("nowhere.yaml", "cannot read config file"),
    ),
]
# Hostile documents (tests/hostile_inputs.py writes them): bounded JSON, declared schemas, special files.
NESTED, BEYOND_64_BITS = ("nested too deeply", "at most 32 levels"), ("a whole number beyond 64 bits",)
for _cmd in ("sample", "eval", "inspect"):
    _extra = ["{data}"] if _cmd == "eval" else []
    CASES.append((f"json-deep-meta-{_cmd}", [_cmd, "{bad}/deep_meta.safetensors", *_extra], 2, NESTED))
    CASES.append((f"json-huge-int-meta-{_cmd}", [_cmd, "{bad}/huge_int_meta.safetensors", *_extra], 2, BEYOND_64_BITS))
CASES.append(("json-400-digit-int-inspect", ["inspect", "{bad}/big_int_meta.safetensors"], 2, BEYOND_64_BITS))
FORECASTER_CASES = {
    "fc-float-width": ("field 'model.hidden_size' must be a valid integer", "64.0"),
    "fc-float-horizon": ("field 'model.horizon' must be a valid integer", "3.0"),
    "fc-float-lookback": ("field 'model.lookback' must be a valid integer",),
    "fc-text-context": ("field 'series.context.0.0' must be a valid number", "'abc'"),
    "fc-nan-context": ("field 'series.context.0.0'", "finite"),
    "fc-path-freq": ("field 'series.freq'", "pandas frequency"),
    "fc-not-a-date": ("field 'series.last_time.0'", "'yesterday'"),
    "fc-year-9999": ("field 'series.last_time.0'", "9999"),
    "fc-escape-id": ("field 'series.ids.0'", "control characters"),
}
for _name, _needles in FORECASTER_CASES.items():
    CASES.append((f"{_name}-inspect", ["inspect", "{bad}/" + _name + ".safetensors"], 2, _needles))
    CASES.append((f"{_name}-forecast", ["forecast", "--model", "{bad}/" + _name + ".safetensors"], 2, _needles))
STATE_CASES = {
    "state-negative-step": ("field 'step' must be greater than or equal to 0",),
    "state-string-betas": ("field 'optimizer.param_groups.0.betas.0' must be a valid number",),
    "state-history-list": ("field 'history' must be a mapping",),
    "state-checkpoint-list": ("field 'checkpoint' must be a mapping",),
    "state-unknown-encoding": ("unknown encoding 'klingon'",),
    "state-number-encoding": ("'encoding' must be text",),
    "state-deep": NESTED,
    "state-huge-int": BEYOND_64_BITS,
    "state-optimizer-shape": ("does not fit this run", "optimizer 'exp_avg' of parameter 0 has shape"),
    "state-hidden-shape": ("does not fit this run", "carried hidden state"),
}
for _name, _needles in STATE_CASES.items():
    CASES.append((_name, ["train", "--resume", "{bad}/" + _name, "--steps", "152", "--quiet"], 2, (_name, *_needles)))
_CLASSIFY = [
    "train",
    "{samples}/reviews.csv",
    "--task",
    "classify",
    "--steps",
    "1",
    "--device",
    "cpu",
    "--quiet",
    "--out",
    "{bad}/classify-out",
]
_TAG = [
    "train",
    "{samples}/ner.conll",
    "--task",
    "tag",
    "--steps",
    "1",
    "--device",
    "cpu",
    "--quiet",
    "--out",
    "{bad}/tag-out",
]
_TRANSLATE = [
    "train",
    "{samples}/pairs.tsv",
    "--task",
    "translate",
    "--steps",
    "1",
    "--device",
    "cpu",
    "--quiet",
    "--out",
    "{bad}/translate-out",
]
_YAML_TRAIN = ["train", "{data}", *TINY, "--config"]
CASES += [
    ("yaml-not-utf8", [*_YAML_TRAIN, "{bad}/latin1.yaml"], 2, ("latin1.yaml", "not valid UTF-8 at byte offset 20")),
    ("yaml-huge-seed", [*_YAML_TRAIN, "{bad}/huge_seed.yaml"], 2, ("huge_seed.yaml: line 1", *BEYOND_64_BITS)),
    ("yaml-5000-digits", [*_YAML_TRAIN, "{bad}/huge_int.yaml"], 2, ("huge_int.yaml: line 1", *BEYOND_64_BITS)),
    ("yaml-seed-out-of-range", [*_YAML_TRAIN, "{bad}/big_seed.yaml"], 2, ("big_seed.yaml: key 'seed'", "0 to")),
    ("yaml-deep", [*_YAML_TRAIN, "{bad}/deep.yaml"], 2, ("deep.yaml: line 1", *NESTED)),
    ("yaml-alias-bomb", [*_YAML_TRAIN, "{bad}/bomb.yaml"], 2, ("bomb.yaml: line 2", "aliases")),
    ("yaml-duplicate-key", [*_YAML_TRAIN, "{bad}/duplicate.yaml"], 2, ("line 2", "key 'hidden_size' appears twice")),
    ("opt-huge-seed", ["sample", "{ckpt}", "--seed", str(10**30)], 2, ("--seed must be a whole number from 0 to",)),
    ("file-fifo-checkpoint", ["sample", "{bad}/fifo.safetensors"], 2, ("fifo.safetensors: not a regular file",)),
    ("file-fifo-data-eval", ["eval", "{ckpt}", "{bad}/fifo.safetensors"], 2, ("fifo.safetensors: not a regular file",)),
    ("file-fifo-inspect", ["inspect", "{bad}/fifo.safetensors"], 2, ("fifo.safetensors: not a regular file",)),
    ("file-dev-zero-prime", ["sample", "{ckpt}", "--prime-file", "/dev/zero"], 2, ("--prime-file /dev/zero: not a",)),
    ("file-dev-zero-train", ["train", "/dev/zero", *TINY], 2, ("/dev/zero: not a regular file",)),
    ("file-dev-zero-forecast", ["forecast", "/dev/zero", "--horizon", "2"], 2, ("/dev/zero: not a regular file",)),
    ("file-fifo-config", [*_YAML_TRAIN, "{bad}/fifo.safetensors"], 2, ("fifo.safetensors: not a regular file",)),
    (
        "res-hidden-size",
        ["train", "{data}", "--hidden-size", "65536", "--steps", "1", "--device", "cpu", "--quiet"],
        2,
        ("--hidden-size: a model of", "parameters needs about", "RNN_MAX_MEMORY"),
    ),
    ("res-num", ["sample", "{ckpt}", "--num", "1000000000"], 2, ("--num 1000000000", "needs about")),
    (
        "res-grad-flow-window",
        ["inspect", "{ckpt}", "--grad-flow", "--data", "{data}", "--steps-back", "10000", "--windows", "10000"],
        2,
        ("--steps-back 10000 --windows 10000: following the gradient", "needs about", "RNN_MAX_MEMORY"),
    ),
    (
        "res-grad-flow-hidden-size",
        ["grad-flow", "--cell", "lstm", "--hidden-size", "65536"],
        2,
        ("--hidden-size: a model of", "needs about"),
    ),
    (
        "res-classify-hidden-size",
        [*_CLASSIFY, "--hidden-size", "65536"],
        2,
        ("--hidden-size: a model of", "needs about"),
    ),
    (
        "res-classify-batch",
        [*_CLASSIFY, "--batch-size", "100000", "--hidden-size", "8192"],
        2,
        ("--hidden-size with --batch-size: training on", "needs about"),
    ),
    (
        "res-tag-hidden-size",
        [*_TAG, "--hidden-size", "65536"],
        2,
        ("--hidden-size: a model of", "needs about"),
    ),
    (
        "res-tag-batch",
        [*_TAG, "--batch-size", "8192", "--hidden-size", "8192"],
        2,
        ("--hidden-size with --batch-size: training on", "needs about"),
    ),
    (
        "res-translate-hidden-size",
        [*_TRANSLATE, "--hidden-size", "65536"],
        2,
        ("--hidden-size: a model of", "needs about"),
    ),
    (
        "res-translate-batch",
        [*_TRANSLATE, "--batch-size", "100000", "--hidden-size", "4096"],
        2,
        ("--hidden-size with --batch-size: training on", "needs about"),
    ),
    ("res-beam", ["sample", "{ckpt}", "--beam", "1000000"], 2, ("--beam must be 0 (off) to 1000",)),
    ("ckpt-overflowing-weights-eval", ["eval", "{bad}/overflow.safetensors", "{data}"], 2, ("not a finite number",)),
]
for _name, _needles in BAD_CHECKPOINTS.items():
    _file = "{bad}/" + _name + ".safetensors"
    CASES.append((f"ckpt-{_name}-sample", ["sample", _file, "--length", "5"], 2, _needles))
    CASES.append((f"ckpt-{_name}-eval", ["eval", _file, "{data}"], 2, _needles))
    if _name not in INSPECT_SKIPS:
        CASES.append((f"ckpt-{_name}-inspect", ["inspect", _file], 2, _needles))
CASES.append(("ckpt-folder-without-model-sample", ["sample", "{bad}/emptydir"], 2, ("emptydir",)))
# generation from a label (--condition-col): {cond} is a tiny conditional run with the labels high and low
_COND = ["--task", "lm", "--condition-col", "mood", *TINY]
CASES += [
    ("cond-no-condition", ["sample", "{cond}"], 2, ("give --condition LABEL (one of: high, low)", "--condition all")),
    ("cond-unknown-label", ["sample", "{cond}", "--condition", "medium"], 2, ("'medium': not among", "high, low")),
    ("cond-beam", ["sample", "{cond}", "--condition", "low", "--beam", "2"], 2, ("--beam is not built",)),
    ("cond-plain-model", ["sample", "{ckpt}", "--condition", "low"], 2, ("trained on plain text, without labels",)),
    ("cond-eval-unknown-label", ["eval", "{cond}", "{bad}/moods_medium.csv"], 2, ("'medium' not among", "high, low")),
    ("cond-one-label", ["train", "{bad}/moods_one.csv", *_COND], 2, ("moods_one.csv", "two labels or more")),
    ("cond-several-labels", ["train", "{bad}/moods_several.csv", *_COND], 2, ("line 2: several labels",)),
    ("cond-text-col-alone", ["train", "{data}", "--text-col", "review", *TINY], 2, ("add --condition-col",)),
]


def make_bad_checkpoints(good: Path, bad: Path) -> None:
    data = good.read_bytes()
    (header_len,) = struct.unpack("<Q", data[:8])
    (bad / "not_safetensors.safetensors").write_text("just some text, not tensors\n" * 4)
    # Cut halfway through the tensor data (not the file), so the message's byte counts do not depend on the
    # header's length, which varies with the paths and times it records: docs/errors.md shows the message.
    tensor_bytes = len(data) - 8 - header_len
    (bad / "truncated.safetensors").write_bytes(data[: 8 + header_len + tensor_bytes // 2])
    (bad / "huge_header.safetensors").write_bytes(struct.pack("<Q", 1 << 60) + data[8:])
    (bad / "corrupted_header.safetensors").write_bytes(data[:8] + b"\x07" * header_len + data[8 + header_len :])
    save_file({"weight": torch.zeros(3)}, str(bad / "foreign.safetensors"))
    _rewrite(good, bad / "future_version.safetensors", metadata=lambda m: m.update(format_version="99"))

    def set_model(**values):
        return lambda meta: meta["model"].update(values)

    def swap_head(weights):
        weights["head.weight"] = torch.zeros(weights["head.weight"].shape[0], weights["head.weight"].shape[1] + 1)

    _rewrite(good, bad / "shape_mismatch.safetensors", tensors=swap_head)
    _rewrite(good, bad / "missing_tensor.safetensors", tensors=lambda w: w.pop("head.bias"))
    _rewrite(good, bad / "huge_vocab.safetensors", meta=set_model(vocab_size=10**9))
    _rewrite(good, bad / "huge_width.safetensors", meta=set_model(hidden_size=10**12))
    _rewrite(good, bad / "unknown_cell.safetensors", meta=set_model(cell="tree"))
    _rewrite(good, bad / "unknown_tokenizer.safetensors", meta=lambda m: m.update(tokenizer={"kind": "bpe9"}))
    _rewrite(good, bad / "nan_weights.safetensors", tensors=lambda w: w["head.bias"].fill_(float("nan")))


def make_bad_text(bad: Path) -> None:
    (bad / "empty.txt").write_bytes(b"")
    (bad / "blank.txt").write_text("  \n\t\n   \n")
    (bad / "emptydir").mkdir()
    (bad / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (bad / "latin1.txt").write_bytes("the quick, caf\u00e9 brown".encode("latin-1"))  # 0xe9 at byte 14
    (bad / "small.txt").write_text("the quick brown fox jumps over the lazy dog\n")
    (bad / "unseen.txt").write_text("the Zebra")
    (bad / "unknown_key.yaml").write_text("hiden_size: 8\n")
    (bad / "wrong_type.yaml").write_text("hidden_size: big\n")
    (bad / "invalid.yaml").write_text("hidden_size: 8\n  seq_len: [1,\n")
    (bad / "list.yaml").write_text("- hidden_size\n- 8\n")
    (bad / "moods.csv").write_text("text,mood\n" + "abba cab,low\nxyz zyx,high\n" * 8)
    (bad / "moods_medium.csv").write_text("text,mood\nabba,low\nxyz,medium\n")
    (bad / "moods_one.csv").write_text("text,mood\nabba,low\ncab,low\n")
    (bad / "moods_several.csv").write_text("text,mood\nabba,low;high\ncab,low\nxyz,high\n")


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rnncli", *argv],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture(scope="module")
def places(trained_run, tmp_path_factory) -> dict[str, str]:
    """What the placeholders of the command lines stand for, with the bad files made."""
    bad = tmp_path_factory.mktemp("bad")
    data = bad / "corpus.txt"
    data.write_text(REPETITIVE, encoding="utf-8")
    run = bad / "existing_run"
    shutil.copytree(trained_run, run)
    make_bad_text(bad)
    make_bad_checkpoints(trained_run / "model.safetensors", bad)
    make_hostile_files(trained_run, make_forecaster(bad), bad)
    cond = make_conditional(bad)
    return {
        "data": str(data),
        "ckpt": str(trained_run),
        "bad": str(bad),
        "run": str(run),
        "samples": str(ROOT / "sample_data"),
        "cond": str(cond),
    }


def make_conditional(bad: Path) -> Path:
    """A tiny conditional language model on ``moods.csv`` (labels high and low), trained in this process."""
    from typer.testing import CliRunner

    from rnncli.cli import app

    out = bad / "cond_run"
    argv = ["train", str(bad / "moods.csv"), "--task", "lm", "--condition-col", "mood", *TINY, "--out", str(out)]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def argvs(places) -> dict[str, list[str]]:
    """Every catalogue command line."""
    return {case_id: [a.format(**places) for a in argv] for case_id, argv, _, _ in CASES}


@pytest.fixture(scope="module")
def results(argvs, tmp_path_factory) -> dict[str, Outcome]:
    """Runs every case in its own process: one parent imports torch, a child per case (see catalogue_runner)."""
    folder = tmp_path_factory.mktemp("catalogue")
    ckpt, data = argvs["text-missing-eval"][1], argvs["opt-carry-without-per-line"][2]
    warm_up = [["eval", ckpt, data], ["sample", ckpt, "--length", "2"], ["inspect", ckpt], ["inspect", data]]
    (folder / "cases.json").write_text(json.dumps({"cases": argvs, "warm_up": warm_up}))
    runner = Path(__file__).with_name("catalogue_runner.py")
    subprocess.run(
        [sys.executable, str(runner), str(folder / "cases.json"), str(folder / "results.json")],
        check=True,
        env=ENV,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    raw = json.loads((folder / "results.json").read_text())
    return {case_id: Outcome(**outcome) for case_id, outcome in raw.items()}


# One entry per kind of input, also run as `python -m rnncli` to show the forked runs behave like the real command.
REAL_COMMAND_CASES = ["text-invalid-utf8", "ckpt-huge_vocab-sample", "ckpt-truncated-inspect", "opt-top-p-zero"]


def test_forked_runs_match_the_real_command(argvs, results):
    with ThreadPoolExecutor(max_workers=4) as pool:
        real = dict(zip(REAL_COMMAND_CASES, pool.map(lambda c: _run(argvs[c]), REAL_COMMAND_CASES), strict=True))
    for case_id, outcome in real.items():
        assert (outcome.returncode, outcome.stderr) == (results[case_id].returncode, results[case_id].stderr)


def test_catalogue_ids_are_unique():
    assert len({case[0] for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case_id, argv, code, needles", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gives_one_clear_line(results, case_id, argv, code, needles):
    result = results[case_id]
    stderr = result.stderr
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    assert result.returncode == code, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("rnn: error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert result.stdout == ""


def test_no_message_advises_a_flag_its_command_lacks(argvs, results):
    """What each catalogue case prints names only options of the command that printed it."""
    from test_lm_reports import FLAG, command_flags

    flags = command_flags()
    for case_id, argv in argvs.items():
        command = argv[0] if argv and argv[0] in flags else ""
        advised = set(FLAG.findall(results[case_id].stderr))
        assert advised <= flags[command], f"{case_id}: rnn {command} lacks {sorted(advised - flags[command])}"


# docs/errors.md shows every case as it ran here: the temporary paths under these names, TINY as $TINY.
SHOWN_AS = {
    "data": "corpus.txt",
    "ckpt": "runs/tiny",
    "bad": "bad",
    "run": "runs/existing",
    "samples": "sample_data",
    "cond": "runs/moods",
}
GROUPS = {
    "text": "Text data",
    "prime": "Text data",
    "opt": "Options",
    "yaml": "Config files",
    "ckpt": "Checkpoints",
    "json": "Checkpoints",
    "fc": "Forecasters",
    "state": "Resume state",
    "file": "Special files",
    "res": "Resources",
    "cond": "Generation from a label",
}


def _shown_command(argv: list[str]) -> str:
    words = [a.format(**SHOWN_AS) for a in argv]
    for start in range(len(words) - len(TINY) + 1):
        if words[start : start + len(TINY)] == TINY:
            words[start : start + len(TINY)] = ["$TINY"]
            break
    return " ".join(["rnn", *(w if w == "$TINY" else shlex.quote(w) for w in words)])


def _shown_message(stderr: str, places: dict[str, str]) -> str:
    line = stderr.strip().splitlines()[0] if stderr.strip() else "(nothing on stderr)"
    for key in sorted(places, key=lambda k: -len(places[k])):
        line = line.replace(places[key], SHOWN_AS[key])
    return line.removeprefix("rnn: error: ")


def catalogue_markdown(places: dict[str, str], results: dict[str, Outcome]) -> str:
    groups: dict[str, list] = {}
    for case_id, argv, _, _ in CASES:
        group = GROUPS.get(case_id.split("-")[0], "Other")
        outcome = results[case_id]
        row = (case_id, _shown_command(argv), outcome.returncode, _shown_message(outcome.stderr, places))
        groups.setdefault(group, []).append(row)
    intro = (
        f"`$TINY` stands for `{' '.join(TINY)}`. `corpus.txt` is a good text, `runs/tiny` a small "
        "trained run, `runs/existing` a copy of it, and `bad/` holds the bad files that "
        "`make_bad_text` and `make_bad_checkpoints` in tests/test_error_catalogue.py write.\n"
    )
    return intro + "".join(f"\n### {name}\n\n{make_docs.catalogue_table(rows)}" for name, rows in groups.items())


def test_docs_errors_md_shows_every_case_as_it_ran(places, results):
    problem = make_docs.sync_block(make_docs.ERRORS, "catalogue", catalogue_markdown(places, results))
    assert problem is None, problem
