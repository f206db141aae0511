"""What the commands ask of a task, and what a task gives back: plain data, no printing.

A command turns its options into one request, the registry (rnncli/tasks/__init__.py)
hands it to the task that the data belongs to, and the task reports what it
does through a ``Reporter`` whose functions the command layer supplies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnncli.core import clocks

if TYPE_CHECKING:  # the trainer imports torch; these modules must not
    from rnncli.core.training import TrainEvent


def _ignore(*args: Any, **kwargs: Any) -> None:
    pass


@dataclass(frozen=True)
class Reporter:
    """How a task talks while it works: notes and warnings for people, and the trainer's progress events."""

    info: Callable[[str], None] = _ignore
    warn: Callable[[str], None] = _ignore
    progress: Callable[[TrainEvent, str], None] = _ignore  # an event, and the unit of its throughput

    def events(self, unit: str) -> Callable[[TrainEvent], None]:
        """The ``on_event`` callback of a Trainer whose throughput is counted in ``unit`` (tok/s, points/s)."""
        return lambda event: self.progress(event, unit)

    def only_if(self, speaks: bool) -> Reporter:
        """This reporter, or a silent one (processes other than rank 0 of a distributed run stay quiet)."""
        return self if speaks else Reporter()


def given(options: dict[str, Any]) -> dict[str, Any]:
    """The options the user gave: a flag left out is None (False for a switch)."""
    return {name: value for name, value in options.items() if value is not None and value is not False}


@dataclass
class TrainRequest:
    """``rnn train``: the data, the run folder to write or resume, and the options as the user gave them."""

    data: list[str] = field(default_factory=list)
    task: str | None = None  # --task, when the data could be read as several tasks
    resume: Path | None = None
    config: Path | None = None  # --config YAML (flags override it)
    out: str | None = None
    force: bool = False
    options: dict[str, Any] = field(default_factory=dict)  # every other option; None means not given
    command: list[str] = field(default_factory=list)  # the command line, recorded in the run
    _folder_note: str | None = field(default=None, init=False, repr=False)  # said by ``announce_folder``
    # when the command started (core.clocks.now): a --time budget counts start-up and reading the data too
    started: float = field(default_factory=clocks.now)

    def fresh_folder(self, reporter: Reporter) -> Path:
        """``--out``, or ``runs/<data name>`` (``-2``, ``-3``... when taken): never another run's folder.

        Chosen before the data is read (a taken ``--out`` is refused at once); the note that the default
        was taken waits for ``announce_folder``, once the data has been read and checked, so no message
        names a folder that a failure then never makes.
        """
        from rnncli.core.runs import choose_run_dir

        folder, self._folder_note = choose_run_dir(self.out, self.data[0] if self.data else "-", force=self.force)
        return folder

    def announce_folder(self, reporter: Reporter) -> None:
        """Say where the run writes when it is not where the user would look (``runs/x-2``), once."""
        note, self._folder_note = self._folder_note, None
        if note:
            reporter.info(note)


@dataclass
class EvalRequest:
    """``rnn eval``: a checkpoint, the data to score it on, and the options as the user gave them."""

    checkpoint: str
    data: str | None  # None only where the task reads its data from options (a translator's --source/--target)
    task: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Evaluation:
    """What ``rnn eval`` found: one document, or one record per line (streamed as they are scored).

    ``kind`` says how to show it: ``text`` (loss, perplexity, bits), ``lines``
    (a score per line) or ``backtest`` (errors against the baselines).
    """

    kind: str
    document: dict[str, Any] | None = None
    records: Iterable[dict[str, Any]] = ()
    report: str | None = None  # kind "report": the plain-text report of ``document`` (--json prints the document)


@dataclass
class PredictRequest:
    """``rnn predict``: a checkpoint, the inputs (a file, or stdin for ``-`` or None) and the options as given."""

    checkpoint: str
    data: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Prediction:
    """What ``rnn predict`` writes: one output per input, in order, each already in the --format asked for.

    ``lines`` is consumed as it is written, so predictions stream out while later inputs are still read.
    """

    lines: Iterable[str]


@dataclass
class Summary:
    """What ``rnn inspect`` found: a JSON-able document and, for ``--plot``, the data it was made from."""

    document: dict[str, Any]
    data: Any = None  # a SeriesSet for a CSV of series; None where the document holds everything
