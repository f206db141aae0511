"""Options that several commands share, defined once as ``Annotated`` aliases, and the panels --help groups them in."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

# The panels of --help, so that a long list of options reads as a few short ones.
MODEL, TRAINING, TEXT, FORECASTING, RUN = "Model", "Training", "Text", "Forecasting", "Run and output"
DECODING, SCORING, GRAD_FLOW, OUTPUT = "Decoding", "Scoring", "Gradient flow", "Output"
CLASSIFICATION = "Classification (--task classify)"
TAGGING = "Tagging"
TRANSLATION = "Translation"

Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or messages on stderr.", rich_help_panel=RUN)]
Task = Annotated[
    str | None,
    typer.Option(
        help="The task to read the data as: language-model, forecast, classify, tag or translate. [default: the task "
        "a run or checkpoint records; forecast for a .csv or .tsv file; tag for .conll or .conllu; else "
        "language-model]"
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document.", rich_help_panel=OUTPUT)]
Unknown = Annotated[
    str | None,
    typer.Option(
        help="Text outside the vocabulary: error (name it), skip (drop it) or unk (the unknown token). "
        "[default: unk for a word model, else error]"
    ),
]
# How eval and sample --prime-file decode a text; a model reads text the way it was trained to by default.
TextEncoding = Annotated[
    str | None,
    typer.Option(
        "--encoding",
        help="The text's encoding (latin-1, cp1252, utf-16, ...). [default: the one the model was trained with]",
    ),
]
TextErrors = Annotated[
    str | None,
    typer.Option(
        "--errors",
        help="strict (an undecodable byte is an error) or replace (it becomes U+FFFD). "
        "[default: the model's training setting]",
    ),
]
ImplOverride = Annotated[
    str | None, typer.Option("--impl", help="Run on fused or reference cells instead of what the checkpoint records.")
]

# Forecasting: `rnn train series.csv` and `rnn forecast` read and shape the same way.
Horizon = Annotated[
    int | None,
    typer.Option(help="Steps ahead to forecast (required to train a forecaster).", rich_help_panel=FORECASTING),
]
Lookback = Annotated[
    int | None,
    typer.Option(
        help="Context steps the model reads [default: max(2 x horizon, 2 x season, 8); a week for long hourly series].",
        rich_help_panel=FORECASTING,
    ),
]
Quantiles = Annotated[
    str | None, typer.Option(help="Quantiles to forecast [default: 0.1,0.5,0.9].", rich_help_panel=FORECASTING)
]
Season = Annotated[
    str | None,
    typer.Option(
        help="Seasonal period in steps, or several (24,168): all are model features, seasonal naive uses the first "
        "[default: the calendar's period when the data shows it, else the autocorrelation peak].",
        rich_help_panel=FORECASTING,
    ),
]
AllowOverlap = Annotated[
    bool,
    typer.Option(
        "--allow-overlap",
        help="Backtest a model on windows it was trained on (refused by default): warned, and marked in the JSON.",
        rich_help_panel=FORECASTING,
    ),
]
Scaling = Annotated[
    str | None,
    typer.Option(
        help="standard; log for positive multiplicative data; log1p (log(1 + x)) for counts with zeros "
        "[default: standard].",
        rich_help_panel=FORECASTING,
    ),
]
Ensemble = Annotated[
    int | None,
    typer.Option(help="Models trained side by side, median taken [default: 1].", rich_help_panel=FORECASTING),
]
Freq = Annotated[
    str | None,
    typer.Option(
        help="pandas frequency (h, D, W, MS, QS, YS, 15min...) [default: inferred].", rich_help_panel=FORECASTING
    ),
]
TimeCol = Annotated[
    str | None,
    typer.Option(help="The time column [default: from the header; none = integer index].", rich_help_panel=FORECASTING),
]
ValueCol = Annotated[
    str | None,
    typer.Option(help="The value column of a long file [default: from the header].", rich_help_panel=FORECASTING),
]
IdCol = Annotated[
    str | None,
    typer.Option(help="The series id column of a long file [default: from the header].", rich_help_panel=FORECASTING),
]
Missing = Annotated[
    str | None,
    typer.Option(
        help="interpolate gaps, empty cells and NA markers (with a warning) or error [default: interpolate].",
        rich_help_panel=FORECASTING,
    ),
]
Decimal = Annotated[
    str | None,
    typer.Option(
        help="The decimal mark of the CSV's numbers: . or , [default: detected per column].",
        rich_help_panel=FORECASTING,
    ),
]
Thousands = Annotated[
    str | None,
    typer.Option(
        help="The thousands separator: . , ' space or none [default: detected per column; 1.090 in a ; file is 1090].",
        rich_help_panel=FORECASTING,
    ),
]
SeriesStrict = Annotated[
    bool | None,
    typer.Option(
        "--strict",
        help="A series too short for the model is an error instead of left out with a warning.",
        rich_help_panel=FORECASTING,
    ),
]
Level = Annotated[
    str | None,
    typer.Option(
        help="Central intervals in percent, e.g. 80,95: columns lo-80,hi-80,lo-95,hi-95 (the model forecasts their bounds).",
        rich_help_panel=FORECASTING,
    ),
]
BacktestStep = Annotated[
    int | None,
    typer.Option(
        "--step",
        help="With --backtest: steps between the windows' origins [default: the horizon].",
        rich_help_panel=FORECASTING,
    ),
]

# Classification: `rnn train DATA --task classify` reads labelled examples.
TextCol = Annotated[
    str | None,
    typer.Option(help="The text column of a CSV/TSV/JSONL [default: from the header].", rich_help_panel=CLASSIFICATION),
]
LabelCol = Annotated[
    str | None,
    typer.Option(help="The label column [default: from the header].", rich_help_panel=CLASSIFICATION),
]
ConditionCol = Annotated[
    str | None,
    typer.Option(
        help="Language models: train a generator conditioned on this label column of a labelled file (CSV, TSV, "
        "JSONL; any value for a folder per class or fastText lines); sample it with rnn sample --condition.",
        rich_help_panel=TEXT,
    ),
]
ValFile = Annotated[
    str | None,
    typer.Option(
        "--val",
        help="Validation text or examples from this file instead of the last --val-frac of DATA (language models, "
        "classifiers, taggers).",
        rich_help_panel=TRAINING,
    ),
]
Pool = Annotated[
    str | None,
    typer.Option(
        help="How the encoder's states become one vector: last, mean, max or attention [default: max].",
        rich_help_panel=CLASSIFICATION,
    ),
]
Bidirectional = Annotated[
    bool | None,
    typer.Option(
        "--bidirectional/--no-bidirectional",
        help="Read each example both ways [default: bidirectional].",
        show_default=False,
        rich_help_panel=CLASSIFICATION,
    ),
]
MaxLen = Annotated[
    int | None,
    typer.Option(
        help="Classifiers: cut examples longer than this many tokens, with a warning [default: 512]. Translators: "
        "leave out pairs with a side longer than this, with a count [default: 100].",
        rich_help_panel=CLASSIFICATION,
    ),
]
ClassWeight = Annotated[
    str | None,
    typer.Option(help="none, or balanced for imbalanced classes [default: none].", rich_help_panel=CLASSIFICATION),
]
Strict = Annotated[
    bool | None,
    typer.Option(
        "--strict",
        help="Classifiers: an empty text is an error instead of skipped. Forecasters: a series too short for the "
        "model is an error instead of left out.",
        rich_help_panel=RUN,
    ),
]
TopK = Annotated[
    int | None,
    typer.Option(
        help="Classifiers: the k most probable labels per input [default: 1].", rich_help_panel=CLASSIFICATION
    ),
]
# Tagging: `rnn train data.conll` and `rnn eval RUN data.conll` read tagged files the same way.
TagCol = Annotated[
    int | None,
    typer.Option(
        help="CoNLL files: the tag column, counting from 1 (the token is column 1) [default: the last].",
        rich_help_panel=TAGGING,
    ),
]
TagField = Annotated[
    str | None,
    typer.Option(
        help="CoNLL-U files: the field to tag with: upos, xpos, deprel, feats, ... [default: upos].",
        rich_help_panel=TAGGING,
    ),
]
Crf = Annotated[
    bool | None,
    typer.Option(
        "--crf/--no-crf",
        help="A linear-chain CRF over the tags instead of a softmax per token [default: no].",
        show_default=False,
        rich_help_panel=TAGGING,
    ),
]
WordDropout = Annotated[
    float | None,
    typer.Option(
        help="Chance that a training word is read as unknown, to teach the unknown word [default: 0.05].",
        rich_help_panel=TAGGING,
    ),
]
Pretokenized = Annotated[
    bool,
    typer.Option(
        "--pretokenized",
        help="Taggers: the lines are tokens separated by whitespace (else words and punctuation are split).",
        rich_help_panel=TAGGING,
    ),
]
# Translation: decoding, as `rnn predict` and `rnn eval` take it.
Beam = Annotated[
    int | None,
    typer.Option(help="Translators: beam width; 1 is greedy search. [default: 1]", rich_help_panel=TRANSLATION),
]
NBest = Annotated[
    int | None,
    typer.Option(
        help="Translators: hypotheses per input, best first (jsonl). [default: 1]", rich_help_panel=TRANSLATION
    ),
]
LengthPenalty = Annotated[
    float | None,
    typer.Option(
        help="Translators: beam scores are divided by length ** this (0: off). [default: 1.0]",
        rich_help_panel=TRANSLATION,
    ),
]
MaxLenRatio = Annotated[
    float | None,
    typer.Option(
        help="Translators: an output has at most this x the source's tokens + 10. [default: 2.0]",
        rich_help_panel=TRANSLATION,
    ),
]

# Gradient flow: `rnn grad-flow` and its alias `rnn inspect --grad-flow`.
GradFlowData = Annotated[
    str | None,
    typer.Option(
        "--data",
        help="Text to measure on [default: the run's validation text; random tokens for an untrained model].",
        rich_help_panel=GRAD_FLOW,
    ),
]
StepsBack = Annotated[
    int | None,
    typer.Option(help="How many steps back to follow the gradient. [default: 100]", rich_help_panel=GRAD_FLOW),
]
Windows = Annotated[
    int | None,
    typer.Option(help="Windows of text the norms are averaged over. [default: 16]", rich_help_panel=GRAD_FLOW),
]
GradFlowSeed = Annotated[
    int | None,
    typer.Option(
        "--seed", help="Seed for the windows and the untrained model. [default: 0]", rich_help_panel=GRAD_FLOW
    ),
]
GradFlowImpl = Annotated[
    str | None,
    typer.Option("--impl", help="fused or reference: the implementation to measure on.", rich_help_panel=GRAD_FLOW),
]
UntrainedCell = Annotated[
    str | None,
    typer.Option(
        "--cell",
        help="Untrained model: lstm, gru, rnn, rnn-relu, gru-textbook, mingru or minlstm.",
        rich_help_panel=GRAD_FLOW,
    ),
]
UntrainedHiddenSize = Annotated[
    int | None, typer.Option("--hidden-size", help="Untrained model: units per layer.", rich_help_panel=GRAD_FLOW)
]
UntrainedNumLayers = Annotated[
    int | None, typer.Option("--num-layers", help="Untrained model: stacked layers.", rich_help_panel=GRAD_FLOW)
]
UntrainedEmbedSize = Annotated[
    int | None, typer.Option("--embed-size", help="Untrained model: embedding size.", rich_help_panel=GRAD_FLOW)
]
Plot = Annotated[
    Path | None,
    typer.Option("--plot", help="Also write a picture (.png, .svg or .pdf). Needs matplotlib.", rich_help_panel=OUTPUT),
]


def with_default(text: str, name: str) -> str:
    """Help text that shows the default from the settings dataclasses, the one place defaults live."""
    from rnncli.core.settings import ModelConfig, TrainConfig
    from rnncli.tasks.language_model.config import TextConfig

    for section in (TextConfig, ModelConfig, TrainConfig):
        default = section.__dataclass_fields__[name].default if name in section.__dataclass_fields__ else None
        if default is not None:
            return f"{text} [default: {default}]"
    return text


EvalSource = Annotated[
    str | None,
    typer.Option(
        "--source",
        help="Translators: source sentences, one per line (with --target, instead of DATA).",
        rich_help_panel=TRANSLATION,
    ),
]
EvalTarget = Annotated[
    str | None,
    typer.Option(
        "--target",
        help="Translators: their reference translations, line-aligned with --source.",
        rich_help_panel=TRANSLATION,
    ),
]
AttentionText = Annotated[
    str | None,
    typer.Option(
        "--attention",
        metavar="TEXT",
        help="Translators: translate TEXT and show, per output token, the source token it attends to most "
        "(--plot draws the whole matrix as a heat map).",
        rich_help_panel=TRANSLATION,
    ),
]


def options_besides(ctx: typer.Context, *names: str) -> dict[str, Any]:
    """The command's options by name, leaving out those it handles itself."""
    return {name: value for name, value in ctx.params.items() if name not in names}
