"""Sequence tagging: readers, schemes and scores, the CRF against enumeration, padding, and the CLI end to end."""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from rnncli.cli import app
from rnncli.core.errors import DataError
from rnncli.tasks.tag.config import TagConfig, Vocab
from rnncli.tasks.tag.corpus import Sentence, read_conll, read_conllu, read_corpus, read_jsonl
from rnncli.tasks.tag.crf import CRF, Penalties, log_partition, path_score, viterbi
from rnncli.tasks.tag.metrics import MostFrequentTag, entity_scores, scores
from rnncli.tasks.tag.schemes import BIO, BIOES, PLAIN, detect_scheme, repair, spans

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def run(*args, input=None):
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


# --- schemes and scores ------------------------------------------------------------------------


def test_spans_follow_conlleval_for_invalid_sequences():
    tags = ["B-PER", "I-PER", "O", "I-LOC", "I-LOC", "B-ORG", "B-ORG", "I-PER"]
    assert spans(tags) == [("PER", 0, 2), ("LOC", 3, 5), ("ORG", 5, 6), ("ORG", 6, 7), ("PER", 7, 8)]
    assert repair(["O", "I-LOC", "I-LOC", "B-ORG", "I-PER"], BIO) == ["O", "B-LOC", "I-LOC", "B-ORG", "B-PER"]
    assert spans(["B-PER", "E-PER", "S-LOC", "O", "B-ORG", "I-ORG"]) == [("PER", 0, 2), ("LOC", 2, 3), ("ORG", 4, 6)]
    assert detect_scheme({"O", "B-X", "I-X"}) == BIO and detect_scheme({"S-X", "O"}) == BIOES
    assert detect_scheme({"NOUN", "VERB"}) == PLAIN


def test_entity_scores_count_exact_matches_per_type_micro_and_macro():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "O"]]
    result = entity_scores(gold, pred)
    assert result["per_type"]["PER"]["f1"] == 1.0 and result["per_type"]["LOC"]["recall"] == 0.0
    assert result["per_type"]["ORG"]["precision"] == 0.5
    assert result["micro"]["f1"] == pytest.approx(2 / 3)
    assert result["macro"]["f1"] == pytest.approx((1 + 0 + 2 / 3) / 3)
    assert scores(gold, pred, BIO)["token_accuracy"] == pytest.approx(5 / 6)


def test_most_frequent_tag_baseline():
    base = MostFrequentTag.fit([Sentence(["a", "b", "a"], ["X", "Y", "X"]), Sentence(["a"], ["Y"])])
    assert base.tag(["a", "b", "zzz"]) == ["X", "Y", "X"]


# --- the CRF --------------------------------------------------------------------------------------


def _enumerate(emissions, length, trans, start, end):
    K = emissions.shape[-1]
    best, total = None, []
    for path in itertools.product(range(K), repeat=length):
        tags = torch.tensor([list(path) + [0] * (emissions.shape[0] - length)])
        mask = torch.arange(emissions.shape[0]).unsqueeze(0) < length
        s = float(path_score(emissions.unsqueeze(0), tags, mask, trans, start, end))
        total.append(s)
        if best is None or s > best[1]:
            best = (list(path), s)
    return torch.logsumexp(torch.tensor(total), 0), best


@pytest.mark.parametrize("scheme_tags", [["A", "B", "C"], ["O", "B-X", "I-X"]])
def test_crf_forward_and_viterbi_match_brute_force_enumeration(scheme_tags):
    torch.manual_seed(0)
    vocab = Vocab(["<pad>", "<unk>"], ["<pad>", "<unk>"], scheme_tags, detect_scheme(set(scheme_tags)))
    pairs, starts, ends = vocab.transitions()
    crf = CRF(Penalties(torch.tensor(pairs), torch.tensor(starts), torch.tensor(ends)))
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    emissions, lengths = torch.randn(3, 4, 3), torch.tensor([4, 2, 1])
    mask = torch.arange(4).unsqueeze(0) < lengths.unsqueeze(1)
    trans, start, end = (t.detach() for t in crf.scores())
    logz = log_partition(emissions, mask, trans, start, end)
    paths, best_scores = viterbi(emissions, mask, trans, start, end)
    for b in range(3):
        z, (path, score) = _enumerate(emissions[b], int(lengths[b]), trans, start, end)
        assert float(logz[b]) == pytest.approx(float(z), abs=1e-4)
        assert paths[b] == path and float(best_scores[b]) == pytest.approx(score, abs=1e-4)


