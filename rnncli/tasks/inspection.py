"""``rnn inspect`` as a library call: each PATH handed to the task it belongs to, or two runs compared.

Which task a path belongs to, and whether it is a run or data, is the
registry's one detection rule (rnncli/tasks/__init__.py); the facts come from
each task's report module. Every result is JSON-able; the CLI draws it.
"""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnncli.core.errors import UsageError
from rnncli.tasks import all_tasks, check_options, detect
from rnncli.tasks.requests import Summary, given
from rnncli.tasks.training_curve import finite_number

# Options of inspect that only --grad-flow reads (rnn grad-flow's own options).
GRAD_FLOW_ONLY = ("data", "impl", "steps_back", "windows", "seed")
UNTRAINED_SHAPE = ("cell", "hidden_size", "num_layers", "embed_size")
# Options that ask a run a question of its task (TaskSpec.inspect_run) instead of summarising it.
RUN_QUESTIONS = ("attention",)


@dataclass
class InspectRequest:
    """``rnn inspect`` without --grad-flow: one PATH, or two runs to compare."""

    paths: list[str]
    task: str | None = None
    top: int | None = None
    attention: str | None = None  # a sentence for a translation run to translate, showing its attention
    grad_flow_options: dict[str, Any] = field(default_factory=dict)  # refused here: they need --grad-flow
    reading: dict[str, Any] = field(default_factory=dict)  # how to read a data file (--time-col...; None: not given)

    def check(self) -> None:
        flags = given(self.grad_flow_options)
        for name in GRAD_FLOW_ONLY:
            if name in flags:
                raise UsageError(f"--{name.replace('_', '-')} applies to --grad-flow; add --grad-flow")
        for name in UNTRAINED_SHAPE:
            if name in flags:
                raise UsageError(
                    f"--{name.replace('_', '-')} describes an untrained model for --grad-flow; add --grad-flow"
                )
        if not self.paths:
            raise UsageError(
                "give a PATH (checkpoint, run folder or text), or --grad-flow --cell CELL for an untrained model"
            )
        if len(self.paths) > 2:
            raise UsageError(f"inspect takes one PATH, or two checkpoints to compare; got {len(self.paths)}")
        if self.top is not None and self.top < 1:
            raise UsageError(f"--top must be 1 or more, got {self.top}")


def inspect_paths(request: InspectRequest) -> Summary:
    """A run's, a checkpoint's or a data file's summary, or two runs compared (``kind``: comparison)."""
    request.check()
    if len(request.paths) == 2:
        a, b = (_run_summary(path, request.task) for path in request.paths)
        return Summary(compare_checkpoints(a, b), data=(a, b))
    task = request.task or (_stdin_task() if request.paths == ["-"] else None)
    detection = detect(request.paths[0], task=task)
    questions = given({name: getattr(request, name) for name in RUN_QUESTIONS})
    reading = given(request.reading)
    check_options(detection, "inspect", {"top": request.top, **questions, **reading})
    if reading and detection.run:
        flag = "--" + next(iter(reading)).replace("_", "-")
        raise UsageError(f"{flag} says how to read a data file; {request.paths[0]} is a run: leave it out")
    if questions and not (detection.run and detection.task.inspect_run is not None):
        flag = "--" + next(iter(questions)).replace("_", "-")
        raise UsageError(f"{flag} asks a trained run: give a {detection.task.name} run folder or checkpoint")
    if detection.run:
        if questions:
            return detection.task.inspect_run(request.paths[0], questions)
        return Summary(detection.task.summarise_run(request.paths[0]))
    with detection.guess_explained({"top": request.top, **reading}):
        if reading:  # only a task that takes them gets here (check_options)
            return detection.task.summarise_data(request.paths[0], request.top, **reading)
        return detection.task.summarise_data(request.paths[0], request.top)


SNIFF_BYTES = 65_536


