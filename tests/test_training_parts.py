"""The trainer's parts on their own: schedule, clocks, history, stop flags, precision, the task protocol."""

from __future__ import annotations

import enum
import math

import numpy as np
import pytest
import torch

from rnncli.core.clocks import StepBudget, Throughput, WallClock
from rnncli.core.distributed import Distributed
from rnncli.core.errors import UsageError
from rnncli.core.history import History
from rnncli.core.precision import Precision
from rnncli.core.schedule import COSINE_FLOOR, learning_rate
from rnncli.core.settings import DEFAULT_STEPS, TrainConfig
from rnncli.core.stop_signals import Stop
from rnncli.core.task import Task, TextScale
from rnncli.tasks.forecast.model import ForecastConfig
from rnncli.tasks.forecast.task import ForecastTask
from rnncli.tasks.language_model.task import LanguageModelTask


def lr(step: int, schedule: str = "constant", *, warmup: int = 0, total: int | None = 100) -> float:
    return learning_rate(step, peak=0.01, warmup=warmup, schedule=schedule, total_steps=total)


def test_warm_up_rises_linearly_to_the_peak_then_holds():
    assert [lr(s, warmup=4) for s in range(6)] == pytest.approx([0.0025, 0.005, 0.0075, 0.01, 0.01, 0.01])
    assert lr(0) == lr(99) == lr(10_000) == 0.01


def test_cosine_decays_from_the_peak_to_the_floor_at_the_budget():
    assert lr(10, "cosine", warmup=10) == pytest.approx(0.01)
    assert lr(55, "cosine", warmup=10) == pytest.approx(0.01 * (COSINE_FLOOR + (1 - COSINE_FLOOR) * 0.5))
    assert lr(100, "cosine", warmup=10) == lr(500, "cosine", warmup=10) == pytest.approx(0.01 * COSINE_FLOOR)
    rates = [lr(s, "cosine") for s in range(101)]
    assert all(a >= b for a, b in zip(rates, rates[1:], strict=False))


def test_cosine_without_a_step_budget_holds_the_peak():
    assert lr(5000, "cosine", total=None) == 0.01


def test_the_step_budget_comes_from_steps_then_epochs_then_time():
    assert StepBudget.of(TrainConfig(steps=30, epochs=2.0), windows_per_epoch=7).total == 30
    assert StepBudget.of(TrainConfig(epochs=1.5), windows_per_epoch=7).total == 11
    assert StepBudget.of(TrainConfig(epochs=0.001), windows_per_epoch=7).total == 1
    assert StepBudget.of(TrainConfig(time="10m"), windows_per_epoch=7).total is None
    assert StepBudget.of(TrainConfig(), windows_per_epoch=7).total == DEFAULT_STEPS
    budget = StepBudget(20)
    assert (budget.spent(19), budget.spent(20), budget.is_last(20)) == (False, True, True)
    assert not StepBudget(None).spent(10**9)


def test_the_wall_clock_counts_earlier_sessions_and_expires_on_its_budget():
    assert not WallClock(None).expired()
    clock = WallClock(5.0)
    assert not clock.expired()
    clock.started -= 6.0  # as if six seconds had passed
    assert clock.expired()
    assert WallClock(3600.0, earlier_s=50.0).elapsed_s() >= 50.0
    speed = Throughput()
    speed.add(100)
    assert speed.per_second() > 0
    speed.restart()
    assert speed.per_second() == 0


def test_history_keeps_the_best_score_and_counts_patience():
    history = History(step=10)
    assert history.record_score(2.0, 3.0)
    history.step = 20
    assert not history.record_score(2.5, 3.5) and not history.record_score(2.0, 3.0)  # equal is no better
    assert (history.best_step, history.best_val_loss, history.best_val_bpc) == (10, 2.0, 3.0)
    assert history.out_of_patience(2) and not history.out_of_patience(3) and not history.out_of_patience(None)
    assert history.record_score(1.0, None) and history.evals_since_best == 0 and history.best_step == 20
    assert History.from_dict({**history.to_dict(), "unknown": 1}) == history.copy()


def test_one_process_agrees_with_itself_and_keeps_the_flag_type():
    one = Distributed()
    for flag in Stop:
        assert one.most_urgent(flag) is flag
    assert Stop.SIGNAL > Stop.TIME > Stop.NO and isinstance(Stop.NO, enum.IntEnum)


