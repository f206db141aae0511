"""Translation: the encoder-decoder learns a toy mapping well above copying the source, decodes batched
and alone alike, beam 1 equals greedy, padding gets no attention, and bad input is one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from rnncli.cli import app
from rnncli.core.errors import CheckpointError, DataError
from rnncli.core.settings import CELLS
from rnncli.tasks.translate.config import TranslateConfig
from rnncli.tasks.translate.decoding import beam_search, greedy
from rnncli.tasks.translate.model import Translator
from rnncli.tasks.translate.pairs import read_pairs, read_parallel
from rnncli.tasks.translate.task import pad
from rnncli.tasks.translate.translator import load_translator

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
TINY = ["--hidden-size", "64", "--embed-size", "32", "--batch-size", "32", "--device", "cpu"]


def run(*args, input=None):
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


@pytest.fixture(scope="module")
def dates_run(tmp_path_factory) -> Path:
    """A small translator trained once on the bundled dates (a few seconds)."""
    out = tmp_path_factory.mktemp("translate") / "dates"
    result = run(
        "train",
        SAMPLE / "pairs.tsv",
        "--task",
        "translate",
        "--out",
        out,
        "--steps",
        "200",
        "--eval-every",
        "100",
        "--tokenizer",
        "char",  # the dates are learnt fastest digit by digit, generated; the defaults (bpe, copying) are
        "--no-copy",  # for real sentences (test_copying_keeps_beam_one_greedy_and_padding_invariance below)
        *TINY,
    )
    assert result.exit_code == 0, result.stderr
    assert "copy source" in result.stderr and "sacreBLEU: nrefs:1" in result.stderr
    return out


def test_the_model_learns_well_above_copying_the_source(dates_run):
    result = run("eval", dates_run, SAMPLE / "pairs_test.tsv", "--json")
    assert result.exit_code == 0, result.stderr
    scores = json.loads(result.stdout)
    assert scores["copy_source"]["chrf"] < 30
    assert scores["model"]["chrf"] > 80 and scores["winner"] == "model"
    assert "version:" in scores["signature"]["chrf"] and scores["perplexity"] < 2


def test_predict_keeps_order_and_empty_lines(dates_run):
    result = run("predict", dates_run, input="the 5th of March, 2021\n\n05.03.2021\n")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.split("\n")
    assert lines[:3] == ["2021-03-05", "", "2021-03-05"]


def test_predict_jsonl_n_best_and_its_refusal_in_text(dates_run):
    result = run("predict", dates_run, "--beam", "4", "--n-best", "3", "--format", "jsonl", input="May 7, 1999\n")
    row = json.loads(result.stdout)
    assert row["translation"] == "1999-05-07" and len(row["n_best"]) == 3
    assert row["n_best"][0]["score"] >= row["n_best"][1]["score"]
    refused = run("predict", dates_run, "--n-best", "3", "--beam", "3", input="May 7, 1999\n")
    assert refused.exit_code == 2 and "--format jsonl" in refused.stderr


def test_beam_one_equals_greedy_and_padding_changes_nothing(dates_run):
    loaded = load_translator(dates_run)
    sources = read_pairs(str(SAMPLE / "pairs_test.tsv")).sources[:40]
    rows = [loaded.encode(s) for s in sources]
    source, lengths = pad(rows, loaded.config.source_pad_id)
    plain = [h.tokens for h in greedy(loaded.model, source, lengths, ratio=2.0)]
    beamed = beam_search(loaded.model, source, lengths, beam=1, n_best=1, length_penalty=1.0, ratio=2.0)
    assert [b[0].tokens for b in beamed] == plain
    alone = [greedy(loaded.model, *pad([r], loaded.config.source_pad_id), ratio=2.0)[0].tokens for r in rows[:10]]
    assert alone == plain[:10]


def test_padding_gets_no_attention(dates_run):
    loaded = load_translator(dates_run)
    rows = [loaded.encode("May 7, 1999"), loaded.encode("Tuesday, December 30, 2008")]
    source, lengths = pad(rows, loaded.config.source_pad_id)
    start = torch.tensor([loaded.config.bos_id] * 2)
    with torch.no_grad():
        encoded = loaded.model.encode(source, lengths)
        _, _, weights = loaded.model.step(start, loaded.model.start(encoded), encoded)
    short = int(lengths[0])
    assert torch.all(weights[0, short:] == 0) and torch.allclose(weights.sum(1), torch.ones(2))


@pytest.mark.parametrize("cell", CELLS)
def test_every_cell_and_both_implementations_agree_on_padded_batches(cell):
    torch.manual_seed(0)
    config = TranslateConfig(
        cell=cell,
        vocab_size=20,
        embed_size=8,
        hidden_size=12,
        num_layers=2,
        dropout=0.0,
        impl="reference",
        attention="additive",
    )
    reference = Translator(config).eval()
    source, lengths = pad([[1, 2, 3], [4, 5, 6, 7, 8], [9]], config.source_pad_id)
    target = torch.tensor([[config.bos_id, 1, 2]] * 3)
    expected = reference(source, lengths, target)
    assert expected.shape == (3, 3, config.total_vocab)
    if cell != "gru-textbook":  # no fused twin
        fused = Translator(TranslateConfig(**{**config.to_dict(), "impl": "fused"})).eval()
        fused.load_state_dict(reference.state_dict())
        assert torch.allclose(fused(source, lengths, target), expected, atol=1e-5)


def test_resume_continues_the_run(dates_run, tmp_path):
    import shutil

    copy = tmp_path / "again"
    shutil.copytree(dates_run, copy)
    result = run("train", "--resume", copy, "--steps", "220")
    assert result.exit_code == 0, result.stderr
    assert json.loads((copy / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 220


def test_inspect_summarises_the_run(dates_run):
    result = run("inspect", dates_run, "--json")
    summary = json.loads(result.stdout)
    assert summary["task"] == "translate" and summary["model"]["attention"] == "general"
    shown = run("inspect", dates_run)
    assert shown.exit_code == 0, shown.stderr
    text = " ".join(shown.stdout.split())  # the table wraps long rows
    assert "bidirectional encoder 1 x 2 x 32, decoder 1 x 64, general attention" in text
    assert "char, " in text and "shared by source and target" in text and "copying from" not in text
    assert "training curve" in shown.stdout and "chrF" in shown.stdout and "BLEU" in shown.stdout
    assert not shown.stdout.lstrip().startswith("{")  # a table for people; --json gives the document


def test_inspect_summarises_a_file_of_pairs(tmp_path):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("a [b] c\ta [b] c\nthe house\tla casa\n\tempty\n", encoding="utf-8")
    shown = run("inspect", pairs, "--task", "translate")
    assert shown.exit_code == 0, shown.stderr
    assert "2 pairs (1 left out: empty source or target)" in shown.stdout
    assert "1 of 2 pairs (50.0%) have the source as their target" in shown.stdout
    assert "a [b] c" in shown.stdout  # the text as written, not read as markup
    document = json.loads(run("inspect", pairs, "--task", "translate", "--json").stdout)
    assert document["pairs"] == 2 and document["identical"] == 1 and document["source_chars"]["max"] == 9


def test_a_damaged_checkpoint_is_refused(dates_run, tmp_path):
    from tests.conftest import rewrite_checkpoint

    bad = tmp_path / "bad.safetensors"
    rewrite_checkpoint(dates_run / "model.safetensors", bad, meta=lambda m: m["model"].update(hidden_size=256))
    with pytest.raises(CheckpointError, match="shape"):
        load_translator(bad)


def test_the_three_readers(tmp_path):
    tsv = tmp_path / "p.tsv"
    tsv.write_text("a b\tx y\tCC-BY attribution\n\t\nc\t\nd\te\n", encoding="utf-8")
    pairs = read_pairs(str(tsv))
    assert pairs.sources == ["a b", "d"] and pairs.targets == ["x y", "e"] and pairs.empty == 1
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text('{"source": "a", "target": "b"}\n', encoding="utf-8")
    assert read_pairs(str(jsonl)).targets == ["b"]
    (tmp_path / "s.txt").write_text("a\nb\n", encoding="utf-8")
    (tmp_path / "t.txt").write_text("x\ny\n", encoding="utf-8")
    assert read_parallel(str(tmp_path / "s.txt"), str(tmp_path / "t.txt")).targets == ["x", "y"]


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ("one\ttwo\nno tab here\n", ".tsv", "p.tsv:2: no tab"),
        ('{"source": "a"}\n', ".jsonl", "p.jsonl:1: field 'target'"),
        (b"ok\tfine\n\xff\xfe\tx\n", ".tsv", "p.tsv:2: not UTF-8"),
    ],
)
def test_bad_pairs_are_one_clear_line(tmp_path, content, suffix, message):
    path = tmp_path / f"p{suffix}"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(DataError, match=message):
        read_pairs(str(path))
    result = run("train", path, "--task", "translate", "--out", tmp_path / "run", "--steps", "1")
    assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_misaligned_files_name_both_counts(tmp_path):
    (tmp_path / "s.txt").write_text("a\nb\nc\n", encoding="utf-8")
    (tmp_path / "t.txt").write_text("x\ny\n", encoding="utf-8")
    result = run(
        "train",
        "--task",
        "translate",
        "--source",
        tmp_path / "s.txt",
        "--target",
        tmp_path / "t.txt",
        "--out",
        tmp_path / "run",
    )
    assert result.exit_code == 2
    assert "has 3 lines but" in result.stderr and "has 2" in result.stderr


def test_long_pairs_are_left_out_with_a_count(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_text("".join(f"{'ab' * (1 + i % 5)}\t{'ba' * (1 + i % 5)}\n" for i in range(40)), encoding="utf-8")
    result = run(
        "train",
        path,
        "--task",
        "translate",
        "--out",
        tmp_path / "run",
        "--steps",
        "2",
        "--max-len",
        "6",
        "--tokenizer",
        "char",
        *TINY,
    )
    assert result.exit_code == 0, result.stderr
    assert "left out 16 pairs longer than --max-len 6" in result.stderr


def test_translate_options_are_refused_elsewhere(trained_run):
    result = run("predict", trained_run, "--beam", "3", input="x\n")
    assert result.exit_code == 2


def test_inspect_attention_shows_where_each_output_token_looked(dates_run, tmp_path):
    result = run("inspect", dates_run, "--attention", "May 7, 1999", "--json")
    assert result.exit_code == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["translation"] == "1999-05-07" and len(found["source_tokens"]) == len("May 7, 1999")
    assert len(found["weights"]) == len(found["output_tokens"]) == len(found["attends_to"])
    for row in found["weights"]:
        assert len(row) == len(found["source_tokens"]) and abs(sum(row) - 1) < 1e-3
    assert found["attends_to"][0]["source"] in "1999"  # the year comes first, read from the end of the source
    shown = run("inspect", dates_run, "--attention", "May 7, 1999")
    assert shown.exit_code == 0 and "1999-05-07" in shown.stdout and "attends to most" in shown.stdout
    pytest.importorskip("matplotlib")
    picture = tmp_path / "attention.png"
    drawn = run("inspect", dates_run, "--attention", "May 7, 1999", "--plot", picture)
    assert drawn.exit_code == 0, drawn.stderr
    assert picture.stat().st_size > 1000


def test_attention_kept_in_a_padded_batch_never_falls_on_padding(dates_run):
    from rnncli.tasks.translate.translator import Decoding, decode_batch

    loaded = load_translator(dates_run)
    rows = [loaded.encode("May 7, 1999"), loaded.encode("Tuesday, December 30, 2008")]
    batch = decode_batch(loaded, rows, Decoding(), torch.device("cpu"), keep_attention=True)
    short = batch[0][0]
    assert all(len(row) == len(rows[0]) and abs(sum(row) - 1) < 1e-5 for row in short.attention)
    alone = decode_batch(loaded, rows[:1], Decoding(), torch.device("cpu"), keep_attention=True)[0][0]
    assert alone.tokens == short.tokens
    assert torch.allclose(torch.tensor(alone.attention), torch.tensor(short.attention), atol=1e-5)


def test_attention_is_refused_for_other_runs_and_for_data(trained_run):
    other = run("inspect", trained_run, "--attention", "x")
    assert other.exit_code == 2 and "--attention does not apply to language models" in other.stderr
    data = run("inspect", SAMPLE / "pairs.tsv", "--task", "translate", "--attention", "x")
    assert data.exit_code == 2 and "--attention asks a trained run" in data.stderr


def test_a_run_of_the_first_format_still_loads_and_predicts_the_same():
    old = Path(__file__).resolve().parent / "fixtures" / "old_translate_run"
    result = run("predict", old, old / "inputs.txt", "--beam", "3", "--n-best", "2", "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    expected = [json.loads(line) for line in (old / "expected_predict.jsonl").read_text().splitlines()]
    found = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["translation"] for r in found] == [r["translation"] for r in expected]
    for got, want in zip(found, expected, strict=True):
        assert [h["score"] for h in got["n_best"]] == pytest.approx([h["score"] for h in want["n_best"]], abs=1e-3)
    summary = json.loads(run("inspect", old, "--json").stdout)
    assert summary["tokenizer"]["shared"] and not summary["model"]["tie_embeddings"]


def test_separate_vocabularies_and_tied_embeddings_round_trip(tmp_path):
    out = tmp_path / "separate"
    args = ["--hidden-size", "32", "--embed-size", "32", "--steps", "3", "--batch-size", "8", "--device", "cpu"]
    result = run(
        "train",
        SAMPLE / "pairs.tsv",
        "--task",
        "translate",
        "--out",
        out,
        "--no-shared-vocab",
        *args,
        "--tie-embeddings",
    )
    assert result.exit_code == 0, result.stderr
    assert "tokenizers learnt per side" in result.stderr
    loaded = load_translator(out)
    assert loaded.target_tokenizer is not None and loaded.config.tie_embeddings
    assert loaded.config.target_vocab_size < loaded.config.vocab_size  # digits and dashes vs dates in words
    assert loaded.model.out.weight is loaded.model.target_embed.weight
    assert run("predict", out, input="May 7, 1999\n").exit_code == 0
    again = run("train", "--resume", out, "--steps", "5")
    assert again.exit_code == 0, again.stderr


def test_tied_embeddings_need_equal_sizes():
    result = run(
        "train",
        SAMPLE / "pairs.tsv",
        "--task",
        "translate",
        "--tie-embeddings",
        "--hidden-size",
        "64",
        "--embed-size",
        "32",
        "--steps",
        "1",
    )
    assert result.exit_code == 2 and "--tie-embeddings needs" in result.stderr and "--embed-size 64" in result.stderr


def test_a_checkpoint_whose_tokenizers_disagree_with_the_model_is_refused(dates_run, tmp_path):
    from tests.conftest import rewrite_checkpoint

    bad = tmp_path / "bad.safetensors"
    rewrite_checkpoint(dates_run / "model.safetensors", bad, meta=lambda m: m["model"].update(target_vocab_size=13))
    with pytest.raises(CheckpointError, match="shared vocabulary"):
        load_translator(bad)


def test_eval_reads_two_aligned_files_like_train(dates_run, tmp_path):
    pairs = read_pairs(str(SAMPLE / "pairs_test.tsv"))
    (tmp_path / "src.txt").write_text("\n".join(pairs.sources[:50]) + "\n", encoding="utf-8")
    (tmp_path / "tgt.txt").write_text("\n".join(pairs.targets[:50]) + "\n", encoding="utf-8")
    (tmp_path / "short.txt").write_text("\n".join(pairs.targets[:49]) + "\n", encoding="utf-8")
    result = run("eval", dates_run, "--source", tmp_path / "src.txt", "--target", tmp_path / "tgt.txt", "--json")
    assert result.exit_code == 0, result.stderr
    scores = json.loads(result.stdout)
    assert scores["pairs"] == 50 and scores["winner"] == "model"
    mismatched = run("eval", dates_run, "--source", tmp_path / "src.txt", "--target", tmp_path / "short.txt")
    assert mismatched.exit_code == 2 and "50 lines" in mismatched.stderr and "49" in mismatched.stderr
    both = run("eval", dates_run, SAMPLE / "pairs_test.tsv", "--source", tmp_path / "src.txt", "--target", "x")
    assert both.exit_code == 2 and "not both" in both.stderr
    neither = run("eval", dates_run)
    assert neither.exit_code == 2 and "give DATA" in neither.stderr


def test_train_reports_vocabulary_coverage(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_text("".join(f"go home w{i}\tgeh heim\n" for i in range(40)), encoding="utf-8")
    args = ["--tokenizer", "word", "--min-count", "2", "--steps", "1", *TINY]
    result = run("train", path, "--task", "translate", "--out", tmp_path / "run", *args)
    assert result.exit_code == 0, result.stderr
    line = next(x for x in result.stderr.splitlines() if "vocabulary coverage" in x)
    assert "target 100.0% (0 unknown)" in line and "training pairs: source 66.7% (36 unknown)" in line
    assert "held-out pairs: source 66.7% (4 unknown)" in line  # 1 unseen word of 3 per source


def test_the_best_checkpoint_is_the_step_of_the_best_chrf_with_bleu_beside_it(dates_run):
    from best_metric_checks import check_best_by_metric

    best = check_best_by_metric(dates_run, "chrF")
    records = [json.loads(line) for line in (dates_run / "metrics.jsonl").read_text().splitlines()]
    assert all(r["val_chrf"] == r["val_metric"] and 0 <= r["val_bleu"] <= 100 for r in records)
    assert best["val_metric"] > 50  # greedy translations of the validation pairs, scored as rnn eval scores them
    assert '"metric_name": "chrF"' in run("inspect", dates_run, "--json").stdout


def test_a_time_budget_alone_is_not_cut_short_by_the_default_steps():
    from rnncli.tasks.translate.options import TranslateSettings

    assert TranslateSettings.resolve({"time": "30m"}).train_config().steps is None
    assert TranslateSettings.resolve({"time": "30m", "steps": 50}).train_config().steps == 50
    assert TranslateSettings.resolve({}).train_config().steps == 1000


def test_copying_mixes_a_distribution_and_can_be_turned_off(tmp_path):
    torch.manual_seed(0)
    model = Translator(TranslateConfig(vocab_size=12, embed_size=8, hidden_size=16, copy=True)).eval()
    source, lengths = pad([[3, 4, 5], [6]], model.config.source_pad_id)
    target_in, _ = pad([[model.config.bos_id, 3], [model.config.bos_id]], model.config.pad_id)
    log_probs = model(source, lengths, target_in)  # (B, T, V): log-probabilities once it copies
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(2, 2), atol=1e-5)
    assert model.copy_gate is not None
    assert Translator(TranslateConfig(vocab_size=12, copy=True, target_vocab_size=9)).copy_gate is None  # 2 vocabs
    from rnncli.tasks.translate.options import TranslateSettings

    assert TranslateSettings.resolve({}).model.copy and not TranslateConfig().copy  # new runs; runs saved before
    out = tmp_path / "plain"
    result = run("train", SAMPLE / "pairs.tsv", "--task", "translate", "--no-copy", "--steps", "1", "--out", out, *TINY)
    assert result.exit_code == 0, result.stderr
    assert json.loads(run("inspect", out, "--json").stdout)["model"]["copy"] is False
    assert "copying from the source" not in " ".join(run("inspect", out).stdout.split())


def test_copying_keeps_beam_one_greedy_and_padding_invariance():
    torch.manual_seed(3)
    model = Translator(TranslateConfig(vocab_size=12, embed_size=8, hidden_size=16, copy=True)).eval()
    rows = [[3, 4, 5, 6, 7], [6], [8, 9, 3]]
    source, lengths = pad(rows, model.config.source_pad_id)
    plain = [h.tokens for h in greedy(model, source, lengths, ratio=2.0)]
    beamed = beam_search(model, source, lengths, beam=1, n_best=1, length_penalty=1.0, ratio=2.0)
    assert [b[0].tokens for b in beamed] == plain
    alone = [greedy(model, *pad([r], model.config.source_pad_id), ratio=2.0)[0].tokens for r in rows]
    assert alone == plain
