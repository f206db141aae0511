"""The language model's reports, advice and output manners as a new user meets them (issue 21), through the CLI."""

from __future__ import annotations

import json
import math
import os
import re
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


def test_a_byte_model_scores_as_many_tokens_as_bytes_when_the_text_starts_mid_character(tmp_path):
    (tmp_path / "corpus.txt").write_text("café crème, déjà vu. " * 60, encoding="utf-8")
    trained = invoke("train", "corpus.txt", *QUICK, "--steps", "2", "--tokenizer", "byte", "--out", "run", cwd=tmp_path)
    assert trained.exit_code == 0, trained.output
    (tmp_path / "cut.txt").write_bytes("é au lait, déjà vu.\n".encode()[1:] * 3)  # starts inside "é"
    scored = invoke("eval", "run", "cut.txt", "--errors", "replace", "--json", cwd=tmp_path)
    assert scored.exit_code == 0, scored.output
    result = json.loads(scored.stdout)
    assert result["tokens"] == result["bytes"] == len("\ufffd au lait, déjà vu.\n".encode()) * 3 - 1
    assert result["bpb"] == pytest.approx(result["loss"] / math.log(2))


def test_eval_unknown_skip_reports_what_it_skipped_and_scores_per_scored_character(tmp_path):
    (tmp_path / "corpus.txt").write_text(REPETITIVE[:2000], encoding="utf-8")
    assert invoke("train", "corpus.txt", *QUICK, "--steps", "2", "--out", "run", cwd=tmp_path).exit_code == 0
    (tmp_path / "held.txt").write_text("the ZZ fox jumps over the laZy dog.", encoding="utf-8")
    scored = invoke("eval", "run", "held.txt", "--unknown", "skip", "--json", cwd=tmp_path)
    assert scored.exit_code == 0, scored.output
    result = json.loads(scored.stdout)
    assert result["skipped"] == {"tokens": 3, "chars": 3, "bytes": 3, "pieces": ["Z"]}
    assert (result["tokens"], result["chars"], result["unknown_tokens"]) == (31, 31, 0)
    assert result["bpc"] == pytest.approx(result["loss"] / math.log(2))
    text = invoke("eval", "run", "held.txt", "--unknown", "skip", cwd=tmp_path).stdout
    assert "skipped     3 characters (3 tokens) outside the vocabulary, not scored: 'Z'" in text
    lines = invoke("eval", "run", "held.txt", "--unknown", "skip", "--per-line", cwd=tmp_path).stdout
    assert json.loads(lines.splitlines()[0])["chars"] == 32


def test_eval_and_prime_file_read_text_as_the_model_was_trained_to(tmp_path):
    (tmp_path / "legacy.txt").write_bytes("café crème brûlée. ".encode("cp1252") * 60)
    trained = invoke("train", "legacy.txt", *QUICK, "--steps", "2", "--encoding", "cp1252", "--out", "run",
                     cwd=tmp_path)  # fmt: skip
    assert trained.exit_code == 0, trained.output
    scored = invoke("eval", "run", "legacy.txt", "--json", cwd=tmp_path)
    assert scored.exit_code == 0, scored.output
    assert json.loads(scored.stdout)["chars"] == len("café crème brûlée. ") * 60 - 1  # the first is context
    as_utf8 = invoke("eval", "run", "legacy.txt", "--encoding", "utf-8", cwd=tmp_path)
    assert as_utf8.exit_code == 2 and "not valid UTF-8" in as_utf8.output and "--encoding" in as_utf8.output
    replaced = invoke("eval", "run", "legacy.txt", "--encoding", "utf-8", "--errors", "replace", "--unknown", "skip",
                      cwd=tmp_path)  # fmt: skip
    assert replaced.exit_code == 0, replaced.output
    (tmp_path / "prompt.txt").write_bytes("crème ".encode("cp1252"))
    sampled = invoke("sample", "run", "--prime-file", "prompt.txt", "--length", "3", "--include-prime", cwd=tmp_path)
    assert sampled.exit_code == 0, sampled.output
    assert sampled.stdout.startswith("crème ")
    refused = invoke("sample", "run", "--encoding", "cp1252", cwd=tmp_path)
    assert refused.exit_code == 2 and "--prime-file" in refused.output


FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
# Modules whose messages only one command prints.
ONE_COMMAND = {
    "rnncli/cli/evaluate.py": "eval",
    "rnncli/tasks/language_model/scoring.py": "eval",
    "rnncli/cli/sample.py": "sample",
    "rnncli/tasks/language_model/sample_job.py": "sample",
    "rnncli/tasks/language_model/sampling.py": "sample",
    "rnncli/tasks/language_model/logit_processors.py": "sample",
    "rnncli/cli/predict.py": "predict",
    "rnncli/cli/forecast.py": "forecast",
    "rnncli/cli/train.py": "train",
}


def command_flags() -> dict[str, set[str]]:
    """Every command's long options, and the root's under ''."""
    import typer

    root = typer.main.get_command(app)

    def flags(command) -> set[str]:
        return {o for p in command.params for o in (*p.opts, *p.secondary_opts) if o.startswith("--")} | {"--help"}

    return {"": flags(root), **{name: flags(command) for name, command in root.commands.items()}}


def _strings(path: Path) -> list[tuple[int, str]]:
    """The string literals of a module (f-strings' literal parts included), docstrings left out."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_no_message_advises_a_flag_that_does_not_exist():
    """Every --flag in the package's strings is an option of some command, and of its command where one prints it."""
    per_command = command_flags()
    every = set().union(*per_command.values())
    root = Path(__file__).resolve().parents[1]
    wrong = []
    for path in sorted((root / "rnncli").rglob("*.py")):
        name = path.relative_to(root).as_posix()
        allowed = per_command[ONE_COMMAND[name]] if name in ONE_COMMAND else every
        wrong += [f"{name}:{line}: {flag}" for line, text in _strings(path) for flag in FLAG.findall(text)
                  if flag not in allowed]  # fmt: skip
    assert not wrong, "messages name options their command lacks:\n" + "\n".join(wrong)


@pytest.mark.parametrize(("run", "data"), [("lm_run", "story.txt"), ("forecast_run", "series.csv")])
def test_old_runs_say_where_they_resume(tmp_path, run, data):
    import shutil

    old = Path(__file__).resolve().parent / "fixtures" / "old_runs"
    shutil.copytree(old, tmp_path / "old")
    resumed = invoke("train", "--resume", f"old/{run}", f"old/{data}", "--steps", "30", cwd=tmp_path)
    assert resumed.exit_code == 0, resumed.output
    assert f"resuming old/{run} at step 20 of 30" in resumed.output
    summary = json.loads(invoke("inspect", f"old/{run}", "--json", cwd=tmp_path).stdout)
    assert summary["command"][:2] == ["rnn", "train"] and "--resume" not in summary["command"]
    assert summary["resume_commands"] == [["rnn", "train", "--resume", f"old/{run}", f"old/{data}", "--steps", "30"]]


def test_grad_flow_reads_data_as_the_model_was_trained_to_and_advises_no_flag_it_lacks(tmp_path):
    (tmp_path / "legacy.txt").write_bytes("café crème brûlée. ".encode("cp1252") * 60)
    trained = invoke("train", "legacy.txt", *QUICK, "--steps", "2", "--encoding", "cp1252", "--out", "run",
                     cwd=tmp_path)  # fmt: skip
    assert trained.exit_code == 0, trained.output
    measured = invoke("grad-flow", "run", "--data", "legacy.txt", "--steps-back", "8", "--windows", "1", cwd=tmp_path)
    assert measured.exit_code == 0, measured.output
    (tmp_path / "broken.txt").write_bytes(b"\x81\x8d\x8f\x90\x9d" * 20)  # undefined in cp1252
    refused = invoke("grad-flow", "run", "--data", "broken.txt", "--steps-back", "8", cwd=tmp_path)
    assert refused.exit_code == 2 and "not valid cp1252" in refused.output
    assert "--encoding" not in refused.output and "--errors" not in refused.output
