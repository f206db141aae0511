"""rnn train --task lm --condition-col, then rnn sample --condition: the label decides what is generated."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
from safetensors import safe_open
from typer.testing import CliRunner

from rnncli.cli import app
from tests.conftest import rewrite_checkpoint

TINY = ["--hidden-size", "32", "--embed-size", "16", "--batch-size", "16", "--device", "cpu", "--lr", "0.01"]
# each label has words of its own letters, so a sample's letters tell which label it was generated for
WORDS = {"low": ["abba", "cab", "dab", "bad", "acca"], "high": ["xyz", "zyx", "wyx", "xxw", "wzy"]}


def run(*args, input=None):
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


def write_rows(path: Path, count: int, seed: int) -> Path:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "mood"])
        for _ in range(count):
            label = rng.choice(sorted(WORDS))
            writer.writerow([" ".join(rng.choice(WORDS[label]) for _ in range(rng.randint(2, 4))), label])
    return path


def letters_of(text: str) -> tuple[int, int]:
    """(letters of the 'low' words, letters of the 'high' words) in ``text``."""
    return sum(c in "abcd" for c in text), sum(c in "wxyz" for c in text)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("conditional")
    data = write_rows(folder / "moods.csv", 200, 1)
    args = ("train", data, "--task", "lm", "--condition-col", "mood", "--out", folder / "run", "--steps", "120")
    result = run(*args, "--eval-every", "60", *TINY)
    assert result.exit_code == 0, result.output
    return folder, data, result


def samples(run_dir: Path, *extra) -> list[dict]:
    result = run("sample", run_dir, "--num", "4", "--seed", "3", "--length", "60", "--format", "jsonl", *extra)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_the_label_changes_what_is_generated(trained):
    folder, _, result = trained
    assert "2 labels to condition on" in result.stderr
    low = "".join(s["text"] for s in samples(folder / "run", "--condition", "low"))
    high = "".join(s["text"] for s in samples(folder / "run", "--condition", "high"))
    assert letters_of(low)[0] > 5 * letters_of(low)[1], low
    assert letters_of(high)[1] > 5 * letters_of(high)[0], high


def test_samples_end_at_end_of_text_and_all_gives_each_label(trained):
    folder, _, _ = trained
    records = samples(folder / "run", "--condition", "all")
    assert [r["condition"] for r in records] == ["high"] * 4 + ["low"] * 4  # the labels in the model's order
    assert any(r["stopped_by"] == "<end of text>" for r in records)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ((), "give --condition LABEL (one of: high, low)"),
        (("--condition", "medium"), "--condition 'medium': not among the model's labels: high, low"),
        (("--condition", "low", "--beam", "3"), "--beam is not built for a conditional model"),
    ],
)
def test_a_missing_or_unknown_label_is_one_line_and_exit_2(trained, extra, message):
    folder, _, _ = trained
    result = run("sample", folder / "run", *extra)
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_checkpoint_records_the_labels_and_round_trips(trained, tmp_path):
    folder, _, _ = trained
    with safe_open(str(folder / "run" / "model.safetensors"), framework="pt") as handle:
        meta = json.loads(handle.metadata()["rnncli"])
        assert "condition_embedding.weight" in handle.keys()  # noqa: SIM118
    assert meta["condition"]["labels"] == ["high", "low"]
    assert meta["condition"]["column"] == "mood"
    copy = tmp_path / "copy.safetensors"
    rewrite_checkpoint(folder / "run" / "model.safetensors", copy)
    assert samples(copy, "--condition", "low") == samples(folder / "run", "--condition", "low")
    doctored = tmp_path / "doctored.safetensors"
    rewrite_checkpoint(copy, doctored, meta=lambda m: m["condition"].update(labels=["high", "high"]))
    result = run("sample", doctored, "--condition", "high")
    assert result.exit_code == 2 and "the labels repeat" in result.stderr


def test_inspect_shows_the_labels(trained):
    folder, _, _ = trained
    result = run("inspect", folder / "run")
    assert result.exit_code == 0, result.output
    assert "high, low" in result.stdout


def test_eval_scores_the_labelled_file_given_the_label(trained, tmp_path):
    folder, _, _ = trained
    test = write_rows(tmp_path / "test.csv", 40, 2)
    result = run("eval", folder / "run", test, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert 0 < report["bpc"] < 3  # far below the log2(13) bits of a uniform guess over the symbols
    swapped = tmp_path / "swapped.csv"
    swapped.write_text(test.read_text().replace(",low", ",LOW").replace(",high", ",low").replace(",LOW", ",high"))
    wrong = json.loads(run("eval", folder / "run", swapped, "--json").stdout)
    assert wrong["bpc"] > report["bpc"] + 0.1  # the text is likelier under its own label
    shown = run("eval", folder / "run", test)
    assert shown.exit_code == 0 and "bits/character" in shown.stdout
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("text,mood\nabba cab,low\nxyz,medium\n", encoding="utf-8")
    result = run("eval", folder / "run", unknown)
    assert result.exit_code == 2 and "'medium' not among the model's labels: high, low" in result.stderr


def test_resume_continues_on_the_same_examples(trained, tmp_path):
    folder, data, _ = trained
    first = tmp_path / "run"
    assert (
        run("train", data, "--task", "lm", "--condition-col", "mood", "--out", first, "--steps", "10", *TINY).exit_code
        == 0
    )
    result = run("train", "--resume", first, "--steps", "20")
    assert result.exit_code == 0, result.output
    assert "resuming" in result.stderr
    metrics = [json.loads(line) for line in (first / "metrics.jsonl").read_text().splitlines()]
    assert max(m["step"] for m in metrics) == 20
    other = write_rows(tmp_path / "other.csv", 50, 9)
    result = run("train", other, "--resume", first, "--steps", "30")
    assert result.exit_code == 2 and "not the examples this run was trained on" in result.stderr


@pytest.mark.parametrize("cell", ["gru", "rnn", "mingru", "minlstm"])
def test_every_cell_takes_the_label_state(trained, tmp_path, cell):
    _, data, _ = trained
    out = tmp_path / cell
    result = run(
        "train",
        data,
        "--task",
        "lm",
        "--condition-col",
        "mood",
        "--cell",
        cell,
        "--num-layers",
        "2",
        "--out",
        out,
        "--steps",
        "3",
        *TINY,
    )
    assert result.exit_code == 0, result.output
    assert len(samples(out, "--condition", "low")) == 4


def test_one_label_and_several_labels_are_refused(tmp_path):
    one = tmp_path / "one.csv"
    one.write_text("text,mood\nabba,low\ncab,low\n", encoding="utf-8")
    result = run("train", one, "--task", "lm", "--condition-col", "mood", "--out", tmp_path / "r", *TINY)
    assert result.exit_code == 2 and "a condition needs two labels or more" in result.stderr
    several = tmp_path / "several.csv"
    several.write_text("text,mood\nabba,low;high\ncab,low\nxyz,high\n", encoding="utf-8")
    result = run("train", several, "--task", "lm", "--condition-col", "mood", "--out", tmp_path / "s", *TINY)
    assert result.exit_code == 2 and "several labels" in result.stderr


def test_condition_on_a_plain_language_model_is_refused(trained_run):
    result = run("sample", trained_run, "--condition", "low")
    assert result.exit_code == 2 and "trained on plain text, without labels" in result.stderr


def test_a_word_model_keeps_the_texts_words_apart(trained, tmp_path):
    from rnncli.tasks.language_model.checkpoint import load_checkpoint

    _, data, _ = trained
    out = tmp_path / "words"
    args = ("train", data, "--task", "lm", "--condition-col", "mood", "--tokenizer", "word", "--out", out)
    assert run(*args, "--steps", "2", *TINY).exit_code == 0
    tokenizer = load_checkpoint(out).tokenizer
    words = {tokenizer.decode([i]) for i in range(tokenizer.vocab_size)}
    assert words - {"<unk>"} == {
        w for ws in WORDS.values() for w in ws
    }  # no "abbaxyz": one text's end, the next's start
