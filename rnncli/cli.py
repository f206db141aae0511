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
from rnncli.config import DEFAULT_STEPS
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
            return func(*args, **kwargs)
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
    from rnncli.config import ModelConfig, TrainConfig

    for section in (ModelConfig, TrainConfig):
        default = section.__dataclass_fields__[name].default if name in section.__dataclass_fields__ else None
        if default is not None:
            return f"{text} [default: {default}]"
    return text


@app.command()
@user_errors
def train(
    data: Annotated[str, typer.Argument(help="A UTF-8 text file, or - for stdin.")],
    cell: Annotated[str | None, typer.Option(help=_with_default("lstm, gru, rnn (tanh) or rnn-relu.", "cell"))] = None,
    hidden_size: Annotated[int | None, typer.Option(help=_with_default("Units per recurrent layer.", "hidden_size"))] = None,
    num_layers: Annotated[int | None, typer.Option(help=_with_default("Stacked recurrent layers.", "num_layers"))] = None,
    embed_size: Annotated[int | None, typer.Option(help=_with_default("Size of the token embedding.", "embed_size"))] = None,
    dropout: Annotated[float | None, typer.Option(help=_with_default("Dropout between layers and before the head.", "dropout"))] = None,
    seq_len: Annotated[int | None, typer.Option(help=_with_default("Window length for truncated BPTT.", "seq_len"))] = None,
    batch_size: Annotated[int | None, typer.Option(help=_with_default("Parallel streams per batch.", "batch_size"))] = None,
    lr: Annotated[float | None, typer.Option(help=_with_default("AdamW learning rate.", "lr"))] = None,
    weight_decay: Annotated[float | None, typer.Option(help=_with_default("AdamW weight decay.", "weight_decay"))] = None,
    clip: Annotated[float | None, typer.Option(help=_with_default("Clip the gradient norm to this; 0 turns it off.", "clip"))] = None,
    steps: Annotated[int | None, typer.Option(help=f"Optimizer steps to train. [default: {DEFAULT_STEPS} unless --epochs]")] = None,
    epochs: Annotated[float | None, typer.Option(help="Passes over the training text (instead of --steps).")] = None,
    eval_every: Annotated[int | None, typer.Option(help=_with_default("Validate and save every N steps.", "eval_every"))] = None,
    val_frac: Annotated[float | None, typer.Option(help=_with_default("Last fraction of the text kept for validation.", "val_frac"))] = None,
    seed: Annotated[int | None, typer.Option(help=_with_default("Random seed, for repeatable runs.", "seed"))] = None,
    device: Annotated[str | None, typer.Option(help=_with_default("auto, cpu, cuda or mps.", "device"))] = None,
    config: Annotated[Path | None, typer.Option("--config", help="YAML file of options; flags override it.")] = None,
    out: Annotated[str | None, typer.Option(help=_with_default("Run folder.", "out"))] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing run folder.")] = False,
    quiet: Quiet = False,
) -> None:
    """Train a character language model on DATA.

    Example: rnn train sample_data/tinyworld.txt --cell lstm --steps 2000
    """
    from rnncli.config import resolve_train_settings
    from rnncli.progress import TrainProgress
    from rnncli.runs import choose_run_dir
    from rnncli.workflows import prepare_text, train_text

    console.set_quiet(quiet)
    overrides = dict(cell=cell, hidden_size=hidden_size, num_layers=num_layers, embed_size=embed_size,
                     dropout=dropout, seq_len=seq_len, batch_size=batch_size, lr=lr,
                     weight_decay=weight_decay, clip=clip, steps=steps, epochs=epochs,
                     eval_every=eval_every, val_frac=val_frac, seed=seed, device=device)
    run = resolve_train_settings(overrides, config)
    run.model.vocab_size = 1  # validated for real once the data is read
    run.model.validate()
    out_dir, note = choose_run_dir(out, data, force=force)
    if note:
        console.info(note)
    prepared = prepare_text(data)
    console.info(f"{prepared.corpus.source}: {len(prepared.corpus.text):,} characters, "
                 f"vocabulary of {prepared.tokenizer.vocab_size} symbols")
    with TrainProgress(console.stderr) as progress:
        try:
            history = train_text(prepared, run, out_dir=out_dir, on_event=progress.update,
                                 command=["rnn", *sys.argv[1:]])
        except KeyboardInterrupt:
            progress.stop()
            console.error(f"interrupted; the latest weights are in {out_dir / 'last.safetensors'}")
            raise typer.Exit(EXIT_INTERRUPTED) from None
    best = history.best_val_loss
    console.info(f"saved {out_dir}/ (best loss {best:.4f} at step {history.best_step}); "
                 f"try: rnn sample {out_dir} --temp 0.8")


