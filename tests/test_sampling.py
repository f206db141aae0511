"""`rnn sample`: decoding methods, prompts, batches of samples, stop strings and output formats."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import torch
from typer.testing import CliRunner

from rnncli.cli import app
from rnncli.core.checkpoint import save_checkpoint
from rnncli.core.settings import ModelConfig
from rnncli.core.tokenizers import CharTokenizer
from rnncli.tasks.language_model.checkpoint import load_checkpoint
from rnncli.tasks.language_model.logit_processors import (
    DecodingSettings,
    keep_min_p,
    keep_top_k,
    keep_top_p,
    penalize_repeats,
)
from rnncli.tasks.language_model.model import build_model
from rnncli.tasks.language_model.sampling import SampleText, beam_search, sample_steps
from rnncli.tasks.language_model.scoring import start_token
from rnncli.tasks.language_model.token_steps import FastStepper, ModelStepper, make_stepper

runner = CliRunner()


def sample(run, *args: str, input: str | None = None) -> str:
    result = runner.invoke(app, ["sample", str(run), *args], input=input)
    assert result.exit_code == 0, result.output
    return result.stdout


def records(run, *args: str) -> list[dict]:
    return [json.loads(line) for line in sample(run, *args, "--format", "jsonl").splitlines()]


def model_log_prob(ckpt, prompt: str, text: str) -> float:
    """log P(text | start token + prompt), from one call of the model's forward."""
    ids = [start_token(ckpt.tokenizer), *ckpt.tokenizer.encode(prompt + text)]
    with torch.inference_mode():
        logits, _ = ckpt.model(torch.tensor([ids[:-1]]))
    picked = logits[0].log_softmax(-1).gather(1, torch.tensor(ids[1:]).unsqueeze(1)).squeeze(1)
    return float(picked[len(prompt) :].double().sum())


# --- decoding methods ---------------------------------------------------------------------------


def test_top_k_1_equals_greedy(trained_run):
    greedy = sample(trained_run, "--length", "80", "--greedy", "--prime", "the ")
    top1 = sample(trained_run, "--length", "80", "--top-k", "1", "--temp", "1.5", "--seed", "4", "--prime", "the ")
    assert top1 == greedy
    assert greedy == sample(trained_run, "--length", "80", "--temp", "0", "--prime", "the ")


def test_top_p_1_at_temperature_1_is_plain_sampling(trained_run):
    plain = sample(trained_run, "--length", "120", "--seed", "11")
    assert sample(trained_run, "--length", "120", "--seed", "11", "--top-p", "1.0", "--temp", "1") == plain
    # ... and the options are not ignored: a tiny nucleus holds only the likeliest token.
    assert sample(trained_run, "--length", "120", "--seed", "11", "--top-p", "1e-6") == sample(
        trained_run, "--length", "120", "--greedy"
    )


def test_logit_filters_keep_the_right_tokens():
    logits = torch.tensor([[0.5, 0.3, 0.15, 0.05]]).log()
    kept = lambda out: (out[0] > float("-inf")).tolist()  # noqa: E731
    assert kept(keep_top_k(logits, 2)) == [True, True, False, False]
    assert kept(keep_top_p(logits, 0.8)) == [True, True, False, False]  # 0.5 + 0.3 reaches 0.8
    assert kept(keep_top_p(logits, 0.81)) == [True, True, True, False]
    assert kept(keep_top_p(logits, 0.4)) == [True, False, False, False]
    assert kept(keep_min_p(logits, 0.2)) == [True, True, True, False]  # 0.05 < 0.2 * 0.5


def test_sampled_tokens_follow_the_tempered_distribution(trained_run):
    """Many independent rows, one step: token frequencies match softmax(logits / T)."""
    ckpt = load_checkpoint(trained_run)
    prime = ckpt.tokenizer.encode("the quick brown fox ")
    rows, temperature = 4000, 2.5
    settings = DecodingSettings(temperature=temperature).validate()
    tokens, _ = next(
        sample_steps(
            ckpt.model,
            prime,
            length=1,
            settings=settings,
            seeds=list(range(rows)),
            newline_id=start_token(ckpt.tokenizer),
        )
    )
    with torch.inference_mode():
        ids = torch.tensor([[start_token(ckpt.tokenizer), *prime]])
        expected = (ckpt.model(ids)[0][0, -1] / temperature).softmax(-1)
    observed = torch.bincount(torch.tensor(tokens), minlength=len(expected)).double() / rows
    assert (observed - expected.double()).abs().max() < 4 * (0.25 / rows) ** 0.5  # 4 standard errors at worst


