"""What a new user of classify met on real files (issue 16): a CSV without a header, a `language` column."""

from __future__ import annotations

from typer.testing import CliRunner

from rnncli.cli import app

TINY = ("--embed-size", "8", "--hidden-size", "8")
ROWS = [("hello there my friend", "en"), ("hallo mein freund wie geht es", "de")] * 10


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_a_csv_without_a_header_is_refused_in_one_line(tmp_path):
    path = tmp_path / "nohead.csv"
    path.write_text("".join(f"{text},{label}\n" for text, label in ROWS), encoding="utf-8")
    result = run("train", path, "--task", "classify", "--steps", "1", "--out", tmp_path / "run", *TINY)
    assert result.exit_code == 2, result.output
    assert "line 1 looks like an example, not a header" in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "run" / "model.safetensors").exists()


def test_a_language_column_is_the_label_beside_an_id_column(tmp_path):
    path = tmp_path / "lang.csv"
    path.write_text("id,sentence,language\n" + "".join(f"{i},{t},{g}\n" for i, (t, g) in enumerate(ROWS)), "utf-8")
    result = run("train", path, "--task", "classify", "--steps", "1", "--out", tmp_path / "run", *TINY)
    assert result.exit_code == 0, result.output
    assert "label='language'" in result.stderr + result.output


def test_eval_on_a_file_without_labels_points_to_predict(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("text,label\n" + "".join(f"{t},{g}\n" for t, g in ROWS), "utf-8")
    assert run("train", path, "--task", "classify", "--steps", "1", "--out", tmp_path / "run", *TINY).exit_code == 0
    texts = tmp_path / "texts.csv"
    texts.write_text("text\nhello there\nhallo da\n", "utf-8")
    result = run("eval", tmp_path / "run", texts)
    assert result.exit_code == 2 and "no label column" in result.stderr and "rnn predict" in result.stderr
