"""rnn sample: text from a trained language model."""

from __future__ import annotations

import json
import secrets
import sys
from typing import Annotated

import typer

from rnncli.cli import console
from rnncli.cli.failures import user_errors
from rnncli.cli.options import ImplOverride, Quiet, Unknown


@user_errors
def sample(
    checkpoint: Annotated[str, typer.Argument(help="A run folder or a .safetensors file.")],
    length: Annotated[int, typer.Option(help="Tokens to generate per sample (characters, for a char model).")] = 500,
    temp: Annotated[float | None, typer.Option(help="Sampling temperature; 0 always picks the likeliest token.  [default: 1.0]")] = None,
    greedy: Annotated[bool, typer.Option("--greedy", help="Always pick the likeliest token (same as --temp 0).")] = False,
    top_k: Annotated[int, typer.Option(help="Sample only from the K likeliest tokens; 0 turns it off.")] = 0,
    top_p: Annotated[float, typer.Option(help="Nucleus: sample from the likeliest tokens holding this much probability, in (0, 1].")] = 1.0,
    min_p: Annotated[float, typer.Option(help="Drop tokens less likely than this times the likeliest one, in [0, 1).")] = 0.0,
    repetition_penalty: Annotated[float, typer.Option(help="Above 1, tokens already in the prompt or sample become less likely.")] = 1.0,
    beam: Annotated[int, typer.Option(help="Beam search with N beams for the likeliest continuation; 0 samples.")] = 0,
    prime: Annotated[str, typer.Option(help="Text to start from (fed through the model once, not printed).")] = "",
    prime_file: Annotated[str | None, typer.Option(help="Read the prompt from a file, or - for stdin.")] = None,
    include_prime: Annotated[bool, typer.Option("--include-prime", help="Print the prompt before each sample.")] = False,
    num: Annotated[int, typer.Option(help="Samples to generate, as one batch; sample i uses seed + i.")] = 1,
    separator: Annotated[str | None, typer.Option(help="A line printed between samples (text format).  [default: an empty line]")] = None,
    stop: Annotated[list[str] | None, typer.Option(help="End a sample where this text appears (not printed); repeatable.")] = None,
    output_format: Annotated[str, typer.Option("--format", help="text (streamed) or jsonl (one object per sample).")] = "text",
    seed: Annotated[int | None, typer.Option(help="Random seed; the same seed gives the same text.")] = None,
    unknown: Unknown = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or mps.")] = "cpu",
    impl: ImplOverride = None,
    quiet: Quiet = False,
) -> None:
    """Generate text from a trained model, streamed to stdout.

    Example: rnn sample runs/tinyworld --temp 0.8 --length 500 --seed 7 --prime "The "
    """
    from rnncli.core.devices import resolve_device
    from rnncli.core.errors import UsageError
    from rnncli.tasks.language_model.checkpoint import load_checkpoint
    from rnncli.tasks.language_model.logit_processors import DecodingSettings
    from rnncli.tasks.language_model.sampling import read_prompt_file

    console.set_quiet(quiet)
    _check_sample_options(length=length, num=num, output_format=output_format, device=device, beam=beam,
                          stops=stop or [], greedy=greedy, temp=temp, separator=separator)
    temperature = 0.0 if greedy else (1.0 if temp is None else temp)
    settings = DecodingSettings(temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p,
                                repetition_penalty=repetition_penalty, beam=beam).validate()
    if prime and prime_file is not None:
        raise UsageError("give the prompt with --prime or --prime-file, not both")
    prompt = read_prompt_file(prime_file) if prime_file is not None else prime
    ckpt = load_checkpoint(checkpoint, device=resolve_device(device), impl=impl)
    seed = seed if seed is not None else secrets.randbelow(2**31)
    job = _SampleJob(ckpt=ckpt, prompt=prompt, settings=settings, length=length, num=num, seed=seed,
                     stops=stop or [], include_prime=include_prime, separator=separator or "", jsonl=output_format == "jsonl",
                     unknown=unknown)
    job.run(sys.stdout)


def _check_sample_options(*, length: int, num: int, output_format: str, device: str, beam: int,
                          stops: list[str], greedy: bool, temp: float | None, separator: str | None) -> None:
    from rnncli.core.errors import UsageError
    from rnncli.core.settings import DEVICES

    if length < 0:
        raise UsageError(f"--length must be 0 or more, got {length}")
    if num < 1:
        raise UsageError(f"--num must be 1 or more, got {num}")
    if beam and num > 1:
        raise UsageError("--beam returns the one likeliest continuation: use --num 1 with it")
    if greedy and beam:
        raise UsageError("--beam searches over many continuations and --greedy follows one: "
                         "choose one (--beam 1 is greedy)")
    if greedy and temp is not None and temp != 0:
        raise UsageError(f"--greedy means --temp 0: drop --temp {temp}")
    if output_format not in ("text", "jsonl"):
        raise UsageError(f"--format: unknown value '{output_format}' (choose one of: text, jsonl)")
    if separator is not None and output_format == "jsonl":
        raise UsageError("--separator goes between samples of --format text; jsonl prints one object per line")
    if device not in DEVICES:
        raise UsageError(f"--device: unknown value '{device}' (choose one of: {', '.join(DEVICES)})")
    if any(s == "" for s in stops):
        raise UsageError("--stop needs a non-empty string")


