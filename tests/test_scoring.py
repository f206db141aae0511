"""`rnn eval --per-line`: a score for every line, checked against the model's own forward."""

from __future__ import annotations

import json
import math

import pytest
import torch
from typer.testing import CliRunner

from rnncli.cli import app
from rnncli.tasks.language_model.checkpoint import load_checkpoint
from rnncli.tasks.language_model.scoring import start_token

runner = CliRunner()
LINES = ["the quick brown fox", "", "jumps over the lazy dog.", "dog the over", "the quick brown fox"]


@pytest.fixture
def lines_file(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    return path


def per_line(run, data, *args: str, input: str | None = None) -> list[dict]:
    result = runner.invoke(app, ["eval", str(run), str(data), "--per-line", *args], input=input)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def log_probs_of(ckpt, ids: list[int]) -> torch.Tensor:
    """log P(ids[t] | ids[:t]) for t >= 1, from one call of the model's forward on a zero state."""
    with torch.inference_mode():
        logits, _ = ckpt.model(torch.tensor([ids[:-1]]))
    return logits[0].log_softmax(-1).gather(1, torch.tensor(ids[1:]).unsqueeze(1)).squeeze(1).double()


def test_each_line_scores_the_sum_of_its_token_log_probabilities(trained_run, lines_file):
    ckpt = load_checkpoint(trained_run)
    start = start_token(ckpt.tokenizer)
    scored = per_line(trained_run, lines_file)
    assert [r["line"] for r in scored] == [1, 2, 3, 4, 5]
    assert [r["text"] for r in scored] == LINES
    for record, line in zip(scored, LINES, strict=True):
        ids = ckpt.tokenizer.encode(line)
        expected = float(log_probs_of(ckpt, [start, *ids]).sum()) if ids else 0.0
        assert record["log_prob"] == pytest.approx(expected, abs=1e-4)
        assert record["tokens"] == len(ids) and record["chars"] == len(line)
        if line:
            assert record["log_prob_per_char"] == pytest.approx(expected / len(line), abs=1e-5)
            assert record["bpc"] == pytest.approx(-expected / len(line) / math.log(2), abs=1e-5)
        else:
            assert record["log_prob_per_char"] is None and record["bpc"] is None
    # A sentence like the training text scores far better than the same words shuffled.
    assert scored[0]["bpc"] < scored[3]["bpc"]
    assert scored[0]["log_prob"] == pytest.approx(scored[4]["log_prob"], abs=1e-6)


def test_carry_reads_each_line_after_the_ones_before(trained_run, lines_file):
    ckpt = load_checkpoint(trained_run)
    # The training text has no newline, so the start token (token 0) stands for the line break.
    start = start_token(ckpt.tokenizer)
    assert "\n" not in ckpt.tokenizer.chars and start == 0
    carried = per_line(trained_run, lines_file, "--carry")
    reset = per_line(trained_run, lines_file)
    stream = [start]
    for line in LINES:
        stream += [*ckpt.tokenizer.encode(line), start]
    log_probs = log_probs_of(ckpt, stream)
    position = 0
    for record, line in zip(carried, LINES, strict=True):
        expected = float(log_probs[position : position + len(line)].sum())
        assert record["log_prob"] == pytest.approx(expected, abs=1e-4)
        position += len(line) + 1  # the newline between lines is read but not scored
    assert carried[0]["log_prob"] == pytest.approx(reset[0]["log_prob"], abs=1e-6)  # same start
    assert carried[4]["log_prob"] != pytest.approx(reset[4]["log_prob"], abs=1e-3)  # context changes it


def test_per_line_reads_stdin_and_crlf(trained_run):
    from_stdin = per_line(trained_run, "-", input="the quick brown fox\r\njumps over\r\n")
    assert [r["text"] for r in from_stdin] == ["the quick brown fox", "jumps over"]


def test_a_line_with_unknown_characters_is_named(trained_run, tmp_path):
    path = tmp_path / "odd.txt"
    path.write_text("the fox\nthe Fox\n", encoding="utf-8")
    result = runner.invoke(app, ["eval", str(trained_run), str(path), "--per-line"])
    assert result.exit_code == 2
    assert f"{path} line 2" in result.stderr and "'F'" in result.stderr
    assert result.stdout == ""


def test_carry_without_per_line_is_refused(trained_run, lines_file):
    result = runner.invoke(app, ["eval", str(trained_run), str(lines_file), "--carry"])
    assert result.exit_code == 2
    assert "--carry" in result.stderr and "--per-line" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_carry_feeds_the_newline_between_lines_when_the_vocabulary_has_one(tmp_path):
    from rnncli.core.checkpoint import save_checkpoint
    from rnncli.core.settings import ModelConfig
    from rnncli.core.tokenizers import CharTokenizer
    from rnncli.tasks.language_model.model import build_model

    torch.manual_seed(0)
    tokenizer = CharTokenizer(list("\nabcd"))
    config = ModelConfig(cell="gru", vocab_size=tokenizer.vocab_size, embed_size=4, hidden_size=6, num_layers=2)
    path = tmp_path / "gru.safetensors"
    save_checkpoint(
        path, build_model(config), {"task": "language-model", "model": vars(config), "tokenizer": tokenizer.to_dict()}
    )
    data = tmp_path / "lines.txt"
    data.write_text("abc\ndab\n", encoding="utf-8")
    ckpt = load_checkpoint(path)
    log_probs = log_probs_of(ckpt, tokenizer.encode("\nabc\ndab"))  # starts as if after a newline
    carried = per_line(path, data, "--carry")
    assert [r["log_prob"] for r in carried] == pytest.approx(
        [float(log_probs[:3].sum()), float(log_probs[4:].sum())], abs=1e-5
    )
    reset = per_line(path, data)
    assert reset[1]["log_prob"] == pytest.approx(float(log_probs_of(ckpt, tokenizer.encode("\ndab")).sum()), abs=1e-5)


def test_batching_and_windows_do_not_change_the_scores(trained_run, lines_file, monkeypatch):
    whole = per_line(trained_run, lines_file)
    monkeypatch.setattr("rnncli.tasks.language_model.metrics.LOGITS_PER_CHUNK", 1)  # windows of one token
    assert [r["log_prob"] for r in per_line(trained_run, lines_file)] == pytest.approx(
        [r["log_prob"] for r in whole], abs=1e-5
    )
    monkeypatch.setattr("rnncli.tasks.language_model.metrics.TOKENS_PER_GROUP", 1)  # every line in a batch of its own
    assert [r["log_prob"] for r in per_line(trained_run, lines_file)] == pytest.approx(
        [r["log_prob"] for r in whole], abs=1e-5
    )


def test_json_with_per_line_changes_nothing(trained_run, lines_file):
    assert per_line(trained_run, lines_file, "--json") == per_line(trained_run, lines_file)


@pytest.mark.parametrize("length", [2, 3, 1025, 2049, 9_999, 40_000])
@pytest.mark.parametrize("streams", [1, 2, 7, 32])
def test_parallel_streams_score_every_token_exactly_once(length, streams):
    from rnncli.tasks.language_model.metrics import _parallel_layout

    ids = torch.arange(length)
    x, y, scored = _parallel_layout(ids, streams=streams, warmup=128)
    assert sorted(y[scored].tolist()) == list(range(1, length))  # each target once, none twice
    assert torch.equal(y[scored.nonzero(as_tuple=True)] - 1, x[scored.nonzero(as_tuple=True)])  # after its input
    assert int(x[0, 0]) == 0  # the first part starts at the start of the text
    for row in range(1, x.shape[0]):  # the others read the 128 tokens before their cut, unscored
        assert int(scored[row].nonzero()[0]) == 128 and int(y[row, 128]) == int(x[row, 0]) + 129


def test_a_long_text_read_as_parallel_streams_scores_like_one_stream(trained_run, tmp_path):
    from rnncli.tasks.language_model.metrics import mean_loss

    words = ["the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog", "."]
    rng = __import__("random").Random(0)
    text = " ".join(rng.choice(words) for _ in range(6000))  # about 25,000 characters: 24 streams
    path = tmp_path / "long.txt"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["eval", str(trained_run), str(path), "--json"])
    assert result.exit_code == 0, result.output
    parallel = json.loads(result.stdout)
    ckpt = load_checkpoint(trained_run)
    one_stream = mean_loss(ckpt.model, torch.tensor(ckpt.tokenizer.encode(text)), streams=1)
    assert parallel["tokens"] == len(text) - 1
    assert parallel["loss"] == pytest.approx(one_stream, rel=0.01)
    assert parallel["loss"] != one_stream  # it was read in parallel
