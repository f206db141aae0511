"""`rnn inspect` on text corpora: files, folders, stdin; streamed in chunks."""

from __future__ import annotations

import json
import math
import random
import re
import shlex
from collections import Counter
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from rnncli.cli import app
from rnncli.core.layers import count_parameters
from rnncli.core.settings import ModelConfig
from rnncli.tasks.language_model.checkpoint import load_checkpoint
from rnncli.tasks.language_model.model import build_model
from rnncli.tasks.language_model.text_report import WORD_PATTERN, inspect_text, suggest_model, unigram_entropy

runner = CliRunner()

TEXT_KEYS = {
    "kind",
    "source",
    "files",
    "bytes",
    "characters",
    "lines",
    "vocabulary",
    "top_symbols",
    "top_words",
    "entropy_bits_per_char",
    "unusual",
    "problems",
    "chunks_read",
    "suggested_model",
}
SUGGESTION_KEYS = {
    "rule",
    "target_parameters",
    "cell",
    "hidden_size",
    "num_layers",
    "embed_size",
    "parameters",
    "dropout",
    "command",
}


def inspect_json(*args: str, **kwargs) -> dict:
    result = runner.invoke(app, ["inspect", *args, "--json"], **kwargs)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_text_file_counts_and_json_keys(tmp_path):
    text = "héllo world\nhello again, world!\n"
    path = tmp_path / "small.txt"
    path.write_text(text, encoding="utf-8")
    summary = inspect_json(str(path))
    assert summary.keys() == TEXT_KEYS
    assert summary["kind"] == "text"
    assert summary["bytes"] == len(text.encode("utf-8")) and summary["characters"] == len(text)
    assert summary["lines"] == 2
    vocab = summary["vocabulary"]
    assert vocab["char"] == len(set(text))
    assert vocab["byte_values_used"] == len(set(text.encode("utf-8"))) and vocab["byte"] == 256
    assert vocab["word"] == len(set(re.findall(WORD_PATTERN, text)))  # héllo hello world again , !
    assert vocab["word"] == 6
    assert summary["top_symbols"][0]["symbol"] == "l" and summary["top_symbols"][0]["count"] == 6
    assert summary["top_words"][0] == {"word": "world", "count": 2}
    assert summary["problems"] == [] and summary["unusual"]["line_endings"]["mixed"] is False
    assert summary["suggested_model"].keys() == SUGGESTION_KEYS


def test_entropy_is_the_unigram_baseline():
    assert unigram_entropy([1, 1]) == pytest.approx(1.0)
    assert unigram_entropy([2, 1]) == pytest.approx(-(2 / 3) * math.log2(2 / 3) - (1 / 3) * math.log2(1 / 3))
    assert unigram_entropy([5]) == 0.0


def test_unusual_content_is_reported_not_fatal(tmp_path):
    path = tmp_path / "odd.txt"
    # BOM, a CRLF line, an invalid byte at offset 12, a control character on line 2, a lone CR
    path.write_bytes(b"\xef\xbb\xbfh\xc3\xa9llo\r\nw\xffor\x01ld\nend\r")
    summary = inspect_json(str(path))
    unusual = summary["unusual"]
    assert unusual["bom"] == 1
    assert unusual["invalid_utf8"] == {"count": 1, "offsets": ["byte 12"]}
    assert unusual["control_characters"]["distinct"] == {"\\x01": 1}
    assert unusual["control_characters"]["first_line"] == 2
    assert unusual["line_endings"] == {"lf": 1, "crlf": 1, "cr": 1, "mixed": True}
    assert summary["lines"] == 3
    problems = " | ".join(summary["problems"])
    for expected in ("invalid UTF-8", "byte 12", "control character", "mixed line endings", "byte-order mark"):
        assert expected in problems
    human = runner.invoke(app, ["inspect", str(path)])
    assert human.exit_code == 0 and "invalid UTF-8" in human.stdout