def test_repetition_penalty_discourages_repeats(trained_run):
    plain = sample(trained_run, "--length", "200", "--greedy")
    penalised = sample(trained_run, "--length", "200", "--greedy", "--repetition-penalty", "5")
    assert penalised != plain
    assert len(set(penalised[:30])) > len(set(plain[:30]))  # fewer repeats while new tokens remain
    logits = torch.tensor([[2.0, -1.0, 0.5]])
    seen = torch.tensor([[True, True, False]])
    assert penalize_repeats(logits, seen, 2.0).tolist() == [[1.0, -2.0, 0.5]]


def test_beam_1_equals_greedy(trained_run):
    assert sample(trained_run, "--length", "80", "--beam", "1", "--prime", "the ") == sample(
        trained_run, "--length", "80", "--greedy", "--prime", "the "
    )


@pytest.mark.parametrize("prompt", ["", "the lazy ", "jumps o"])
def test_beam_search_is_at_least_as_likely_as_greedy(trained_run, prompt):
    ckpt = load_checkpoint(trained_run)
    (greedy,) = records(trained_run, "--length", "40", "--greedy", "--prime", prompt)
    (beam,) = records(trained_run, "--length", "40", "--beam", "4", "--prime", prompt)
    assert beam["beam"] == 4 and beam["num_tokens"] == 40
    # The reported totals are the model's own log-probabilities of the text ...
    for record in (greedy, beam):
        assert record["log_prob"] == pytest.approx(model_log_prob(ckpt, prompt, record["text"]), abs=1e-4)
    # ... and the beam finds a continuation at least as likely.
    assert beam["log_prob"] >= greedy["log_prob"] - 1e-6


