"""The ``rnn`` command line: one thin function per command.

Each command parses its options, calls one function of the library and prints
the result. Errors meant for the user are ``RnnError``s, shown as one line on
stderr with their exit code; a traceback appears only with ``--debug`` or
``RNN_DEBUG=1``.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from rnncli import console
from rnncli.config import DEFAULT_STEPS, REFERENCE_ONLY_CELLS
from rnncli.errors import EXIT_FAILURE, EXIT_INTERRUPTED, RnnError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Train, sample, evaluate and inspect recurrent sequence models (RNN, LSTM, GRU).",
)

_debug = {"on": os.environ.get("RNN_DEBUG", "") not in ("", "0")}

Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or messages on stderr.")]
Unknown = Annotated[str | None, typer.Option(help="Text outside the vocabulary: error (name it), skip (drop it) or unk (the unknown token).  [default: unk for a word model, else error]")]
ImplOverride = Annotated[str | None, typer.Option(
    "--impl", help="Run on fused or reference cells instead of what the checkpoint records.")]


def _version(value: bool) -> None:
    if value:
        import rnncli

        typer.echo(f"rnn {rnncli.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks (also RNN_DEBUG=1).")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    if debug:
        _debug["on"] = True


def user_errors(func: Callable) -> Callable:
    """Turn library errors, Ctrl-C and closed pipes into exit codes and one line each."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            result = func(*args, **kwargs)
            sys.stdout.flush()  # here, so that a reader gone early (| head) is a quiet exit 0, not click's exit 1
            return result
        except RnnError as exc:
            if _debug["on"]:
                raise
            console.error(exc.message)
            raise typer.Exit(exc.exit_code) from None
        except BrokenPipeError:
            _silence_stdout()
            raise typer.Exit(0) from None
        except KeyboardInterrupt:
            _flush_quietly()
            console.error("interrupted")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as exc:
            if _debug["on"]:
                raise
            console.error(f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)")
            raise typer.Exit(EXIT_FAILURE) from None

    return wrapper


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so the final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _flush_quietly() -> None:
    try:
        sys.stdout.flush()
    except (BrokenPipeError, OSError, ValueError):
        _silence_stdout()


def _with_default(text: str, name: str) -> str:
    """Help text that shows the default from config.py, the one place defaults live."""
    from rnncli.config import ModelConfig, TextConfig, TrainConfig

    for section in (TextConfig, ModelConfig, TrainConfig):
        default = section.__dataclass_fields__[name].default if name in section.__dataclass_fields__ else None
        if default is not None:
            return f"{text} [default: {default}]"
    return text


