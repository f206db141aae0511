"""`rnn sample` as char-rnn and textgenrnn users drive it: prompts from a file, no <unk> in the text, and a
word model's prompt glued to its continuation as one token stream."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REPETITIVE, tiny_run_config
from typer.testing import CliRunner

from rnncli.cli import app
from rnncli.tasks.language_model.config import TextConfig
from rnncli.tasks.language_model.training import prepare_text, train_text

runner = CliRunner()
# Rare words (seen twice each) become <unk> with --min-count 3: a word model then learns to write <unk>.
RARE = " ".join(f"zq{i}" for i in range(300))
WORD_TEXT = (REPETITIVE + RARE + " ") * 2


@pytest.fixture(scope="module")
def word_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("word")
    data = folder / "words.txt"
    data.write_text(WORD_TEXT, encoding="utf-8")
    out = folder / "run"
    text = TextConfig(tokenizer="word", min_count=3)
    train_text(prepare_text(str(data), text), tiny_run_config(steps=60, lr=0.01, seq_len=16), out_dir=out)
    return out


def sample(run, *args: str, input: str | None = None) -> str:
    result = runner.invoke(app, ["sample", str(run), *args], input=input)
    assert result.exit_code == 0, result.output
    return result.stdout


def records(run, *args: str) -> list[dict]:
    return [json.loads(line) for line in sample(run, *args, "--format", "jsonl").splitlines()]


# --- --no-unk ----------------------------------------------------------------------------------------


def test_a_word_model_never_writes_unk_unless_allowed(word_run):
    allowed = sample(word_run, "--length", "400", "--seed", "3", "--allow-unk")
    assert allowed.count("<unk>") > 5  # the model has learnt the unknown token: it is a real risk
    for args in (["--seed", "3"], ["--seed", "3", "--no-unk"], ["--beam", "3"], ["--greedy"]):
        assert "<unk>" not in sample(word_run, "--length", "400", *args), args
    (record,) = records(word_run, "--length", "20", "--seed", "3")
    assert record["no_unk"] is True


def test_a_character_model_bans_its_unknown_token_only_when_asked():
    """A character model never saw its unknown token, so it is allowed by default (old runs sample as before);
    an untrained one writes it as U+FFFD, which --no-unk bans."""
    old = Path(__file__).parent / "fixtures" / "old_runs" / "lm_run"
    assert sample(old, "--length", "200", "--seed", "1") == sample(old, "--length", "200", "--seed", "1", "--allow-unk")
    assert "\ufffd" in sample(old, "--length", "200", "--seed", "1")
    assert "\ufffd" not in sample(old, "--length", "200", "--seed", "1", "--no-unk")


# --- --include-prime for word models ---------------------------------------------------------------


def test_word_model_prompt_and_continuation_are_one_token_stream(word_run):
    plain = sample(word_run, "--length", "12", "--seed", "4", "--prime", "the lazy").rstrip("\n")
    echoed = sample(word_run, "--length", "12", "--seed", "4", "--prime", "the lazy", "--include-prime").rstrip("\n")
    assert echoed == "the lazy " + plain  # a space between the prompt's last word and the first new one
    (record,) = records(word_run, "--length", "12", "--seed", "4", "--prime", "the lazy", "--include-prime")
    assert record["text"] == echoed and record["prime"] == "the lazy"
    # punctuation glues to the word before it, across the seam too
    dot = sample(word_run, "--length", "1", "--greedy", "--prime", "the lazy dog", "--include-prime").rstrip("\n")
    assert dot == "the lazy dog."


# --- --prompts FILE ----------------------------------------------------------------------------------


def test_prompts_file_gives_one_sample_per_prompt_in_order(trained_run, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("the quick \n\njumps o\r\nthe lazy \n", encoding="utf-8")  # a blank line is skipped
    alone = [
        sample(trained_run, "--length", "25", "--seed", "6", "--prime", p, "--include-prime").rstrip("\n")
        for p in ("the quick ", "jumps o", "the lazy ")
    ]
    text = sample(trained_run, "--prompts", str(prompts), "--length", "25", "--seed", "6", "--include-prime")
    assert text == "\n\n".join(alone) + "\n"  # each as if sampled alone, an empty line between them
    found = records(trained_run, "--prompts", str(prompts), "--length", "25", "--seed", "6", "--num", "2")
    assert [(r["prime"], r["prompt_line"], r["index"]) for r in found] == [
        ("the quick ", 1, 0),
        ("the quick ", 1, 1),
        ("jumps o", 3, 0),
        ("jumps o", 3, 1),
        ("the lazy ", 4, 0),
        ("the lazy ", 4, 1),
    ]
    assert (
        sample(
            trained_run, "--prompts", "-", "--length", "25", "--seed", "6", "--include-prime", input=prompts.read_text()
        )
        == text
    )


def test_bad_prompts_are_refused_before_any_sample(trained_run, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("the quick \nthe Zebra\n", encoding="utf-8")
    result = runner.invoke(app, ["sample", str(trained_run), "--prompts", str(prompts), "--length", "5"])
    assert result.exit_code == 2 and result.stdout == ""
    assert f"--prompts {prompts} line 2" in result.stderr and "'Z'" in result.stderr
    prompts.write_text("\n \n", encoding="utf-8")
    result = runner.invoke(app, ["sample", str(trained_run), "--prompts", str(prompts)])
    assert result.exit_code == 2 and "no prompts" in result.stderr
    result = runner.invoke(app, ["sample", str(trained_run), "--prompts", str(prompts), "--prime", "the"])
    assert result.exit_code == 2 and "leave out --prime" in result.stderr