def test_beam_search_finds_the_likeliest_sequence_on_a_tiny_search_space(trained_run):
    """With as many beams as tokens, 2 steps of beam search are exhaustive: compare with brute force."""
    ckpt = load_checkpoint(trained_run)
    model, vocab, start = ckpt.model, ckpt.config.vocab_size, start_token(ckpt.tokenizer)
    prime = ckpt.tokenizer.encode("the laz")
    tokens, log_probs = beam_search(model, prime, length=2, settings=DecodingSettings(beam=vocab), newline_id=start)
    with torch.inference_mode():
        first, state = model(torch.tensor([[start, *prime]]))
        first_lp = first[0, -1].log_softmax(-1)  # (V,)
        every_state = tuple(s.expand(-1, vocab, -1).contiguous() for s in state)
        second, _ = model(torch.arange(vocab).view(vocab, 1), every_state)
        total = first_lp.unsqueeze(1) + second[:, -1].log_softmax(-1)  # (V, V)
    best = int(total.argmax())
    assert tokens == [best // vocab, best % vocab]
    assert sum(log_probs) == pytest.approx(float(total.max()), abs=1e-5)


# --- several samples ------------------------------------------------------------------------------


def test_num_3_jsonl_records_reproduce_alone_from_their_seeds(trained_run):
    batch = records(trained_run, "--num", "3", "--seed", "20", "--length", "50", "--temp", "1.3", "--prime", "the ")
    assert [r["seed"] for r in batch] == [20, 21, 22]
    assert [r["index"] for r in batch] == [0, 1, 2]
    assert len({r["text"] for r in batch}) > 1
    for record in batch:
        assert {
            "text",
            "num_tokens",
            "log_prob",
            "seed",
            "temperature",
            "top_k",
            "top_p",
            "min_p",
            "repetition_penalty",
            "beam",
            "prime",
            "stopped_by",
            "length",
        } <= record.keys()
        assert record["num_tokens"] == 50 and record["temperature"] == 1.3
        (alone,) = records(
            trained_run, "--seed", str(record["seed"]), "--length", "50", "--temp", "1.3", "--prime", "the "
        )
        assert alone["text"] == record["text"]
        assert alone["log_prob"] == pytest.approx(record["log_prob"], abs=1e-5)


def test_a_batch_prints_the_same_samples_as_runs_alone(trained_run):
    options = [
        "--length",
        "60",
        "--temp",
        "1.4",
        "--top-k",
        "6",
        "--top-p",
        "0.95",
        "--min-p",
        "0.01",
        "--repetition-penalty",
        "1.2",
    ]
    batch = sample(trained_run, "--num", "4", "--seed", "3", *options)
    alone = [sample(trained_run, "--seed", str(3 + i), *options) for i in range(4)]
    assert batch == "\n".join(alone)  # each sample ends with a newline; a blank line separates them
    assert (
        sample(trained_run, "--num", "2", "--seed", "3", "--separator", "----", *options)
        == alone[0] + "----\n" + alone[1]
    )


def test_log_prob_of_a_sample_is_the_models_own(trained_run):
    ckpt = load_checkpoint(trained_run)
    (record,) = records(
        trained_run, "--length", "40", "--seed", "9", "--temp", "1.5", "--top-k", "5", "--prime", "over "
    )
    assert record["log_prob"] == pytest.approx(model_log_prob(ckpt, "over ", record["text"]), abs=1e-4)


# --- stopping --------------------------------------------------------------------------------------


def test_stop_truncates_before_the_stop_string(trained_run):
    full = sample(trained_run, "--length", "120", "--greedy", "--prime", "the ")
    assert "dog" in full
    stopped = sample(trained_run, "--length", "120", "--greedy", "--prime", "the ", "--stop", "dog")
    assert stopped == full[: full.index("dog")] + "\n"
    (record,) = records(trained_run, "--length", "120", "--greedy", "--prime", "the ", "--stop", "dog", "--stop", "zzz")
    assert record["text"] == full[: full.index("dog")]
    assert record["stopped_by"] == "dog"
    assert record["num_tokens"] == full.index("dog") + 3  # the tokens that completed the stop count too


def test_stop_applies_to_each_sample_of_a_batch_and_to_beam_search(trained_run):
    batch = records(trained_run, "--num", "3", "--seed", "1", "--length", "150", "--stop", ".")
    for record in batch:
        assert "." not in record["text"]
        (alone,) = records(trained_run, "--seed", str(record["seed"]), "--length", "150", "--stop", ".")
        assert (alone["text"], alone["num_tokens"]) == (record["text"], record["num_tokens"])
    (beam,) = records(trained_run, "--beam", "3", "--length", "150", "--stop", "fox")
    assert beam["stopped_by"] == "fox" and "fox" not in beam["text"]


def test_stop_string_held_back_only_while_it_could_still_match():
    text = SampleText(stops=["dog", "cat."])
    out = [text.add(t, -1.0) for t in ["a", " ", "d", "o", "t", " ", "c", "a", "t", "!", "c", "a"]]
    assert "".join(out) == "a dot cat!"
    assert text.finish() == "ca" and not text.done
    text = SampleText(stops=["dog"])
    out = [text.add(t, -0.5) for t in ["h", "d", "o", "g", "s"]]
    assert "".join(out) == "h" and text.done and text.stopped_by == "dog"
    assert text.num_tokens == 4 and text.log_prob == -2.0  # tokens after the stop are not taken


# --- prompts ---------------------------------------------------------------------------------------


def test_prime_file_and_stdin_give_the_same_text_as_prime(trained_run, tmp_path):
    expected = sample(trained_run, "--length", "40", "--seed", "2", "--prime", "the quick ")
    prompt_file = tmp_path / "prompt.txt"
    prompt_file.write_text("the quick ", encoding="utf-8")
    assert sample(trained_run, "--length", "40", "--seed", "2", "--prime-file", str(prompt_file)) == expected
    assert sample(trained_run, "--length", "40", "--seed", "2", "--prime-file", "-", input="the quick ") == expected
    prompt_file.write_bytes(b"\xef\xbb\xbfthe quick ")  # a BOM is not part of the prompt
    assert sample(trained_run, "--length", "40", "--seed", "2", "--prime-file", str(prompt_file)) == expected


def test_include_prime_echoes_the_prompt(trained_run):
    plain = sample(trained_run, "--length", "30", "--seed", "5", "--prime", "the lazy ")
    echoed = sample(trained_run, "--length", "30", "--seed", "5", "--prime", "the lazy ", "--include-prime")
    assert echoed == "the lazy " + plain
    batch = sample(
        trained_run, "--length", "30", "--seed", "5", "--num", "2", "--prime", "the lazy ", "--include-prime"
    )
    assert [block.startswith("the lazy ") for block in batch.split("\n\n")] == [True, True]
    (record,) = records(trained_run, "--length", "30", "--seed", "5", "--prime", "the lazy ", "--include-prime")
    assert record["text"] == echoed.rstrip("\n") and record["prime"] == "the lazy "


# --- the per-step update ---------------------------------------------------------------------------


def _random_model(cell: str, impl: str = "fused", *, vocab: int = 11) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model(ModelConfig(cell=cell, impl=impl, vocab_size=vocab, embed_size=5, hidden_size=7, num_layers=2))
    return model.eval()


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn", "rnn-relu"])
@pytest.mark.parametrize("table", [True, False])
def test_fast_stepper_matches_the_models_forward(cell, table, monkeypatch):
    if not table:
        # layer 0 multiplies the embedding
        monkeypatch.setattr("rnncli.tasks.language_model.token_steps.TABLE_LIMIT_BYTES", 0)
    model = _random_model(cell)
    tokens = torch.randint(0, 11, (3, 30))
    with torch.inference_mode():
        start = tuple(torch.randn_like(t) for t in model.init_state(3))
        full, final = model(tokens, start)  # (3, 30, V)
        stepper = FastStepper(model)
        assert (stepper.table is not None) == table
        state = stepper.split_state(start)
        for t in range(tokens.shape[1]):
            logits, state = stepper.step(tokens[:, t], state)
            torch.testing.assert_close(logits, full[:, t], rtol=1e-5, atol=1e-5)
        for ours, theirs in zip(stepper.join_state(state), final, strict=True):
            torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("stepper_class", [FastStepper, ModelStepper])
def test_select_rows_reorders_the_state_of_every_layer(stepper_class):
    model = _random_model("lstm")
    stepper = stepper_class(model)
    with torch.inference_mode():
        state = stepper.split_state(tuple(torch.randn_like(t) for t in model.init_state(3)))
        picked = stepper.join_state(stepper.select_rows(state, torch.tensor([2, 2, 0])))
        whole = stepper.join_state(state)
    for ours, theirs in zip(picked, whole, strict=True):
        assert torch.equal(ours, theirs[:, [2, 2, 0]])


@pytest.mark.parametrize("cell, impl", [("lstm", "reference"), ("gru-textbook", "reference")])
def test_reference_cells_sample_through_their_own_forward(cell, impl, tmp_path):
    model = _random_model(cell, impl)
    assert isinstance(make_stepper(model), ModelStepper)
    tokenizer = CharTokenizer(list("\nabcdefghi"))  # 10 characters and the unknown token: 11 ids
    path = tmp_path / "ref.safetensors"
    save_checkpoint(
        path, model, {"task": "language-model", "model": vars(model.config), "tokenizer": tokenizer.to_dict()}
    )
    ckpt = load_checkpoint(path)
    (record,) = records(path, "--length", "25", "--seed", "1", "--prime", "abc")
    assert record["num_tokens"] == 25
    assert record["log_prob"] == pytest.approx(model_log_prob(ckpt, "abc", record["text"]), abs=1e-4)
    # a batch steps through the same forward and gives the same samples as single runs
    batch = records(path, "--length", "25", "--seed", "1", "--prime", "abc", "--num", "2")
    assert batch[0]["text"] == record["text"]
    (beam,) = records(path, "--length", "10", "--beam", "3")
    assert beam["log_prob"] == pytest.approx(model_log_prob(ckpt, "", beam["text"]), abs=1e-4)


# --- refusals --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["--temp", "-1"], "--temp must be 0 or more"),
        (["--greedy", "--temp", "0.7"], "--greedy means --temp 0"),
        (["--greedy", "--temp", "1"], "--greedy means --temp 0"),
        (["--greedy", "--top-k", "5"], "--top-k"),
        (["--temp", "0", "--top-p", "0.9"], "--top-p"),
        (["--top-p", "0"], "--top-p must be in (0, 1]"),
        (["--top-p", "1.5"], "--top-p must be in (0, 1]"),
        (["--top-k", "-2"], "--top-k must be"),
        (["--min-p", "1"], "--min-p must be in [0, 1)"),
        (["--repetition-penalty", "0"], "--repetition-penalty must be"),
        (["--beam", "3", "--top-k", "5"], "drop --top-k"),
        (["--beam", "3", "--temp", "0.5"], "drop --temp"),
        (["--beam", "3", "--num", "2"], "--beam"),
        (["--beam", "3", "--greedy"], "choose one"),
        (["--beam", "-1"], "--beam must be"),
        (["--num", "0"], "--num must be 1 or more"),
        (["--length", "-5"], "--length must be 0 or more"),
        (["--format", "xml"], "--format"),
        (["--format", "jsonl", "--separator", "--"], "--separator"),
        (["--stop", ""], "--stop needs a non-empty string"),
        (["--prime", "the", "--prime-file", "-"], "not both"),
        (["--prime-file", "no-such-prompt.txt"], "no-such-prompt.txt: no such file"),
        (["--prime", "QQ"], "'Q'"),
    ],
)
def test_contradictory_or_invalid_options_are_refused_in_one_line(trained_run, args, message):
    result = runner.invoke(app, ["sample", str(trained_run), *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert result.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ["--greedy", "--repetition-penalty", "1.5"],
        ["--beam", "2", "--repetition-penalty", "1.5", "--stop", "x"],
        ["--top-k", "5", "--top-p", "0.9", "--min-p", "0.05", "--temp", "0.8"],
        ["--num", "2", "--greedy", "--format", "jsonl", "--include-prime", "--prime", "a"],
        ["--length", "0"],
    ],
)
def test_options_that_make_sense_together_are_accepted(trained_run, args):
    result = runner.invoke(app, ["sample", str(trained_run), "--length", "20", *args])
    assert result.exit_code == 0, result.output


# --- signals ---------------------------------------------------------------------------------------


def test_ctrl_c_flushes_and_exits_130(trained_run):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rnncli", "sample", str(trained_run), "--length", "10000000", "--seed", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    first = proc.stdout.read(20)  # output is streamed, so it arrives long before the end
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert len(first) == 20 and err.decode().strip() == "rnn: error: interrupted"
    assert len(rest) < 10_000_000