@app.command()
@user_errors
def train(
    data: Annotated[list[str] | None, typer.Argument(metavar="[DATA]...", help="Text files, folders (searched recursively; see --glob), or - for stdin; a .csv file trains a forecaster (with --resume: the run's own data).")] = None,
    cell: Annotated[str | None, typer.Option(help=_with_default("lstm, gru, rnn (tanh), rnn-relu or gru-textbook (reference only).", "cell"))] = None,
    impl: Annotated[str | None, typer.Option(help=_with_default("fused (PyTorch's kernels) or reference (the cells of rnncli/cells.py).", "impl"))] = None,
    hidden_size: Annotated[int | None, typer.Option(help=_with_default("Units per recurrent layer.", "hidden_size"))] = None,
    num_layers: Annotated[int | None, typer.Option(help=_with_default("Stacked recurrent layers.", "num_layers"))] = None,
    embed_size: Annotated[int | None, typer.Option(help=_with_default("Size of the token embedding.", "embed_size"))] = None,
    dropout: Annotated[float | None, typer.Option(help=_with_default("Dropout between layers and before the head.", "dropout"))] = None,
    seq_len: Annotated[int | None, typer.Option(help=_with_default("Window length for truncated BPTT.", "seq_len"))] = None,
    batch_size: Annotated[int | None, typer.Option(help=_with_default("Parallel streams per batch (all processes together).", "batch_size"))] = None,
    lr: Annotated[float | None, typer.Option(help=_with_default("AdamW learning rate.", "lr"))] = None,
    weight_decay: Annotated[float | None, typer.Option(help=_with_default("AdamW weight decay.", "weight_decay"))] = None,
    clip: Annotated[float | None, typer.Option(help=_with_default("Clip the gradient norm to this; 0 turns it off.", "clip"))] = None,
    lr_schedule: Annotated[str | None, typer.Option(help=_with_default("constant or cosine (decays to 0.1 x --lr).", "lr_schedule"))] = None,
    warmup: Annotated[int | None, typer.Option(help=_with_default("Steps of linear learning-rate warm-up.", "warmup"))] = None,
    steps: Annotated[int | None, typer.Option(help=f"Optimizer steps to train, in total (also when resuming). [default: {DEFAULT_STEPS} unless --epochs or --time]")] = None,
    epochs: Annotated[float | None, typer.Option(help="Passes over the training text (instead of --steps).")] = None,
    time_budget: Annotated[str | None, typer.Option("--time", help="Wall-clock budget (90s, 10m, 2h): then validate, save and stop.")] = None,
    patience: Annotated[int | None, typer.Option(help="Stop after N evaluations without a better validation loss.")] = None,
    eval_every: Annotated[int | None, typer.Option(help=_with_default("Validate and save every N steps.", "eval_every"))] = None,
    keep: Annotated[int | None, typer.Option(help=_with_default("Also keep the N latest step checkpoints (the best one always stays).", "keep"))] = None,
    val_frac: Annotated[float | None, typer.Option(help=_with_default("Last fraction of the text kept for validation.", "val_frac"))] = None,
    tokenizer: Annotated[str | None, typer.Option(help=_with_default("char (code points), byte (UTF-8 bytes), word or bpe (byte-level BPE).", "tokenizer"))] = None,
    vocab_size: Annotated[int | None, typer.Option(help=_with_default("bpe: the vocabulary to learn, 257 or more.", "vocab_size"))] = None,
    min_count: Annotated[int | None, typer.Option(help=_with_default("word: words seen fewer times become the unknown token.", "min_count"))] = None,
    max_vocab: Annotated[int | None, typer.Option(help=_with_default("word: keep at most this many of the most frequent words.", "max_vocab"))] = None,
    glob: Annotated[str | None, typer.Option(help="In a folder, read only the files matching this pattern, e.g. '*.py' [default: every text file].")] = None,
    encoding: Annotated[str | None, typer.Option(help=_with_default("The text's encoding (latin-1, cp1252, utf-16, ...).", "encoding"))] = None,
    errors: Annotated[str | None, typer.Option(help=_with_default("strict (an undecodable byte is an error) or replace (it becomes U+FFFD).", "errors"))] = None,
    seed: Annotated[int | None, typer.Option(help=_with_default("Random seed, for repeatable runs.", "seed"))] = None,
    device: Annotated[str | None, typer.Option(help=_with_default("auto, cpu, cuda or mps.", "device"))] = None,
    precision: Annotated[str | None, typer.Option(help=_with_default("fp32, bf16 or fp16 (fp16: CUDA only).", "precision"))] = None,
    tensorboard: Annotated[bool | None, typer.Option("--tensorboard/--no-tensorboard", help="Also write TensorBoard events (needs tensorboard).", show_default=False)] = None,
    config: Annotated[Path | None, typer.Option("--config", help="YAML file of options; flags override it.")] = None,
    resume: Annotated[Path | None, typer.Option("--resume", help="Continue the run in this folder exactly where it stopped.")] = None,
    out: Annotated[str | None, typer.Option(help=_with_default("Run folder.", "out"))] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing run folder.")] = False,
    task: Annotated[str | None, typer.Option(help="language-model or forecast [default: forecast for a .csv file, else language-model]")] = None,
    horizon: Annotated[int | None, typer.Option(help="Forecasting: steps ahead to forecast (required for --task forecast).")] = None,
    lookback: Annotated[int | None, typer.Option(help="Forecasting: context steps the model reads [default: max(2 x horizon, 2 x season, 8); a week for long hourly series].")] = None,
    quantiles: Annotated[str | None, typer.Option(help="Forecasting: quantiles to forecast [default: 0.1,0.5,0.9].")] = None,
    season: Annotated[int | None, typer.Option(help="Forecasting: seasonal period in steps [default: detected by autocorrelation].")] = None,
    scaling: Annotated[str | None, typer.Option(help="Forecasting: standard, or log for positive multiplicative data [default: standard].")] = None,
    ensemble: Annotated[int | None, typer.Option(help="Forecasting: models trained side by side, median taken [default: 1].")] = None,
    freq: Annotated[str | None, typer.Option(help="Forecasting: pandas frequency (h, D, W, MS, QS, YS...) [default: inferred].")] = None,
    time_col: Annotated[str | None, typer.Option(help="Forecasting: the time column [default: from the header].")] = None,
    value_col: Annotated[str | None, typer.Option(help="Forecasting: the value column of a long file [default: from the header].")] = None,
    id_col: Annotated[str | None, typer.Option(help="Forecasting: the series id column of a long file [default: from the header].")] = None,
    missing: Annotated[str, typer.Option(help="Forecasting: interpolate gaps (with a warning) or error.")] = "interpolate",
    quiet: Quiet = False,
) -> None:
    """Train a language model on DATA (files, folders or stdin), or a forecaster on a CSV of time series.

    Example: rnn train sample_data/tinyworld.txt --cell lstm --steps 2000
    Example: rnn train src/ --glob '*.py' --tokenizer bpe --vocab-size 2000
    Example: rnn train sample_data/monthly.csv --horizon 12
    """
    if _is_forecast_task(task, data, resume):
        if data is not None and len(data) > 1:
            from rnncli.errors import UsageError

            raise UsageError("a forecaster trains on one CSV file; give one DATA")
        data = data[0] if data else None
        _refuse_text_flags(dict(tokenizer=tokenizer, vocab_size=vocab_size, min_count=min_count,
                                max_vocab=max_vocab, glob=glob, encoding=encoding, errors=errors))
        console.set_quiet(quiet)
        train_overrides = dict(batch_size=batch_size, lr=lr, weight_decay=weight_decay, clip=clip,
                               lr_schedule=lr_schedule, warmup=warmup, steps=steps, epochs=epochs,
                               time=time_budget, patience=patience, eval_every=eval_every, keep=keep, seed=seed,
                               device=device, precision=precision, tensorboard=tensorboard)
        if resume is not None:
            from rnncli.forecast_cli import SeriesOptions, run_resume

            run_resume(resume, data, train_overrides=train_overrides,
                       series_options=SeriesOptions(time_col=time_col, value_col=value_col, id_col=id_col,
                                                    missing=missing))
            return
        _train_forecaster(data, out=out, force=force, config=config, train_overrides=train_overrides,
                          unused=dict(seq_len=seq_len, embed_size=embed_size, val_frac=val_frac),
                          model=dict(cell=cell, hidden_size=hidden_size, num_layers=num_layers, dropout=dropout,
                                     horizon=horizon, lookback=lookback, quantiles=quantiles, season=season,
                                     scaling=scaling, ensemble=ensemble),
                          series=dict(time_col=time_col, value_col=value_col, id_col=id_col, freq=freq,
                                      missing=missing))
        return
    _refuse_forecast_flags(dict(horizon=horizon, lookback=lookback, quantiles=quantiles, season=season,
                                scaling=scaling, ensemble=ensemble, freq=freq, time_col=time_col,
                                value_col=value_col, id_col=id_col))
    import yaml

    from rnncli.distributed import Distributed
    from rnncli.errors import UsageError
    from rnncli.progress import TrainProgress
    from rnncli.training import TrainingInterrupted
    from rnncli.workflows import prepare_text, train_text

    dist = Distributed.from_env()
    console.set_quiet(quiet or not dist.is_main)
    overrides = dict(cell=cell, impl=impl, hidden_size=hidden_size, num_layers=num_layers, embed_size=embed_size,
                     dropout=dropout, seq_len=seq_len, batch_size=batch_size, lr=lr,
                     weight_decay=weight_decay, clip=clip, lr_schedule=lr_schedule, warmup=warmup,
                     steps=steps, epochs=epochs, time=time_budget, patience=patience, eval_every=eval_every,
                     keep=keep, val_frac=val_frac, seed=seed, device=device, precision=precision,
                     tensorboard=tensorboard, tokenizer=tokenizer, vocab_size=vocab_size, min_count=min_count,
                     max_vocab=max_vocab, glob=glob, encoding=encoding, errors=errors)
    if resume is not None:
        if out is not None or force:
            raise UsageError("--resume continues the run in its own folder; leave out --out and --force")
        run, data, state = _resume_settings(resume, overrides, config, data)
        out_dir = resume
    else:
        if not data:
            raise UsageError("missing DATA: give a text file, a folder (or - for stdin), or --resume RUN_FOLDER")
        run, out_dir, state = _fresh_settings(overrides, config, data, out=out, force=force)
    prepared = prepare_text(data, run.text, tokenizer=_saved_tokenizer(state, resume) if state is not None else None)
    shown = run.to_dict()
    shown["model"].pop("vocab_size")  # measured from the data
    console.info("config:\n  " + yaml.safe_dump(shown, sort_keys=False).rstrip().replace("\n", "\n  "))
    _report_prepared(prepared)
    try:
        with TrainProgress(console.stderr) as progress:
            try:
                history = train_text(prepared, run, out_dir=out_dir, on_event=progress.update,
                                     command=["rnn", *sys.argv[1:]], resume=state, dist=dist)
            except TrainingInterrupted as exc:
                progress.stop()
                import shlex

                where = out_dir / "last.safetensors"
                saved = f"saved {where} and its state" if exc.step > 0 else "nothing to save yet"
                raise TrainingInterrupted(f"interrupted at step {exc.step}; {saved}; resume with: "
                                          f"rnn train --resume {shlex.quote(str(out_dir))}", step=exc.step) from None
            except KeyboardInterrupt:
                progress.stop()
                raise RnnError(f"interrupted; the latest saved weights are in {out_dir / 'last.safetensors'}",
                               exit_code=EXIT_INTERRUPTED) from None
    finally:
        dist.stop()
    why = {"time": "the --time budget is spent; ", "patience": "no improvement for --patience evaluations; "}
    if history.best_val_loss is None:
        console.info(f"{why.get(history.stop_reason or '', '')}stopped before the first step; nothing saved")
        return
    console.info(f"{why.get(history.stop_reason or '', '')}saved {out_dir}/ (best loss {history.best_val_loss:.4f} "
                 f"at step {history.best_step}); try: rnn sample {out_dir} --temp 0.8")