def _stdin_task() -> str | None:
    """The task whose data stdin starts with (a CSV of series), or None (text); stdin is left to be read whole."""
    head = sys.stdin.buffer.read(SNIFF_BYTES)
    sys.stdin = io.TextIOWrapper(io.BufferedReader(_Replayed(head, sys.stdin.buffer)), encoding="utf-8")
    text = head.decode("utf-8", errors="replace")
    if len(head) == SNIFF_BYTES:
        text = text[: text.rfind("\n") + 1]  # whole lines only
    return next((spec.name for spec in all_tasks() if spec.claims_text is not None and spec.claims_text(text)), None)


class _Replayed(io.RawIOBase):
    """A stream that gives back the bytes already read, then the rest of the original."""

    def __init__(self, head: bytes, rest: Any):
        self.head, self.rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self.head[: len(buffer)] if self.head else self.rest.read1(len(buffer))
        self.head = self.head[len(chunk) :]
        buffer[: len(chunk)] = chunk
        return len(chunk)


def inspect_checkpoint(path: str | Path) -> dict[str, Any]:
    """The summary of a run folder or checkpoint file, by the task it records (its weights are not read)."""
    return detect(path).task.summarise_run(str(path))


def _run_summary(path: str, task: str | None) -> dict[str, Any]:
    detection = detect(path, task=task)
    if not detection.run:
        raise UsageError(f"{path}: not a run folder or .safetensors file; only checkpoints can be compared")
    return detection.task.summarise_run(path)


def compare_checkpoints(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Two checkpoint summaries side by side: the settings that differ and the best losses."""
    flat_a, flat_b = _settings(a), _settings(b)
    keys = sorted(flat_a.keys() | flat_b.keys())
    differences = {k: [flat_a.get(k), flat_b.get(k)] for k in keys if flat_a.get(k) != flat_b.get(k)}
    best_a, best_b = _best(a), _best(b)
    measure = _comparable_measure(a, b, best_a, best_b)
    better = None
    if measure is not None and best_a[measure] != best_b[measure]:
        better = "a" if best_a[measure] < best_b[measure] else "b"
    return {
        "kind": "comparison",
        "a": a["path"],
        "b": b["path"],
        "differences": differences,
        "same": sorted(k for k in keys if k not in differences),
        "best": {"a": best_a, "b": best_b},
        "compared_by": measure,
        "lower_val_loss": better,
    }


def _comparable_measure(
    a: dict[str, Any], b: dict[str, Any], best_a: dict[str, Any], best_b: dict[str, Any]
) -> str | None:
    """Which best loss can rank the two, if any.

    Losses of different tasks (nats per token, pinball loss) never compare;
    language models compare by bits per character, which does not depend on
    the tokenizer, and fall back to nats per token only for the same tokenizer.
    """
    if a.get("task") != b.get("task"):
        return None
    if best_a.get("best_val_bpc") is not None and best_b.get("best_val_bpc") is not None:
        return "best_val_bpc"
    same_tokens = (a.get("tokenizer") or {}).get("kind") == (b.get("tokenizer") or {}).get("kind")
    if same_tokens and best_a["best_val_loss"] is not None and best_b["best_val_loss"] is not None:
        return "best_val_loss"
    return None


def _settings(summary: dict[str, Any]) -> dict[str, Any]:
    """The settings of a checkpoint as flat ``section.key`` names."""
    flat: dict[str, Any] = {"task": summary.get("task")}
    for section in ("model", "train", "text"):
        for key, value in (summary.get(section) or {}).items():
            flat[f"{section}.{key}"] = value
    tok = summary.get("tokenizer") or {}
    flat["tokenizer.kind"], flat["tokenizer.vocab_size"] = tok.get("kind"), tok.get("vocab_size")
    data = summary.get("data") or {}
    flat["data.source"], flat["data.sha256"] = data.get("source"), data.get("sha256")
    flat["total_parameters"] = summary.get("total_parameters")
    return flat


def _best(summary: dict[str, Any]) -> dict[str, Any]:
    history = summary.get("history") or {}
    last = ((summary.get("curve") or {}).get("last") or {}).get("step")
    return {
        "run_steps": last if last is not None else history.get("step"),
        "best_val_loss": finite_number(history.get("best_val_loss")),
        "best_val_bpc": finite_number(history.get("best_val_bpc")),
        "best_step": history.get("best_step"),
        "steps": history.get("step"),
        "tokens_seen": history.get("tokens_seen"),
    }
