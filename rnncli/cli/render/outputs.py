"""What each command writes to stdout: results as text, tables, CSV, JSON or JSON lines.

Messages go to stderr (rnncli/cli/console.py); everything here is a result.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from rnncli.cli import console
from rnncli.core.documents import escape_controls
from rnncli.core.errors import RuntimeFailure, UsageError
from rnncli.tasks.requests import Evaluation, Summary

if TYPE_CHECKING:
    from rnncli.tasks.forecast.predict import ForecastResult

FORECAST_FORMATS = ("csv", "jsonl")


def write_json(document: Any, *, indent: int | None = 2, ascii_only: bool = True) -> None:
    typer.echo(json.dumps(document, indent=indent, ensure_ascii=ascii_only))


def write_sample(pieces: Iterable[str | dict[str, Any]]) -> None:
    """Text as it is made (a reader of a pipe sees each piece at once); a record as one JSON line."""
    for piece in pieces:
        console.write_flushed(sys.stdout, piece if isinstance(piece, str) else json.dumps(piece) + "\n")


def write_evaluation(evaluation: Evaluation, *, as_json: bool, backtest_out: str | None = None) -> None:
    if evaluation.kind == "lines":
        for record in evaluation.records:
            console.write_flushed(sys.stdout, json.dumps(record, ensure_ascii=False) + "\n")
    elif evaluation.kind == "backtest":
        if backtest_out is not None:
            write_rows_file(list(evaluation.records), backtest_out)
            console.info(f"wrote {backtest_out}")
        write_backtest(evaluation.document, as_json=as_json)
    elif evaluation.kind == "report" and not as_json:
        typer.echo(evaluation.report)
    elif as_json:
        write_json(evaluation.document, indent=None)
    else:
        write_text_scores(evaluation.document)


def write_text_scores(result: dict[str, Any]) -> None:
    typer.echo(f"data        {result['data']}")
    typer.echo(f"tokens      {result['tokens']:,}")
    typer.echo(f"loss        {result['loss']:.4f} nats/token")
    typer.echo(f"perplexity  {result['perplexity']:.3f}")
    typer.echo(f"bpc         {result['bpc']:.4f} bits/character")
    typer.echo(f"bpb         {result['bpb']:.4f} bits/byte (UTF-8)")
    skipped = result.get("skipped") or {}
    if skipped.get("tokens"):
        typer.echo(
            f"skipped     {skipped['chars']:,} characters ({skipped['tokens']:,} tokens) outside the vocabulary, "
            f"not scored: {', '.join(map(repr, skipped['pieces']))}; bpc and bpb are per scored character and byte"
        )
    if result["unknown_tokens"]:
        typer.echo(
            f"unknown     {result['unknown_tokens']:,} tokens outside the vocabulary (scored as the unknown token)"
        )


def write_backtest(result: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return
    write_backtest_table(result)


SHOWN_SERIES = 20  # series listed in the backtest's text table (--json has them all)


def write_backtest_table(result: dict[str, Any]) -> None:
    lines = [
        f"backtest: {result['series']} series x {result['windows']} window(s) of {result['horizon']} steps "
        f"(lookback {result['lookback']}, season {result['season']}"
        + (f", origins {result['step']} apart" if result.get("step", result["horizon"]) != result["horizon"] else "")
        + (f"; model: its {result['point_forecast']} forecast)" if result.get("point_forecast") else ")"),
        f"{'method':<16}{'MASE':>9}{'sMAPE':>9}{'MAPE':>9}{'CRPS':>9}",
    ]
    for name, m in result["metrics"].items():
        cells = [m.get(k) for k in ("mase", "smape", "mape", "crps")]
        lines.append(f"{name:<16}" + "".join(f"{v:>9.3f}" if v is not None else f"{'-':>9}" for v in cells))
    lines.append("(averages over series; CRPS from the quantiles, scaled like MASE; MAE and RMSE per series: --json)")
    for nominal, share in result["coverage"].items():
        lines.append(f"coverage of the {float(nominal):.0%} interval: {share:.1%}")
    lines += _per_series_lines(result.get("per_series", []))
    lines.append(f"model MASE / seasonal naive MASE: {result['mase_vs_seasonal_naive']:.3f}")
    if not result["beats_seasonal_naive"]:
        lines.append(
            "the model does NOT beat seasonal naive on this data: use seasonal naive, or train longer or with more data"
        )
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def _per_series_lines(per_series: list[dict[str, Any]]) -> list[str]:
    """Each series' model and seasonal naive MASE and its interval coverage (the first few)."""
    if len(per_series) < 2:
        return []
    nominals = list(per_series[0]["coverage"])
    head = f"{'series':<20}{'MASE':>9}{'s.naive':>9}" + "".join(f"{float(n):>8.0%}" for n in nominals)
    lines = [head]
    for entry in per_series[:SHOWN_SERIES]:
        model, naive = entry["metrics"]["model"]["mase"], entry["metrics"]["seasonal_naive"]["mase"]
        cells = f"{_num(model):>9}{_num(naive):>9}" + "".join(f"{entry['coverage'][n]:>8.0%}" for n in nominals)
        lines.append(f"{entry['id'][:19]:<20}{cells}")
    if len(per_series) > SHOWN_SERIES:
        lines.append(f"... and {len(per_series) - SHOWN_SERIES} more series (--json lists them all)")
    return lines


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