def _saved_tokenizer(state, folder: Path):
    """A resumed run keeps its own tokenizer: the ids it trained on must not change."""
    from rnncli.errors import CheckpointError
    from rnncli.tokenizers import tokenizer_from_dict

    try:
        return tokenizer_from_dict(state.meta.get("checkpoint", {}).get("tokenizer"))
    except CheckpointError as exc:
        raise CheckpointError(f"--resume {folder}: {exc.message}") from None


def _report_prepared(prepared) -> None:
    """What the data layer found: files left out, size, vocabulary and how much of the text it covers."""
    from rnncli.workflows import coverage

    for name in prepared.skipped[:5]:
        console.warn(f"{name}: looks like binary data; skipped")
    if len(prepared.skipped) > 5:
        console.warn(f"... and {len(prepared.skipped) - 5} more binary files skipped")
    stats, tok = prepared.stats, prepared.tokenizer
    files = f" in {stats['num_files']} files" if stats.get("num_files", 1) > 1 else ""
    cached = " (token file reused from the cache)" if prepared.reused else ""
    console.info(f"{prepared.source}: {stats['num_chars']:,} characters{files}, {stats['num_tokens']:,} "
                 f"{tok.kind} tokens{cached}; vocabulary of {tok.vocab_size:,} symbols covering "
                 f"{coverage(prepared):.2%} of the tokens")


def _refuse_text_flags(flags: dict[str, Any]) -> None:
    from rnncli.errors import UsageError

    given = [k for k, v in flags.items() if v is not None]
    if given:
        raise UsageError(f"--{given[0].replace('_', '-')} is for text: a forecaster reads a CSV file")


def _is_forecast_task(task: str | None, data: list[str] | None, resume: Path | None) -> bool:
    from rnncli.errors import UsageError

    if task not in (None, "forecast", "language-model"):
        raise UsageError(f"--task: unknown value '{task}' (choose one of: language-model, forecast)")
    if resume is not None:
        from rnncli.forecast_cli import is_forecast_run

        return is_forecast_run(resume)
    return task == "forecast" or (task is None and bool(data) and data[0].lower().endswith(".csv"))


