"""A check the classify, tag and translate tests share: the run's best checkpoint is the step of its best metric."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from rnncli.cli import app
from rnncli.core.checkpoint import read_meta, resolve_checkpoint_path
from rnncli.tasks.training_curve import read_metrics


def best_by_metric(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The evaluation the run should keep: the highest metric; among equals the lower loss, then the earlier."""
    return min(records, key=lambda r: (-r["val_metric"], r["val_loss"]))


def check_best_by_metric(run_dir: Path, name: str) -> dict[str, Any]:
    """metrics.jsonl holds the metric at every evaluation, model.safetensors is its best step, inspect says so."""
    records, _ = read_metrics(run_dir)
    assert len(records) >= 2, "the run must validate more than once for the check to mean anything"
    assert all(r["metric_name"] == name and r["metric_goal"] == "max" for r in records), records
    best = best_by_metric(records)
    history = read_meta(resolve_checkpoint_path(run_dir))["history"]
    assert history["step"] == history["best_step"] == best["step"]  # the weights saved are that step's
    assert (history["metric_name"], history["best_metric"]) == (name, best["val_metric"])
    inspected = CliRunner().invoke(app, ["inspect", str(run_dir), "--json"])
    assert inspected.exit_code == 0, inspected.output
    summary = json.loads(inspected.stdout)
    assert summary["history"]["best_step"] == best["step"] and summary["history"]["metric_name"] == name
    assert summary["curve"]["best"]["step"] == best["step"]
    assert summary["curve"]["best"]["val_metric"] == best["val_metric"]
    return best
