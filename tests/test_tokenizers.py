"""Property tests for every tokenizer kind: round trips, streaming decode, fitting in chunks, damaged dicts."""

from __future__ import annotations

import functools
import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnncli.core.errors import CheckpointError, UsageError
from rnncli.core.tokenizers import (
    MAX_TOKENIZER_VOCAB,
    TOKENIZERS,
    ByteTokenizer,
    TokenizerSettings,
    tokenizer_from_dict,
    train_tokenizer,
)
from rnncli.core.tokenizers import bpe as bpe_module
from rnncli.core.tokenizers import word as word_module
from rnncli.core.tokenizers.gpt2_bytes import BYTE_TO_CHAR, CHAR_TO_BYTE
from rnncli.core.tokenizers.word import UNKNOWN_TOKEN, tokens_of

# A small corpus in several scripts, written for these tests (Windows line
# endings already turned into "\n", as the corpus reader does).
CORPUS = (
    "The lighthouse keeper wrote: “It’s calm tonight, and the sea is quiet.”\n"
    "She didn't answer; the lamp turned (slowly) and the gulls slept.\n"
    "Маяк светит всю ночь, и море спокойно.\n"
    "Смотритель пишет письмо — море спокойно, ночь тиха!\n"
    "灯塔守望者在夜里写信。海很平静，灯光在转。\n"
    'The keeper said "good night" to the sea 🌊 and to the lamp 💡.\n'
    "Café crème, naïve façade: e\u0301 with a combining accent.\n"
    "\n"
    "It’s 3 o'clock; the sea is calm, the lamp is bright, the keeper is awake 🙂.\n"
    "Море спокойно. 海很平静。 The sea is calm.\n"
) * 3
CORPUS_CHARS = sorted(set(CORPUS))

# Text any byte-level tokenizer must take: every script, emoji with modifiers
# and joiners, combining marks, CRLF and other odd whitespace.
AWKWARD = list("aZ09 \n\r\t\x00\x7féßçЖжя中文字日本語한국어😀👍🏽👩‍👩‍👧🇫🇷\u0301\u0308\u200b\u00a0\u2028\ufeff“”’'\"<>")
ANY_TEXT = st.text(alphabet=st.one_of(st.characters(), st.sampled_from(AWKWARD)), max_size=200)
# Text a file can hold: no lone surrogates (which only Python strings, not UTF-8, can carry).
VALID_TEXT = st.text(
    alphabet=st.one_of(st.characters(exclude_categories=("Cs",)), st.sampled_from(AWKWARD)), max_size=200
)

EXAMPLES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fit(kind: str, text: str = CORPUS, **options):
    return train_tokenizer(TokenizerSettings(kind=kind, **options), lambda: [text])


@functools.cache
def trained(kind: str):
    return fit(kind, vocab_size=400) if kind == "bpe" else fit(kind)


def streamed(tokenizer, ids: list[int]) -> str:
    stream = tokenizer.decoder()
    return "".join(stream.feed(i) for i in ids) + stream.finish()