@dataclass
class ForecastOutput:
    """What ``rnn forecast`` writes besides its result, as the options say."""

    output_format: str = "csv"
    plot: str | None = None
    as_json: bool = False
    backtest_out: str | None = None
    plot_history: int | None = None


def check_forecast_output(output: ForecastOutput, *, backtest: bool) -> None:
    """What ``rnn forecast`` will write, checked before any training: a known --format, a usable --plot,
    and the options that only a backtest has."""
    from rnncli.cli.render.plots import require_matplotlib

    if output.output_format not in FORECAST_FORMATS:
        raise UsageError(
            f"--format: unknown value '{output.output_format}' (choose one of: {', '.join(FORECAST_FORMATS)})"
        )
    if not backtest and output.as_json:
        raise UsageError("--json goes with --backtest N (the backtest's figures); a forecast as JSON: --format jsonl")
    if not backtest and output.backtest_out is not None:
        raise UsageError("--backtest-out goes with --backtest N: it writes the backtest windows' forecasts")
    if output.plot_history is not None and output.plot_history < 1:
        raise UsageError(f"--plot-history must be 1 or more points, got {output.plot_history}")
    if output.plot is not None:
        require_matplotlib(output.plot)


def write_forecast(result: ForecastResult, output: ForecastOutput) -> None:
    """A ``ForecastResult``: the backtest, or the forecast records (and their picture with --plot)."""
    from rnncli.cli.render import plots

    if result.backtest is not None:
        if output.backtest_out is not None:
            write_rows_file(result.windows, output.backtest_out)
            console.info(f"wrote {output.backtest_out} ({len(result.windows)} rows)")
        if output.plot is not None:
            plots.save_backtest_plot(result.history, result.windows, path=output.plot, history=output.plot_history)
        write_backtest(result.backtest, as_json=output.as_json)
    else:
        write_forecast_records(result.records, output.output_format)
        if output.plot is not None:
            plots.save_forecast_plot(result.history, result.records, path=output.plot, history=output.plot_history)
    if output.plot is not None:
        console.info(f"wrote {output.plot}")


def write_rows_file(rows: list[dict[str, Any]], path: str) -> None:
    """Records as a CSV file (floats to 6 significant digits); a file that cannot be written is a runtime failure."""
    try:
        with open(path, "w", newline="", encoding="utf-8") as handle:
            _write_csv(rows, handle)
    except OSError as exc:
        raise RuntimeFailure(f"--backtest-out {path}: cannot write the file ({exc.strerror or exc})") from None


def _write_csv(records: list[dict[str, Any]], out) -> None:
    writer = csv.DictWriter(out, fieldnames=list(records[0]), lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: f"{v:.6g}" if isinstance(v, float) else spreadsheet_safe(v) for k, v in record.items()})


_NUMBER = re.compile(r"[-+]?\d+(\.\d*)?([eE][-+]?\d+)?")


