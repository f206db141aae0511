"""The learning rate at each step: linear warm-up, then constant or cosine decay.

A pure function of the step, so a resumed run, a rolled-back run and a test
all get the same rate for the same step; a run with only a ``--time`` budget
decays over the share of the budget it has used instead (SGDR's cosine,
Loshchilov & Hutter 2017, with the wall clock as its horizon).
"""

from __future__ import annotations

import math

COSINE_FLOOR = 0.1  # cosine decay ends at this fraction of the peak rate


def learning_rate(
    step: int, *, peak: float, warmup: int, schedule: str, total_steps: int | None, time_used: float | None = None
) -> float:
    """The rate for the update after ``step`` finished steps.

    Warm-up rises linearly over ``warmup`` steps to ``peak``; ``"cosine"``
    then decays to ``COSINE_FLOOR * peak`` at ``total_steps``, or, for a run
    with no step budget, as ``time_used`` (the share of the wall-clock budget
    spent) reaches 1 (constant without either); ``"constant"`` stays at ``peak``.
    """
    if step < warmup:
        return peak * (step + 1) / warmup
    if schedule != "cosine":
        return peak
    if total_steps is not None:
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
    elif time_used is not None:
        progress = min(1.0, time_used)
    else:
        return peak
    return peak * (COSINE_FLOOR + (1 - COSINE_FLOOR) * 0.5 * (1 + math.cos(math.pi * progress)))
