"""`rnn sample --beam N --stop STRING --length-penalty A`: each hypothesis ends at its first stop string, and
hypotheses of different lengths are ranked by log-probability / length ** A."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from rnncli.cli import app
from rnncli.core.checkpoint import save_checkpoint
from rnncli.core.settings import ModelConfig
from rnncli.core.tokenizers import CharTokenizer
from rnncli.tasks.language_model.model import build_model

runner = CliRunner()


@pytest.fixture(scope="module")
def random_model(tmp_path_factory):
    """An untrained model over 10 characters: its hypotheses end at a stop string after many lengths."""
    torch.manual_seed(0)
    config = ModelConfig(vocab_size=11, embed_size=8, hidden_size=16, num_layers=1)
    model = build_model(config).eval()
    with torch.no_grad():
        model.head.weight.mul_(4)  # a peakier distribution: some continuations are clearly likelier
    tokenizer = CharTokenizer(list("\nabcdefghi"))
    path = tmp_path_factory.mktemp("beam") / "random.safetensors"
    save_checkpoint(path, model, {"task": "language-model", "model": vars(config), "tokenizer": tokenizer.to_dict()})
    return path


def beam(path, *args: str) -> dict:
    result = runner.invoke(app, ["sample", str(path), "--beam", "4", "--length", "30", *args, "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    (record,) = [json.loads(line) for line in result.stdout.splitlines()]
    return record


def test_each_hypothesis_ends_at_its_stop_and_the_penalty_ranks_by_length(random_model):
    found = {alpha: beam(random_model, "--stop", "c", "--length-penalty", str(alpha)) for alpha in (0, 1, 3)}
    for alpha, record in found.items():
        assert record["stopped_by"] == "c" and "c" not in record["text"] and record["length_penalty"] == alpha
        assert record["num_tokens"] == len(record["text"]) + 1  # the text, then the token that ended it
    lengths = [found[alpha]["num_tokens"] for alpha in (0, 1, 3)]
    assert lengths == sorted(lengths) and lengths[0] < lengths[-1]  # a larger penalty prefers longer endings
    # the search does not depend on the penalty, only the choice among the ended hypotheses does:
    # 0 picks the likeliest in total, 1 the likeliest per token
    assert found[0]["log_prob"] >= found[1]["log_prob"] >= found[3]["log_prob"]
    per_token = {alpha: r["log_prob"] / r["num_tokens"] for alpha, r in found.items()}
    assert per_token[1] >= max(per_token.values()) - 1e-9


def test_without_a_stop_the_beam_runs_its_length_whatever_the_penalty(random_model):
    plain, penalised = beam(random_model), beam(random_model, "--length-penalty", "2")
    assert plain["num_tokens"] == 30 and plain["stopped_by"] is None
    assert (penalised["text"], penalised["log_prob"]) == (plain["text"], plain["log_prob"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--length-penalty", "1"], "--length-penalty ranks the hypotheses of beam search: add --beam N"),
        (["--beam", "2", "--length-penalty", "-1"], "--length-penalty must be in [0, 10]"),
    ],
)
def test_length_penalty_is_checked(random_model, args, message):
    result = runner.invoke(app, ["sample", str(random_model), *args])
    assert result.exit_code == 2 and message in result.stderr, result.output