def _mixed_text(num_chars: int) -> str:
    """Words, multi-byte characters and CRLF lines: things a chunk boundary can split."""
    rng = random.Random(3)
    words = ["the", "fox", "naïve", "café", "日本語", "über", "x", "😀", "dog.", "Ω"]
    parts, size = [], 0
    while size < num_chars:
        word = rng.choice(words)
        sep = rng.choice([" ", " ", " ", "\n", "\r\n"])
        parts.append(word + sep)
        size += len(word) + len(sep)
    return "".join(parts)


def test_a_big_file_is_read_in_bounded_chunks_with_the_same_result(tmp_path):
    text = _mixed_text(1_500_000)
    raw = text.encode("utf-8")
    path = tmp_path / "big.txt"
    path.write_bytes(raw)
    chunk_size = 4099  # odd, so chunk edges split multi-byte characters, CRLFs and words
    chunked = inspect_text(str(path), chunk_size=chunk_size)
    assert chunked["chunks_read"] == math.ceil(len(raw) / chunk_size)
    whole = inspect_text(str(path), chunk_size=len(raw) + 1)
    assert whole["chunks_read"] == 1
    for summary in (chunked, whole):
        summary.pop("chunks_read")
    assert chunked == whole
    seen = text.replace("\r\n", "\n")  # what rnn train sees, computed here the direct way
    assert chunked["bytes"] == len(raw)
    assert chunked["characters"] == len(seen)
    assert chunked["lines"] == seen.count("\n") + (0 if seen.endswith("\n") else 1)
    assert chunked["vocabulary"]["char"] == len(set(seen))
    assert chunked["vocabulary"]["word"] == len(set(re.findall(WORD_PATTERN, text)))
    assert chunked["entropy_bits_per_char"] == pytest.approx(unigram_entropy(Counter(seen).values()))
    assert chunked["unusual"]["line_endings"]["crlf"] == text.count("\r\n")


def test_a_folder_of_files_skips_hidden_ones(tmp_path):
    folder = tmp_path / "texts"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("alpha\n", encoding="utf-8")
    (folder / "sub" / "b.txt").write_text("beta", encoding="utf-8")
    (folder / ".hidden").write_text("zzzzzzzz", encoding="utf-8")
    summary = inspect_json(str(folder))
    assert summary["files"] == 2
    assert summary["characters"] == len("alpha\n") + len("beta")
    assert summary["lines"] == 2
    assert "z" not in {s["symbol"] for s in summary["top_symbols"]}


def test_stdin_is_read_with_dash():
    summary = inspect_json("-", input="to be or not to be\n")
    assert summary["source"] == "-" and summary["characters"] == 19
    assert summary["top_words"][:2] == [{"word": "to", "count": 2}, {"word": "be", "count": 2}]


def test_the_suggested_model_follows_the_rule_of_thumb():
    for num_chars in (8_000, 200_000, 5_000_000):
        suggestion = suggest_model(num_chars, 80)
        config = ModelConfig(
            cell="lstm",
            vocab_size=80,
            embed_size=suggestion["embed_size"],
            hidden_size=suggestion["hidden_size"],
            num_layers=suggestion["num_layers"],
        )
        with torch.device("meta"):
            assert suggestion["parameters"] == count_parameters(build_model(config))
        # the nearest size on the grid: within a factor of 2 of the character count
        assert num_chars / 2 < suggestion["parameters"] < num_chars * 2
    assert suggest_model(8_000, 80)["num_layers"] == 1 and suggest_model(5_000_000, 80)["num_layers"] == 2