def _refuse_forecast_flags(flags: dict[str, Any]) -> None:
    from rnncli.errors import UsageError

    given = [k for k, v in flags.items() if v is not None]
    if given:
        raise UsageError(f"--{given[0].replace('_', '-')} is for forecasting: give a .csv file or --task forecast")


def _train_forecaster(data: str | None, *, out: str | None, force: bool, config: Path | None,
                      train_overrides: dict[str, Any], unused: dict[str, Any], model: dict[str, Any],
                      series: dict[str, Any]) -> None:
    from rnncli.errors import UsageError
    from rnncli.forecast_cli import ModelOptions, SeriesOptions, run_train
    from rnncli.runs import choose_run_dir

    given = [k for k, v in unused.items() if v is not None]
    if given:
        flag = "--" + given[0].replace("_", "-")
        raise UsageError(f"{flag} does not apply to forecasting (the context is --lookback, and validation is "
                         "the last horizon of every series)")
    if config is not None:
        _fill_from_config(config, train_overrides, model, series)
    if data is None:
        raise UsageError("missing DATA: give a CSV file (or - for stdin)")
    out_dir, note = choose_run_dir(out, data, force=force)
    if note:
        console.info(note)
    run_train(data, series_options=SeriesOptions(**series),
              model_options=ModelOptions(**model, train=train_overrides), out_dir=out_dir)


def _fill_from_config(config: Path, *sections: dict[str, Any]) -> None:
    """Forecasting options from a YAML file, where no flag gave them (flags override the file)."""
    from dataclasses import fields

    from rnncli.config import TrainConfig, load_yaml_settings
    from rnncli.forecast_cli import ModelOptions, SeriesOptions

    types = {f.name: f.type for f in fields(ModelOptions) + fields(SeriesOptions) if f.name != "train"}
    types.update({f.name: f.type for f in fields(TrainConfig) if f.name in sections[0]})
    from_file = load_yaml_settings(config, types=types)
    for section in sections:
        for key in section:
            # --missing has a default rather than None: the file's value wins over the default
            at_default = section[key] is None or (key == "missing" and section[key] == "interpolate")
            if key in from_file and at_default:
                section[key] = from_file[key]


def _fresh_settings(overrides: dict[str, Any], config: Path | None, data: list[str], *, out: str | None, force: bool):
    from rnncli.config import resolve_train_settings
    from rnncli.runs import choose_run_dir

    run = resolve_train_settings(overrides, config)
    run.model.vocab_size = 1  # validated for real once the data is read
    run.model.validate()
    if run.model.cell in REFERENCE_ONLY_CELLS and overrides.get("impl") is None:
        console.info(f"{run.model.cell} has no fused kernel: training with --impl reference")
    out_dir, note = choose_run_dir(out, data[0], force=force)
    if note:
        console.info(note)
    return run, out_dir, None


def _resume_settings(folder: Path, overrides: dict[str, Any], config: Path | None, data: list[str] | None):
    """The saved run's settings (validated) with the budget changes the user asked for."""
    from rnncli.config import RunConfig, resolve_resume_settings
    from rnncli.errors import UsageError
    from rnncli.train_state import STATE_FILE, load_train_state

    if not folder.is_dir():
        raise UsageError(f"--resume {folder}: not a run folder; give the folder that holds {STATE_FILE}")
    state = load_train_state(folder / STATE_FILE)
    saved_meta = state.meta.get("checkpoint", {})
    saved = RunConfig.from_dict({"model": saved_meta.get("model", {}), "train": saved_meta.get("train", {}),
                                 "text": saved_meta.get("text", {})}, where=str(folder / STATE_FILE))
    run = resolve_resume_settings(saved, overrides, config)
    if not data:
        recorded = saved_meta.get("data", {})
        data = recorded.get("inputs") or [recorded.get("source")]  # runs before folders had only a source
        if not all(isinstance(d, str) for d in data) or data == ["-"]:
            raise UsageError(f"--resume {folder}: the run read its text from stdin; give DATA (- for stdin) again")
    return run, data, state