def spreadsheet_safe(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula (``=cmd|...``, ``+``, ``-``, ``@``) gets a leading ``'``.

    Numbers written as text (``-5``) are left alone; the csv module quotes the rest by the CSV rules.
    """
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def write_forecast_records(records: list[dict[str, Any]], output_format: str) -> None:
    out = sys.stdout
    if output_format == "jsonl":
        for record in records:
            out.write(json.dumps(record) + "\n")
    else:
        _write_csv(records, out)
    out.flush()


def write_grad_flow(result: dict[str, Any], *, as_json: bool, plot: Path | None) -> None:
    from rnncli.cli.render.grad_flow import print_grad_flow
    from rnncli.cli.render.plots import save_grad_flow_plot

    if plot is not None:
        save_grad_flow_plot([result], plot)
    if as_json:
        write_json(result)
        return
    print_grad_flow(result)
    if plot is not None:
        console.info(f"wrote {plot}")


def write_inspection(summary: Summary, *, as_json: bool, plot: Path | None) -> None:
    """A summary of ``rnn inspect``: its picture first (a bad --plot fails before anything is printed)."""
    document = summary.document
    if plot is not None:
        _plot_inspection(summary, plot)
    if as_json:
        write_json(document, ascii_only=document.get("kind") not in ("text", "series"))
        return
    shown = document if document.get("kind") in ("text", "series") else printable(document)
    _printer(shown)(shown)


def printable(value: Any) -> Any:
    """Every string in a document read from a checkpoint with its control characters escaped.

    A checkpoint is untrusted: its strings (the data source, the command, versions) must not reach the
    terminal as escape sequences (clearing the screen, hyperlinks, colours).
    """
    if isinstance(value, str):
        return escape_controls(value)
    if isinstance(value, dict):
        return {printable(k): printable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [printable(v) for v in value]
    return value


def _printer(document: dict[str, Any]):
    from rnncli.cli.render import data, runs, translation

    kind = document.get("kind")
    if kind == "checkpoint":
        return runs.print_forecast_summary if document.get("task") == "forecast" else runs.print_checkpoint_summary
    printers = {
        "comparison": runs.print_comparison,
        "attention": runs.print_attention,
        "text": data.print_text_summary,
        "series": data.print_series_summary,
        "classifier": runs.print_classifier_summary,
        "checkpoint-tag": runs.print_tagger_summary,
        "tagged": data.print_tagged_summary,
        "translation-run": translation.print_translation_run,
        "pairs": translation.print_pairs_summary,
    }
    return printers.get(kind, write_json)  # a task without its own drawing yet: its JSON


def _run_name(summary: dict[str, Any]) -> str:
    """A run as the legend names it: its folder, or the checkpoint file when it is not a run's best."""
    path = Path(summary["path"])
    return str(path.parent) if path.name == "model.safetensors" else str(path)


def _plot_inspection(summary: Summary, plot: Path) -> None:
    from rnncli.cli.render import plots

    document = summary.document
    kind = document.get("kind")
    if kind in ("checkpoint", "translation-run"):
        if not document.get("curve"):
            raise UsageError(f"--plot: {document['path']} has no metrics.jsonl beside it, so there is no curve to draw")
        loss = "pinball loss (scaled units)" if document.get("task") == "forecast" else "loss (nats/token)"
        plots.save_curve_plot([(document["path"], document["curve"])], plot, loss=loss)
    elif kind == "comparison":
        curves = [
            (f"{label} {_run_name(s)}", s["curve"]) for label, s in zip("AB", summary.data, strict=True) if s["curve"]
        ]
        if not curves:
            raise UsageError("--plot: neither checkpoint has a metrics.jsonl beside it, so there is no curve to draw")
        plots.save_curve_plot(curves, plot)
    elif kind == "series":
        plots.save_series_plot(summary.data, plot)
    elif kind == "text":
        plots.save_frequency_plot(document, plot)
    elif kind == "classifier":
        plots.save_classifier_plot(document, plot)
    elif kind == "attention":
        plots.save_attention_plot(document, plot)
    else:
        raise UsageError(f"--plot: rnn cannot draw a {kind} summary yet; leave out --plot")
