"""rnn train: a model of the task DATA is (language model, forecaster, classifier, tagger, translator)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from rnncli import tasks
from rnncli.cli import console
from rnncli.cli.failures import user_errors
from rnncli.cli.options import (
    MODEL,
    RUN,
    TEXT,
    TRAINING,
    TRANSLATION,
    Bidirectional,
    ClassWeight,
    ConditionCol,
    Crf,
    Decimal,
    Ensemble,
    Freq,
    Horizon,
    IdCol,
    LabelCol,
    Level,
    Lookback,
    MaxLen,
    Missing,
    Pool,
    Quantiles,
    Quiet,
    Scaling,
    Season,
    Strict,
    TagCol,
    TagField,
    Task,
    TextCol,
    Thousands,
    TimeCol,
    ValFile,
    ValueCol,
    WordDropout,
    options_besides,
    with_default,
)
from rnncli.cli.progress import TrainProgress
from rnncli.core.settings import DEFAULT_STEPS
from rnncli.tasks.requests import TrainRequest

RUN_OPTIONS = ("data", "task", "config", "resume", "out", "force", "quiet")  # the request's own fields


@user_errors
def train(
    ctx: typer.Context,
    data: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="DATA",
            help="Text files, folders (searched recursively; see --glob), or - for stdin; a .csv or .tsv file trains a forecaster (with --resume: the run's own data).",
        ),
    ] = None,
    cell: Annotated[
        str | None,
        typer.Option(
            help=with_default(
                "lstm, gru, rnn (tanh), rnn-relu, gru-textbook (reference only), mingru or minlstm (parallel scan).",
                "cell",
            ),
            rich_help_panel=MODEL,
        ),
    ] = None,
    impl: Annotated[
        str | None,
        typer.Option(
            help=with_default(
                "fused (PyTorch's kernels; the parallel scan for mingru, minlstm) or reference (one step per token: rnncli/core/cells.py).",
                "impl",
            ),
            rich_help_panel=MODEL,
        ),
    ] = None,
    hidden_size: Annotated[
        int | None, typer.Option(help=with_default("Units per recurrent layer.", "hidden_size"), rich_help_panel=MODEL)
    ] = None,
    num_layers: Annotated[
        int | None, typer.Option(help=with_default("Stacked recurrent layers.", "num_layers"), rich_help_panel=MODEL)
    ] = None,
    embed_size: Annotated[
        int | None, typer.Option(help=with_default("Size of the token embedding.", "embed_size"), rich_help_panel=MODEL)
    ] = None,
    dropout: Annotated[
        float | None,
        typer.Option(
            help=with_default("Dropout between layers and before the head.", "dropout"), rich_help_panel=MODEL
        ),
    ] = None,
    seq_len: Annotated[
        int | None,
        typer.Option(help=with_default("Window length for truncated BPTT.", "seq_len"), rich_help_panel=TRAINING),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            help=with_default("Parallel streams per batch (all processes together).", "batch_size"),
            rich_help_panel=TRAINING,
        ),
    ] = None,
    lr: Annotated[
        float | None, typer.Option(help=with_default("AdamW learning rate.", "lr"), rich_help_panel=TRAINING)
    ] = None,
    weight_decay: Annotated[
        float | None, typer.Option(help=with_default("AdamW weight decay.", "weight_decay"), rich_help_panel=TRAINING)
    ] = None,
    clip: Annotated[
        float | None,
        typer.Option(
            help=with_default("Clip the gradient norm to this; 0 turns it off.", "clip"), rich_help_panel=TRAINING
        ),
    ] = None,
    lr_schedule: Annotated[
        str | None,
        typer.Option(
            help=with_default("constant or cosine (decays to 0.1 x --lr).", "lr_schedule"), rich_help_panel=TRAINING
        ),
    ] = None,
    warmup: Annotated[
        int | None,
        typer.Option(help=with_default("Steps of linear learning-rate warm-up.", "warmup"), rich_help_panel=TRAINING),
    ] = None,
    steps: Annotated[
        int | None,
        typer.Option(
            help=f"Optimizer steps to train, in total (also when resuming). [default: {DEFAULT_STEPS} unless --epochs or --time]",
            rich_help_panel=TRAINING,
        ),
    ] = None,
    epochs: Annotated[
        float | None, typer.Option(help="Passes over the training text (instead of --steps).", rich_help_panel=TRAINING)
    ] = None,
    time: Annotated[
        str | None,
        typer.Option(help="Wall-clock budget (90s, 10m, 2h): then validate, save and stop.", rich_help_panel=TRAINING),
    ] = None,
    patience: Annotated[
        int | None,
        typer.Option(
            help="Stop after N evaluations without a better validation score (the loss, or the task's metric).",
            rich_help_panel=TRAINING,
        ),
    ] = None,
    best_by: Annotated[
        str | None,
        typer.Option(
            help=with_default(
                "metric (the task's own: macro F1, entity F1, chrF) or loss: what picks the best checkpoint "
                "and counts --patience. Tasks without a metric use the loss.",
                "best_by",
            ),
            rich_help_panel=TRAINING,
        ),
    ] = None,
    eval_every: Annotated[
        int | None,
        typer.Option(help=with_default("Validate and save every N steps.", "eval_every"), rich_help_panel=TRAINING),
    ] = None,
    eval_batches: Annotated[
        int | None,
        typer.Option(
            help=with_default(
                "Language models: windows of held-out text each validation reads (under --time, at most what fits "
                "in 3% of the training time).",
                "eval_batches",
            ),
            rich_help_panel=TRAINING,
        ),
    ] = None,
    keep: Annotated[
        int | None,
        typer.Option(
            help=with_default("Also keep the N latest step checkpoints (the best one always stays).", "keep"),
            rich_help_panel=TRAINING,
        ),
    ] = None,
    sample_every: Annotated[
        int | None,
        typer.Option(
            help="Language models: print a sample of the model's text on stderr every N validations "
            "(not with --quiet).",
            rich_help_panel=TRAINING,
        ),
    ] = None,
    val_frac: Annotated[
        float | None,
        typer.Option(
            help=with_default("Last fraction of the text kept for validation.", "val_frac"), rich_help_panel=TRAINING
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(help=with_default("Random seed, for repeatable runs.", "seed"), rich_help_panel=TRAINING),
    ] = None,
    device: Annotated[
        str | None, typer.Option(help=with_default("auto, cpu, cuda or mps.", "device"), rich_help_panel=TRAINING)
    ] = None,
    precision: Annotated[
        str | None,
        typer.Option(help=with_default("fp32, bf16 or fp16 (fp16: CUDA only).", "precision"), rich_help_panel=TRAINING),
    ] = None,
    tensorboard: Annotated[
        bool | None,
        typer.Option(
            "--tensorboard/--no-tensorboard",
            help="Also write TensorBoard events (needs tensorboard).",
            show_default=False,
            rich_help_panel=TRAINING,
        ),
    ] = None,
    tokenizer: Annotated[
        str | None,
        typer.Option(
            help="char (code points), byte (UTF-8 bytes), word or bpe (byte-level BPE). [default: char; "
            "classify: word; translate: bpe]",
            rich_help_panel=TEXT,
        ),
    ] = None,
    vocab_size: Annotated[
        int | None,
        typer.Option(
            help=with_default("bpe: the vocabulary to learn, 257 or more.", "vocab_size"), rich_help_panel=TEXT
        ),
    ] = None,
    min_count: Annotated[
        int | None,
        typer.Option(
            help="word tokens, classify and tag: words seen fewer times become the unknown word "
            "[default: 1 for a language model, 2 for classify and tag].",
            rich_help_panel=TEXT,
        ),
    ] = None,
    max_vocab: Annotated[
        int | None,
        typer.Option(
            help=with_default("word: keep at most this many of the most frequent words.", "max_vocab"),
            rich_help_panel=TEXT,
        ),
    ] = None,
    glob: Annotated[
        str | None,
        typer.Option(
            help="In a folder, read only the files matching this pattern, e.g. '*.py' [default: every text file].",
            rich_help_panel=TEXT,
        ),
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(
            help=with_default("The text's encoding (latin-1, cp1252, utf-16, ...).", "encoding"), rich_help_panel=TEXT
        ),
    ] = None,
    errors: Annotated[
        str | None,
        typer.Option(
            help=with_default("strict (an undecodable byte is an error) or replace (it becomes U+FFFD).", "errors"),
            rich_help_panel=TEXT,
        ),
    ] = None,
    horizon: Horizon = None,
    lookback: Lookback = None,
    quantiles: Quantiles = None,
    level: Level = None,
    season: Season = None,
    scaling: Scaling = None,
    ensemble: Ensemble = None,
    freq: Freq = None,
    time_col: TimeCol = None,
    value_col: ValueCol = None,
    id_col: IdCol = None,
    missing: Missing = None,
    decimal: Decimal = None,
    thousands: Thousands = None,
    text_col: TextCol = None,
    label_col: LabelCol = None,
    condition_col: ConditionCol = None,
    val: ValFile = None,
    pool: Pool = None,
    bidirectional: Bidirectional = None,
    max_len: MaxLen = None,
    class_weight: ClassWeight = None,
    strict: Strict = None,
    tag_col: TagCol = None,
    tag_field: TagField = None,
    crf: Crf = None,
    word_dropout: WordDropout = None,
    source: Annotated[
        str | None,
        typer.Option(
            help="Translators: the source side, one sentence per line (with --target, instead of DATA).",
            rich_help_panel=TRANSLATION,
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(help="Translators: the target side, line-aligned with --source.", rich_help_panel=TRANSLATION),
    ] = None,
    attention: Annotated[
        str | None,
        typer.Option(
            help="Translators: additive (Bahdanau), dot, general (Luong) or none. [default: general]",
            rich_help_panel=TRANSLATION,
        ),
    ] = None,
    label_smoothing: Annotated[
        float | None,
        typer.Option(
            help="Translators: label smoothing of the training loss. [default: 0.1]", rich_help_panel=TRANSLATION
        ),
    ] = None,
    shared_vocab: Annotated[
        bool | None,
        typer.Option(
            "--shared-vocab/--no-shared-vocab",
            help="Translators: one tokenizer learnt on both sides, or one per side. [default: shared]",
            rich_help_panel=TRANSLATION,
        ),
    ] = None,
    tie_embeddings: Annotated[
        bool | None,
        typer.Option(
            "--tie-embeddings",
            help="Translators: tie the decoder's input embedding and output layer (needs --embed-size equal to "
            "--hidden-size).",
            rich_help_panel=TRANSLATION,
        ),
    ] = None,
    copy: Annotated[
        bool | None,
        typer.Option(
            "--copy/--no-copy",
            help="Translators: let the decoder copy source tokens through its attention as well as generate "
            "(with attention and a shared vocabulary). [default: copy]",
            rich_help_panel=TRANSLATION,
        ),
    ] = None,
    task: Task = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="YAML file of options; flags override it.", rich_help_panel=RUN)
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option("--resume", help="Continue the run in this folder exactly where it stopped.", rich_help_panel=RUN),
    ] = None,
    init_from: Annotated[
        str | None,
        typer.Option(
            "--init-from",
            metavar="RUN",
            help="Language models: fine-tune, starting a new run from RUN's weights, model and tokenizer "
            "(a fresh optimizer and step count).",
            rich_help_panel=RUN,
        ),
    ] = None,
    out: Annotated[
        str | None, typer.Option(help="Run folder [default: runs/ and the name of DATA].", rich_help_panel=RUN)
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing run folder.", rich_help_panel=RUN)
    ] = False,
    quiet: Quiet = False,
) -> None:
    """Train a model on DATA: a language model on text, a forecaster on a CSV of series, or with --task a classifier, tagger or translator.

    A forecaster has its own defaults for the options it shares with a language model (see rnn forecast --help).

    Example: rnn train sample_data/tinyworld.txt --cell lstm --steps 2000

    Example: rnn train src/ --glob '*.py' --tokenizer bpe --vocab-size 2000

    Example: rnn train more.txt --init-from runs/tinyworld --lr 5e-4 --steps 300

    Example: rnn train sample_data/monthly.csv --horizon 12

    Example: rnn train sample_data/reviews.csv --task classify

    Example: rnn train sample_data/ner.conll --crf

    Example: rnn train sample_data/pairs.tsv --task translate
    """
    console.set_quiet(quiet)
    request = TrainRequest(
        data=data or [],
        task=task,
        resume=resume,
        config=config,
        out=out,
        force=force,
        options=options_besides(ctx, *RUN_OPTIONS),
        command=["rnn", *sys.argv[1:]],
    )
    with TrainProgress(console.stderr) as progress:
        tasks.train(request, progress.reporter())
