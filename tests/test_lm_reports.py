"""The language model's reports, advice and output manners as a new user meets them (issue 21), through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from conftest import REPETITIVE
from typer.testing import CliRunner

from rnncli.cli import app

runner = CliRunner()

QUICK = ["--hidden-size", "16", "--num-layers", "1", "--embed-size", "8", "--seq-len", "16", "--batch-size", "4"]
QUICK += ["--device", "cpu"]


def invoke(*args: str, cwd: Path | None = None, stdin: str | None = None):
    """``rnn ...`` in this process (fast); stdout and stderr are captured apart, as a pipe would see them."""
    old, argv = Path.cwd(), sys.argv
    try:
        if cwd is not None:
            os.chdir(cwd)
        sys.argv = ["rnn", *args]  # what a run records as its command
        return runner.invoke(app, list(args), input=stdin)
    finally:
        os.chdir(old)
        sys.argv = argv


def rnn(*args: str, cwd: Path | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    """``python -m rnncli ...`` in a subprocess, its stdout and stderr piped (not a terminal)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("COLUMNS", None)
    return subprocess.run(
        [sys.executable, "-m", "rnncli", *args], capture_output=True, text=True, env=env, cwd=cwd, input=stdin
    )


def test_a_folder_with_symlinks_and_a_hidden_parent_is_read_once_by_inspect_and_train(tmp_path):
    folder = tmp_path / ".fortunes" / "package"
    folder.mkdir(parents=True)
    (folder / "chinese").write_text("你好世界。\n" * 30, encoding="utf-8")
    (folder / "chinese.u8").symlink_to("chinese")
    (folder / "english").write_text("hello world.\n" * 30, encoding="utf-8")
    inspected = invoke("inspect", str(folder), "--json")
    assert inspected.exit_code == 0, inspected.output
    summary = json.loads(inspected.stdout)
    assert summary["files"] == 2 and summary["characters"] == 30 * 6 + 30 * 13
    command = summary["suggested_model"]["command"].split()
    assert command[:3] == ["rnn", "train", str(folder)]
    trained = invoke("train", str(folder), *QUICK, "--steps", "2", "--out", "run", cwd=tmp_path)
    assert trained.exit_code == 0, trained.output
    config = json.loads(invoke("inspect", "run", "--json", cwd=tmp_path).stdout)
    assert (config["data"]["num_files"], config["data"]["num_chars"]) == (2, summary["characters"])


def test_the_note_of_a_taken_run_folder_comes_after_the_data_is_read(tmp_path):
    (tmp_path / "runs" / "corpus").mkdir(parents=True)
    (tmp_path / "runs" / "corpus" / "config.yaml").write_text("model: {}\n", encoding="utf-8")
    (tmp_path / "corpus.txt").write_bytes(b"caf\xe9 au lait\n" * 20)  # cp1252, not UTF-8
    failed = invoke("train", "corpus.txt", *QUICK, "--steps", "2", cwd=tmp_path)
    assert failed.exit_code == 2 and "not valid UTF-8" in failed.output
    assert "instead" not in failed.output and not (tmp_path / "runs" / "corpus-2").exists()
    trained = invoke("train", "corpus.txt", *QUICK, "--steps", "2", "--encoding", "cp1252", cwd=tmp_path)
    assert trained.exit_code == 0, trained.output
    lines = trained.output.splitlines()
    note = next(i for i, line in enumerate(lines) if "writing to runs/corpus-2 instead" in line)
    read = next(i for i, line in enumerate(lines) if line.startswith("corpus.txt: "))
    assert read < note


def test_piped_output_is_not_wrapped_and_the_config_echo_shows_what_matters(tmp_path, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    folder = tmp_path / ("a-folder-with-a-name-long-enough-to-pass-eighty-columns-" * 2)
    folder.mkdir()
    (folder / "corpus.txt").write_text("the cat sat on the mat. " * 80, encoding="utf-8")
    inspected = invoke("inspect", str(folder / "corpus.txt"))
    assert inspected.exit_code == 0, inspected.output
    command = next(line.strip() for line in inspected.stdout.splitlines() if line.strip().startswith("rnn train"))
    assert command.split()[2:4] == [str(folder / "corpus.txt"), "--cell"]  # one line, never split mid-flag
    assert command.split()[-2] == "--embed-size"
    trained = invoke("train", str(folder / "corpus.txt"), *QUICK, "--steps", "2", "--out", "run", cwd=tmp_path)
    assert trained.exit_code == 0, trained.output
    echo = trained.output.split("\n  text:")[1].split("\n", 4)
    assert "tokenizer: char" in echo[1] and "vocab_size" not in trained.output and "min_count" not in trained.output
    assert "epochs" not in trained.output  # unset settings are not echoed
    # 2 steps of 64 tokens on 90% of 1,920 characters: 0.074 of a pass, not 0.0 (nor 0.1)
    assert "budget: 2 steps of 4 x 16 tokens; passes over the data: 0.074\n" in trained.output
    assert "128 tokens (0.067 passes over the data)" in invoke("inspect", "run", cwd=tmp_path).stdout
    word = invoke("train", str(folder / "corpus.txt"), *QUICK, "--steps", "1", "--tokenizer", "word", "--out", "w",
                  cwd=tmp_path)  # fmt: skip
    assert "min_count: 1" in word.output and "vocab_size" not in word.output


def test_resume_from_elsewhere_says_what_it_does_and_keeps_the_first_command(tmp_path):
    (tmp_path / "work").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "work" / "corpus.txt").write_text(REPETITIVE[:2000], encoding="utf-8")
    first = invoke("train", "corpus.txt", *QUICK, "--steps", "2", "--out", "run", cwd=tmp_path / "work")
    assert first.exit_code == 0, first.output
    resumed = invoke("train", "--resume", "../work/run", "--steps", "4", cwd=tmp_path / "elsewhere")
    assert resumed.exit_code == 0, resumed.output
    assert "resuming ../work/run at step 2 of 4" in resumed.output
    summary = json.loads(invoke("inspect", str(tmp_path / "work" / "run"), "--json").stdout)
    assert summary["command"][:3] == ["rnn", "train", "corpus.txt"]
    assert summary["resume_commands"] == [["rnn", "train", "--resume", "../work/run", "--steps", "4"]]
    assert (
        "resumed with     rnn train --resume ../work/run --steps 4"
        in invoke("inspect", "work/run", cwd=tmp_path).stdout
    )
    (tmp_path / "work" / "corpus.txt").rename(tmp_path / "moved.txt")
    lost = invoke("train", "--resume", "../work/run", "--steps", "6", cwd=tmp_path / "elsewhere")
    assert lost.exit_code == 2
    assert "the run's stored text " in lost.output and "corpus.txt is not there; give DATA again" in lost.output
    again = invoke("train", "../moved.txt", "--resume", "../work/run", "--steps", "6", cwd=tmp_path / "elsewhere")
    assert again.exit_code == 0, again.output


