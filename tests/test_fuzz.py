"""Property tests on hostile input: the only outcomes are success or an ``RnnError``.

Each property runs a small budget in the default test run and a long one
under the ``fuzz`` marker: ``python -m pytest -m fuzz tests/test_fuzz.py``.
"""

from __future__ import annotations

import contextlib
import io
import json
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


# --- documents: resume state, metrics.jsonl, forecaster metadata, YAML with aliases ----------------------

HOSTILE_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats()
    | st.text(max_size=8)
    | st.just("\x1b[2J"),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def _mutated_document(good: dict, paths: list[tuple]) -> st.SearchStrategy:
    """``good`` with one field (from ``paths``) replaced by hostile JSON, or the whole text cut or nested."""

    def replace(choice):
        path, value = choice
        document = json.loads(json.dumps(good))
        target = document
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return json.dumps(document)

    text = json.dumps(good)
    return (
        st.tuples(st.sampled_from(paths), HOSTILE_JSON).map(replace)
        | st.integers(0, len(text)).map(lambda n: text[:n])
        | st.integers(1, 5000).map(lambda n: "[" * n + "]" * n)
        | st.integers(1, 5000).map(lambda n: text[:-1] + ', "x": ' + "9" * n + "}")
    )


def _state_document(run: Path) -> dict:
    from safetensors import safe_open

    with safe_open(str(run / "last.state.safetensors"), framework="pt") as handle:
        return json.loads(handle.metadata()["state"])


@pytest.mark.parametrize("budget", [20, pytest.param(500, marks=pytest.mark.fuzz, id="long")])
def test_hostile_resume_state_documents(budget, trained_run, tmp_path):
    from hostile_inputs import rewrite

    from rnncli.core.resume_state import STATE_FILE, read_state_meta

    good = _state_document(trained_run)
    paths = [("step",), ("history",), ("history", "step"), ("checkpoint",), ("optimizer", "param_groups", 0, "betas")]
    paths += [("optimizer", "param_groups", 0, "lr"), ("host_rng", "numpy"), ("world_size",), ("task",)]
    target = tmp_path / STATE_FILE

    def prop(text: str) -> None:
        rewrite(trained_run / STATE_FILE, target, document="state", raw_text=text)
        _only_our_errors(read_state_meta, target)

    _run(budget, _mutated_document(good, paths), prop)


@pytest.mark.parametrize("budget", BUDGETS)
def test_hostile_metrics_lines(budget, tmp_path):
    from rnncli.tasks.training_curve import training_curve

    lines = st.lists(
        st.text(max_size=40) | HOSTILE_JSON.map(json.dumps) | st.integers(1, 3000).map(lambda n: "[" * n), max_size=5
    )

    def prop(texts: list[str]) -> None:
        (tmp_path / "metrics.jsonl").write_text("\n".join(texts), encoding="utf-8", errors="surrogatepass")
        training_curve(tmp_path)  # unusable lines are skipped and counted, never raised

    _run(budget, lines, prop)


@pytest.mark.parametrize("budget", [20, pytest.param(500, marks=pytest.mark.fuzz, id="long")])
def test_hostile_forecaster_metadata(budget, tmp_path):
    from rnncli.tasks.forecast.meta_schema import check_forecaster_meta

    good = {
        "model": {"horizon": 3, "lookback": 2, "quantiles": [0.1, 0.5, 0.9], "season": 1, "cell": "lstm"}
        | {"hidden_size": 8, "num_layers": 1, "dropout": 0.0, "scaling": "standard", "ensemble": 1},
        "series": {"ids": ["a"], "freq": "D", "last_time": ["2020-01-05T00:00:00"], "context": [[1.0, 2.0]]},
    }
    check_forecaster_meta(tmp_path, json.loads(json.dumps(good)))  # the seed itself is good
    paths = [("model", "hidden_size"), ("model", "horizon"), ("model", "quantiles"), ("series", "freq")]
    paths += [("series", "ids", 0), ("series", "last_time", 0), ("series", "context", 0, 0), ("series", "context")]
    documents = _mutated_document(good, paths).map(lambda text: _json_or_none(text))

    _run(budget, documents, lambda meta: _only_our_errors(check_forecaster_meta, tmp_path, meta))


def _json_or_none(text: str):
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


@pytest.mark.parametrize("budget", BUDGETS)
def test_yaml_with_aliases_anchors_and_duplicates(budget, tmp_path):
    path = tmp_path / "config.yaml"
    line = st.sampled_from(
        ["a: &a [x, x]", "b: &b [*a, *a]", "seed: *b", "seed: 1", "seed: 1", "hidden_size: &h 8", "lr: *h"]
        + ["<<: *a", "seed: 123456789012345678901234567890", "seed: [[[[[[[[[[]]]]]]]]]]", "? [a]\n: 1"]
    )

    def prop(lines: list[str]) -> None:
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        _only_our_errors(load_yaml_settings, path, run_option_types())

    _run(budget, st.lists(line, max_size=6), prop)