def _random_tagger(crf: bool, tags: list[str], scheme: str):
    from rnncli.tasks.tag.runs import build_model

    vocab = Vocab(["<pad>", "<unk>", "a", "b"], ["<pad>", "<unk>", "a", "b"], tags, scheme)
    config = TagConfig(hidden_size=8, embed_size=4, char_embed_size=4, char_hidden_size=4, crf=crf,
                       vocab_size=4, char_vocab_size=4, num_tags=len(tags))  # fmt: skip
    torch.manual_seed(1)
    model = build_model(config, vocab).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 2)  # far from trained: illegal sequences would win without the constraints
    return model, vocab


@pytest.mark.parametrize("crf", [False, True])
def test_bio_decoding_never_outputs_an_invalid_sequence(crf):
    from rnncli.tasks.tag.batches import encode_batch

    model, vocab = _random_tagger(crf, ["O", "B-X", "I-X", "B-Y", "I-Y"], BIO)
    sentences = [["a", "b", "ab", "ba", "b", "a"][: 1 + i % 6] for i in range(40)]
    paths, _ = model.decode(encode_batch(sentences, vocab))
    for path in paths:
        tags = [vocab.tags[i] for i in path]
        assert repair(tags, BIO) == tags


@pytest.mark.parametrize("crf", [False, True])
def test_a_sentence_gets_the_same_tags_and_score_alone_and_in_a_padded_batch(crf):
    from rnncli.tasks.tag.batches import encode_batch

    model, vocab = _random_tagger(crf, ["A", "B", "C"], PLAIN)
    alone_paths, alone_score = model.decode(encode_batch([["a", "b"]], vocab))
    batch_paths, batch_score = model.decode(encode_batch([["b", "a", "a", "b", "a"], ["a", "b"], ["b"]], vocab))
    assert batch_paths[1] == alone_paths[0]
    assert float(batch_score[1]) == pytest.approx(float(alone_score[0]), abs=1e-5)


