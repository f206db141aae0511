"""rnn train --task classify, rnn eval, rnn predict and rnn inspect on a classifier: what users rely on."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from rnncli.cli import app
from rnncli.core.labelled import ReadOptions, read_examples, stratified_split
from rnncli.tasks.classify.config import ClassifierConfig
from rnncli.tasks.classify.model import Classifier
from tests.conftest import rewrite_checkpoint

TINY = ["--hidden-size", "24", "--embed-size", "16", "--batch-size", "16", "--device", "cpu"]
COLOURS = ["red", "green", "blue"]
FILLER = ["the", "a", "big", "small", "old", "new", "box", "car", "hat", "dog", "sat", "ran"]


def run(*args, input=None):
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


def toy_rows(count: int, seed: int) -> list[tuple[str, str]]:
    """The label is the one colour word hidden among filler words (learnable; the majority is a third)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        colour = rng.choice(COLOURS)
        words = [rng.choice(FILLER) for _ in range(rng.randint(2, 8))]
        words.insert(rng.randint(0, len(words)), colour)
        rows.append((" ".join(words), colour))
    return rows


def write_csv(path: Path, rows, header=("text", "label")) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("classify")
    train = write_csv(folder / "train.csv", toy_rows(300, 1))
    test = write_csv(folder / "test.csv", toy_rows(90, 2))
    result = run("train", train, "--task", "classify", "--out", folder / "run", "--steps", "150", *TINY)
    assert result.exit_code == 0, result.output
    return folder / "run", test, result


def test_the_model_learns_well_above_the_majority_class(trained):
    run_dir, test, result = trained
    assert "columns text='text', label='label'" in result.stderr
    assert "majority class" in result.stderr and "tf-idf + logistic regression" in result.stderr
    scored = run("eval", run_dir, test, "--json")
    assert scored.exit_code == 0, scored.output
    document = json.loads(scored.stdout)
    majority = next(v for k, v in document["baselines"].items() if k.startswith("majority"))
    assert majority["accuracy"] < 0.5
    assert document["model"]["accuracy"] > 0.9
    assert sum(map(sum, document["model"]["confusion"])) == 90


def test_eval_report_has_the_per_class_table_and_confusion_matrix(trained):
    run_dir, test, _ = trained
    scored = run("eval", run_dir, test)
    assert scored.exit_code == 0, scored.output
    for word in ("precision", "recall", "macro f1", "confusion matrix", "blue", "expected calibration error"):
        assert word in scored.stdout


def test_predict_writes_a_known_label_and_probability_per_line_in_order(trained):
    run_dir, _, _ = trained
    result = run("predict", run_dir, input="the red box\nblue dog sat\nold green hat\n")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["red", "blue", "green"]
    assert all(0.0 <= float(line.split("\t")[1]) <= 1.0 for line in lines)


def test_predict_jsonl_top_k_is_sorted_and_sums_below_one(trained, tmp_path):
    run_dir, _, _ = trained
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("a green car\nthe dog\n", encoding="utf-8")
    result = run("predict", run_dir, inputs, "--format", "jsonl", "--top-k", "3")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records[0]["text"] == "a green car" and records[0]["label"] == "green"
    probabilities = [t["probability"] for t in records[1]["top"]]
    assert probabilities == sorted(probabilities, reverse=True) and abs(sum(probabilities) - 1) < 1e-3
    assert run("predict", run_dir, inputs, "--top-k", "4").exit_code == 2


def test_inspect_summarises_the_run(trained):
    run_dir, _, _ = trained
    result = run("inspect", run_dir, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["task"] == "classify" and summary["classes"] == sorted(COLOURS)
    confusion = summary["validation"]["confusion"]
    assert len(confusion) == 3 and sum(map(sum, confusion)) == summary["validation"]["examples"]
    shown = run("inspect", run_dir)
    assert shown.exit_code == 0, shown.output
    assert "validation confusion" in shown.stdout and "one label" in shown.stdout and "{" not in shown.stdout


def test_inspect_plot_draws_the_curve_and_confusion_matrix(trained, tmp_path):
    pytest.importorskip("matplotlib")
    run_dir, _, _ = trained
    result = run("inspect", run_dir, "--plot", tmp_path / "confusion.png")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "confusion.png").read_bytes()[:4] == b"\x89PNG"


