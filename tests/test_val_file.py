"""`rnn train TEXT --val FILE`: a language model validated on a file of its own instead of --val-frac."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import REPETITIVE
from typer.testing import CliRunner

from rnncli.cli import app
from rnncli.core.checkpoint import read_meta

runner = CliRunner()
SMALL = ["--hidden-size", "32", "--num-layers", "1", "--embed-size", "16", "--seq-len", "32", "--batch-size", "8"]
SMALL += ["--device", "cpu", "--lr", "0.01"]
OTHER = "over the dog the fox jumps; lazy brown quick. " * 12  # ';' is not in REPETITIVE


@pytest.fixture
def texts(tmp_path: Path) -> Path:
    (tmp_path / "train.txt").write_text(REPETITIVE, encoding="utf-8")
    (tmp_path / "val.txt").write_text(OTHER.replace(";", "."), encoding="utf-8")
    (tmp_path / "odd.txt").write_text(OTHER, encoding="utf-8")
    return tmp_path


def train(*args) -> str:
    result = runner.invoke(app, ["train", *map(str, args), *SMALL])
    assert result.exit_code == 0, result.output
    return result.stderr


def curve(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_validation_loss_is_measured_on_the_val_file(texts):
    run, split = texts / "run", texts / "split"
    note = train(texts / "train.txt", "--val", texts / "val.txt", "--steps", "40", "--eval-every", "20", "--out", run)
    assert "validation text: " in note and "val.txt" in note
    train(texts / "train.txt", "--steps", "40", "--eval-every", "20", "--out", split)
    # the held-out part of a repetitive text is easy; the other text is not
    assert curve(run)[-1]["val_loss"] > curve(split)[-1]["val_loss"] + 0.3
    scored = runner.invoke(app, ["eval", str(run), str(texts / "val.txt"), "--json"])
    assert abs(json.loads(scored.stdout)["loss"] - curve(run)[-1]["val_loss"]) < 0.2
    meta = read_meta(run / "model.safetensors")
    assert meta["data"]["val"]["source"].endswith("val.txt") and meta["data"]["num_chars"] == len(REPETITIVE)
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["text"]["val"].endswith("val.txt") and config["train"]["val_frac"] == 0.0
    # resume reads the same file again, and refuses another text under its name
    train("--resume", run, "--steps", "60")
    assert curve(run)[-1]["step"] == 60
    (texts / "val.txt").write_text("the dog. " * 60, encoding="utf-8")
    result = runner.invoke(app, ["train", "--resume", str(run), "--steps", "80", *SMALL[-4:]])
    assert result.exit_code == 2 and "not the validation text this run was trained with" in result.stderr


def test_a_val_file_with_characters_the_training_text_lacks_is_refused(texts):
    result = runner.invoke(app, ["train", str(texts / "train.txt"), "--val", str(texts / "odd.txt"), *SMALL])
    assert result.exit_code == 2 and "odd.txt" in result.stderr and "';'" in result.stderr, result.output
    result = runner.invoke(
        app, ["train", str(texts / "train.txt"), "--val", str(texts / "val.txt"), "--val-frac", "0.2", *SMALL]
    )
    assert result.exit_code == 2 and "not both" in result.stderr


def test_a_word_model_reads_unseen_validation_words_as_unknown(texts):
    (texts / "words.txt").write_text("the fox jumps over a zebra. " * 40, encoding="utf-8")
    note = train(
        texts / "train.txt",
        "--tokenizer",
        "word",
        "--val",
        texts / "words.txt",
        "--steps",
        "4",
        "--seq-len",
        "8",
        "--out",
        texts / "w",
    )
    assert "outside the vocabulary" in note