@app.command()
@user_errors
def sample(
    checkpoint: Annotated[str, typer.Argument(help="A run folder or a .safetensors file.")],
    length: Annotated[int, typer.Option(help="Tokens (characters, for a char model) to generate.")] = 500,
    temp: Annotated[float, typer.Option(help="Sampling temperature; 0 always picks the likeliest.")] = 1.0,
    prime: Annotated[str, typer.Option(help="Text to start from (fed through the model, not printed).")] = "",
    seed: Annotated[int | None, typer.Option(help="Random seed; the same seed gives the same text.")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or mps.")] = "cpu",
    quiet: Quiet = False,
) -> None:
    """Generate text from a trained model, streamed to stdout.

    Example: rnn sample runs/tinyworld --temp 0.8 --length 500 --seed 7
    """
    from rnncli.checkpoint import load_checkpoint
    from rnncli.config import DEVICES
    from rnncli.devices import resolve_device
    from rnncli.errors import UsageError
    from rnncli.generation import generate

    console.set_quiet(quiet)
    if length < 0:
        raise UsageError(f"--length must be 0 or more, got {length}")
    if not temp >= 0:
        raise UsageError(f"--temp must be 0 or more, got {temp}")
    if device not in DEVICES:
        raise UsageError(f"--device: unknown value '{device}' (choose one of: {', '.join(DEVICES)})")
    ckpt = load_checkpoint(checkpoint, device=resolve_device(device))
    tokenizer = ckpt.tokenizer
    prime_ids = tokenizer.encode(prime)
    newline = tokenizer.index.get("\n") if hasattr(tokenizer, "index") else None
    seed = seed if seed is not None else secrets.randbelow(2**31)
    out = sys.stdout
    for token in generate(ckpt.model, prime_ids, length=length, temperature=temp, seed=seed,
                          newline_id=newline):
        out.write(tokenizer.decode([token]))
        out.flush()
    out.write("\n")
    out.flush()


@app.command("eval")
@user_errors
def evaluate(
    checkpoint: Annotated[str, typer.Argument(help="A run folder or a .safetensors file.")],
    data: Annotated[str, typer.Argument(help="A UTF-8 text file, or - for stdin.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or mps.")] = "cpu",
) -> None:
    """Loss, perplexity and bits per character of a model on a text.

    Example: rnn eval runs/tinyworld held_out.txt --json
    """
    from rnncli.checkpoint import load_checkpoint
    from rnncli.devices import resolve_device
    from rnncli.workflows import evaluate_text

    result = evaluate_text(load_checkpoint(checkpoint, device=resolve_device(device)), data)
    if as_json:
        typer.echo(json.dumps(result))
        return
    typer.echo(f"data        {result['data']}")
    typer.echo(f"tokens      {result['tokens']:,}")
    typer.echo(f"loss        {result['loss']:.4f} nats/token")
    typer.echo(f"perplexity  {result['perplexity']:.3f}")
    typer.echo(f"bpc         {result['bpc']:.4f} bits/character")


@app.command()
@user_errors
def inspect(
    paths: Annotated[list[str], typer.Argument(metavar="PATH [PATH_B]", help="A run folder or .safetensors checkpoint, a text file, a folder of text files or - (stdin); two checkpoints to compare them.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    plot: Annotated[Path | None, typer.Option("--plot", help="Also write a picture (.png, .svg or .pdf): the training curve of a run, or the symbol frequencies of a text. Needs matplotlib.")] = None,
    top: Annotated[int, typer.Option(help="How many of the most frequent symbols and words of a text to list.")] = 10,
) -> None:
    """Explain what a checkpoint, a run or a data file holds, with pictures.

    Example: rnn inspect runs/tinyworld --plot curve.png
    """
    from rnncli.errors import UsageError
    from rnncli.report import path_kind

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
        raise UsageError(f"{paths[0]}: inspecting CSV time series is not available yet")
    else:
        _inspect_text(paths[0], as_json=as_json, plot=plot, top=top)


def _inspect_checkpoint(path: str, *, as_json: bool, plot: Path | None) -> None:
    from rnncli.errors import UsageError
    from rnncli.render import print_checkpoint_summary, save_curve_plot
    from rnncli.report import inspect_checkpoint

    summary = inspect_checkpoint(path)
    if plot is not None:
        if not summary["curve"]:
            raise UsageError(f"--plot: {path} has no metrics.jsonl beside it, so there is no curve to draw")
        save_curve_plot([(path, summary["curve"])], plot)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        print_checkpoint_summary(summary)


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


def main() -> None:
    app(prog_name="rnn")