def test_both_tasks_implement_the_protocol_explicitly():
    ids = torch.arange(4000) % 50
    text = LanguageModelTask(
        ids, ids[:500], batch_size=4, seq_len=16, eval_batches=2, chars_per_token=1.5, bytes_per_token=2.0
    )
    config = ForecastConfig(horizon=3, lookback=8)
    series = ForecastTask([np.sin(np.arange(60.0))], [0], config, batch_size=4, seed=1)
    for task in (text, series):
        assert Task in type(task).__mro__  # declared, not just shaped alike
        assert task.windows_per_epoch > 0 and task.items_per_step > 0
    assert text.text_scale == TextScale(chars_per_item=1.5, bytes_per_item=2.0)
    assert series.text_scale is None


def test_text_scale_turns_nats_per_token_into_bits():
    scale = TextScale(chars_per_item=2.0, bytes_per_item=4.0)
    assert scale.bits_per_char(math.log(2.0) * 2) == pytest.approx(1.0)
    assert scale.bits_per_byte(math.log(2.0) * 4) == pytest.approx(1.0)


def _one_update(precision: Precision, poison: bool = False) -> torch.nn.Linear:
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    loss = model(torch.randn(4, 3)).pow(2).mean() * (float("inf") if poison else 1.0)
    precision.backward(loss, optimizer)
    precision.step(optimizer)
    return model


def test_the_loss_scaler_path_updates_like_plain_fp32_and_skips_an_overflow():
    """fp16 needs CUDA, so its GradScaler path runs here with the CPU scaler put in by hand."""
    plain = Precision("fp32", torch.device("cpu"))
    scaled = Precision("fp32", torch.device("cpu"))
    scaled.scaler = torch.amp.GradScaler("cpu")  # scaling by a power of two and back is exact
    assert not plain.scaled and scaled.scaled and plain.state_dict() is None
    a, b = _one_update(plain), _one_update(scaled)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    scale = scaled.state_dict()["scale"]
    torch.manual_seed(0)
    untouched = torch.nn.Linear(3, 1)
    skipped = _one_update(scaled, poison=True)
    assert all(torch.equal(p, q) for p, q in zip(skipped.parameters(), untouched.parameters(), strict=True))
    assert scaled.state_dict()["scale"] == scale / 2
    again = Precision("fp32", torch.device("cpu"))
    again.scaler = torch.amp.GradScaler("cpu")
    again.load_state_dict(scaled.state_dict())
    assert again.state_dict() == scaled.state_dict()


def test_fp16_is_refused_off_cuda():
    with pytest.raises(UsageError, match="fp16 needs a CUDA device"):
        Precision("fp16", torch.device("cpu"))


def test_the_time_budget_buys_the_largest_model_it_can_train_and_the_text_can_fill():
    from rnncli.tasks.language_model.sizing import choose_for_budget, lstm_parameters

    novel = {"tokens_per_s": 21_000, "train_tokens": 733_000, "embed": 64, "vocab": 63}  # 1 x 128 on a loaded CPU
    assert choose_for_budget(60, **novel)[:2] == (1, 128)  # the default 2 x 256 sees 0.13 tokens per parameter
    assert choose_for_budget(180, **novel)[:2] == (1, 128)
    assert choose_for_budget(900, **novel)[:2] == (1, 256)
    assert choose_for_budget(60, **{**novel, "tokens_per_s": 210_000})[:2] == (1, 256)  # a faster machine
    assert choose_for_budget(4 * 3600, **novel)[:2] == (1, 256)  # 2 x 256 has more parameters than the text tokens
    assert choose_for_budget(4 * 3600, **{**novel, "train_tokens": 5_000_000})[:2] == (2, 256)
    assert choose_for_budget(4 * 3600, **{**novel, "train_tokens": 5_000})[:2] == (1, 128)  # the smallest
    assert lstm_parameters(layers=2, hidden=256, embed=64, vocab=63) == 876_287  # what torch counts


def test_only_what_the_user_left_open_is_chosen_and_the_speed_is_measured_only_for_a_size():
    from rnncli.tasks.language_model.sizing import choose

    def no_probe() -> float:
        raise AssertionError("the size was given: nothing to measure")

    text = {"train_tokens": 733_000, "embed": 64, "vocab": 63}
    assert choose(60, given={"hidden_size", "lr_schedule"}, speed=no_probe, **text) is None
    assert choose(60, given={"num_layers"}, speed=no_probe, **text).to_dict() == {"lr_schedule": "cosine"}
    sized = choose(60, given={"lr_schedule"}, speed=lambda: 21_000.0, **text)
    assert sized.to_dict() == {"num_layers": 1, "hidden_size": 128}
