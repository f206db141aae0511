"""Text written by the model while it trains (``--sample-every N``), as char-rnn and nanoGPT show it.

Every N-th validation, the model as it is at that step writes a short sample,
from the start of a line, with a fixed seed: the samples of one run differ only
because the model has learnt more. Sampling draws from its own random
generator, so a run with samples trains exactly as one without.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from rnncli.core.tokenizers import Tokenizer
from rnncli.core.training import TrainEvent
from rnncli.tasks.language_model.logit_processors import DecodingSettings

SAMPLE_TOKENS = 200  # characters, for a char model: a few lines
SAMPLE_TEMPERATURE = 0.8  # a little colder than the model, as nanoGPT's sample.py does by default


class SamplesWhileTraining:
    """An ``on_event`` callback: passes every event on, and after every N-th validation reports a sample."""

    def __init__(
        self,
        inner: Callable[[TrainEvent], None] | None,
        *,
        model: nn.Module,
        tokenizer: Tokenizer,
        every: int,
        seed: int,
        report: Callable[[int, str], None],
    ):
        self.inner, self.model, self.tokenizer = inner, model, tokenizer
        self.every, self.seed, self.report = every, seed, report
        self.validations = 0
        self.settings = DecodingSettings(
            temperature=SAMPLE_TEMPERATURE, no_unk=tokenizer.kind == "word", unknown_id=tokenizer.unknown_id
        )

    def __call__(self, event: TrainEvent) -> None:
        if self.inner is not None:
            self.inner(event)
        if event.kind != "eval":
            return
        self.validations += 1
        if self.validations % self.every == 0:
            self.report(event.step, self.sample())

    def sample(self) -> str:
        """``SAMPLE_TOKENS`` tokens from the start of a line, decoded."""
        from rnncli.tasks.language_model.sampling import sample_steps

        was_training = self.model.training
        decoder = self.tokenizer.decoder()
        steps = sample_steps(
            self.model,
            [],
            length=SAMPLE_TOKENS,
            settings=self.settings,
            seeds=[self.seed],
            newline_id=self.tokenizer.start_id,
        )
        text = "".join(decoder.feed(tokens[0]) for tokens, _ in steps) + decoder.finish()
        self.model.train(was_training)
        return text
