"""Fuzzing the CSV reader: random CSV-ish text may be read or refused with an RnnError, nothing else.

The default run tries a few dozen files; ``pytest -m fuzz`` runs the same
properties with a much larger budget.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnncli.core.errors import RnnError
from rnncli.tasks.forecast.report import series_summary
from rnncli.tasks.forecast.series import read_series

NAMES = st.sampled_from(["ds", "date", "time", "unique_id", "id", "y", "value", "sales", "t", "index", "a", "b"])
ODD_NAMES = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=8)
DATES = st.sampled_from(
    [
        "2020-01-01",
        "2020-02-01",
        "2020-03-01",
        "2021-01-01 13:00",
        "2020/01/05",
        "01.02.2020",
        "2020-Q1",
        "202001",
        "2020",
        "Jan-01-2020",
        "2020-13-45",
        "1e9",
        "-1",
    ]
)
NUMBERS = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["3,5", "1.234,5", "NaN", "inf", "-0", "1e308", "1e309", ".5", "5."]),
)
GARBAGE = st.one_of(st.just(""), st.just(" "), st.just('"'), st.just('"a,b"'), st.text(max_size=6))
CELLS = st.one_of(DATES, NUMBERS, GARBAGE)


@st.composite
def csv_texts(draw) -> str:
    sep = draw(st.sampled_from([",", ";", "\t", "|"]))
    width = draw(st.integers(1, 4))
    header = [draw(st.one_of(NAMES, ODD_NAMES)) for _ in range(width)]
    rows = []
    for _ in range(draw(st.integers(0, 30))):
        cells = [draw(CELLS) for _ in range(draw(st.integers(max(width - 1, 1), width + 1)))]
        rows.append(sep.join(cells))
    if draw(st.booleans()):  # a time column that mostly makes sense, so the later stages get exercised
        start = draw(st.integers(0, 5))
        rows = [f"2020-{(start + i) % 12 + 1:02d}-01{sep}{row}" for i, row in enumerate(rows)]
        header = ["ds", *header]
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return newline.join([sep.join(header), *rows]) + draw(st.sampled_from(["", newline]))


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _read_or_refuse(folder: Path, text: str) -> None:
    path = folder / "fuzz.csv"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        data = read_series(str(path))
    except RnnError:
        return
    assert data.series and all(len(s.values) >= 1 for s in data.series)
    summary = series_summary(data)  # what `rnn inspect` shows must work on anything the reader accepts
    assert summary["num_series"] == len(data.series)


def _budget(examples: int):
    return settings(
        max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
    )


@_budget(60)
@given(text=csv_texts())
def test_random_csv_is_read_or_refused_with_an_rnn_error(folder, text):
    _read_or_refuse(folder, text)


@_budget(30)
@given(text=st.text(max_size=300))
def test_random_text_is_read_or_refused_with_an_rnn_error(folder, text):
    _read_or_refuse(folder, text)


@pytest.mark.fuzz
@_budget(int(os.environ.get("RNN_FUZZ_EXAMPLES", "3000")))
@given(text=st.one_of(csv_texts(), st.text(max_size=1000)))
def test_fuzz_long_budget(folder, text):
    _read_or_refuse(folder, text)
