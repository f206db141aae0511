"""Property tests on hostile input: the only outcomes are success or an ``RnnError``.

Each property runs a small budget in the default test run and a long one
under the ``fuzz`` marker: ``python -m pytest -m fuzz tests/test_fuzz.py``.
"""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnncli.core.checkpoint import encode_checkpoint, versions
from rnncli.core.errors import RnnError
from rnncli.core.settings import ModelConfig, load_yaml_settings
from rnncli.core.tokenizers import CharTokenizer, tokenizer_from_dict
from rnncli.tasks.inspection import inspect_checkpoint
from rnncli.tasks.language_model.checkpoint import load_checkpoint
from rnncli.tasks.language_model.config import run_option_types
from rnncli.tasks.language_model.data.sources import read_corpus
from rnncli.tasks.language_model.model import build_model
from rnncli.tasks.language_model.text_report import inspect_text

BUDGETS = [50, pytest.param(2000, marks=pytest.mark.fuzz, id="long")]


def _run(budget: int, strategy, prop) -> None:
    settings(
        max_examples=budget,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )(given(strategy)(prop))()


@pytest.fixture(scope="module")
def tiny_checkpoint() -> bytes:
    """The bytes of a real (untrained) checkpoint, a few KB: the seed of every mutation."""
    tokenizer = CharTokenizer.train("abc .\n")
    config = ModelConfig(cell="gru", vocab_size=tokenizer.vocab_size, embed_size=3, hidden_size=4, num_layers=1)
    meta = {
        "task": "text",
        "model": {**vars(config)},
        "tokenizer": tokenizer.to_dict(),
        "history": {"step": 0},
        "versions": versions(),
    }
    return encode_checkpoint(build_model(config), meta)


@st.composite
def mutations(draw, blob: bytes) -> bytes:
    """Truncate, flip bits, overwrite a stretch, or insert bytes; sometimes several of these."""
    data = bytearray(blob)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["truncate", "flip", "overwrite", "insert"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "truncate":
            del data[at:]
        elif kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=16))
            data[at : at + len(chunk)] = chunk
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


def _only_our_errors(func, *args) -> None:
    with contextlib.suppress(RnnError):
        func(*args)


@pytest.mark.parametrize("budget", BUDGETS)
def test_mutated_checkpoints_load_or_raise_our_error(budget, tiny_checkpoint, tmp_path):
    path = tmp_path / "mutated.safetensors"
    assert load_checkpoint(_write(path, tiny_checkpoint)).config.hidden_size == 4  # the seed itself is good

    def prop(blob: bytes) -> None:
        _write(path, blob)
        _only_our_errors(load_checkpoint, path)
        _only_our_errors(inspect_checkpoint, path)

    _run(budget, mutations(tiny_checkpoint), prop)


def _write(path: Path, blob: bytes) -> Path:
    path.write_bytes(blob)
    return path


@pytest.mark.parametrize("budget", BUDGETS)
def test_random_bytes_as_a_checkpoint(budget, tmp_path):
    path = tmp_path / "random.safetensors"
    _run(budget, st.binary(max_size=256), lambda blob: _only_our_errors(load_checkpoint, _write(path, blob)))


@pytest.mark.parametrize("budget", BUDGETS)
def test_random_bytes_as_text(budget, tmp_path):
    path = tmp_path / "random.txt"

    def prop(blob: bytes) -> None:
        _write(path, blob)
        _only_our_errors(read_corpus, path)
        summary = inspect_text(str(path), chunk_size=7)  # problems in a text are reported, never raised
        assert summary["bytes"] == len(blob)

    _run(budget, st.binary(max_size=512), prop)


@pytest.mark.parametrize("budget", BUDGETS)
def test_random_bytes_on_stdin(budget, monkeypatch):
    def prop(blob: bytes) -> None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(blob)))
        _only_our_errors(read_corpus, "-")

    _run(budget, st.binary(max_size=256), prop)


@pytest.mark.parametrize("budget", BUDGETS)
def test_char_tokenizer_round_trips_any_text(budget):
    def prop(pair: tuple[str, str]) -> None:
        corpus, other = pair
        tokenizer = CharTokenizer.train(corpus)
        assert tokenizer.decode(tokenizer.encode(corpus)) == corpus
        rebuilt = tokenizer_from_dict(tokenizer.to_dict()) if corpus else tokenizer
        assert rebuilt.decode(rebuilt.encode(corpus)) == corpus
        _only_our_errors(tokenizer.encode, other)  # unseen characters: our DataError, listing them

    _run(budget, st.tuples(st.text(max_size=200), st.text(max_size=50)), prop)


@pytest.mark.parametrize("budget", BUDGETS)
def test_tokenizer_on_text_decoded_from_random_bytes(budget):
    def prop(blob: bytes) -> None:
        text = blob.decode("utf-8", errors="surrogateescape")
        tokenizer = CharTokenizer.train(text)
        assert tokenizer.decode(tokenizer.encode(text)) == text

    _run(budget, st.binary(max_size=256), prop)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=10,
)


@pytest.mark.parametrize("budget", BUDGETS)
def test_tokenizer_metadata_from_a_hostile_checkpoint(budget):
    tokenizers = JSON | st.fixed_dictionaries({"kind": st.just("char"), "chars": JSON | st.text(max_size=20)})
    _run(budget, tokenizers, lambda data: _only_our_errors(tokenizer_from_dict, data))


@pytest.mark.parametrize("budget", BUDGETS)
def test_random_yaml_config_files(budget, tmp_path):
    path = tmp_path / "config.yaml"
    keys = st.sampled_from(["hidden_size", "hidden-size", "cell", "lr", "steps", "time", "tensorboard", "bogus"])
    documents = st.text(max_size=80) | st.dictionaries(keys, JSON, max_size=4).map(
        lambda d: "\n".join(f"{k}: {v!r}" for k, v in d.items())
    )

    def prop(text: str) -> None:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        _only_our_errors(load_yaml_settings, path, run_option_types())

    _run(budget, documents, prop)