def _as_reference(fused: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A fused tagger's weights under the reference tagger's names (one stack per direction and layer)."""
    import re

    renamed = {}
    for name, tensor in fused.items():
        match = re.fullmatch(r"(.*rnn)\.(\w+)_l(\d+)(_reverse)?", name)
        if match:
            stack = "backward_layers" if match[4] else "forward_layers"
            name = f"{match[1]}.{stack}.{match[3]}.{match[2]}_l0"
        renamed[name] = tensor
    return renamed


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn", "rnn-relu"])
def test_the_character_encoder_and_the_layers_follow_cell_and_fused_equals_reference(cell):
    from rnncli.tasks.tag.batches import encode_batch
    from rnncli.tasks.tag.crf import Penalties
    from rnncli.tasks.tag.model import TaggerModel

    shape = dict(cell=cell, hidden_size=6, embed_size=4, char_embed_size=3, char_hidden_size=5, num_layers=2,
                 vocab_size=4, char_vocab_size=4, num_tags=3, crf=True)  # fmt: skip
    penalties = Penalties(torch.ones(3, 3, dtype=torch.bool), torch.ones(3, dtype=torch.bool),
                          torch.ones(3, dtype=torch.bool))  # fmt: skip
    torch.manual_seed(0)
    fused = TaggerModel(TagConfig(**shape), penalties).eval()
    reference = TaggerModel(TagConfig(**shape, impl="reference"), penalties).eval()
    reference.load_state_dict(_as_reference(fused.state_dict()))
    expected = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN, "rnn-relu": torch.nn.RNN}[cell]
    assert isinstance(fused.chars.rnn, expected) and isinstance(fused.rnn, expected)
    vocab = Vocab(["<pad>", "<unk>", "a", "b"], ["<pad>", "<unk>", "a", "b"], ["A", "B", "C"], PLAIN)
    batch = encode_batch([["ab", "b", "abba", "a"], ["ba"], ["bbb", "a"]], vocab)
    mask = batch["mask"]  # padding positions score nothing (the reference cells run on over them)
    torch.testing.assert_close(fused(batch)[mask], reference(batch)[mask], rtol=1e-5, atol=1e-5)
    assert fused.decode(batch)[0] == reference.decode(batch)[0]


# --- readers --------------------------------------------------------------------------------------


def test_conll_skips_docstart_and_comments_and_reads_the_chosen_column():
    text = "-DOCSTART- -X- O O\n\n# a comment\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n# two\nPeter NNP B-NP B-PER\n"
    sentences = read_conll(text, "x")
    assert [s.tokens for s in sentences] == [["EU", "rejects"], ["Peter"]]
    assert [s.tags for s in sentences] == [["B-ORG", "O"], ["B-PER"]]
    assert read_conll(text, "x", tag_col=2)[0].tags == ["NNP", "VBZ"]


def test_conll_errors_name_the_line():
    with pytest.raises(DataError, match=r"x:3: 2 columns, but the file's first token line has 3"):
        read_conll("a NN O\nb NN O\nc O\n", "x")
    with pytest.raises(DataError, match=r"x:2: a token of 10,000 characters"):
        read_conll("a O\n" + "z" * 10_000 + " O\n", "x")


def test_jsonl_reader_and_its_errors():
    assert read_jsonl('{"tokens": ["a", "b"], "tags": ["O", "B-X"]}\n', "j")[0].tags == ["O", "B-X"]
    with pytest.raises(DataError, match=r"j:1: 2 tokens but 1 tags"):
        read_jsonl('{"tokens": ["a", "b"], "tags": ["O"]}\n', "j")
    with pytest.raises(DataError, match=r"j:1: a sentence with no tokens"):
        read_jsonl('{"tokens": [], "tags": []}\n', "j")


CONLLU = """# text = Je vais au marché.
1\tJe\til\tPRON\t_\t_\t2\tnsubj\t_\t_
2\tvais\taller\tVERB\t_\t_\t0\troot\t_\t_
3-4\tau\t_\t_\t_\t_\t_\t_\t_\t_
3\tà\tà\tADP\t_\t_\t5\tcase\t_\t_
4\tle\tle\tDET\t_\tDefinite=Def\t5\tdet\t_\t_
4.1\tx\tx\tX\t_\t_\t_\t_\t_\t_
5\tmarché\tmarché\tNOUN\t_\t_\t2\tobl\t_\t_

"""


def test_conllu_tags_the_words_of_multiword_tokens_and_skips_empty_nodes():
    (sentence,) = read_conllu(CONLLU, "u", "upos")
    assert sentence.tokens == ["Je", "vais", "à", "le", "marché"]
    assert sentence.tags == ["PRON", "VERB", "ADP", "DET", "NOUN"]
    assert read_conllu(CONLLU, "u", "deprel")[0].tags[0] == "nsubj"


def test_invalid_bio_in_training_data_is_repaired_with_a_warning(tmp_path):
    path = tmp_path / "bad.conll"
    path.write_text("a O\nb I-X\n\nc B-X\nd I-X\n", encoding="utf-8")
    corpus = read_corpus(str(path)).repaired()
    assert corpus.sentences[0].tags == ["O", "B-X"] and "1 sentence(s) had invalid BIO" in corpus.warnings[0]


# --- the command line, end to end -----------------------------------------------------------------

TINY = ["--hidden-size", 32, "--embed-size", 16, "--steps", 150, "--eval-every", 50, "--device", "cpu"]


@pytest.fixture(scope="module")
def tag_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tag") / "run"
    result = run("train", SAMPLE / "ner.conll", "--out", out, "--crf", *TINY)
    assert result.exit_code == 0, result.output
    return out, result


def test_train_learns_well_above_the_most_frequent_tag_baseline(tag_run):
    out, result = tag_run
    assert "BIO scheme" in result.stderr and "the model wins" in result.stderr
    evaluated = run("eval", out, SAMPLE / "ner_test.conll", "--json")
    assert evaluated.exit_code == 0, evaluated.output
    doc = json.loads(evaluated.stdout)
    model, base = doc["model"]["entities"]["micro"]["f1"], doc["baseline"]["entities"]["micro"]["f1"]
    assert model > base + 0.15 and doc["model"]["token_accuracy"] > doc["baseline"]["token_accuracy"]
    text = run("eval", out, SAMPLE / "ner_test.conll")
    assert "micro avg" in text.stdout and "confusion" in text.stdout


def test_predict_writes_token_slash_tag_conll_and_jsonl_spans(tag_run):
    out, _ = tag_run
    line = "Ada Lovelace moved to London in 1835 ."
    text = run("predict", out, input=line + "\n")
    assert text.exit_code == 0, text.output
    assert text.stdout.startswith("Ada/B-PER Lovelace/I-PER moved/O to/O London/B-LOC")
    conll = run("predict", out, "--format", "conll", input=line + "\n")
    assert conll.stdout.splitlines()[0] == "Ada\tB-PER" and conll.stdout.endswith("\n\n")
    record = json.loads(run("predict", out, "--format", "jsonl", input=line + "\n").stdout)
    assert {"start": 0, "end": 12, "label": "PER", "text": "Ada Lovelace"} in record["spans"]


def test_the_checkpoint_round_trips_and_damage_is_refused(tag_run, tmp_path):
    from safetensors import safe_open
    from safetensors.torch import save_file

    from rnncli.core.errors import CheckpointError
    from rnncli.tasks.tag.runs import load_tagger

    out, _ = tag_run
    sentences = [["Grace", "Hopper", "visited", "Oslo"], ["Kyoto"]]
    assert load_tagger(out).tag(sentences) == load_tagger(out / "model.safetensors").tag(sentences)
    with safe_open(str(out / "model.safetensors"), "pt") as handle:
        meta, tensors = handle.metadata(), {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
    doc = json.loads(meta["rnncli"])
    doc["model"]["num_tags"] = 99
    save_file(tensors, str(tmp_path / "bad.safetensors"), metadata={**meta, "rnncli": json.dumps(doc)})
    with pytest.raises(CheckpointError, match="do not match the model's sizes"):
        load_tagger(tmp_path / "bad.safetensors")
    summary = run("inspect", out, "--json")
    assert json.loads(summary.stdout)["scheme"] == "BIO"


def test_resume_continues_a_tagging_run(tmp_path):
    out = tmp_path / "run"
    args = ["--hidden-size", 16, "--embed-size", 8, "--eval-every", 20, "--device", "cpu"]
    assert run("train", SAMPLE / "ner.conll", "--out", out, "--steps", 20, *args).exit_code == 0
    resumed = run("train", "--resume", out, "--steps", 40)
    assert resumed.exit_code == 0, resumed.output
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [20, 40]


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.conll"
    bad.write_text("a NN O\nb O\n", encoding="utf-8")
    result = run("train", bad, "--out", tmp_path / "r")
    assert result.exit_code == 2 and "bad.conll:2: 2 columns" in result.stderr
    assert "Traceback" not in result.output
    jsonl = tmp_path / "x.jsonl"
    jsonl.write_text('{"tokens": ["a"], "tags": ["O", "O"]}\n', encoding="utf-8")
    result = run("train", jsonl, "--task", "tag", "--out", tmp_path / "r2")
    assert result.exit_code == 2 and "x.jsonl:1: 1 tokens but 2 tags" in result.stderr


def test_val_file_validates_and_scores_the_baseline_and_resumes(tmp_path):
    out = tmp_path / "run"
    args = ["--hidden-size", 16, "--embed-size", 8, "--eval-every", 20, "--device", "cpu"]
    val = SAMPLE / "ner_test.conll"
    n_val = sum(1 for block in val.read_text(encoding="utf-8").split("\n\n") if block.strip())
    result = run("train", SAMPLE / "ner.conll", "--val", val, "--out", out, "--steps", 20, *args)
    assert result.exit_code == 0, result.output
    assert f"validating on {n_val:,} (from {val})" in result.stderr
    assert f"validation ({n_val:,} sentences): model" in result.stderr
    resumed = run("train", "--resume", out, "--steps", 40)
    assert resumed.exit_code == 0, resumed.output
    assert f"validation ({n_val:,} sentences): model" in resumed.stderr
    odd = tmp_path / "odd.conll"
    odd.write_text("Ada B-PER\nsang B-SONG\n", encoding="utf-8")
    refused = run("train", SAMPLE / "ner.conll", "--val", odd, "--out", tmp_path / "r2", *args)
    assert refused.exit_code == 2 and "odd.conll: tags the training data never has: B-SONG" in refused.stderr


# --- CoNLL-U through the command line ------------------------------------------------------------

WORDS = [("the", "DET", "DT"), ("a", "DET", "DT"), ("cat", "NOUN", "NN"), ("dogs", "NOUN", "NNS"),
         ("sat", "VERB", "VBD"), ("runs", "VERB", "VBZ"), ("here", "ADV", "RB")]  # fmt: skip


def _conllu(path: Path, n: int) -> Path:
    rows = []
    for k in range(n):
        det, noun, verb = WORDS[k % 2], WORDS[2 + k % 2], WORDS[4 + (k // 2) % 2]
        words = [det, noun, verb, WORDS[6]][: 3 + k % 2]
        rows.append(f"# sent_id = {k + 1}")
        for i, (form, upos, xpos) in enumerate(words, start=1):
            rows.append(f"{i}\t{form}\t{form}\t{upos}\t{xpos}\t_\t{max(0, i - 1)}\tdep\t_\t_")
        rows.append("")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("field", "tag"), [("upos", "NOUN"), ("xpos", "NNS")])
def test_conllu_trains_through_the_cli_on_the_chosen_field(tmp_path, field, tag):
    data, out = _conllu(tmp_path / "toy.conllu", 40), tmp_path / "run"
    args = ["--hidden-size", 8, "--embed-size", 4, "--steps", 40, "--eval-every", 20, "--device", "cpu"]
    result = run("train", data, "--tag-field", field, "--out", out, *args)
    assert result.exit_code == 0, result.output
    assert "plain scheme" in result.stderr and f"{tag} " in result.stderr
    closing = next(line for line in result.stderr.splitlines() if "most-frequent-tag baseline" in line)
    assert closing.count("token accuracy") == 2  # the model's and the baseline's, each said once
    evaluated = run("eval", out, data, "--tag-field", field, "--json")
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["baseline"]["token_accuracy"] == 1.0  # every word has one tag here


def test_a_tag_the_model_never_saw_is_named_and_counted_wrong_at_eval(tag_run, tmp_path):
    out, _ = tag_run
    odd = tmp_path / "odd.conll"
    odd.write_text("Ada B-SONG\nsang I-SONG\n\nLondon B-SONG\n", encoding="utf-8")
    result = run("eval", out, odd, "--json")
    assert result.exit_code == 0, result.output
    assert "tags the model never saw (always counted wrong): B-SONG, I-SONG" in result.stderr
    doc = json.loads(result.stdout)
    assert doc["unseen_tags"] == ["B-SONG", "I-SONG"]
    assert doc["model"]["token_accuracy"] == 0.0 and doc["baseline"]["token_accuracy"] == 0.0
    assert "Traceback" not in result.output


def test_conllu_the_parser_rejects_is_one_line_with_the_file_and_line(tmp_path):
    bad = _conllu(tmp_path / "bad.conllu", 3)
    lines = bad.read_text(encoding="utf-8").splitlines()
    lines[7] = lines[7].replace("\t1\tdep", "\tzz\tdep")  # a HEAD that is not a number
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run("train", bad, "--out", tmp_path / "r")
    assert result.exit_code == 2 and "Traceback" not in result.output
    (message,) = [line for line in result.stderr.splitlines() if "bad.conllu" in line]
    assert "bad.conllu:8: not valid CoNLL-U" in message and "head" in message
    short = _conllu(tmp_path / "short.conllu", 2)
    short.write_text(short.read_text(encoding="utf-8").replace("\tthe\tthe\tDET\tDT\t_\t0\tdep\t_\t_", "\tthe\tDET"))
    result = run("train", short, "--out", tmp_path / "r2")
    assert result.exit_code == 2 and "short.conllu:2: 3 tab-separated columns, CoNLL-U has 10" in result.stderr


def test_the_best_checkpoint_is_the_step_of_the_best_entity_f1(tag_run):
    from best_metric_checks import check_best_by_metric

    out, result = tag_run
    best = check_best_by_metric(out, "entity F1")
    assert f"best validation entity F1 {best['val_metric']:.4f}" in result.stderr
    assert '"metric_name": "entity F1"' in run("inspect", out, "--json").stdout


# --- the tag column, time budgets, inspect and streaming predict ----------------------------------


def test_a_constant_last_column_is_skipped_for_the_tags_and_said(tmp_path):
    rows = "EU B-ORG 0\nrejects O 0\n\nPeter B-PER 0\nBlackburn I-PER 0\n"
    (tmp_path / "three.txt").write_text(rows, encoding="utf-8")
    corpus = read_corpus(str(tmp_path / "three.txt"))
    assert [s.tags for s in corpus.sentences] == [["B-ORG", "O"], ["B-PER", "I-PER"]]
    assert corpus.tag_col == 2 and "tags read from column 2" in corpus.notes[0]
    assert read_corpus(str(tmp_path / "three.txt"), tag_col=3).sentences[0].tags == ["0", "0"]
    (tmp_path / "four.txt").write_text("EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n", encoding="utf-8")
    varying = read_corpus(str(tmp_path / "four.txt"))  # the last column varies: it holds the tags
    assert varying.sentences[0].tags == ["B-ORG", "O"] and varying.tag_col is None and not varying.notes


def test_a_line_holding_only_a_byte_order_mark_is_blank():
    sentences = read_conll("Dubbz\tB-person\n!\tO\n\ufeff\n", "emerging.dev.conll")  # how WNUT-17's dev file ends
    assert [s.tags for s in sentences] == [["B-person", "O"]]


def test_a_time_budget_replaces_the_default_steps_and_a_large_validation_is_spaced_out():
    from rnncli.tasks.tag.options import TagSettings

    assert TagSettings.resolve({}).train_config().steps == 600
    assert TagSettings.resolve({"time": "5m"}).train_config().steps is None
    assert TagSettings.resolve({"epochs": 2.0}).train_config().steps is None
    assert TagSettings.resolve({"time": "5m", "steps": 50}).train_config().steps == 50
    settings = TagSettings.resolve({})
    cfg = settings.train_config()
    settings.follow_the_data(cfg, val_tokens=51_362, tokens_per_step=232.0)
    assert cfg.eval_every == 700  # 3 x 51,362 validation tokens / 232 tokens a step, in hundreds
    small = settings.train_config()
    settings.follow_the_data(small, val_tokens=900, tokens_per_step=150.0)
    assert small.eval_every == 100
    chosen = TagSettings.resolve({"eval_every": 10})
    kept = chosen.train_config()
    chosen.follow_the_data(kept, val_tokens=51_362, tokens_per_step=232.0)
    assert kept.eval_every == 10


def _with_meta(run_dir: Path, target: Path, **changes) -> Path:
    """A copy of a run's checkpoint with parts of its metadata replaced."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(run_dir / "model.safetensors"), "pt") as handle:
        meta, tensors = handle.metadata(), {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
    doc = json.loads(meta["rnncli"])
    for key, value in changes.items():
        doc[key] = {**doc[key], **value}
    save_file(tensors, str(target), metadata={**meta, "rnncli": json.dumps(doc)})
    return target


def test_inspect_draws_a_tagger_as_a_table_and_json_with_the_flag(tag_run, tmp_path):
    out, _ = tag_run
    shown = run("inspect", out)
    assert shown.exit_code == 0, shown.output
    text = shown.stdout
    assert "tag, BIO scheme, CRF head" in text and "B-PER (" in text and "bidirectional 1 x 32" in text
    assert "best validation  entity F1" in text and "(entity F1)" in text and "training curve" in text
    assert not text.lstrip().startswith("{")
    document = json.loads(run("inspect", out, "--json").stdout)
    assert document["tag_counts"]["O"] > document["tag_counts"]["B-PER"] > 0
    damaged = _with_meta(out, tmp_path / "odd.safetensors", data={"tag_counts": {"O": "many"}, "sentences": "x"})
    odd = run("inspect", damaged)  # a checkpoint is untrusted: odd counts are shown as '?', not a traceback
    assert odd.exit_code == 0 and "O (?)" in odd.stdout and "? sentences" in odd.stdout, odd.output
    data = run("inspect", SAMPLE / "ner.conll")
    assert "900 sentences, 8,812 tokens" in data.stdout and "BIO scheme" in data.stdout and "B-PER" in data.stdout
    assert json.loads(run("inspect", SAMPLE / "ner.conll", "--json").stdout)["kind"] == "tagged"


@pytest.mark.skipif(sys.platform == "win32", reason="select() waits on sockets only on Windows")
def test_predict_answers_each_line_of_a_pipe_before_stdin_is_closed(tag_run):
    import os
    import select
    import subprocess

    out, _ = tag_run
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    command = [sys.executable, "-m", "rnncli", "predict", str(out)]
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) as p:
        try:
            for line in (b"Ada Lovelace moved to London .\n", b"Kyoto\n"):
                p.stdin.write(line)
                p.stdin.flush()
                ready, _, _ = select.select([p.stdout], [], [], 120)
                assert ready, "no answer while stdin is still open"
                assert p.stdout.readline().decode().split()[0].startswith(line.split()[0].decode() + "/")
        finally:
            p.stdin.close()
            p.wait(60)
    assert p.returncode == 0


def test_a_word_seen_once_is_the_unknown_word_by_default():
    from rnncli.tasks.tag.options import TagSettings

    read = TagSettings.resolve({}).read
    vocab = Vocab.build([Sentence(["a", "a", "b"], ["O", "O", "O"])], min_count=read.min_count, scheme=PLAIN)
    assert vocab.word_ids(["a", "b"]) == [2, 1]  # b, seen once, is <unk> (id 1); --min-count 1 keeps it
    assert TagSettings.resolve({"min_count": 1}).read.min_count == 1
