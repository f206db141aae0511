"""The task registry: one detection rule for every command that reads data, options refused by the task they
belong to, and a command line that starts without torch."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPETITIVE, rewrite_checkpoint
from typer.testing import CliRunner

from rnncli.cli import app
from rnncli.core.errors import CheckpointError, UsageError
from rnncli.tasks import all_tasks, detect, get_task

ROOT = Path(__file__).resolve().parents[1]
OLD = Path(__file__).resolve().parent / "fixtures" / "old_runs"
runner = CliRunner()
TINY_LM = [
    "--hidden-size",
    "16",
    "--num-layers",
    "1",
    "--embed-size",
    "8",
    "--seq-len",
    "16",
    "--batch-size",
    "4",
    "--steps",
    "2",
    "--device",
    "cpu",
    "--quiet",
]


@pytest.fixture
def old(tmp_path: Path) -> Path:
    """A copy of the old-run fixtures, so that nothing touches the committed folders."""
    shutil.copytree(OLD, tmp_path / "old")
    return tmp_path / "old"


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


# --- the detection rule ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, task",
    [
        ("lm_run", "language-model"),
        ("forecast_run", "forecast"),
        ("forecast_run/model.safetensors", "forecast"),
        ("lm_run/last.safetensors", "language-model"),
    ],
)
def test_a_run_folder_or_checkpoint_is_the_task_it_records(path, task):
    detection = detect(OLD / path)
    assert (detection.task.name, detection.run, detection.because) == (task, True, "run")


def test_a_run_that_records_no_task_is_a_language_model(tmp_path):
    lone = tmp_path / "before_tasks.safetensors"
    rewrite_checkpoint(OLD / "lm_run" / "model.safetensors", lone, meta=lambda m: m.pop("task"))
    assert detect(lone).task.name == "language-model" and detect(lone).run


def test_a_folder_with_only_resume_state_is_the_task_the_state_records(tmp_path):
    (tmp_path / "run").mkdir()
    shutil.copy(OLD / "forecast_run" / "last.state.safetensors", tmp_path / "run")
    assert detect(tmp_path / "run").task.name == "forecast"


@pytest.mark.parametrize(
    "path, task, because",
    [
        ("sales.csv", "forecast", "suffix"),
        ("SALES.TSV", "forecast", "suffix"),
        ("notes.txt", "language-model", "default"),
        ("corpus", "language-model", "default"),
        ("-", "language-model", "default"),
        (None, "language-model", "default"),
    ],
)
def test_data_is_claimed_by_its_suffix_else_a_language_model(path, task, because):
    detection = detect(path)
    assert (detection.task.name, detection.run, detection.because) == (task, False, because)


def test_task_names_the_task_of_data_and_must_agree_with_a_run():
    assert detect("sales.csv", task="language-model").task.name == "language-model"
    assert detect("notes.txt", task="forecast").because == "--task"
    with pytest.raises(UsageError, match="--task language-model: .*forecast_run is a forecast run; leave out --task"):
        detect(OLD / "forecast_run", task="language-model")
    with pytest.raises(UsageError, match=r"--task: unknown value 'sum' \(choose one of: language-model, forecast"):
        detect("notes.txt", task="sum")


def test_a_run_of_a_task_this_version_does_not_know_is_refused(tmp_path):
    newer = tmp_path / "newer.safetensors"
    rewrite_checkpoint(OLD / "lm_run" / "model.safetensors", newer, meta=lambda m: m.update(task="transcribe"))
    with pytest.raises(CheckpointError, match="a run of task 'transcribe'.*upgrade rnncli"):
        detect(newer)


def test_every_command_agrees_on_a_tsv_file_of_series(tmp_path):
    series = tmp_path / "monthly.tsv"
    series.write_text((ROOT / "sample_data" / "monthly.csv").read_text().replace(",", "\t"))
    inspected = run("inspect", series, "--json")
    assert inspected.exit_code == 0, inspected.output
    assert json.loads(inspected.stdout)["kind"] == "series"
    trained = run(
        "train",
        series,
        "--horizon",
        "6",
        "--hidden-size",
        "8",
        "--steps",
        "5",
        "--device",
        "cpu",
        "--out",
        tmp_path / "run",
        "--quiet",
    )
    assert trained.exit_code == 0, trained.output
    assert detect(tmp_path / "run").task.name == "forecast"


def test_a_wrong_guess_says_what_it_saw_and_task_fixes_it(tmp_path):
    notes = tmp_path / "notes.tsv"
    notes.write_text(REPETITIVE.replace(". ", ".\t"))
    for args in (["inspect", notes], ["train", notes, "--out", tmp_path / "x"]):
        refused = run(*args)
        assert refused.exit_code == 2, refused.output
        line = refused.stderr.strip()
        assert len(line.splitlines()) == 1 and "Traceback" not in refused.output
        assert "read for forecasting because of its .tsv suffix; for language models give --task language-model" in line
    inspected = run("inspect", notes, "--task", "language-model", "--json")
    assert inspected.exit_code == 0 and json.loads(inspected.stdout)["kind"] == "text"
    trained = run("train", notes, "--task", "language-model", "--out", tmp_path / "lm", *TINY_LM)
    assert trained.exit_code == 0, trained.output
    assert detect(tmp_path / "lm").task.name == "language-model"


def test_an_error_about_a_given_option_is_not_blamed_on_the_guess(tmp_path):
    result = run("train", ROOT / "sample_data" / "monthly.csv", "--horizon", "-3", "--out", tmp_path / "r")
    assert result.exit_code == 2 and "--horizon must be" in result.stderr and "suffix" not in result.stderr
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "config.yaml").write_text("a run\n")
    result = run("train", ROOT / "sample_data" / "monthly.csv", "--horizon", "6", "--out", tmp_path / "taken")
    assert result.exit_code == 2 and "a run already exists there" in result.stderr and "suffix" not in result.stderr


# --- options of another task --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["train", "{txt}", "--horizon", "6"],
            "--horizon does not apply to language models; --horizon is for forecasting: "
            "give a .csv file or --task forecast",
        ),
        (
            ["train", "{csv}", "--horizon", "6", "--tokenizer", "bpe"],
            "--tokenizer does not apply to forecasting; --tokenizer is for language models: give a text file or "
            "--task language-model",
        ),
        (
            ["train", "{csv}", "--horizon", "6", "--seq-len", "9"],
            "--seq-len does not apply to forecasting (the context is",
        ),
        (
            ["train", "--resume", "{old}/forecast_run", "--glob", "*.txt"],
            "--glob does not apply to forecasting: {old}/forecast_run is a forecast run",
        ),
        (
            ["eval", "{old}/forecast_run", "{old}/series.csv", "--per-line"],
            "--per-line does not apply to forecasting: {old}/forecast_run is a forecast run",
        ),
        (
            ["eval", "{old}/lm_run", "{old}/story.txt", "--backtest", "2"],
            "--backtest does not apply to language models: {old}/lm_run is a language-model run",
        ),
        (["inspect", "{csv}", "--top", "3"], "--top does not apply to forecasting; --top is for language models"),
    ],
)
def test_an_option_of_another_task_is_refused_in_one_line(args, message, old, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text(REPETITIVE)
    places = {"txt": str(text), "csv": str(ROOT / "sample_data" / "monthly.csv"), "old": str(old)}
    result = run(*[a.format(**places) for a in args])
    assert result.exit_code == 2, result.output
    assert message.format(**places) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_every_option_of_train_belongs_to_a_task_or_to_the_run():
    command = typer_command("train")
    names = {p.name for p in command.params if p.param_type_name == "option"} - {"help"}
    run_options = {"task", "config", "resume", "out", "force", "quiet"}
    taken = set().union(*(t.options["train"] for t in all_tasks()))
    assert names - run_options <= taken
    assert get_task("forecast").options["train"] <= names  # a forecaster takes nothing the command lacks


def typer_command(name: str):
    import typer.main

    return typer.main.get_command(app).commands[name]


# --- resume and settings, the same for both tasks -------------------------------------------------------------


def test_resuming_a_forecaster_refuses_a_new_shape_in_the_words_of_every_task(old):
    result = run("train", "--resume", old / "forecast_run", "--hidden-size", "32", "--steps", "30")
    assert result.exit_code == 2
    assert "--hidden-size cannot change when resuming (this run was trained with 8)" in result.stderr


def test_a_resumed_forecaster_takes_every_resumable_option_it_has():
    from rnncli.core.settings import RESUMABLE_OPTIONS
    from rnncli.tasks.forecast.options import ForecastSettings, option_types

    saved = {
        "model": {"horizon": 6, "lookback": 12, "season": 12, "hidden_size": 8},
        "train": {"steps": 20, "lr": 0.003, "patience": 6, "keep": 0, "eval_every": 50},
    }
    changes = {
        "steps": 40,
        "patience": 2,
        "keep": 1,
        "eval_every": 10,
        "time": "10m",
        "device": "cpu",
        "best_by": "loss",
    }
    assert set(changes) == set(RESUMABLE_OPTIONS) & set(option_types()) - {"epochs", "precision", "tensorboard"}
    config, cfg = ForecastSettings.resolve({**changes, "quantiles": "0.1,0.5,0.9"}).resumed(saved)
    assert all(getattr(cfg, name) == value for name, value in changes.items())
    assert config.hidden_size == 8 and config.quantiles == [0.1, 0.5, 0.9]


def test_one_interrupt_message_for_every_task(tmp_path):
    from rnncli.tasks.resuming import interrupt_message

    assert interrupt_message(7, tmp_path / "run") == (
        f"interrupted at step 7; saved {tmp_path}/run/last.safetensors "
        f"and its state; resume with: rnn train --resume {tmp_path}/run"
    )
    assert "nothing kept (give --out" in interrupt_message(7, tmp_path, kept=False)


# --- the command line ---------------------------------------------------------------------------------------


def test_help_never_imports_torch():
    code = (
        "import sys\nfrom rnncli.cli import app\n"
        "for argv in (['--help'], ['train', '--help'], ['inspect', '--help'], ['forecast', '--help'],"
        " ['eval', '--help'], ['sample', '--help'], ['grad-flow', '--help']):\n"
        "    try:\n        app(argv, prog_name='rnn')\n    except SystemExit:\n        pass\n"
        "print(sorted(m for m in ('torch', 'numpy', 'pandas', 'safetensors') if m in sys.modules), "
        "file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "[]"


def test_a_bad_csv_is_reported_before_torch_is_imported(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("ds,name\n2020-01-01,a\n2020-02-01,b\n")
    code = (
        "import sys\nfrom rnncli.cli import app\n"
        f"for argv in (['inspect', {str(bad)!r}], ['train', {str(bad)!r}, '--horizon', '3'],"
        f" ['forecast', {str(bad)!r}, '--horizon', '3']):\n"
        "    try:\n        app(argv, prog_name='rnn')\n    except SystemExit as exit:\n"
        "        assert exit.code == 2, argv\n"
        "print('torch' in sys.modules, file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("no numeric column") == 3 and proc.stderr.strip().splitlines()[-1] == "False"


def test_train_help_groups_its_options_in_panels():
    out = runner.invoke(app, ["train", "--help"], terminal_width=160).stdout
    panels = ["Model", "Training", "Text", "Forecasting", "Run and output"]
    starts = [out.index(f"─ {name} ─") for name in panels]
    assert starts == sorted(starts)
    for option, panel in (
        ("--hidden-size", 0),
        ("--lr-schedule", 1),
        ("--tokenizer", 2),
        ("--horizon", 3),
        ("--resume", 4),
    ):
        where = out.index(f"│ {option} ")
        assert starts[panel] < where and (panel + 1 == len(starts) or where < starts[panel + 1]), option


def test_grad_flow_is_a_command_and_inspect_grad_flow_its_alias():
    args = ["--cell", "rnn", "--hidden-size", "8", "--steps-back", "5", "--windows", "2", "--json"]
    command, alias = run("grad-flow", *args), run("inspect", "--grad-flow", *args)
    assert command.exit_code == alias.exit_code == 0, command.output + alias.output
    assert json.loads(command.stdout) == json.loads(alias.stdout)


def test_a_plot_that_cannot_be_written_is_a_runtime_failure_and_a_bad_format_is_bad_usage(tmp_path):
    pytest.importorskip("matplotlib")
    series = ROOT / "sample_data" / "monthly.csv"
    unwritable = run("inspect", series, "--plot", tmp_path / "no" / "such" / "folder" / "s.png")
    assert unwritable.exit_code == 1, unwritable.output
    assert "cannot write the image" in unwritable.stderr
    unknown = run("inspect", series, "--plot", tmp_path / "s.xyz")
    assert unknown.exit_code == 2 and "matplotlib cannot write .xyz files" in unknown.stderr
    refused_first = run("forecast", series, "--horizon", "3", "--plot", tmp_path / "f.xyz")
    assert refused_first.exit_code == 2 and refused_first.stdout == ""  # before any training