class _SampleJob:
    """Runs one `rnn sample`: feeds the library's tokens through per-sample text and writes them.

    Plain text with one sample is streamed token by token; with --num > 1 the
    rows advance together, so each sample is printed whole, in order, once it
    and all the samples before it are finished.
    """

    def __init__(self, *, ckpt, prompt: str, settings, length: int, num: int, seed: int, stops: list[str],
                 include_prime: bool, separator: str, jsonl: bool, unknown: str | None):
        from rnncli.tasks.language_model.sampling import SampleText, derived_seeds
        from rnncli.tasks.language_model.tokenizers import encode_known

        self.ckpt, self.tokenizer, self.prompt, self.settings = ckpt, ckpt.tokenizer, prompt, settings
        self.prime_ids = encode_known(self.tokenizer, prompt, policy=unknown, where="the prompt: text")
        self.length, self.include_prime, self.separator, self.jsonl = length, include_prime, separator, jsonl
        self.seeds = derived_seeds(seed, num)
        self.samples = [SampleText(stops=stops) for _ in self.seeds]
        # one decoder per sample: a byte or BPE token may end in the middle of a character
        self.decoders = [self.tokenizer.decoder() for _ in self.seeds]
        self.stream = num == 1 and not jsonl and not settings.beam
        self.printed = 0

    def run(self, out) -> None:
        from rnncli.tasks.language_model.jobs import start_token

        if self.stream and self.include_prime:
            console.write_flushed(out, self.prompt)
        if self.settings.beam:
            self._run_beam(start_token(self.tokenizer))
        else:
            self._run_sampling(out, start_token(self.tokenizer))
        for sample, decoder in zip(self.samples, self.decoders, strict=True):
            if not sample.done:
                self._emit(out, sample, sample.add_text(decoder.finish()))
                self._emit(out, sample, sample.finish())
        self._print_finished(out)

    def _run_sampling(self, out, start: int) -> None:
        from rnncli.tasks.language_model.sampling import sample_steps

        steps = sample_steps(self.ckpt.model, self.prime_ids, length=self.length, settings=self.settings,
                             seeds=self.seeds, newline_id=start)
        for tokens, log_probs in steps:
            for sample, decoder, token, log_prob in zip(self.samples, self.decoders, tokens, log_probs, strict=True):
                if not sample.done:
                    self._emit(out, sample, _decode_token(decoder, sample, token, log_prob))
            self._print_finished(out)
            if all(sample.done for sample in self.samples):
                steps.close()
                return

    def _run_beam(self, start: int) -> None:
        from rnncli.tasks.language_model.sampling import beam_search

        tokens, log_probs = beam_search(self.ckpt.model, self.prime_ids, length=self.length,
                                        settings=self.settings, newline_id=start)
        sample = self.samples[0]
        for token, log_prob in zip(tokens, log_probs, strict=True):
            if sample.done:
                break
            _decode_token(self.decoders[0], sample, token, log_prob)

    def _emit(self, out, sample, text: str) -> None:
        if self.stream and text:
            console.write_flushed(out, text)

    def _print_finished(self, out) -> None:
        """Print, in order, every sample that is finished and has all earlier ones printed."""
        while self.printed < len(self.samples) and self.samples[self.printed].finished:
            index = self.printed
            self.printed += 1
            if self.jsonl:
                console.write_flushed(out, json.dumps(self._record(index)) + "\n")
                continue
            if index > 0:
                console.write_flushed(out, self.separator + "\n")
            console.write_flushed(out, ("" if self.stream else self._full_text(index)) + "\n")

    def _full_text(self, index: int) -> str:
        return (self.prompt if self.include_prime else "") + self.samples[index].text

    def _record(self, index: int) -> dict:
        sample = self.samples[index]
        return {"index": index, "text": self._full_text(index), "prime": self.prompt, "num_tokens": sample.num_tokens,
                "log_prob": sample.log_prob, "stopped_by": sample.stopped_by, "seed": self.seeds[index],
                "length": self.length, **self.settings.to_dict()}


def _decode_token(decoder, sample, token: int, log_prob: float) -> str:
    """The one place a token becomes text: decode it and let the sample hold back a possible stop string."""
    return sample.add(decoder.feed(token), log_prob)


