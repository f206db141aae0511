"""rnn train: a language model on text, or a forecaster on a CSV of time series."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from rnncli.cli import console
from rnncli.cli.failures import user_errors
from rnncli.cli.options import Quiet, with_default
from rnncli.core.errors import EXIT_INTERRUPTED, RnnError
from rnncli.core.settings import DEFAULT_STEPS, REFERENCE_ONLY_CELLS


@user_errors
def train(
    data: Annotated[list[str] | None, typer.Argument(metavar="[DATA]...", help="Text files, folders (searched recursively; see --glob), or - for stdin; a .csv file trains a forecaster (with --resume: the run's own data).")] = None,
    cell: Annotated[str | None, typer.Option(help=with_default("lstm, gru, rnn (tanh), rnn-relu or gru-textbook (reference only).", "cell"))] = None,
    impl: Annotated[str | None, typer.Option(help=with_default("fused (PyTorch's kernels) or reference (the cells of rnncli/cells.py).", "impl"))] = None,
    hidden_size: Annotated[int | None, typer.Option(help=with_default("Units per recurrent layer.", "hidden_size"))] = None,
    num_layers: Annotated[int | None, typer.Option(help=with_default("Stacked recurrent layers.", "num_layers"))] = None,
    embed_size: Annotated[int | None, typer.Option(help=with_default("Size of the token embedding.", "embed_size"))] = None,
    dropout: Annotated[float | None, typer.Option(help=with_default("Dropout between layers and before the head.", "dropout"))] = None,
    seq_len: Annotated[int | None, typer.Option(help=with_default("Window length for truncated BPTT.", "seq_len"))] = None,
    batch_size: Annotated[int | None, typer.Option(help=with_default("Parallel streams per batch (all processes together).", "batch_size"))] = None,
    lr: Annotated[float | None, typer.Option(help=with_default("AdamW learning rate.", "lr"))] = None,
    weight_decay: Annotated[float | None, typer.Option(help=with_default("AdamW weight decay.", "weight_decay"))] = None,
    clip: Annotated[float | None, typer.Option(help=with_default("Clip the gradient norm to this; 0 turns it off.", "clip"))] = None,
    lr_schedule: Annotated[str | None, typer.Option(help=with_default("constant or cosine (decays to 0.1 x --lr).", "lr_schedule"))] = None,
    warmup: Annotated[int | None, typer.Option(help=with_default("Steps of linear learning-rate warm-up.", "warmup"))] = None,
    steps: Annotated[int | None, typer.Option(help=f"Optimizer steps to train, in total (also when resuming). [default: {DEFAULT_STEPS} unless --epochs or --time]")] = None,
    epochs: Annotated[float | None, typer.Option(help="Passes over the training text (instead of --steps).")] = None,
    time_budget: Annotated[str | None, typer.Option("--time", help="Wall-clock budget (90s, 10m, 2h): then validate, save and stop.")] = None,
    patience: Annotated[int | None, typer.Option(help="Stop after N evaluations without a better validation loss.")] = None,
    eval_every: Annotated[int | None, typer.Option(help=with_default("Validate and save every N steps.", "eval_every"))] = None,
    keep: Annotated[int | None, typer.Option(help=with_default("Also keep the N latest step checkpoints (the best one always stays).", "keep"))] = None,
    val_frac: Annotated[float | None, typer.Option(help=with_default("Last fraction of the text kept for validation.", "val_frac"))] = None,
    tokenizer: Annotated[str | None, typer.Option(help=with_default("char (code points), byte (UTF-8 bytes), word or bpe (byte-level BPE).", "tokenizer"))] = None,
    vocab_size: Annotated[int | None, typer.Option(help=with_default("bpe: the vocabulary to learn, 257 or more.", "vocab_size"))] = None,
    min_count: Annotated[int | None, typer.Option(help=with_default("word: words seen fewer times become the unknown token.", "min_count"))] = None,
    max_vocab: Annotated[int | None, typer.Option(help=with_default("word: keep at most this many of the most frequent words.", "max_vocab"))] = None,
    glob: Annotated[str | None, typer.Option(help="In a folder, read only the files matching this pattern, e.g. '*.py' [default: every text file].")] = None,
    encoding: Annotated[str | None, typer.Option(help=with_default("The text's encoding (latin-1, cp1252, utf-16, ...).", "encoding"))] = None,
    errors: Annotated[str | None, typer.Option(help=with_default("strict (an undecodable byte is an error) or replace (it becomes U+FFFD).", "errors"))] = None,
    seed: Annotated[int | None, typer.Option(help=with_default("Random seed, for repeatable runs.", "seed"))] = None,
    device: Annotated[str | None, typer.Option(help=with_default("auto, cpu, cuda or mps.", "device"))] = None,
    precision: Annotated[str | None, typer.Option(help=with_default("fp32, bf16 or fp16 (fp16: CUDA only).", "precision"))] = None,
    tensorboard: Annotated[bool | None, typer.Option("--tensorboard/--no-tensorboard", help="Also write TensorBoard events (needs tensorboard).", show_default=False)] = None,
    config: Annotated[Path | None, typer.Option("--config", help="YAML file of options; flags override it.")] = None,
    resume: Annotated[Path | None, typer.Option("--resume", help="Continue the run in this folder exactly where it stopped.")] = None,
    out: Annotated[str | None, typer.Option(help=with_default("Run folder.", "out"))] = None,
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
            from rnncli.core.errors import UsageError

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
            from rnncli.cli.forecast_jobs import SeriesOptions, run_resume

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

    from rnncli.cli.progress import TrainProgress
    from rnncli.core.distributed import Distributed
    from rnncli.core.errors import UsageError
    from rnncli.core.training import TrainingInterrupted
    from rnncli.tasks.language_model.jobs import prepare_text, train_text

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
    from rnncli.core.errors import CheckpointError
    from rnncli.tasks.language_model.tokenizers import tokenizer_from_dict

    try:
        return tokenizer_from_dict(state.meta.get("checkpoint", {}).get("tokenizer"))
    except CheckpointError as exc:
        raise CheckpointError(f"--resume {folder}: {exc.message}") from None


def _report_prepared(prepared) -> None:
    """What the data layer found: files left out, size, vocabulary and how much of the text it covers."""
    from rnncli.tasks.language_model.jobs import coverage

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
    from rnncli.core.errors import UsageError

    given = [k for k, v in flags.items() if v is not None]
    if given:
        raise UsageError(f"--{given[0].replace('_', '-')} is for text: a forecaster reads a CSV file")


def _is_forecast_task(task: str | None, data: list[str] | None, resume: Path | None) -> bool:
    from rnncli.core.errors import UsageError

    if task not in (None, "forecast", "language-model"):
        raise UsageError(f"--task: unknown value '{task}' (choose one of: language-model, forecast)")
    if resume is not None:
        from rnncli.cli.forecast_jobs import is_forecast_run

        return is_forecast_run(resume)
    return task == "forecast" or (task is None and bool(data) and data[0].lower().endswith(".csv"))


def _refuse_forecast_flags(flags: dict[str, Any]) -> None:
    from rnncli.core.errors import UsageError

    given = [k for k, v in flags.items() if v is not None]
    if given:
        raise UsageError(f"--{given[0].replace('_', '-')} is for forecasting: give a .csv file or --task forecast")


def _train_forecaster(data: str | None, *, out: str | None, force: bool, config: Path | None,
                      train_overrides: dict[str, Any], unused: dict[str, Any], model: dict[str, Any],
                      series: dict[str, Any]) -> None:
    from rnncli.cli.forecast_jobs import ModelOptions, SeriesOptions, run_train
    from rnncli.core.errors import UsageError
    from rnncli.core.runs import choose_run_dir

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

    from rnncli.cli.forecast_jobs import ModelOptions, SeriesOptions
    from rnncli.core.settings import TrainConfig, load_yaml_settings

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
    from rnncli.core.runs import choose_run_dir
    from rnncli.tasks.language_model.config import resolve_train_settings

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
    from rnncli.core.errors import UsageError
    from rnncli.core.resume_state import STATE_FILE, load_train_state
    from rnncli.tasks.language_model.config import RunConfig, resolve_resume_settings

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
