"""``rnn sample`` as a library call: the options checked, the checkpoint loaded, and the output in order.

``sample_output`` yields what the command writes, in the order it must
appear: text pieces (one sample in text format is streamed token by token) or
one record per sample (``--format jsonl``). The command layer writes them.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from rnncli.core.errors import DataError, UsageError
from rnncli.core.settings import DEVICES, MAX_SEED
from rnncli.tasks.language_model.checkpoint import Checkpoint
from rnncli.tasks.language_model.logit_processors import DecodingSettings

OUTPUT_FORMATS = ("text", "jsonl")
ALL_LABELS = "all"  # --condition all: --num samples of every label, in the model's order


@dataclass
class SampleRequest:
    """The options of ``rnn sample`` (see its --help); ``temp`` None means 1.0, ``seed`` None a random one."""

    checkpoint: str
    length: int = 500
    temp: float | None = None
    greedy: bool = False
    top_k: int = 0
    top_p: float = 1.0
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    beam: int = 0
    length_penalty: float | None = None
    prime: str = ""
    prime_file: str | None = None
    prompts: str | None = None
    include_prime: bool = False
    num: int = 1
    separator: str | None = None
    stop: list[str] | None = field(default_factory=list)
    output_format: str = "text"
    seed: int | None = None
    unknown: str | None = None
    no_unk: bool | None = None  # None: ban the unknown token of a word model only
    encoding: str | None = None  # of --prime-file; None: the model's training text's
    errors: str | None = None
    device: str = "cpu"
    impl: str | None = None
    condition: str | None = None  # a conditional model's label, or "all"

    def decoding(self) -> DecodingSettings:
        """The checked decoding settings; every contradiction between options is refused first."""
        self._check()
        temperature = 0.0 if self.greedy else (1.0 if self.temp is None else self.temp)
        settings = DecodingSettings(
            temperature=temperature,
            top_k=self.top_k,
            top_p=self.top_p,
            min_p=self.min_p,
            repetition_penalty=self.repetition_penalty,
            beam=self.beam,
            length_penalty=1.0 if self.length_penalty is None else self.length_penalty,
            no_unk=bool(self.no_unk),
        ).validate()
        if self.prime and self.prime_file is not None:
            raise UsageError("give the prompt with --prime or --prime-file, not both")
        if self.prompts is not None and (self.prime or self.prime_file is not None):
            given = "--prime" if self.prime else "--prime-file"
            raise UsageError(f"--prompts gives one prompt per line: leave out {given}")
        return settings

    def _check(self) -> None:
        refusals = [
            (self.length < 0, f"--length must be 0 or more, got {self.length}"),
            (self.num < 1, f"--num must be 1 or more, got {self.num}"),
            (
                self.seed is not None and not 0 <= self.seed <= MAX_SEED - self.num,
                f"--seed must be a whole number from 0 to {MAX_SEED - self.num}, got {self.seed}",
            ),
            (bool(self.beam and self.num > 1), "--beam returns the one likeliest continuation: use --num 1 with it"),
            (
                bool(self.greedy and self.beam),
                "--beam searches over many continuations and --greedy follows one: choose one (--beam 1 is greedy)",
            ),
            (
                self.greedy and self.temp is not None and self.temp != 0,
                f"--greedy means --temp 0: drop --temp {self.temp}",
            ),
            (
                self.output_format not in OUTPUT_FORMATS,
                f"--format: unknown value '{self.output_format}' (choose one of: {', '.join(OUTPUT_FORMATS)})",
            ),
            (
                self.separator is not None and self.output_format == "jsonl",
                "--separator goes between samples of --format text; jsonl prints one object per line",
            ),
            (
                self.device not in DEVICES,
                f"--device: unknown value '{self.device}' (choose one of: {', '.join(DEVICES)})",
            ),
            (any(s == "" for s in self.stop or []), "--stop needs a non-empty string"),
            (
                self.length_penalty is not None and not self.beam,
                "--length-penalty ranks the hypotheses of beam search: add --beam N",
            ),
        ]
        for refused, message in refusals:
            if refused:
                raise UsageError(message)


def sample_output(request: SampleRequest) -> Iterator[str | dict[str, Any]]:
    """Check, load and sample: yields text pieces, or one record per sample for jsonl.

    With ``--prompts`` every prompt is checked against the vocabulary before the first sample is made, then
    each one is sampled in the order of the file, with the same seeds (so a prompt's samples do not depend
    on the prompts around it).
    """
    from rnncli.core.devices import resolve_device
    from rnncli.tasks.language_model.checkpoint import load_checkpoint

    settings = request.decoding()
    ckpt = load_checkpoint(request.checkpoint, device=resolve_device(request.device), impl=request.impl)
    check_sampling_fits(request, ckpt)
    prompts = _prompts(request, ckpt.meta.get("text"))
    seed = request.seed if request.seed is not None else secrets.randbelow(2**31)
    no_unk = request.no_unk if request.no_unk is not None else ckpt.tokenizer.kind == "word"
    settings = dataclasses.replace(settings, no_unk=no_unk, unknown_id=ckpt.tokenizer.unknown_id)
    jobs = [
        SampleJob(ckpt, request, prompt=prompt, settings=settings, seed=seed, prompt_line=line, condition=label)
        for line, prompt in prompts
        for label in chosen_conditions(request, ckpt)
    ]
    for number, job in enumerate(jobs):
        if number > 0 and not job.jsonl:
            yield job.separator + "\n"
        yield from job.output()


def _prompts(request: SampleRequest, text: Any) -> list[tuple[int | None, str]]:
    """(line number, prompt): the lines of --prompts that hold text, else the one prompt of --prime(-file).

    Files are decoded as the model's training text was (``text``: its recorded reading settings), or as
    --encoding and --errors say.
    """
    from rnncli.tasks.language_model.data.sources import ReadSettings
    from rnncli.tasks.language_model.sampling import read_prompt_file

    read = ReadSettings.of_run(text, encoding=request.encoding, errors=request.errors)
    if request.prompts is None and request.prime_file is None and (request.encoding or request.errors):
        flag = "--encoding" if request.encoding is not None else "--errors"
        raise UsageError(f"{flag} says how to read --prime-file or --prompts; add one, or leave out {flag}")
    if request.prompts is None:
        prompt = read_prompt_file(request.prime_file, read) if request.prime_file is not None else request.prime
        return [(None, prompt)]
    lines = read_prompt_file(request.prompts, read, flag="--prompts").split("\n")
    found = [(number, line) for number, line in enumerate(lines, start=1) if line.strip()]
    if not found:
        raise DataError(f"--prompts {request.prompts}: no prompts (every line is empty); give one prompt per line")
    return found


def chosen_conditions(request: SampleRequest, ckpt: Checkpoint) -> list[str | None]:
    """The labels to sample under: the one --condition names, or every one for ``all``; [None] for a plain model."""
    if not ckpt.conditional:
        if request.condition is not None:
            raise UsageError(
                f"--condition: {request.checkpoint} was trained on plain text, without labels; leave out --condition"
            )
        return [None]
    shown = ", ".join(ckpt.labels[:20]) + (f" and {len(ckpt.labels) - 20} more" if len(ckpt.labels) > 20 else "")
    if request.condition is None:
        raise UsageError(
            f"{request.checkpoint} generates text for a label: give --condition LABEL (one of: {shown}), "
            f"or --condition {ALL_LABELS} for --num samples of each"
        )
    if request.beam:
        raise UsageError("--beam is not built for a conditional model: sample with --temp, --top-k or --top-p")
    if request.condition in ckpt.labels:
        return [request.condition]
    if request.condition == ALL_LABELS:
        return list(ckpt.labels)
    raise UsageError(f"--condition {request.condition!r}: not among the model's labels: {shown}")


def check_sampling_fits(request: SampleRequest, ckpt: Checkpoint) -> None:
    """The rows of a batch of samples (or the beams) fit in memory: logits, state and text of each row."""
    from rnncli.core.memory import FLOAT_BYTES, check_fits

    config = ckpt.config
    rows, flag = (request.beam, f"--beam {request.beam}") if request.beam else (request.num, f"--num {request.num}")
    # per row: the logits and their sorted copy for the filters, two states per layer, and the tokens kept
    per_row = 3 * config.vocab_size + 4 * config.num_layers * config.hidden_size + 2 * request.length
    check_fits(rows * per_row * FLOAT_BYTES, flag=flag, what=f"{rows:,} rows of {request.length} tokens")


class SampleJob:
    """One ``rnn sample``: feeds the library's tokens through per-sample text, in output order.

    Plain text with one sample is streamed token by token; with --num > 1 the
    rows advance together, so each sample is given whole, in order, once it
    and all the samples before it are finished.
    """

    def __init__(
        self,
        ckpt: Checkpoint,
        request: SampleRequest,
        *,
        prompt: str,
        settings: DecodingSettings,
        seed: int,
        prompt_line: int | None = None,
        condition: str | None = None,
    ):
        from rnncli.core.tokenizers import encode_known
        from rnncli.tasks.language_model.sampling import SampleText, derived_seeds

        self.ckpt, self.tokenizer, self.prompt, self.settings = ckpt, ckpt.tokenizer, prompt, settings
        self.prompt_line = prompt_line  # its line in the --prompts file
        self.condition = condition  # a conditional model's label
        self.rows = [ckpt.labels.index(condition)] * request.num if condition is not None else None
        where = f"--prompts {request.prompts} line {prompt_line}" if prompt_line is not None else "the prompt"
        self.prime_ids = encode_known(self.tokenizer, prompt, policy=request.unknown, where=f"{where}: text")
        self.length, self.include_prime = request.length, request.include_prime
        self.separator, self.jsonl = request.separator or "", request.output_format == "jsonl"
        self.seeds = derived_seeds(seed, request.num)
        self.samples = [SampleText(stops=list(request.stop or [])) for _ in self.seeds]
        # one decoder per sample: a byte or BPE token may end in the middle of a character
        self.decoders = [self.tokenizer.decoder() for _ in self.seeds]
        # the prompt goes through each decoder first, so prompt and sample decode as one token stream
        # (a word model puts a space between the prompt's last word and the first new one)
        self.shown_prompt = _primed(self.decoders, self.prime_ids) if self.include_prime else ""
        self.stream = request.num == 1 and not self.jsonl and not settings.beam
        self.given_out = 0  # samples given out whole, in order

    def output(self) -> Iterator[str | dict[str, Any]]:
        # generation starts as if after a newline; a conditional model's text, after end-of-text
        start = self.ckpt.end_id if self.ckpt.conditional else self.tokenizer.start_id
        if self.stream and self.shown_prompt:
            yield self.shown_prompt
        if self.settings.beam:
            self._run_beam(start)
        else:
            yield from self._run_sampling(start)
        for sample, decoder in zip(self.samples, self.decoders, strict=True):
            if not sample.done:
                yield from self._streamed(sample.add_text(decoder.finish()))
                yield from self._streamed(sample.finish())
        yield from self._finished()

    def _run_sampling(self, start: int) -> Iterator[str | dict[str, Any]]:
        from rnncli.tasks.language_model.sampling import sample_steps

        steps = sample_steps(
            self.ckpt.model,
            self.prime_ids,
            length=self.length,
            settings=self.settings,
            seeds=self.seeds,
            newline_id=start,
            condition=self.rows,
        )
        end = self.ckpt.end_id if self.ckpt.conditional else None
        for tokens, log_probs in steps:
            for sample, decoder, token, log_prob in zip(self.samples, self.decoders, tokens, log_probs, strict=True):
                if sample.done:
                    continue
                if token == end:
                    yield from self._streamed(sample.end_of_text(log_prob))
                else:
                    yield from self._streamed(_decode_token(decoder, sample, token, log_prob))
            yield from self._finished()
            if all(sample.done for sample in self.samples):
                steps.close()
                return

    def _run_beam(self, start: int) -> None:
        from rnncli.tasks.language_model.sampling import StopCheck, beam_search

        stops = self.samples[0].stops
        tokens, log_probs = beam_search(
            self.ckpt.model,
            self.prime_ids,
            length=self.length,
            settings=self.settings,
            newline_id=start,
            stops=StopCheck(self.tokenizer.decode, stops) if stops else None,
        )
        sample = self.samples[0]
        for token, log_prob in zip(tokens, log_probs, strict=True):
            if sample.done:
                break
            _decode_token(self.decoders[0], sample, token, log_prob)

    def _streamed(self, text: str) -> list[str]:
        return [text] if self.stream and text else []

    def _finished(self) -> Iterator[str | dict[str, Any]]:
        """Every sample that is finished and has all earlier ones given out, in order."""
        while self.given_out < len(self.samples) and self.samples[self.given_out].finished:
            index = self.given_out
            self.given_out += 1
            if self.jsonl:
                yield self._record(index)
                continue
            if index > 0:
                yield self.separator + "\n"
            yield ("" if self.stream else self._full_text(index)) + "\n"

    def _full_text(self, index: int) -> str:
        return self.shown_prompt + self.samples[index].text

    def _record(self, index: int) -> dict[str, Any]:
        sample = self.samples[index]
        return {
            "index": index,
            "text": self._full_text(index),
            "prime": self.prompt,
            **({"condition": self.condition} if self.condition is not None else {}),
            **({"prompt_line": self.prompt_line} if self.prompt_line is not None else {}),
            "num_tokens": sample.num_tokens,
            "log_prob": sample.log_prob,
            "stopped_by": sample.stopped_by,
            "seed": self.seeds[index],
            "length": self.length,
            **self.settings.to_dict(),
        }


def _primed(decoders: list, prime_ids: list[int]) -> str:
    """Feed the prompt's ids to every decoder; the prompt's text as they decode it."""
    shown = ["".join(decoder.feed(token) for token in prime_ids) for decoder in decoders]
    return shown[0]


def _decode_token(decoder, sample, token: int, log_prob: float) -> str:
    """The one place a token becomes text: decode it and let the sample hold back a possible stop string."""
    return sample.add(decoder.feed(token), log_prob)
