"""rnn sample: text from a trained language model."""

from __future__ import annotations

from typing import Annotated

import typer

from rnncli.cli import console
from rnncli.cli.failures import user_errors
from rnncli.cli.options import DECODING, OUTPUT, ImplOverride, Quiet, TextEncoding, TextErrors, Unknown, options_besides


@user_errors
def sample(
    ctx: typer.Context,
    checkpoint: Annotated[str, typer.Argument(metavar="CHECKPOINT", help="A run folder or a .safetensors file.")],
    length: Annotated[int, typer.Option(help="Tokens to generate per sample (characters, for a char model).")] = 500,
    temp: Annotated[
        float | None,
        typer.Option(
            help="Sampling temperature; 0 always picks the likeliest token.  [default: 1.0]", rich_help_panel=DECODING
        ),
    ] = None,
    greedy: Annotated[
        bool,
        typer.Option("--greedy", help="Always pick the likeliest token (same as --temp 0).", rich_help_panel=DECODING),
    ] = False,
    top_k: Annotated[
        int, typer.Option(help="Sample only from the K likeliest tokens; 0 turns it off.", rich_help_panel=DECODING)
    ] = 0,
    top_p: Annotated[
        float,
        typer.Option(
            help="Nucleus: sample from the likeliest tokens holding this much probability, in (0, 1].",
            rich_help_panel=DECODING,
        ),
    ] = 1.0,
    min_p: Annotated[
        float,
        typer.Option(
            help="Drop tokens less likely than this times the likeliest one, in [0, 1).", rich_help_panel=DECODING
        ),
    ] = 0.0,
    repetition_penalty: Annotated[
        float,
        typer.Option(
            help="Above 1, tokens already in the prompt or sample become less likely.", rich_help_panel=DECODING
        ),
    ] = 1.0,
    beam: Annotated[
        int,
        typer.Option(
            help="Beam search with N beams for the likeliest continuation; 0 samples.", rich_help_panel=DECODING
        ),
    ] = 0,
    length_penalty: Annotated[
        float | None,
        typer.Option(
            help="Beam search: a hypothesis that a --stop string ends ranks by its log-probability divided by "
            "length ** this (0: off).  [default: 1.0]",
            rich_help_panel=DECODING,
        ),
    ] = None,
    prime: Annotated[str, typer.Option(help="Text to start from (fed through the model once, not printed).")] = "",
    prime_file: Annotated[str | None, typer.Option(help="Read the prompt from a file, or - for stdin.")] = None,
    prompts: Annotated[
        str | None,
        typer.Option(help="A file of prompts, one per line (- for stdin): --num samples of each, in order."),
    ] = None,
    include_prime: Annotated[
        bool, typer.Option("--include-prime", help="Print the prompt before each sample.", rich_help_panel=OUTPUT)
    ] = False,
    num: Annotated[int, typer.Option(help="Samples to generate, as one batch; sample i uses seed + i.")] = 1,
    separator: Annotated[
        str | None,
        typer.Option(
            help="A line printed between samples (text format).  [default: an empty line]", rich_help_panel=OUTPUT
        ),
    ] = None,
    stop: Annotated[
        list[str] | None, typer.Option(help="End a sample where this text appears (not printed); repeatable.")
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="text (streamed) or jsonl (one object per sample).", rich_help_panel=OUTPUT)
    ] = "text",
    seed: Annotated[int | None, typer.Option(help="Random seed; the same seed gives the same text.")] = None,
    unknown: Unknown = None,
    no_unk: Annotated[
        bool | None,
        typer.Option(
            "--no-unk/--allow-unk",
            help="Never generate the unknown token, or let the model choose it. [default: --no-unk for a word "
            "model, whose <unk> stands for every rare word; --allow-unk else, as a character model never saw its own]",
            show_default=False,
            rich_help_panel=DECODING,
        ),
    ] = None,
    encoding: TextEncoding = None,
    errors: TextErrors = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or mps.")] = "cpu",
    impl: ImplOverride = None,
    condition: Annotated[
        str | None,
        typer.Option(
            help="A conditional model (trained on a labelled file): the label to generate for, or all for "
            "--num samples of every label, label by label (--format jsonl records each one's label).",
        ),
    ] = None,
    quiet: Quiet = False,
) -> None:
    """Generate text from a trained model, streamed to stdout.

    Example: rnn sample runs/tinyworld --temp 0.8 --length 500 --seed 7 --prime "The "
    """
    from rnncli.cli.render.outputs import write_sample
    from rnncli.tasks.language_model.sample_job import SampleRequest, sample_output

    console.set_quiet(quiet)
    request = SampleRequest(**options_besides(ctx, "quiet"))
    write_sample(sample_output(request))
