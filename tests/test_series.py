"""Reading CSV time series: layouts, time formats, frequencies, gaps and the errors that name a line."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rnncli.core.errors import DataError
from rnncli.tasks.forecast.series import describe_freq, format_time, read_series, series_times


def write(tmp_path: Path, text: str, name: str = "s.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def rows(times: list[str], values: list[float], header: str = "date,v") -> str:
    return header + "\n" + "".join(f"{t},{v}\n" for t, v in zip(times, values, strict=True))


@pytest.mark.parametrize(
    "times, freq, shown",
    [
        (["2020-01-01", "2020-01-02", "2020-01-03"], "D", "2020-01-02"),
        (["2020-01-01 00:00:00", "2020-01-01 01:00:00", "2020-01-01 02:00:00"], "h", "2020-01-01 01:00:00"),
        (["2020-01-01T00:00:00", "2020-01-01T01:00:00", "2020-01-01T02:00:00"], "h", "2020-01-01T01:00:00"),
        (["1949-01", "1949-02", "1949-03"], "MS", "1949-02"),
        (["Jan-1-1995", "Jan-2-1995", "Jan-3-1995"], "D", "Jan-2-1995"),
        (["2010/01/01 00:00", "2010/01/01 01:00", "2010/01/01 02:00"], "h", "2010/01/01 01:00"),
        (["19580329", "19580330", "19580331"], "D", "19580330"),
        (["1990", "1991", "1992"], "YS-JAN", "1991"),
        (["2020-01-05", "2020-01-12", "2020-01-19"], "W-SUN", "2020-01-12"),
        (["2020-01-01", "2020-04-01", "2020-07-01"], "QS-JAN", "2020-04-01"),
        (["2020-01-01T00:00:00Z", "2020-01-01T01:00:00Z", "2020-01-01T02:00:00Z"], "h", "2020-01-01T01:00:00Z"),
        (["1959-Q4", "1960-Q1", "1960-Q2"], "QS-JAN", "1960-Q1"),
        (["30/12/2020", "31/12/2020", "01/01/2021"], "D", "31/12/2020"),
        (["12/30/2020", "12/31/2020", "01/01/2021"], "D", "12/31/2020"),
        (["1/9/2020", "1/10/2020", "1/11/2020"], "D", "1/10/2020"),
    ],
)
def test_time_formats_and_frequencies(tmp_path, times, freq, shown):
    data = read_series(write(tmp_path, rows(times, [1, 2, 3])))
    assert data.freq == freq
    series = data.series[0]
    assert series.values.tolist() == [1.0, 2.0, 3.0]
    assert format_time(series_times(series, data.freq)[1], data.time_format) == shown


def test_no_time_column_is_an_integer_index(tmp_path):
    data = read_series(write(tmp_path, "a,b\n1,10\n2,20\n3,30\n"))
    assert data.is_integer_index and data.freq == "step:1"
    assert [s.id for s in data.series] == ["a", "b"]
    assert list(series_times(data.series[1], data.freq)) == [0, 1, 2]
    assert "integer index" in describe_freq(data.freq)


def test_integer_time_column_keeps_its_step(tmp_path):
    data = read_series(write(tmp_path, "t,v\n10,1\n15,2\n20,3\n"))
    assert data.freq == "step:5"
    assert list(series_times(data.series[0], data.freq)) == [10, 15, 20]


def test_wide_layout_has_one_series_per_numeric_column(tmp_path):
    data = read_series(write(tmp_path, "date,store_a,store_b\n2020-01,1,10\n2020-02,2,20\n2020-03,3,30\n"))
    assert data.layout == "wide"
    assert {s.id: s.values.tolist() for s in data.series} == {"store_a": [1, 2, 3], "store_b": [10, 20, 30]}


def test_long_layout_nixtla_names(tmp_path):
    text = "unique_id,ds,y\nA,2020-01-01,1\nA,2020-01-02,2\nB,2020-01-01,5\nB,2020-01-02,6\nB,2020-01-03,7\n"
    data = read_series(write(tmp_path, text))
    assert data.layout == "long"
    assert {s.id: s.values.tolist() for s in data.series} == {"A": [1, 2], "B": [5, 6, 7]}


def test_long_layout_with_explicit_columns(tmp_path):
    text = "when,shop,qty,price\n2020-01,x,1,9\n2020-02,x,2,9\n2020-01,y,3,9\n2020-02,y,4,9\n"
    data = read_series(write(tmp_path, text), time_col="when", id_col="shop", value_col="qty")
    assert {s.id: s.values.tolist() for s in data.series} == {"x": [1, 2], "y": [3, 4]}
    assert data.freq == "MS"


def test_freq_override(tmp_path):
    data = read_series(write(tmp_path, rows(["2020-01-01", "2020-01-03", "2020-01-05"], [1, 2, 3])), freq="D")
    assert data.series[0].values.tolist() == [1, 1.5, 2, 2.5, 3]


def test_gaps_and_empty_cells_are_interpolated_with_a_warning(tmp_path):
    text = rows(["1949-01", "1949-02", "1949-03", "1949-04", "1949-06"], [10, 20, "", 40, 60], "Month,Passengers")
    data = read_series(write(tmp_path, text))
    assert data.series[0].values.tolist() == [10, 20, 30, 40, 50, 60]
    assert len(data.warnings) == 1
    assert "2 missing value(s)" in data.warnings[0] and "1949-03, 1949-05" in data.warnings[0]


def test_missing_error_refuses_gaps(tmp_path):
    path = write(tmp_path, rows(["1949-01", "1949-02", "1949-04"], [1, 2, 4]))
    with pytest.raises(DataError, match=r"1 missing value\(s\) \(at 1949-03\)"):
        read_series(path, missing="error")


def test_wide_series_of_unequal_lengths_are_trimmed_not_extrapolated(tmp_path):
    data = read_series(write(tmp_path, "date,a,b\n2020-01,1,\n2020-02,2,\n2020-03,3,7\n2020-04,4,8\n"))
    assert data.series[1].values.tolist() == [7, 8]
    assert data.series[1].start == pd.Timestamp("2020-03-01")
    assert not data.warnings


@pytest.mark.parametrize(
    "text, message",
    [
        (rows(["2020-01", "2020-02", "2020-02"], [1, 2, 3]), r"line 4: duplicate timestamp \(same as line 3\)"),
        (rows(["2020-01", "2020-03", "2020-02"], [1, 2, 3]), r"line 4: rows are not sorted by time"),
        (rows(["2020-01", "2020-02", "2020-03"], [1, "n.a", 3]), r"line 3, column 'v': 'n.a' is not a number"),
        (rows(["2020-01-01", "yesterday", "2020-01-03"], [1, 2, 3]), r"line 3, column 'date': cannot read 'yesterday'"),
        ("unique_id,ds,y\nA,2020-01-01,1\nA,2020-01-01,2\n", r"line 3: duplicate timestamp of series 'A'"),
    ],
)
def test_bad_rows_are_named_by_line(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(DataError, match=message) as info:
        read_series(path)
    assert info.value.message.startswith(path) and "\n" not in info.value.message


def test_a_text_column_in_a_wide_file_suggests_id_col(tmp_path):
    """A text column that names no series (its values never repeat, or no time repeats) is refused, with the
    flags to say otherwise."""
    with pytest.raises(DataError, match="column 'shop' is not numeric; .* give --id-col shop"):
        read_series(write(tmp_path, "date,shop,qty\n2020-01,x,1\n2020-02,y,2\n"))
    weekdays = "date,weekday,sales\n" + "".join(f"2020-01-{d:02d},{'MTWTFSS'[d % 7]},{d}\n" for d in range(1, 16))
    with pytest.raises(DataError, match="column 'weekday' is not numeric"):  # repeats, but no time does
        read_series(write(tmp_path, weekdays))


def test_line_numbers_count_blank_lines_and_ignore_trailing_ones(tmp_path):
    with pytest.raises(DataError, match=r"line 5, column 'v': 'x' is not a number"):
        read_series(write(tmp_path, "date,v\n2020-01,1\n\n2020-03,3\n2020-04,x\n\n\n"))
    assert read_series(write(tmp_path, "date,v\n2020-01,1\n2020-02,2\n\n\n")).series[0].values.tolist() == [1, 2]


def test_missing_column_flag_names_the_columns(tmp_path):
    with pytest.raises(DataError, match=r"--value-col 'sales' is not a column \(columns: date, v\)"):
        read_series(write(tmp_path, rows(["2020-01"], [1])), value_col="sales")


def test_empty_and_missing_files(tmp_path):
    with pytest.raises(DataError, match="empty"):
        read_series(write(tmp_path, ""))
    with pytest.raises(DataError, match="no such file"):
        read_series(str(tmp_path / "nope.csv"))


def test_stdin(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("date,v\n2020-01,1\n2020-02,2\n2020-03,3\n"))
    data = read_series("-")
    assert data.source == "-" and data.series[0].values.tolist() == [1, 2, 3]


def test_generated_samples_read_cleanly():
    root = Path(__file__).resolve().parent.parent / "sample_data"
    monthly = read_series(str(root / "monthly.csv"))
    hourly = read_series(str(root / "hourly.csv"))
    assert (monthly.layout, monthly.freq, len(monthly.series)) == ("long", "MS", 4)
    assert (hourly.layout, hourly.freq, len(hourly.series)) == ("wide", "h", 3)
    assert monthly.warnings and hourly.warnings  # the samples have gaps on purpose
    assert all(np.isfinite(s.values).all() for s in monthly.series + hourly.series)


def test_long_layout_is_found_from_the_data_whatever_the_names(tmp_path):
    """A text column whose values repeat names the series, in blocks or interleaved by date."""
    blocks = "symbol,date,price\nA,2020-01-01,1\nA,2020-01-02,2\nB,2020-01-01,5\nB,2020-01-02,6\n"
    interleaved = "when,ticker,close\n2020-01-01,A,1\n2020-01-01,B,5\n2020-01-02,A,2\n2020-01-02,B,6\n"
    for text, roles in (
        (blocks, {"time": "date", "id": "symbol", "value": "price"}),
        (interleaved, {"time": "when", "id": "ticker", "value": "close"}),
    ):
        data = read_series(write(tmp_path, text))
        assert data.layout == "long" and data.columns == roles
        assert {s.id: s.values.tolist() for s in data.series} == {"A": [1, 2], "B": [5, 6]}


def test_month_and_day_order_is_read_strictly_not_guessed(tmp_path):
    """01/02/2020 is month first unless another cell (13/02/2020) is only readable day first."""
    month_first = read_series(write(tmp_path, rows(["01/02/2020", "01/03/2020", "01/04/2020"], [1, 2, 3])))
    assert month_first.freq == "D" and month_first.time_format == "%m/%d/%Y"
    day_first = rows(["11/02/2020", "12/02/2020", "13/02/2020"], [1, 2, 3])
    data = read_series(write(tmp_path, day_first))
    assert data.freq == "D" and data.time_format == "%d/%m/%Y"
    assert series_times(data.series[0], data.freq)[0] == pd.Timestamp("2020-02-11")