@app.command()
@user_errors
def sample(
    checkpoint: Annotated[str, typer.Argument(help="A run folder or a .safetensors file.")],
    length: Annotated[int, typer.Option(help="Tokens to generate per sample (characters, for a char model).")] = 500,
    temp: Annotated[float | None, typer.Option(help="Sampling temperature; 0 always picks the likeliest token.  [default: 1.0]")] = None,
    greedy: Annotated[bool, typer.Option("--greedy", help="Always pick the likeliest token (same as --temp 0).")] = False,
    top_k: Annotated[int, typer.Option(help="Sample only from the K likeliest tokens; 0 turns it off.")] = 0,
    top_p: Annotated[float, typer.Option(help="Nucleus: sample from the likeliest tokens holding this much probability, in (0, 1].")] = 1.0,
    min_p: Annotated[float, typer.Option(help="Drop tokens less likely than this times the likeliest one, in [0, 1).")] = 0.0,
    repetition_penalty: Annotated[float, typer.Option(help="Above 1, tokens already in the prompt or sample become less likely.")] = 1.0,
    beam: Annotated[int, typer.Option(help="Beam search with N beams for the likeliest continuation; 0 samples.")] = 0,
    prime: Annotated[str, typer.Option(help="Text to start from (fed through the model once, not printed).")] = "",
    prime_file: Annotated[str | None, typer.Option(help="Read the prompt from a file, or - for stdin.")] = None,
    include_prime: Annotated[bool, typer.Option("--include-prime", help="Print the prompt before each sample.")] = False,
    num: Annotated[int, typer.Option(help="Samples to generate, as one batch; sample i uses seed + i.")] = 1,
    separator: Annotated[str | None, typer.Option(help="A line printed between samples (text format).  [default: an empty line]")] = None,
    stop: Annotated[list[str] | None, typer.Option(help="End a sample where this text appears (not printed); repeatable.")] = None,
    output_format: Annotated[str, typer.Option("--format", help="text (streamed) or jsonl (one object per sample).")] = "text",
    seed: Annotated[int | None, typer.Option(help="Random seed; the same seed gives the same text.")] = None,
    unknown: Unknown = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or mps.")] = "cpu",
    impl: ImplOverride = None,
    quiet: Quiet = False,
) -> None:
    """Generate text from a trained model, streamed to stdout.

    Example: rnn sample runs/tinyworld --temp 0.8 --length 500 --seed 7 --prime "The "
    """
    from rnncli.checkpoint import load_checkpoint
    from rnncli.decoding import DecodingSettings
    from rnncli.devices import resolve_device
    from rnncli.errors import UsageError
    from rnncli.generation import read_prompt_file

    console.set_quiet(quiet)
    _check_sample_options(length=length, num=num, output_format=output_format, device=device, beam=beam,
                          stops=stop or [], greedy=greedy, temp=temp, separator=separator)
    temperature = 0.0 if greedy else (1.0 if temp is None else temp)
    settings = DecodingSettings(temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p,
                                repetition_penalty=repetition_penalty, beam=beam).validate()
    if prime and prime_file is not None:
        raise UsageError("give the prompt with --prime or --prime-file, not both")
    prompt = read_prompt_file(prime_file) if prime_file is not None else prime
    ckpt = load_checkpoint(checkpoint, device=resolve_device(device), impl=impl)
    seed = seed if seed is not None else secrets.randbelow(2**31)
    job = _SampleJob(ckpt=ckpt, prompt=prompt, settings=settings, length=length, num=num, seed=seed,
                     stops=stop or [], include_prime=include_prime, separator=separator or "", jsonl=output_format == "jsonl",
                     unknown=unknown)
    job.run(sys.stdout)


def _check_sample_options(*, length: int, num: int, output_format: str, device: str, beam: int,
                          stops: list[str], greedy: bool, temp: float | None, separator: str | None) -> None:
    from rnncli.config import DEVICES
    from rnncli.errors import UsageError

    if length < 0:
        raise UsageError(f"--length must be 0 or more, got {length}")
    if num < 1:
        raise UsageError(f"--num must be 1 or more, got {num}")
    if beam and num > 1:
        raise UsageError("--beam returns the one likeliest continuation: use --num 1 with it")
    if greedy and beam:
        raise UsageError("--beam searches over many continuations and --greedy follows one: "
                         "choose one (--beam 1 is greedy)")
    if greedy and temp is not None and temp != 0:
        raise UsageError(f"--greedy means --temp 0: drop --temp {temp}")
    if output_format not in ("text", "jsonl"):
        raise UsageError(f"--format: unknown value '{output_format}' (choose one of: text, jsonl)")
    if separator is not None and output_format == "jsonl":
        raise UsageError("--separator goes between samples of --format text; jsonl prints one object per line")
    if device not in DEVICES:
        raise UsageError(f"--device: unknown value '{device}' (choose one of: {', '.join(DEVICES)})")
    if any(s == "" for s in stops):
        raise UsageError("--stop needs a non-empty string")


class _SampleJob:
    """Runs one `rnn sample`: feeds the library's tokens through per-sample text and writes them.

    Plain text with one sample is streamed token by token; with --num > 1 the
    rows advance together, so each sample is printed whole, in order, once it
    and all the samples before it are finished.
    """

    def __init__(self, *, ckpt, prompt: str, settings, length: int, num: int, seed: int, stops: list[str],
                 include_prime: bool, separator: str, jsonl: bool, unknown: str | None):
        from rnncli.generation import SampleText, derived_seeds
        from rnncli.tokenizers import encode_known

        self.ckpt, self.tokenizer, self.prompt, self.settings = ckpt, ckpt.tokenizer, prompt, settings
        self.prime_ids = encode_known(self.tokenizer, prompt, policy=unknown, where="the prompt: text")
        self.length, self.include_prime, self.separator, self.jsonl = length, include_prime, separator, jsonl
        self.seeds = derived_seeds(seed, num)
        self.samples = [SampleText(stops=stops) for _ in self.seeds]
        # one decoder per sample: a byte or BPE token may end in the middle of a character
        self.decoders = [self.tokenizer.decoder() for _ in self.seeds]
        self.stream = num == 1 and not jsonl and not settings.beam
        self.printed = 0

    def run(self, out) -> None:
        from rnncli.workflows import start_token

        if self.stream and self.include_prime:
            _write(out, self.prompt)
        if self.settings.beam:
            self._run_beam(start_token(self.tokenizer))
        else:
            self._run_sampling(out, start_token(self.tokenizer))
        for sample, decoder in zip(self.samples, self.decoders, strict=True):
            if not sample.done:
                self._emit(out, sample, sample.add_text(decoder.finish()))
                self._emit(out, sample, sample.finish())
        self._print_finished(out)

    def _run_sampling(self, out, start: int) -> None:
        from rnncli.generation import sample_steps

        steps = sample_steps(self.ckpt.model, self.prime_ids, length=self.length, settings=self.settings,
                             seeds=self.seeds, newline_id=start)
        for tokens, log_probs in steps:
            for sample, decoder, token, log_prob in zip(self.samples, self.decoders, tokens, log_probs, strict=True):
                if not sample.done:
                    self._emit(out, sample, _decode_token(decoder, sample, token, log_prob))
            self._print_finished(out)
            if all(sample.done for sample in self.samples):
                steps.close()
                return

    def _run_beam(self, start: int) -> None:
        from rnncli.generation import beam_search

        tokens, log_probs = beam_search(self.ckpt.model, self.prime_ids, length=self.length,
                                        settings=self.settings, newline_id=start)
        sample = self.samples[0]
        for token, log_prob in zip(tokens, log_probs, strict=True):
            if sample.done:
                break
            _decode_token(self.decoders[0], sample, token, log_prob)

    def _emit(self, out, sample, text: str) -> None:
        if self.stream and text:
            _write(out, text)

    def _print_finished(self, out) -> None:
        """Print, in order, every sample that is finished and has all earlier ones printed."""
        while self.printed < len(self.samples) and self.samples[self.printed].finished:
            index = self.printed
            self.printed += 1
            if self.jsonl:
                _write(out, json.dumps(self._record(index)) + "\n")
                continue
            if index > 0:
                _write(out, self.separator + "\n")
            _write(out, ("" if self.stream else self._full_text(index)) + "\n")

    def _full_text(self, index: int) -> str:
        return (self.prompt if self.include_prime else "") + self.samples[index].text

    def _record(self, index: int) -> dict:
        sample = self.samples[index]
        return {"index": index, "text": self._full_text(index), "prime": self.prompt, "num_tokens": sample.num_tokens,
                "log_prob": sample.log_prob, "stopped_by": sample.stopped_by, "seed": self.seeds[index],
                "length": self.length, **self.settings.to_dict()}