def cut_at(text: str, cuts: list[int]) -> list[str]:
    bounds = [0, *sorted(min(c, len(text)) for c in cuts), len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


KINDS = ["char", "byte", "word", "bpe"]


def test_every_kind_is_registered():
    assert set(KINDS) <= set(TOKENIZERS)


# --- round trips ---------------------------------------------------------------


@EXAMPLES
@given(st.text(alphabet=st.sampled_from(CORPUS_CHARS), max_size=200))
def test_char_round_trips_text_of_its_characters(text):
    tok = trained("char")
    assert tok.decode(tok.encode(text)) == text


@pytest.mark.parametrize("kind", ["byte", "bpe"])
@EXAMPLES
@given(text=ANY_TEXT)
def test_byte_level_round_trips_any_text(kind, text):
    tok = trained(kind)
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert streamed(tok, ids) == text


def _corpus_words() -> list[str]:
    tok = trained("word")
    return [w for w in tok.words[1:] if w[0].isalnum()]


@EXAMPLES
@given(st.lists(st.lists(st.sampled_from(_corpus_words()), max_size=8), max_size=6))
def test_word_round_trips_words_joined_by_single_spaces_and_newlines(lines):
    tok = trained("word")
    text = "\n".join(" ".join(line) for line in lines)
    assert tok.decode(tok.encode(text)) == text


@EXAMPLES
@given(text=ANY_TEXT)
def test_word_decoding_is_a_fixed_point_after_one_round(text):
    tok = trained("word")
    once = tok.decode(tok.encode(text))
    assert tok.encode(once) == tok.encode(text)
    assert tok.decode(tok.encode(once)) == once


def test_word_spacing_rules():
    text = 'He said, "don\'t (go) there!" It’s 50% “calm”.\nNext [line]: ok? ¿Sí! 海很平静。'
    tok = fit("word", text)
    assert tok.decode(tok.encode(text)) == text
    assert tok.decode(tok.encode("said ,  there\t!\n\n  ( go )")) == "said, there!\n\n(go)"
    # straight quotes alternate, counted afresh on each line
    assert tok.decode(tok.encode('" go " said " there\n" go')) == '"go" said "there\n"go'


def test_word_unknown_token_decodes_as_itself_and_encodes_back():
    tok = fit("word", "calm sea calm sea lamp", min_count=2)
    ids = tok.encode("calm lamp <unk> sea")
    assert ids == [tok.index["calm"], 0, 0, tok.index["sea"]]
    assert tok.decode(ids) == "calm <unk> <unk> sea"
    assert tok.encode(tok.decode(ids)) == ids


# --- determinism and bulk encoding ---------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@EXAMPLES
@given(text=st.text(alphabet=st.sampled_from(CORPUS_CHARS), max_size=300))
def test_encoding_is_deterministic_and_bulk_encoding_agrees(kind, text):
    tok = trained(kind)
    again = tokenizer_from_dict(json.loads(json.dumps(tok.to_dict())))
    ids = tok.encode(text)
    array = tok.encode_array(text)
    assert array.ndim == 1 and np.issubdtype(array.dtype, np.integer)
    assert array.tolist() == ids == tok.encode(text) == again.encode(text)
    assert all(0 <= i < tok.vocab_size for i in ids)


def test_word_bulk_encoding_cut_into_segments_matches_whole_text(monkeypatch):
    text = CORPUS * 4
    monkeypatch.setattr(word_module, "SEGMENT_CHARS", 37)
    tok = trained("word")
    assert len(list(word_module._segments(text, 37))) > 10
    assert tok.encode(text) == [tok.index.get(t, 0) for t in tokens_of(text)]


@FEW
@given(
    text=st.lists(
        st.sampled_from(["sea", "海很", " ", "  ", "\n", "\n\n", " \n", "'s", "”", "🙂", "\t"]), max_size=120
    ).map("".join)
)
def test_bpe_encoding_in_pieces_gives_the_ids_of_the_whole_text(text):
    tok = trained("bpe")
    pieces = list(bpe_module._pieces(text, 5))
    assert "".join(pieces) == text
    ids = [i for piece in pieces for i in tok.tokenizer.encode(piece, add_special_tokens=False).ids]
    assert ids == tok.tokenizer.encode(text, add_special_tokens=False).ids


def test_bpe_bulk_encoding_of_long_text_matches_the_library(monkeypatch):
    monkeypatch.setattr(bpe_module, "PIECE_CHARS", 50)
    tok = trained("bpe")
    text = CORPUS * 3
    assert tok.encode(text) == tok.tokenizer.encode(text).ids
    assert tok.decode(tok.encode(text)) == text


# --- serialisation -------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_dict_round_trip_keeps_vocabulary_and_ids(kind):
    tok = trained(kind)
    data = tok.to_dict()
    again = tokenizer_from_dict(json.loads(json.dumps(data)))
    assert type(again) is type(tok) and again.vocab_size == tok.vocab_size
    assert again.to_dict() == data
    assert again.encode(CORPUS) == tok.encode(CORPUS)
    assert again.start_id == tok.start_id


@pytest.mark.parametrize("kind", KINDS)
def test_start_id_is_the_newline(kind):
    tok = trained(kind)
    assert tok.decode([tok.start_id]) == "\n"


# --- streaming decode ----------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@EXAMPLES
@given(data=st.data())
def test_streaming_decoder_yields_exactly_decode(kind, data):
    tok = trained(kind)
    ids = data.draw(st.lists(st.integers(0, tok.vocab_size - 1), max_size=60))
    text = streamed(tok, ids)
    assert text == tok.decode(ids)
    text.encode("utf-8")  # a valid str even when the bytes were not valid UTF-8


@pytest.mark.parametrize("kind", ["word", "bpe"])
def test_streaming_decoder_writes_text_as_tokens_come(kind):
    tok = trained(kind)
    stream = tok.decoder()
    pieces = [stream.feed(i) for i in tok.encode("The sea is calm.\nМоре")]
    assert sum(bool(p) for p in pieces) >= 4  # not held back until the end
    assert "".join(pieces) + stream.finish() == "The sea is calm.\nМоре"


def test_bpe_streaming_holds_back_half_a_character():
    tok = trained("bpe")
    single_bytes = [tok.tokenizer.token_to_id(BYTE_TO_CHAR[b]) for b in "🌊".encode()]
    stream = tok.decoder()
    assert [stream.feed(i) for i in single_bytes] == ["", "", "", "🌊"]
    assert stream.finish() == ""


# --- the byte table against the library ----------------------------------------


def test_byte_table_matches_the_library_alphabet():
    from tokenizers import pre_tokenizers

    assert len(BYTE_TO_CHAR) == 256 and len(CHAR_TO_BYTE) == 256
    assert set(BYTE_TO_CHAR.values()) == set(pre_tokenizers.ByteLevel.alphabet())
    spell = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    # every byte that valid UTF-8 can hold, as the first or a later byte of a character
    sample = [
        chr(c)
        for c in [*range(0x80), *range(0x80, 0x800, 7), *range(0x800, 0x10000, 251), *range(0x10000, 0x110000, 4093)]
        if not 0xD800 <= c < 0xE000
    ]
    seen = set()
    for ch in sample:
        ((spelt, _),) = spell.pre_tokenize_str(ch)
        assert spelt == "".join(BYTE_TO_CHAR[b] for b in ch.encode())
        seen.update(ch.encode())
    assert len(seen) >= 240  # all but the bytes UTF-8 never uses


def test_every_bpe_token_decodes_as_the_library_decodes_it():
    tok = trained("bpe")
    for token_id in range(tok.vocab_size):
        raw = tok.token_bytes[token_id]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue  # part of a character: checked in sequences below
        assert tok.tokenizer.decode([token_id]) == text == tok.decode([token_id])


@EXAMPLES
@given(text=VALID_TEXT)
def test_bpe_decode_agrees_with_the_library_on_valid_text(text):
    tok = trained("bpe")
    ids = tok.encode(text)
    assert tok.tokenizer.decode(ids) == tok.decode(ids) == text


# --- fitting -------------------------------------------------------------------

FIT_TEXT = st.text(alphabet=st.sampled_from(list("ab'’ <unk>\n.,\u0301Жя海") + [" ", " "]), max_size=150)


@pytest.mark.parametrize("kind", ["char", "word"])
@EXAMPLES
@given(text=FIT_TEXT, cuts=st.lists(st.integers(0, 150), max_size=12))
def test_fit_on_chunks_cut_anywhere_equals_fit_on_the_whole_text(kind, text, cuts):
    whole = fit(kind, text)
    chunks = cut_at(text, cuts)
    pieces = train_tokenizer(TokenizerSettings(kind=kind), lambda: chunks)
    assert pieces.to_dict() == whole.to_dict()


@FEW
@given(cuts=st.lists(st.integers(0, len(CORPUS)), min_size=1, max_size=30))
def test_bpe_fit_on_chunks_cut_anywhere_learns_a_similar_vocabulary(cuts):
    """Chunk cuts fall between lines only where a line is complete, so the vocabulary is
    the same size within a few merges; and it still encodes every text exactly."""
    whole = trained("bpe")
    chunks = cut_at(CORPUS, cuts)
    pieces = train_tokenizer(TokenizerSettings(kind="bpe", vocab_size=400), lambda: chunks)
    assert abs(pieces.vocab_size - whole.vocab_size) <= 5
    assert pieces.decode(pieces.encode(CORPUS)) == CORPUS


def test_fit_reads_the_corpus_lazily_chunk_by_chunk():
    calls = []

    def chunks():
        calls.append(1)
        yield from (CORPUS[i : i + 17] for i in range(0, len(CORPUS), 17))

    for kind in KINDS:
        tok = train_tokenizer(TokenizerSettings(kind=kind, vocab_size=300), chunks)
        assert tok.decode(tok.encode("The sea")) == "The sea"
    assert len(calls) >= 3  # char, word and bpe each read it


def test_word_vocabulary_is_frequency_ranked_with_ties_by_word():
    tok = fit("word", "b a c a b a\nz")
    assert tok.words == [UNKNOWN_TOKEN, "a", "b", "\n", "c", "z"]
    assert fit("word", "b a c a b a\nz", max_vocab=2).words == [UNKNOWN_TOKEN, "a", "b"]


def test_bpe_vocabulary_size_is_validated_and_may_come_out_smaller():
    for bad in (256, 1_000_001, "400", True):
        with pytest.raises(UsageError, match=r"--vocab-size.*257\.\.1,000,000"):
            fit("bpe", vocab_size=bad)
    small = fit("bpe", "tiny corpus", vocab_size=5000)
    assert 256 < small.vocab_size < 5000


@pytest.mark.parametrize("options", [{"min_count": 0}, {"max_vocab": 0}, {"max_vocab": MAX_TOKENIZER_VOCAB}])
def test_word_settings_are_validated(options):
    with pytest.raises(UsageError, match="--min-count|--max-vocab"):
        fit("word", **options)


# --- unknown text --------------------------------------------------------------


def test_char_unseen_character_is_the_unknown_token():
    tok = trained("char")
    assert tok.encode("Tq€") == [tok.index["T"], tok.index["q"], tok.unknown_id]
    assert tok.unknown("Tq€€Ω") == ["Ω", "€"]


def test_word_rare_words_are_unknown_and_listed():
    tok = fit("word", "the sea the sea the lamp keeper", min_count=2)
    assert tok.words == [UNKNOWN_TOKEN, "the", "sea"]
    assert tok.encode("the lamp sea keeper") == [1, 0, 2, 0]
    assert tok.unknown("the lamp sea keeper lamp Ж") == ["lamp", "keeper", "Ж"]
    assert tok.unknown("the sea <unk>") == []


@pytest.mark.parametrize("kind", ["byte", "bpe"])
def test_byte_level_tokenizers_know_every_text(kind):
    tok = trained(kind)
    assert tok.unknown_id is None and tok.unknown("Ω€🙂\x00") == []


# --- damaged dicts -------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)


def _must_refuse(data) -> None:
    try:
        tokenizer_from_dict(data)
    except CheckpointError:
        return
    tok = tokenizer_from_dict(data)  # accepted: then it must also work
    tok.decode(tok.encode("the sea"))


@pytest.mark.parametrize("kind", KINDS)
@EXAMPLES
@given(key=st.sampled_from(["chars", "unknown", "words", "tokenizer", "extra"]), value=JSON_VALUES)
def test_damaged_dicts_raise_checkpoint_error_only(kind, key, value):
    data = dict(trained(kind).to_dict())
    data[key] = value
    _must_refuse(data)


@FEW
@given(words=st.lists(st.text(max_size=6), max_size=6))
def test_damaged_word_lists_raise_checkpoint_error_only(words):
    _must_refuse({"kind": "word", "words": [UNKNOWN_TOKEN, *words]})
    _must_refuse({"kind": "word", "words": words})


@EXAMPLES
@given(data=st.data())
def test_damaged_bpe_json_raises_checkpoint_error_only(data):
    text = trained("bpe").to_dict()["tokenizer"]
    where = data.draw(st.integers(0, len(text) - 1))
    how = data.draw(st.sampled_from(["truncate", "replace", "insert"]))
    char = data.draw(st.sampled_from(list('0123456789",:{}[]aĊ ')))
    damaged = {
        "truncate": text[:where],
        "replace": text[:where] + char + text[where + 1 :],
        "insert": text[:where] + char + text[where:],
    }[how]
    _must_refuse({"kind": "bpe", "tokenizer": damaged})


@pytest.mark.parametrize(
    "data, message",
    [
        ({"kind": "word", "words": ["the", UNKNOWN_TOKEN]}, "starts with"),
        ({"kind": "word", "words": [UNKNOWN_TOKEN, "sea", "sea"]}, "distinct"),
        ({"kind": "word", "words": [UNKNOWN_TOKEN, "two words"]}, "single word"),
        ({"kind": "word", "words": [UNKNOWN_TOKEN, ""]}, "non-empty"),
        ({"kind": "word", "words": [UNKNOWN_TOKEN] * (MAX_TOKENIZER_VOCAB + 1)}, "list of"),
        ({"kind": "word", "words": "<unk> sea"}, "list of"),
        ({"kind": "bpe", "tokenizer": "x" * (bpe_module.MAX_JSON_CHARS + 1)}, "at most"),
        ({"kind": "bpe", "tokenizer": "{not json"}, "does not parse"),
        ({"kind": "bpe", "tokenizer": "[" * 100_000}, "does not parse"),  # nesting deeper than Python recurses
        ({"kind": "bpe", "tokenizer": 42}, "JSON text"),
        ({"kind": "bpe"}, "exactly"),
    ],
)
def test_damaged_dicts_say_what_is_wrong(data, message):
    with pytest.raises(CheckpointError, match=message):
        tokenizer_from_dict(data)


def test_bpe_refuses_a_tokenizer_that_is_not_byte_level_bpe():
    from tokenizers import Tokenizer, models, pre_tokenizers

    wordlevel = Tokenizer(models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]"))
    with pytest.raises(CheckpointError, match="not a byte-level BPE"):
        tokenizer_from_dict({"kind": "bpe", "tokenizer": wordlevel.to_str()})
    prefixed = Tokenizer.from_str(trained("bpe").to_dict()["tokenizer"])
    prefixed.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    with pytest.raises(CheckpointError, match="prefix space"):
        tokenizer_from_dict({"kind": "bpe", "tokenizer": prefixed.to_str()})
    no_bytes = Tokenizer(models.BPE({"a": 0, "b": 1}, []))
    no_bytes.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    with pytest.raises(CheckpointError, match="256 bytes"):
        tokenizer_from_dict({"kind": "bpe", "tokenizer": no_bytes.to_str()})


def test_bpe_refuses_random_or_inconsistent_models_before_the_library_panics():
    good = json.loads(trained("bpe").to_dict()["tokenizer"])

    def damaged(change) -> dict:
        data = json.loads(json.dumps(good))
        change(data)
        return {"kind": "bpe", "tokenizer": json.dumps(data)}

    cases = [
        (lambda d: d["model"].update(dropout=0.5), "dropout"),  # encoding would be random
        (lambda d: d["model"].update(continuing_subword_prefix="##"), "affixes"),
        (lambda d: d["model"]["merges"].append(["Ġkeeper", "zzz"]), "merge"),  # the library panics on some of these
        (lambda d: d["model"].update(vocab=[1, 2]), "map of tokens"),
        (
            lambda d: d.update(
                truncation={"max_length": 3, "stride": 0, "strategy": "LongestFirst", "direction": "Right"}
            ),
            "truncates",
        ),
    ]
    for change, message in cases:
        with pytest.raises(CheckpointError, match=message):
            tokenizer_from_dict(damaged(change))


# --- start-up cost -------------------------------------------------------------


def test_importing_the_tokenizers_package_does_not_import_hugging_face_tokenizers():
    code = (
        "import sys, rnncli.core.tokenizers as t; assert 'bpe' in t.TOKENIZERS; assert 'tokenizers' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={"PYTHONPATH": str(_root())}, timeout=60)


def _root():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent


def test_byte_tokenizer_takes_lone_surrogates_from_a_python_string():
    """An undecodable command-line byte comes back as itself; any other lone surrogate as U+FFFD."""
    tok = ByteTokenizer()
    assert tok.encode("a\udcffb") == [97, 255, 98]
    assert tok.decode(tok.encode("a\ud800b")) == "a\ufffdb"