def _drawn(monkeypatch) -> list:
    """The figures ``--plot`` draws, kept for the test to look at (and still written)."""
    from rnncli.cli.render import plots

    figures, save = [], plots.save_figure

    def keep(fig, path, plt, **kwargs):
        figures.append(fig)
        plt.figure(fig.number)  # still open after saving, for the test
        save(fig, path, _Unclosing(plt), **kwargs)

    monkeypatch.setattr(plots, "save_figure", keep)
    return figures


class _Unclosing:
    def __init__(self, plt):
        self.plt = plt

    def close(self, fig) -> None:
        pass


def test_compared_runs_are_plotted_in_bits_per_character_one_colour_each(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    (tmp_path / "corpus.txt").write_text(REPETITIVE[:3000], encoding="utf-8")
    for out, tokenizer in (("char", "char"), ("word", "word")):
        trained = invoke("train", "corpus.txt", *QUICK, "--steps", "4", "--eval-every", "2", "--tokenizer", tokenizer,
                         "--out", out, cwd=tmp_path)  # fmt: skip
        assert trained.exit_code == 0, trained.output
    figures = _drawn(monkeypatch)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shown = invoke("inspect", "char", "word", "--plot", "curves.png", cwd=tmp_path)
    assert shown.exit_code == 0, shown.output
    assert (tmp_path / "curves.png").stat().st_size > 0 and not caught and shown.stderr == ""
    loss = figures[0].axes[0]
    assert loss.get_ylabel() == "bits per character"
    legend = [t.get_text() for t in loss.get_legend().get_texts()]
    assert legend == ["A char: train", "A char: validation", "B word: train", "B word: validation"]
    lines = loss.get_lines()
    assert lines[0].get_color() == lines[1].get_color() != lines[3].get_color()
    records = [json.loads(line) for line in (tmp_path / "word" / "metrics.jsonl").read_text().splitlines()]
    validation = [line for line in lines if line.get_label() == "B word: validation"][0]
    assert list(validation.get_ydata()) == pytest.approx([r["val_bpc"] for r in records])


def test_a_curve_of_one_evaluation_is_drawn_as_points(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    (tmp_path / "corpus.txt").write_text(REPETITIVE[:2000], encoding="utf-8")
    assert invoke("train", "corpus.txt", *QUICK, "--steps", "2", "--out", "run", cwd=tmp_path).exit_code == 0
    figures = _drawn(monkeypatch)
    assert invoke("inspect", "run", "--plot", "curve.png", cwd=tmp_path).exit_code == 0
    for ax in figures[0].axes:
        for line in ax.get_lines():
            assert len(line.get_xdata()) == 1 and line.get_marker() not in ("None", "", None)


def test_the_frequency_plot_of_chinese_text_has_readable_labels_and_no_warnings(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    (tmp_path / "chinese.txt").write_text("你好世界，今天天气很好。\n" * 20, encoding="utf-8")
    figures = _drawn(monkeypatch)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shown = invoke("inspect", "chinese.txt", "--plot", "symbols.png", cwd=tmp_path)
    assert shown.exit_code == 0, shown.output
    assert not caught and shown.stderr == ""
    for label in figures[0].axes[0].get_xticklabels():
        text = label.get_text()
        if "U+" in text:  # no font on this system has the glyph: its code point
            assert text.startswith("U+") and all(ord(c) < 128 for c in text)
            continue
        fonts = [font_manager.findfont(font_manager.FontProperties(family=[f])) for f in label.get_fontfamily()]
        assert any(all(ord(c) in FT2Font(f).get_charmap() for c in text) for f in fonts), text