def test_the_suggested_command_line_trains(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("corpus.txt").write_text("a cat sat on a mat. " * 60, encoding="utf-8")
    summary = inspect_json("corpus.txt")
    command = summary["suggested_model"]["command"].split()
    assert command[:3] == ["rnn", "train", "corpus.txt"]
    quick = [
        "--steps",
        "2",
        "--seq-len",
        "8",
        "--batch-size",
        "2",
        "--eval-every",
        "2",
        "--device",
        "cpu",
        "--quiet",
        "--out",
        "run",
    ]
    result = runner.invoke(app, [*command[1:], *quick])
    assert result.exit_code == 0, result.output
    trained = inspect_json("run")
    assert trained["model"]["hidden_size"] == summary["suggested_model"]["hidden_size"]
    assert trained["total_parameters"] == summary["suggested_model"]["parameters"]


def test_text_for_people_shows_frequencies_and_the_suggestion(repetitive_file):
    result = runner.invoke(app, ["inspect", str(repetitive_file)])
    assert result.exit_code == 0, result.output
    for expected in ("most frequent symbols", "space", "bits/char", "suggested model", "rnn train"):
        assert expected in result.stdout


def test_missing_text_and_csv_for_now_are_one_line_errors(tmp_path):
    result = runner.invoke(app, ["inspect", str(tmp_path / "absent.txt")])
    assert result.exit_code == 2 and "no such file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("content", ["", "  \n\n\t\n"])
def test_an_empty_or_blank_text_suggests_no_model(tmp_path, content):
    path = tmp_path / "blank.txt"
    path.write_text(content, encoding="utf-8")
    summary = inspect_json(str(path))
    assert summary.keys() == TEXT_KEYS
    assert summary["suggested_model"] is None
    assert summary["problems"] == ["the text is empty or only whitespace: there is nothing to train on"]
    result = runner.invoke(app, ["inspect", str(path)], terminal_width=200)
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())  # rich wraps long rows
    assert "nothing to train on" in out and "suggested model" not in out


def _mixed_folder(tmp_path: Path) -> Path:
    """A folder whose every file has letters of its own, so the symbols read tell which files were read."""
    folder = tmp_path / "mixed"
    (folder / "sub").mkdir(parents=True)
    (folder / ".git").mkdir()
    (folder / "b.txt").write_text("bbb b bb\n" * 40, encoding="utf-8")
    (folder / "sub" / "a.txt").write_text("aaaa aa a" * 40, encoding="utf-8")  # no final newline
    (folder / "c.md").write_text("ccc cc\n" * 40, encoding="utf-8")
    (folder / ".hidden.txt").write_text("hhh\n" * 40, encoding="utf-8")
    (folder / ".git" / "d.txt").write_text("ddd\n" * 40, encoding="utf-8")
    (folder / "blob.txt").write_bytes(b"xx\x00yy\n" * 40)  # binary, whatever its name says
    return folder


@pytest.mark.parametrize("glob, letters", [(None, set("abc")), ("*.txt", set("ab"))])
def test_inspect_reads_exactly_the_files_that_train_trains_on(tmp_path, monkeypatch, glob, letters):
    monkeypatch.chdir(tmp_path)
    folder = _mixed_folder(tmp_path)
    summary = inspect_text(str(folder), glob=glob, top=100)
    assert {s["symbol"] for s in summary["top_symbols"]} - set(" \n") == letters
    assert summary["files"] == len(letters)
    assert summary["problems"] == [f"1 binary file(s) left out, as rnn train leaves them out: {folder / 'blob.txt'}"]
    # the suggested command trains on the folder itself, with the same --glob
    command = shlex.split(summary["suggested_model"]["command"])
    assert command[:3] == ["rnn", "train", str(folder)] and ("--glob" in command) == (glob is not None)
    quick = [
        "--steps",
        "2",
        "--seq-len",
        "8",
        "--batch-size",
        "2",
        "--eval-every",
        "2",
        "--device",
        "cpu",
        "--quiet",
        "--out",
        "run",
    ]
    result = runner.invoke(app, [*command[1:], *quick])
    assert result.exit_code == 0, result.output
    trained = load_checkpoint("run")
    data = trained.meta["data"]
    assert (data["num_files"], data["num_bytes"]) == (summary["files"], summary["bytes"])
    assert set(trained.tokenizer.to_dict()["chars"]) - set(" \n") == letters
