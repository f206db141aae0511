"""`rnn train NEW --init-from RUN`: fine-tuning a trained language model on new text, as nanoGPT's init_from."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from conftest import REPETITIVE
from typer.testing import CliRunner

from rnncli.cli import app
from rnncli.core.checkpoint import read_meta

runner = CliRunner()
SMALL = ["--seq-len", "32", "--batch-size", "8", "--device", "cpu"]
SHAPE = ["--hidden-size", "32", "--num-layers", "1", "--embed-size", "16"]
NEW_TEXT = "the lazy dog sleeps. the quick fox jumps over the brown log. " * 80  # only characters of REPETITIVE


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fine_tune")
    (folder / "old.txt").write_text(REPETITIVE, encoding="utf-8")
    (folder / "new.txt").write_text(NEW_TEXT, encoding="utf-8")
    train(folder / "old.txt", *SHAPE, "--steps", "80", "--eval-every", "40", "--lr", "0.01", "--out", folder / "old")
    return folder


def train(*args) -> str:
    result = runner.invoke(app, ["train", *map(str, args), *SMALL])
    assert result.exit_code == 0, result.output
    return result.stderr


def curve(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def eval_loss(run: Path, data: Path) -> float:
    result = runner.invoke(app, ["eval", str(run), str(data), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["loss"]


def test_fine_tuning_starts_at_the_old_models_loss_and_falls(base):
    tuned, fresh = base / "tuned", base / "fresh"
    note = train(base / "new.txt", "--init-from", base / "old", "--steps", "30", "--eval-every", "1", "--out", tuned)
    assert "fine-tuning from" in note and "fresh optimizer" in note
    train(base / "new.txt", *SHAPE, "--steps", "30", "--eval-every", "1", "--out", fresh)
    old_loss, uniform = eval_loss(base / "old", base / "new.txt"), math.log(27)  # 26 characters + unknown
    first, fresh_first = curve(tuned)[0], curve(fresh)[0]
    # step 1's training loss is measured before the first update: the old model's, not a fresh one's
    assert first["step"] == 1 and abs(first["train_loss"] - old_loss) < 0.35 < uniform - old_loss
    assert fresh_first["train_loss"] > uniform - 0.2
    assert curve(tuned)[-1]["val_loss"] < first["val_loss"] - 0.2  # ... and it learns the new text
    meta = read_meta(tuned / "model.safetensors")
    assert meta["init_from"]["path"] == str((base / "old" / "model.safetensors").resolve())
    assert meta["init_from"]["step"] == 80 and meta["history"]["step"] == 30  # a fresh step count
    assert meta["tokenizer"] == read_meta(base / "old" / "model.safetensors")["tokenizer"]
    assert meta["model"]["hidden_size"] == 32  # the old run's shape, not the default


def test_text_the_vocabulary_does_not_cover_is_refused_naming_the_characters(base):
    (base / "other.txt").write_text("The Zebra jumps. " * 50, encoding="utf-8")
    result = runner.invoke(app, ["train", str(base / "other.txt"), "--init-from", str(base / "old"), *SMALL])
    assert result.exit_code == 2
    assert "2 characters that the vocabulary of" in result.stderr and "'T' 'Z'" in result.stderr
    assert "without --init-from" in result.stderr and not (Path("runs") / "other").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--hidden-size", "64"], "--hidden-size cannot change with --init-from"),
        (["--tokenizer", "byte"], "--tokenizer cannot change with --init-from"),
        (["--resume", "RUN"], "give one of them"),
    ],
)
def test_what_fine_tuning_cannot_change_is_refused(base, args, message):
    args = [str(base / "old") if a == "RUN" else a for a in args]
    data = [] if "--resume" in args else [str(base / "new.txt"), "--out", str(base / "x")]
    result = runner.invoke(app, ["train", *data, "--init-from", str(base / "old"), *args])
    assert result.exit_code == 2 and message in result.stderr, result.output


def test_init_from_is_refused_for_other_tasks_and_other_runs(base, tmp_path):
    series = tmp_path / "s.csv"
    series.write_text("t,y\n" + "".join(f"{i},{i % 7}\n" for i in range(60)))
    result = runner.invoke(app, ["train", str(series), "--horizon", "3", "--init-from", str(base / "old")])
    assert result.exit_code == 2 and "--init-from does not apply to forecasting" in result.stderr
    result = runner.invoke(app, ["train", str(base / "new.txt"), "--init-from", str(tmp_path / "nothing")])
    assert result.exit_code == 2 and "--init-from" in result.stderr and "no such checkpoint" in result.stderr


def test_a_word_model_fine_tunes_on_text_with_new_words_and_says_how_much_it_covers(tmp_path):
    (tmp_path / "old.txt").write_text(REPETITIVE, encoding="utf-8")
    (tmp_path / "new.txt").write_text("the quick zebra jumps over the lazy yak. " * 40, encoding="utf-8")
    train(
        tmp_path / "old.txt", *SHAPE, "--tokenizer", "word", "--steps", "4", "--seq-len", "8", "--out", tmp_path / "w"
    )
    note = train(tmp_path / "new.txt", "--init-from", tmp_path / "w", "--steps", "2", "--out", tmp_path / "t")
    assert "word vocabulary of 10" in note and "covering 77.78% of the tokens" in note  # zebra, yak: <unk>