def test_eval_plot_draws_the_confusion_matrix_it_reports(trained, tmp_path, trained_run):
    pytest.importorskip("matplotlib")
    from rnncli.cli.render.plots import _evaluation_confusion

    run_dir, test, _ = trained
    result = run("eval", run_dir, test, "--json", "--plot", tmp_path / "confusion.png")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    document = json.loads(result.stdout)
    assert _evaluation_confusion(document) == (document["model"]["classes"], document["model"]["confusion"])
    tagger = {"confusion": {"O": {"O": 5, "B-PER": 1}, "B-PER": {"B-PER": 2}}}
    assert _evaluation_confusion(tagger) == (["B-PER", "O"], [[2, 0], [1, 5]])
    language_model = run("eval", trained_run, test, "--plot", tmp_path / "lm.png")
    assert language_model.exit_code == 2 and "confusion matrix of a classifier or a tagger" in language_model.stderr
    assert not (tmp_path / "lm.png").exists()


def test_resume_continues_to_the_new_budget(trained, tmp_path):
    _, test, _ = trained
    data = write_csv(tmp_path / "train.csv", toy_rows(100, 3))
    first = run("train", data, "--task", "classify", "--out", tmp_path / "run", "--steps", "8", *TINY)
    assert first.exit_code == 0, first.output
    again = run("train", "--resume", tmp_path / "run", "--steps", "16")
    assert again.exit_code == 0, again.output
    from rnncli.tasks.classify.checkpoint import load_classifier

    assert load_classifier(tmp_path / "run" / "last.safetensors").meta["history"]["step"] == 16


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn", "rnn-relu", "gru-textbook"])
@pytest.mark.parametrize("pool", ["last", "mean", "max", "attention"])
def test_padding_never_changes_a_prediction(cell, pool):
    torch.manual_seed(0)
    impl = "reference" if cell == "gru-textbook" else "fused"
    config = ClassifierConfig(
        cell=cell, impl=impl, vocab_size=20, num_classes=3, embed_size=8, hidden_size=8, num_layers=2, pool=pool
    )
    model = Classifier(config).eval()
    short, long = torch.tensor([[3, 4, 5]]), torch.tensor([[6, 7, 8, 9, 10, 11, 12]])
    alone = model(short, torch.tensor([3]))
    batch = torch.zeros(2, 7, dtype=torch.long)
    batch[0, :3], batch[1] = short[0], long[0]
    together = model(batch, torch.tensor([3, 7]))
    torch.testing.assert_close(alone[0], together[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn-relu"])
def test_fused_and_reference_cells_give_the_same_probabilities_and_gradients(cell):
    """The fused path runs both directions as one bidirectional call on the CPU; it must be the same model."""
    torch.manual_seed(0)
    sizes = dict(cell=cell, vocab_size=20, num_classes=2, embed_size=8, hidden_size=8, num_layers=2, dropout=0.0)
    fused = Classifier(ClassifierConfig(**sizes))
    reference = Classifier(ClassifierConfig(impl="reference", **sizes))
    reference.load_state_dict(fused.state_dict())
    ids, lengths = torch.tensor([[1, 2, 3, 4], [5, 6, 0, 0]]), torch.tensor([4, 2])
    outputs = [model(ids, lengths) for model in (fused, reference)]
    torch.testing.assert_close(*outputs, atol=1e-5, rtol=1e-5)
    for output in outputs:
        output.square().sum().backward()
    for (name, a), b in zip(fused.named_parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-5, rtol=1e-4, msg=name)


# --- reading data ---------------------------------------------------------------------


def test_csv_with_quoted_newlines_and_commas_and_columns_from_the_header(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text('id,review,stars\n1,"good, really\ngood",5\n2,bad,1\n', encoding="utf-8")
    examples = read_examples(str(path), ReadOptions())
    assert examples.columns == ("review", "stars")
    assert examples.texts == ["good, really\ngood", "bad"] and examples.labels == ["5", "1"]


def test_tsv_with_named_columns(tmp_path):
    path = tmp_path / "r.tsv"
    path.write_text("a\tb\tc\nfine film\tpos\tx\nawful\tneg\ty\n", encoding="utf-8")
    examples = read_examples(str(path), ReadOptions(text_col="a", label_col="b"))
    assert examples.texts == ["fine film", "awful"] and examples.labels == ["pos", "neg"]


def test_folder_per_class_fasttext_and_jsonl(tmp_path):
    for label, text in (("positive", "great"), ("negative", "dull")):
        (tmp_path / "data" / label).mkdir(parents=True)
        (tmp_path / "data" / label / "1.txt").write_text(text, encoding="utf-8")
    folder = read_examples(str(tmp_path / "data"), ReadOptions())
    assert sorted(zip(folder.labels, folder.texts, strict=True)) == [("negative", "dull"), ("positive", "great")]
    fasttext = tmp_path / "train.txt"
    fasttext.write_text("__label__pos great film\n__label__neg dull film\n", encoding="utf-8")
    assert read_examples(str(fasttext), ReadOptions()).labels == ["pos", "neg"]
    jsonl = tmp_path / "train.jsonl"
    jsonl.write_text('{"text": "great", "label": "pos"}\n{"text": "dull", "label": "neg"}\n', encoding="utf-8")
    assert read_examples(str(jsonl), ReadOptions()).texts == ["great", "dull"]


def test_stratified_split_keeps_each_class_share():
    from rnncli.core.labelled import Examples

    examples = Examples(["t"] * 100, ["a"] * 80 + ["b"] * 20, "x")
    _, val = stratified_split(examples, 0.1, seed=1)
    assert sorted(examples.labels[i] for i in val) == ["a"] * 8 + ["b"] * 2


BAD_INPUTS = [
    ("one.csv", "text,label\ngood,pos\nbad,pos\n", "needs two classes"),
    ("ragged.csv", "text,label\ngood,pos\nbad,neg,extra\n", "line 3: 3 fields"),
    ("numbers.csv", "text,label\n1,pos\n2,neg\n3,pos\n", "holds numbers, not text"),
    ("empty.txt", "__label__pos\n", "without text"),
    ("nolabel.txt", "just some text\n", "no __label__"),
]


@pytest.mark.parametrize(("name", "content", "message"), BAD_INPUTS)
def test_bad_input_is_one_line_and_exit_2(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    result = run("train", path, "--task", "classify", "--out", tmp_path / "run", "--steps", "1", *TINY)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "run" / "model.safetensors").exists()


def test_undecodable_bytes_and_unknown_column_are_named(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(b"text,label\ncaf\xe9,pos\nbad,neg\n")
    result = run("train", path, "--task", "classify", "--steps", "1", "--out", tmp_path / "r", *TINY)
    assert result.exit_code == 2 and "line 2" in result.stderr and "UTF-8" in result.stderr
    good = write_csv(tmp_path / "good.csv", toy_rows(10, 1))
    result = run("train", good, "--task", "classify", "--text-col", "review", "--out", tmp_path / "r2", *TINY)
    assert result.exit_code == 2 and "--text-col review" in result.stderr and "text, label" in result.stderr


def test_case_variants_and_empty_texts_are_reported(tmp_path):
    rows = toy_rows(40, 4) + [("", "red"), ("some text", "Red")]
    path = write_csv(tmp_path / "t.csv", rows)
    result = run("train", path, "--task", "classify", "--steps", "2", "--out", tmp_path / "r", *TINY)
    assert result.exit_code == 0, result.output
    assert "differ only in case" in result.stderr and "skipped 1 example(s) with an empty text" in result.stderr
    strict = run("train", path, "--task", "classify", "--strict", "--out", tmp_path / "r2", *TINY)
    assert strict.exit_code == 2 and "empty text" in strict.stderr


def test_a_damaged_checkpoint_is_refused(trained, tmp_path):
    import shutil

    from safetensors import safe_open
    from safetensors.torch import save_file

    run_dir, _, _ = trained
    with safe_open(str(run_dir / "model.safetensors"), framework="pt") as handle:
        meta, tensors = handle.metadata(), {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
    document = json.loads(meta["rnncli"])
    document["classes"] = document["classes"][:2]
    shutil.copytree(run_dir, tmp_path / "bad")
    save_file(tensors, str(tmp_path / "bad" / "model.safetensors"), metadata={**meta, "rnncli": json.dumps(document)})
    result = run("predict", tmp_path / "bad" / "model.safetensors", input="red\n")
    assert result.exit_code == 2 and "metadata is damaged" in result.stderr


# --- multi-label ----------------------------------------------------------------------


def toy_multi_label(count: int, seed: int) -> list[tuple[str, list[str]]]:
    """One or two colour words among filler; the labels are the colours present."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        colours = rng.sample(COLOURS, rng.choice([1, 1, 2]))
        words = [rng.choice(FILLER) for _ in range(rng.randint(2, 6))]
        for colour in colours:
            words.insert(rng.randint(0, len(words)), colour)
        rows.append((" ".join(words), sorted(colours)))
    return rows


def write_fasttext(path: Path, rows) -> Path:
    lines = [" ".join(f"__label__{c}" for c in labels) + " " + text for text, labels in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def multi_trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("multi")
    train = write_fasttext(folder / "train.txt", toy_multi_label(400, 3))
    test = write_csv(folder / "test.csv", [(t, ";".join(c)) for t, c in toy_multi_label(90, 4)])
    result = run("train", train, "--task", "classify", "--out", folder / "run", "--steps", "200", *TINY)
    assert result.exit_code == 0, result.output
    return folder / "run", test, result


def test_two_labels_train_a_multi_label_model_that_learns(multi_trained):
    run_dir, test, result = multi_trained
    assert "multi-label" in result.stderr and "decision threshold" in result.stderr
    scored = run("eval", run_dir, test, "--json")
    assert scored.exit_code == 0, scored.output
    model = json.loads(scored.stdout)["model"]
    assert model["multi_label"] and all(0 < t < 1 for t in model["thresholds"])
    assert model["micro_f1"] > 0.9 and model["subset_accuracy"] > 0.8
    majority = json.loads(scored.stdout)["baselines"]["per-label majority"]
    assert model["subset_accuracy"] > majority["accuracy"] + 0.3
    report = run("eval", run_dir, test)
    assert "subset accuracy" in report.stdout and "micro f1" in report.stdout
    shown = run("inspect", run_dir)
    assert "multi-label, thresholds blue" in shown.stdout


def test_multi_label_predict_prints_every_label_above_the_threshold(multi_trained):
    run_dir, _, _ = multi_trained
    result = run("predict", run_dir, "-", input="the red box sat blue\nthe green dog\n")
    assert result.exit_code == 0, result.output
    first, second = result.stdout.splitlines()
    assert sorted(first.split("\t")[0::2]) == ["blue", "red"]
    assert second.split("\t")[0::2] == ["green"]
    lines = run("predict", run_dir, "-", "--format", "jsonl", input="a red hat\n")
    assert [x["label"] for x in json.loads(lines.stdout)["labels"]] == ["red"]


def test_a_label_whose_best_threshold_differs_gets_its_own():
    from rnncli.tasks.classify.metrics import choose_threshold, choose_thresholds

    rng = np.random.default_rng(0)
    gold = rng.random((200, 2)) < 0.5
    # label 0 is under-confident (positives near 0.3, negatives near 0.1); label 1 over-confident (0.9 and 0.6)
    probs = np.where(gold, [0.3, 0.9], [0.1, 0.6]) + rng.normal(0, 0.02, gold.shape)
    low, high = choose_thresholds(gold, probs)
    assert 0.1 < low <= 0.3 and 0.6 < high <= 0.9
    shared = choose_threshold(gold, probs)
    assert not (0.1 < shared <= 0.3 and 0.6 < shared <= 0.9)  # no one threshold serves both


def test_predict_uses_each_labels_threshold_and_old_runs_with_one_still_load(multi_trained, tmp_path):
    run_dir, test, _ = multi_trained
    saved = json.loads(safe_open_meta(run_dir / "model.safetensors"))
    assert len(saved["thresholds"]) == len(saved["classes"])
    strict = tmp_path / "strict.safetensors"
    blue = saved["classes"].index("blue")
    rewrite_checkpoint(run_dir / "model.safetensors", strict, meta=lambda m: m["thresholds"].__setitem__(blue, 0.999))
    result = run("predict", strict, "-", input="the red box sat blue\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.split("\t")[0::2] == ["red"]  # blue's probability is below its own threshold now
    old = tmp_path / "old.safetensors"
    rewrite_checkpoint(run_dir / "model.safetensors", old, meta=lambda m: m.pop("thresholds"))
    result = run("predict", old, "-", input="the red box sat blue\n")
    assert result.exit_code == 0, result.output
    assert sorted(result.stdout.split("\t")[0::2]) == ["blue", "red"]
    assert run("eval", old, test).exit_code == 0
    shown = run("inspect", old)
    assert f"thresholds blue {saved['threshold']:.2f}" in shown.stdout


def safe_open_meta(path: Path) -> str:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return handle.metadata()["rnncli"]


def test_a_semicolon_label_cell_and_a_jsonl_list_read_as_several_labels(tmp_path):
    path = write_csv(tmp_path / "m.csv", [("red and blue", "blue; red"), ("green", "green")])
    examples = read_examples(str(path), ReadOptions())
    assert examples.multi_label and examples.labels == ["blue;red", "green"]
    assert examples.counts() == {"blue": 1, "red": 1, "green": 1}
    jsonl = tmp_path / "m.jsonl"
    jsonl.write_text('{"text": "x y", "labels": ["b", "a"]}\n{"text": "z", "labels": ["a"]}\n', encoding="utf-8")
    assert read_examples(str(jsonl), ReadOptions()).labels == ["a;b", "a"]


def test_eval_and_predict_take_the_columns_their_errors_advise(tmp_path, trained):
    """An eval or predict file whose columns cannot be guessed says --text-col, and both commands take it."""
    run_dir = trained[0]
    rows = [(f"n{i}", text, label) for i, (text, label) in enumerate(toy_rows(4, 3))]
    odd = write_csv(tmp_path / "odd.csv", rows, header=("id", "words", "colour"))
    guessed = run("eval", run_dir, odd)
    assert guessed.exit_code == 2 and "--text-col" in guessed.stderr
    named = run("eval", run_dir, odd, "--text-col", "words", "--label-col", "colour", "--json")
    assert named.exit_code == 0, named.output
    assert sum(map(sum, json.loads(named.stdout)["model"]["confusion"])) == 4
    predicted = run("predict", run_dir, odd, "--text-col", "words")
    assert predicted.exit_code == 0, predicted.output
    assert len(predicted.stdout.splitlines()) == 4


def test_the_best_checkpoint_is_the_step_of_the_best_macro_f1(trained):
    from best_metric_checks import check_best_by_metric

    run_dir, _, result = trained
    best = check_best_by_metric(run_dir, "macro F1")
    assert f"best validation macro F1 {best['val_metric']:.4f}" in result.stderr
    shown = run("inspect", run_dir)
    assert f"macro F1 {best['val_metric']:.4f} at step {best['step']}" in " ".join(shown.stdout.split())


def test_a_multi_label_run_is_judged_by_micro_f1_at_its_threshold(multi_trained):
    from best_metric_checks import check_best_by_metric

    check_best_by_metric(multi_trained[0], "micro F1")