def _decode_token(decoder, sample, token: int, log_prob: float) -> str:
    """The one place a token becomes text: decode it and let the sample hold back a possible stop string."""
    return sample.add(decoder.feed(token), log_prob)


def _write(out, text: str) -> None:
    out.write(text)
    out.flush()


@app.command("eval")
@user_errors
def evaluate(
    checkpoint: Annotated[str, typer.Argument(help="A run folder or a .safetensors file.")],
    data: Annotated[str, typer.Argument(help="A UTF-8 text file, a folder of them, or - for stdin (a CSV for a forecaster).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    per_line: Annotated[bool, typer.Option("--per-line", help="Score every line on its own: one JSON object per line.")] = False,
    carry: Annotated[bool, typer.Option("--carry", help="With --per-line, carry the state from line to line.")] = False,
    unknown: Unknown = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or mps.")] = "cpu",
    impl: ImplOverride = None,
    backtest: Annotated[int, typer.Option(help="Forecasting models: backtest windows (horizons) per series.")] = 3,
) -> None:
    """Loss, perplexity and bits per character of a model on a text (or a score per line); a backtest for a forecaster.

    Example: rnn eval runs/tinyworld held_out.txt --json
    Example: rnn eval runs/monthly sample_data/monthly.csv --backtest 3
    """
    from rnncli.forecasting import is_forecast_checkpoint

    if is_forecast_checkpoint(checkpoint):
        from rnncli.forecast_cli import SeriesOptions, run_eval

        run_eval(checkpoint, data, windows=backtest, as_json=as_json, series_options=SeriesOptions())
        return
    from rnncli.checkpoint import load_checkpoint
    from rnncli.devices import resolve_device
    from rnncli.errors import UsageError
    from rnncli.workflows import evaluate_text, score_lines

    if carry and not per_line:
        raise UsageError("--carry only applies to --per-line scoring; add --per-line")
    ckpt = load_checkpoint(checkpoint, device=resolve_device(device), impl=impl)
    if per_line:
        for record in score_lines(ckpt, data, carry=carry, unknown=unknown):
            _write(sys.stdout, json.dumps(record, ensure_ascii=False) + "\n")
        return
    result = evaluate_text(ckpt, data, unknown=unknown)
    if as_json:
        typer.echo(json.dumps(result))
        return
    typer.echo(f"data        {result['data']}")
    typer.echo(f"tokens      {result['tokens']:,}")
    typer.echo(f"loss        {result['loss']:.4f} nats/token")
    typer.echo(f"perplexity  {result['perplexity']:.3f}")
    typer.echo(f"bpc         {result['bpc']:.4f} bits/character")
    typer.echo(f"bpb         {result['bpb']:.4f} bits/byte (UTF-8)")
    if result["unknown_tokens"]:
        typer.echo(f"unknown     {result['unknown_tokens']:,} tokens outside the vocabulary (scored as the unknown token)")


GRAD_FLOW_STEPS_BACK, GRAD_FLOW_WINDOWS = 100, 16


@app.command()
@user_errors
def inspect(
    paths: Annotated[list[str] | None, typer.Argument(metavar="[PATH] [PATH_B]", help="A run folder or .safetensors checkpoint (language model or forecaster), a .csv/.tsv of time series, a text file, a folder of text files or - (stdin); two checkpoints to compare them (leave out with --grad-flow --cell ... for an untrained model).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    plot: Annotated[Path | None, typer.Option("--plot", help="Also write a picture (.png, .svg or .pdf): the training curve of a run, the symbol frequencies of a text, the series of a CSV, or the --grad-flow curve. Needs matplotlib.")] = None,
    top: Annotated[int, typer.Option(help="How many of the most frequent symbols and words of a text to list.")] = 10,
    grad_flow: Annotated[bool, typer.Option("--grad-flow", help="Show the norm of d loss_T / d h_{T-k} for each distance k back.")] = False,
    data: Annotated[str | None, typer.Option(help="Text to measure --grad-flow on [default: the run's validation text; random tokens for an untrained model].")] = None,
    steps_back: Annotated[int | None, typer.Option(help="How many steps back --grad-flow follows the gradient. [default: 100]")] = None,
    windows: Annotated[int | None, typer.Option(help="Windows of text the --grad-flow norms are averaged over. [default: 16]")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for the --grad-flow windows and the untrained model. [default: 0]")] = None,
    impl: Annotated[str | None, typer.Option(help="fused or reference: the implementation to run --grad-flow on.")] = None,
    cell: Annotated[str | None, typer.Option(help="Untrained model for --grad-flow: lstm, gru, rnn, rnn-relu or gru-textbook.")] = None,
    hidden_size: Annotated[int | None, typer.Option(help="Untrained model for --grad-flow: units per layer.")] = None,
    num_layers: Annotated[int | None, typer.Option(help="Untrained model for --grad-flow: stacked layers.")] = None,
    embed_size: Annotated[int | None, typer.Option(help="Untrained model for --grad-flow: embedding size.")] = None,
) -> None:
    """Explain what a checkpoint, a run or a data file holds, or how far back a model's gradients reach.

    Example: rnn inspect runs/tinyworld --plot curve.png
    Example: rnn inspect runs/tinyworld --grad-flow
    Example: rnn inspect sample_data/monthly.csv --plot series.png
    Example: rnn inspect --grad-flow --cell rnn --hidden-size 128 --data sample_data/tinyworld.txt
    """
    from rnncli.errors import UsageError
    from rnncli.report import path_kind

    paths = paths or []
    shape = dict(cell=cell, hidden_size=hidden_size, num_layers=num_layers, embed_size=embed_size)
    given = [f"--{k.replace('_', '-')}" for k, v in shape.items() if v is not None]
    if grad_flow:
        if len(paths) > 1:
            raise UsageError(f"--grad-flow looks at one checkpoint; got {len(paths)} paths")
        path = paths[0] if paths else None
        if path is not None and given:
            raise UsageError(f"{given[0]} describes an untrained model; leave it out when inspecting {path}")
        _inspect_grad_flow(path, shape, data=data, impl=impl, as_json=as_json, plot=plot,
                           steps_back=GRAD_FLOW_STEPS_BACK if steps_back is None else steps_back,
                           windows=GRAD_FLOW_WINDOWS if windows is None else windows,
                           seed=0 if seed is None else seed)
        return
    for flag, value in (("--data", data), ("--impl", impl), ("--steps-back", steps_back),
                        ("--windows", windows), ("--seed", seed)):
        if value is not None:
            raise UsageError(f"{flag} applies to --grad-flow; add --grad-flow")
    if given:
        raise UsageError(f"{given[0]} describes an untrained model for --grad-flow; add --grad-flow")
    if not paths:
        raise UsageError("give a PATH (checkpoint, run folder or text), or --grad-flow --cell CELL for an untrained model")

    if len(paths) > 2:
        raise UsageError(f"inspect takes one PATH, or two checkpoints to compare; got {len(paths)}")
    if top < 1:
        raise UsageError(f"--top must be 1 or more, got {top}")
    if len(paths) == 2:
        _inspect_comparison(paths, as_json=as_json, plot=plot)
        return
    kind = path_kind(paths[0])
    if kind == "checkpoint":
        _inspect_checkpoint(paths[0], as_json=as_json, plot=plot)
    elif kind == "series":
        _inspect_series(paths[0], as_json=as_json, plot=plot)
    else:
        _inspect_text(paths[0], as_json=as_json, plot=plot, top=top)


def _inspect_checkpoint(path: str, *, as_json: bool, plot: Path | None) -> None:
    from rnncli.errors import UsageError
    from rnncli.render import print_checkpoint_summary, print_forecast_summary, save_curve_plot
    from rnncli.report import inspect_checkpoint

    summary = inspect_checkpoint(path)
    if plot is not None:
        if not summary["curve"]:
            raise UsageError(f"--plot: {path} has no metrics.jsonl beside it, so there is no curve to draw")
        save_curve_plot([(path, summary["curve"])], plot)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    elif summary["task"] == "forecast":
        print_forecast_summary(summary)
    else:
        print_checkpoint_summary(summary)


def _inspect_series(path: str, *, as_json: bool, plot: Path | None) -> None:
    from rnncli.render import print_series_summary, save_series_plot
    from rnncli.report_series import inspect_series

    summary, data = inspect_series(path)
    if plot is not None:
        save_series_plot(data, plot)
    if as_json:
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        print_series_summary(summary)


def _inspect_grad_flow(path: str | None, shape: dict[str, Any], *, data: str | None, impl: str | None,
                       as_json: bool, plot: Path | None, steps_back: int, windows: int, seed: int) -> None:
    from rnncli import gradflow
    from rnncli.checkpoint import load_checkpoint
    from rnncli.errors import UsageError
    from rnncli.render import print_grad_flow, write_grad_flow_plot

    if not 1 <= steps_back <= 10_000:
        raise UsageError(f"--steps-back must be a whole number from 1 to 10000, got {steps_back}")
    if not 1 <= windows <= 10_000:
        raise UsageError(f"--windows must be a whole number from 1 to 10000, got {windows}")
    if path is not None:
        ckpt = load_checkpoint(path, impl=impl)
        ids, source = gradflow.checkpoint_text(ckpt, data)
        model, trained = ckpt.model, True
    else:
        model, ids, source = gradflow.untrained_model(_untrained_config(shape, impl), data, seed=seed)
        trained = False
    result = gradflow.report(model, ids, source=source, steps_back=steps_back, windows=windows,
                             seed=seed, trained=trained)
    result["checkpoint"] = str(ckpt.path) if path is not None else None
    if plot is not None:
        write_grad_flow_plot([result], plot)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        print_grad_flow(result)
        if plot is not None:
            console.info(f"wrote {plot}")


def _untrained_config(shape: dict[str, Any], impl: str | None):
    """Defaults of config.py, the shape flags given, and the only implementation gru-textbook has."""
    from rnncli.config import ModelConfig

    config = ModelConfig(**{k: v for k, v in shape.items() if v is not None})
    if impl is not None:
        config.impl = impl
    elif config.cell in REFERENCE_ONLY_CELLS:
        config.impl = "reference"
    return config


def _inspect_comparison(paths: list[str], *, as_json: bool, plot: Path | None) -> None:
    from rnncli.errors import UsageError
    from rnncli.render import print_comparison, save_curve_plot
    from rnncli.report import compare_checkpoints, inspect_checkpoint, path_kind

    for path in paths:
        if path_kind(path) != "checkpoint":
            raise UsageError(f"{path}: not a run folder or .safetensors file; only checkpoints can be compared")
    a, b = (inspect_checkpoint(p) for p in paths)
    if plot is not None:
        curves = [(label, s["curve"]) for label, s in (("A", a), ("B", b)) if s["curve"]]
        if not curves:
            raise UsageError("--plot: neither checkpoint has a metrics.jsonl beside it, so there is no curve to draw")
        save_curve_plot(curves, plot)
    result = compare_checkpoints(a, b)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        print_comparison(result)


def _inspect_text(path: str, *, as_json: bool, plot: Path | None, top: int) -> None:
    from rnncli.render import print_text_summary, save_frequency_plot
    from rnncli.report_text import inspect_text

    summary = inspect_text(path, top=top)
    if plot is not None:
        save_frequency_plot(summary, plot)
    if as_json:
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        print_text_summary(summary)


@app.command()
@user_errors
def forecast(
    data: Annotated[str | None, typer.Argument(help="A CSV of time series (wide or long), or - for stdin; with --model, the latest history (optional).")] = None,
    horizon: Annotated[int | None, typer.Option(help="Steps ahead to forecast (required unless --model).")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Forecast with this trained run or checkpoint instead of training.")] = None,
    output_format: Annotated[str, typer.Option("--format", help="csv or jsonl.")] = "csv",
    plot: Annotated[str | None, typer.Option(help="Also draw history, forecast and interval to this PNG (needs matplotlib: pip install rnncli[plot]).")] = None,
    backtest: Annotated[int | None, typer.Option(help="Instead of forecasting: train without the last N horizons of each series and backtest on them.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="With --backtest: print one JSON document.")] = False,
    lookback: Annotated[int | None, typer.Option(help="Context steps the model reads [default: max(2 x horizon, 2 x season, 8); a week for long hourly series].")] = None,
    quantiles: Annotated[str | None, typer.Option(help="Quantiles to forecast [default: 0.1,0.5,0.9].")] = None,
    season: Annotated[int | None, typer.Option(help="Seasonal period in steps [default: detected by autocorrelation].")] = None,
    scaling: Annotated[str | None, typer.Option(help="standard, or log for positive multiplicative data [default: standard].")] = None,
    ensemble: Annotated[int | None, typer.Option(help="Models trained side by side, median taken [default: 1].")] = None,
    cell: Annotated[str | None, typer.Option(help="lstm, gru, rnn or rnn-relu [default: lstm].")] = None,
    hidden_size: Annotated[int | None, typer.Option(help="Units of the recurrent layer [default: 64].")] = None,
    num_layers: Annotated[int | None, typer.Option(help="Stacked recurrent layers [default: 1].")] = None,
    steps: Annotated[int | None, typer.Option(help="Training budget in optimizer steps [default: 1000, with early stopping after 6 validations without improvement].")] = None,
    time_budget: Annotated[str | None, typer.Option("--time", help="Wall-clock training budget (30s, 2m).")] = None,
    lr: Annotated[float | None, typer.Option(help="AdamW learning rate [default: 0.003].")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed [default: 1337].")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda or mps [default: auto].")] = None,
    freq: Annotated[str | None, typer.Option(help="pandas frequency (h, D, W, MS, QS, YS, 15min...) [default: inferred].")] = None,
    time_col: Annotated[str | None, typer.Option(help="The time column [default: from the header; none = integer index].")] = None,
    value_col: Annotated[str | None, typer.Option(help="The value column of a long file [default: from the header].")] = None,
    id_col: Annotated[str | None, typer.Option(help="The series id column of a long file [default: from the header].")] = None,
    missing: Annotated[str, typer.Option(help="interpolate gaps and empty cells (with a warning) or error.")] = "interpolate",
    out: Annotated[str | None, typer.Option(help="Keep the trained run in this folder [default: a temporary folder].")] = None,
    quiet: Quiet = False,
) -> None:
    """Forecast every series of a CSV, with quantiles, as tidy CSV on stdout.

    Without --model, first trains a small model on the file (1000 steps at most,
    early stopping; well under a minute on one CPU thread for a few hundred points).

    Example: rnn forecast sample_data/monthly.csv --horizon 12 > forecast.csv
    """
    from rnncli.forecast_cli import ModelOptions, SeriesOptions, run_forecast

    console.set_quiet(quiet)
    train_overrides = dict(steps=steps, time=time_budget, lr=lr, seed=seed, device=device)
    run_forecast(data, model=model, out=out, output_format=output_format, plot=plot,
                 backtest_windows=backtest, as_json=as_json,
                 series_options=SeriesOptions(time_col=time_col, value_col=value_col, id_col=id_col,
                                              freq=freq, missing=missing),
                 model_options=ModelOptions(horizon=horizon, lookback=lookback, quantiles=quantiles,
                                            season=season, scaling=scaling, ensemble=ensemble, cell=cell,
                                            hidden_size=hidden_size, num_layers=num_layers, train=train_overrides))


def main() -> None:
    app(prog_name="rnn")
