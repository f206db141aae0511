"""``rnn forecast`` and ``rnn eval`` on a forecaster, as library calls: forecasts or backtest figures, as data.

Without ``--model`` a forecaster is first trained on the file (in ``--out``, or
a temporary folder). The command layer writes what comes back.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnncli.core.errors import UsageError
from rnncli.tasks.forecast.config import level_bounds, parse_levels, parse_quantiles
from rnncli.tasks.forecast.options import ForecastSettings, SeriesOptions
from rnncli.tasks.forecast.runs import leave_out_short, load_series, train_series
from rnncli.tasks.forecast.series import SeriesSet, format_time
from rnncli.tasks.requests import EvalRequest, Evaluation, Reporter, given

if TYPE_CHECKING:
    from rnncli.tasks.forecast.backtest import Backtest
    from rnncli.tasks.forecast.forecaster import Forecaster

DEFAULT_BACKTEST_WINDOWS = 3  # rnn eval on a forecaster


@dataclass
class ForecastRequest:
    """``rnn forecast``: the CSV, a trained model (or none: train one), and the forecasting options."""

    data: str | None = None
    model: str | None = None
    out: str | None = None  # keep the run trained on the way here
    backtest: int | None = None  # instead of forecasting: backtest this many horizons per series
    step: int | None = None  # with backtest: steps between the windows' origins (None: a horizon)
    baseline: str | None = None  # forecast with this baseline (naive, seasonal-naive, drift) instead of a model
    options: dict[str, Any] = field(default_factory=dict)  # None: not given
    command: list[str] = field(default_factory=list)


@dataclass
class ForecastResult:
    """Forecast records (one per series and future step) and what they continue, or a backtest document."""

    records: list[dict[str, Any]] = field(default_factory=list)
    history: SeriesSet | None = None  # the series the forecasts continue (for --plot)
    quantiles: list[float] = field(default_factory=list)
    backtest: dict[str, Any] | None = None
    windows: list[dict[str, Any]] = field(default_factory=list)  # a backtest's rows (--backtest-out, --plot)


def run_forecast(request: ForecastRequest, reporter: Reporter) -> ForecastResult:
    """Train (or load), then forecast every series, or backtest on the last horizons."""
    check_backtest_options(request.backtest, request.step)
    if request.options.get("allow_overlap") and request.backtest is None:
        raise UsageError("--allow-overlap is for --backtest with --model: it lets a backtest score training data")
    if request.model is None and request.data is None:
        raise UsageError("give a CSV file (or - for stdin) to train on, or --model CKPT")
    settings = ForecastSettings.resolve(request.options)
    if request.baseline is not None:
        return baseline_result(request, settings, reporter)
    forecaster, series = _forecaster_and_series(request, settings, reporter)
    names = IntervalNames.chosen(settings, forecaster.config.quantiles, forecaster.path)
    strict = settings.series.strict
    if request.backtest is not None:
        if series is None:
            raise UsageError("--backtest needs the CSV file to compare the forecasts with")
        allow = bool(request.options.get("allow_overlap"))  # windows the model was trained on: warned, marked
        done = backtest_report(
            forecaster, series, request.backtest, reporter, step=request.step, allow_overlap=allow, strict=strict
        )
        rows = [names.rename(row, prefix="model-") for row in done.rows]
        return ForecastResult(backtest=done.document, windows=rows, history=series, quantiles=names.quantiles)
    if series is None:
        _say_where_the_history_ends(forecaster, reporter)
    from rnncli.tasks.forecast.forecaster import forecast  # torch: only once the flags and the CSV are good

    if series is not None:
        need, why = forecaster.config.lookback, "points of context the model reads"
        series = leave_out_short(series, need, strict=strict, reporter=reporter, why=why)
    return ForecastResult(
        records=[names.rename(record) for record in forecast(forecaster, series)],
        history=series or forecaster.remembered(),
        quantiles=forecaster.config.quantiles,
    )


@dataclass
class IntervalNames:
    """How the forecast quantiles are written: ``q0.1`` columns, or with --level ``lo-80,hi-80`` columns
    (statsforecast's names) besides the quantiles --quantiles asked for."""

    quantiles: list[float]
    levels: list[float] = field(default_factory=list)
    shown: list[float] = field(default_factory=list)

    @classmethod
    def chosen(cls, settings: ForecastSettings, quantiles: list[float], model: Any = None) -> IntervalNames:
        if settings.model.level is None:
            return cls(quantiles)
        levels = parse_levels(settings.model.level)
        for level in levels:
            if not all(any(abs(b - q) < 1e-6 for q in quantiles) for b in level_bounds(level)):
                low, high = level_bounds(level)
                raise UsageError(
                    f"--level {level:g}: {model} forecasts the quantiles {','.join(f'{q:g}' for q in quantiles)}, "
                    f"not {low:g} and {high:g}; train a model with --level {level:g}"
                )
        shown = parse_quantiles(settings.model.quantiles) if settings.model.quantiles is not None else []
        return cls(quantiles, levels, shown)

    def rename(self, record: dict[str, Any], *, prefix: str = "") -> dict[str, Any]:
        """The record with its quantile columns written as asked (as is without --level)."""
        if not self.levels:
            return record
        label = f"{prefix}q"
        out = {k: v for k, v in record.items() if not k.startswith(label)}
        out.update({f"{label}{q:g}": record[f"{label}{q:g}"] for q in self.shown if f"{label}{q:g}" in record})
        for level in self.levels:
            low, high = (self._column(record, label, bound) for bound in level_bounds(level))
            out[f"{prefix}lo-{level:g}"], out[f"{prefix}hi-{level:g}"] = low, high
        return out

    def _column(self, record: dict[str, Any], label: str, bound: float) -> float:
        nearest = min(self.quantiles, key=lambda q: abs(q - bound))
        return record[f"{label}{nearest:g}"]


def baseline_result(request: ForecastRequest, settings: ForecastSettings, reporter: Reporter) -> ForecastResult:
    """``rnn forecast FILE --baseline NAME``: the baseline's forecasts in the model's format, nothing trained."""
    from rnncli.tasks.forecast.baselines import baseline_forecast, check_baseline
    from rnncli.tasks.forecast.seasons import choose_seasons

    method = check_baseline(request.baseline)
    if request.model is not None or request.backtest is not None:
        what = "--model" if request.model is not None else "--backtest"
        raise UsageError(f"--baseline forecasts without a model; leave out {what} (a backtest scores every baseline)")
    if request.data is None:
        raise UsageError("--baseline needs a CSV file (or - for stdin) to forecast")
    config = settings.checked_config()
    series = load_series(request.data, settings.series, reporter)
    season = (settings.seasons() or choose_seasons([s.values for s in series.series], series.freq))[0]
    nonnegative = all((s.values >= 0).all() for s in series.series)
    kept = "; kept at 0 or above, as the history is" if nonnegative else ""
    reporter.info(
        f"{request.baseline} forecasts (season {season}, normal intervals from its residuals{kept}); no model"
    )
    names = IntervalNames.chosen(settings, config.quantiles)
    records = baseline_forecast(
        series,
        method=method,
        horizon=config.horizon,
        season=season,
        quantiles=config.quantiles,
        nonnegative=nonnegative,
    )
    return ForecastResult(records=[names.rename(r) for r in records], history=series, quantiles=config.quantiles)


def _forecaster_and_series(
    request: ForecastRequest, settings: ForecastSettings, reporter: Reporter
) -> tuple[Forecaster, SeriesSet | None]:
    if request.model is not None:
        from rnncli.tasks.forecast.forecaster import load_forecaster

        forecaster = load_forecaster(request.model)
        check_model_options(forecaster, request)
        saved = forecaster.meta["series"]
        series = load_series(request.data, settings.series, reporter, model=saved) if request.data else None
        return forecaster, series
    settings.checked_config()  # before the CSV is read: a bad flag is reported first
    series = load_series(request.data, settings.series, reporter)
    horizon = settings.model.horizon
    from rnncli.tasks.forecast.backtest import backtest_span

    holdout = backtest_span(horizon, request.backtest, request.step) if request.backtest and horizon else 0
    if holdout:
        reporter.info(f"training on all but the last {holdout} points of each series, which the backtest forecasts")
    with _run_folder(request.out) as folder:
        forecaster, _ = train_series(
            without_last(series, holdout) if holdout else series,
            settings,
            out_dir=folder,
            command=request.command,
            reporter=reporter,
            kept=request.out is not None,
            held_out=holdout,
        )
    if holdout and request.out is not None:
        reporter.info(
            f"{request.out} was trained without the last {holdout} points of each series: "
            "rnn forecast --model with it forecasts from that cut-off unless given the file"
        )
    return forecaster, series


def without_last(series: SeriesSet, points: int) -> SeriesSet:
    """The series without their last ``points`` (what a backtest's model may be trained on)."""
    cut = [replace(s, values=s.values[:-points]) for s in series.series]
    return replace(series, series=cut, warnings=[])


@contextmanager
def _run_folder(out: str | None) -> Iterator[Path]:
    """``--out`` when given (kept), else a temporary folder removed afterwards."""
    if out is not None:
        from rnncli.core.runs import choose_run_dir

        yield choose_run_dir(out, out, force=False)[0]
        return
    with tempfile.TemporaryDirectory(prefix="rnn-forecast-") as folder:
        yield Path(folder)


def check_backtest_options(windows: int | None, step: int | None) -> None:
    """--backtest N (1 or more) and --step S (1 or more, only with --backtest)."""
    if windows is not None and windows < 1:
        raise UsageError(f"--backtest must be 1 or more windows, got {windows}")
    if step is not None and windows is None:
        raise UsageError("--step goes with --backtest N: the steps between the backtest windows' origins")
    if step is not None and step < 1:
        raise UsageError(f"--step must be 1 or more time steps, got {step}")


def backtest_report(
    forecaster: Forecaster,
    series: SeriesSet,
    windows: int,
    reporter: Reporter,
    *,
    step: int | None = None,
    allow_overlap: bool = False,
    strict: bool = False,
) -> Backtest:
    """A rolling-origin backtest against the baselines, refused when it would score the training data,
    with a warning when an interval's coverage is far from what it promises.

    Overlap is decided by time: a window overlaps when it starts at or before
    the last timestamp the model was trained on for that series (whatever the
    file is called, a copy, or stdin). ``allow_overlap`` scores anyway, warned
    and marked in the document. Series too short for the backtest are left out
    with a warning (refused with ``strict``).
    """
    from rnncli.tasks.forecast.backtest import backtest_span, run_backtest

    config = forecaster.config
    need = config.lookback + backtest_span(config.horizon, windows, step) + max(config.season, 1)  # as run_backtest
    why = f"a backtest of {windows} window(s) needs (lookback + the windows' span + one season)"
    series = leave_out_short(series, need, strict=strict, reporter=reporter, why=why)
    _check_overlap(forecaster, series, windows, reporter, step=step, allow_overlap=allow_overlap)
    result = run_backtest(forecaster, series, windows=windows, step=step)
    _warn_coverage(result.document, reporter)
    return result


def _check_overlap(
    forecaster: Forecaster,
    series: SeriesSet,
    windows: int,
    reporter: Reporter,
    *,
    step: int | None,
    allow_overlap: bool,
) -> None:
    """Refuse (or with ``allow_overlap`` warn about) backtest windows the model was trained on."""
    from rnncli.tasks.forecast.backtest import training_overlap

    overlap = training_overlap(forecaster, series, windows=windows, step=step)
    if overlap is None:
        reporter.warn(
            f"{forecaster.path} does not record where its training data ended: whether these windows "
            "were part of it cannot be checked"
        )
    elif overlap and not allow_overlap:
        raise UsageError(
            f"{series.source}: {overlap[0]}, so the model was trained on the windows it would be scored on "
            f"and the figures would flatter it; backtest a model trained without them "
            f"(rnn forecast FILE --horizon {forecaster.config.horizon} --backtest {windows}"
            f"{f' --step {step}' if step else ''}), "
            "or give --allow-overlap to score it anyway (marked in the output)"
        )
    elif overlap:
        reporter.warn(f"{overlap[0]}: the model was trained on these windows; the figures are optimistic")


def _warn_coverage(document: dict[str, Any], reporter: Reporter) -> None:
    from rnncli.tasks.forecast.backtest import COVERAGE_TOLERANCE

    for nominal in document["coverage_off"]:
        reporter.warn(
            f"the {float(nominal):.0%} interval covered {document['coverage'][nominal]:.1%} of the backtest's points, "
            f"more than {COVERAGE_TOLERANCE:.0%} from nominal: do not trust its width on this data"
        )


def _say_where_the_history_ends(forecaster: Forecaster, reporter: Reporter) -> None:
    """A run kept from a backtest remembers the series up to the backtest's cut-off, not the file's end."""
    info = forecaster.meta["series"]
    if info.get("held_out"):
        last = info["last_time"][0]
        last = format_time(int(last) if info["freq"].startswith("step:") else last, info.get("time_format"))
        reporter.warn(
            f"{forecaster.path} was trained for a backtest without the last {info['held_out']} points of each "
            f"series of {info.get('source')}: its data ends at {last}, before the file's end, and "
            "the forecast starts there; give the file to forecast from its end: rnn forecast --model RUN FILE"
        )


# Options that shape or train a model: with --model they cannot change anything, so they are refused.
TRAINING_ONLY = ("steps", "time", "lr", "seed", "device", "epochs", "batch_size", "patience", "eval_every")


def check_model_options(forecaster: Forecaster, request: ForecastRequest) -> None:
    """Refuse the options a trained model cannot honour (a different horizon, quantiles, season...)."""
    from rnncli.tasks.forecast.config import parse_quantiles, parse_seasons, with_median

    config = forecaster.config
    parse = {"quantiles": lambda v: with_median(parse_quantiles(v)), "season": parse_seasons}
    saved = {**config.to_dict(), "season": config.seasons}
    for name, value in given(request.options).items():
        flag = "--" + name.replace("_", "-")
        if name in TRAINING_ONLY:
            raise UsageError(f"{flag} is for training; --model {request.model} is already trained: leave {flag} out")
        if name in saved and parse.get(name, lambda v: v)(value) != saved[name]:
            shown = ",".join(f"{v:g}" for v in saved[name]) if isinstance(saved[name], list) else saved[name]
            raise UsageError(
                f"{flag} {value}: --model {request.model} was trained with {flag} {shown} and cannot change it; "
                f"leave {flag} out, or train a model with it (rnn forecast FILE {flag} {value} ...)"
            )
    if request.out is not None:
        raise UsageError(f"--out keeps a model trained here; --model {request.model} is already trained")


def series_options(options: dict[str, Any]) -> SeriesOptions:
    """How to read the CSV, from a command's options (those not given keep their defaults)."""
    return SeriesOptions(**{f.name: options[f.name] for f in fields(SeriesOptions) if options.get(f.name) is not None})


def evaluate(request: EvalRequest, reporter: Reporter) -> Evaluation:
    """``rnn eval CKPT series.csv``: a rolling-origin backtest without retraining."""
    from rnncli.tasks.forecast.forecaster import load_forecaster

    windows = request.options.get("backtest")
    windows = DEFAULT_BACKTEST_WINDOWS if windows is None else windows
    check_backtest_options(windows, request.options.get("step"))
    forecaster = load_forecaster(request.checkpoint)
    options = series_options(request.options)
    series = load_series(request.data, options, reporter, model=forecaster.meta["series"])
    allow = bool(request.options.get("allow_overlap"))
    done = backtest_report(
        forecaster,
        series,
        windows,
        reporter,
        step=request.options.get("step"),
        allow_overlap=allow,
        strict=options.strict,
    )
    return Evaluation("backtest", document=done.document, records=done.rows)  # the rows: --backtest-out
