"""Column kinds of what databases, Parquet files and polars hand over (issue 26, item 1).

Each representation of numbers (Decimals, nullable integers and booleans, numbers'
text with blanks, Arrow types) reads as the same numbers, each representation of
dates, datetimes, durations and times of day as datetime, at fit and at predict;
a text or UUID column holding a different value in each row is refused.
"""

import datetime
import re
import uuid
import warnings
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sknn import MLPClassifier
from sknn._input._columns import IDENTIFIER_MIN_VALUES
from sknn._input._tabular import TabularEncoder

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

FAST = dict(hidden_layer_sizes=(8,), ensemble_size=1, max_iter=3, n_threads=1,
            random_state=0)
VALUES = [1.5, np.nan, -2.25, 3.0, 1.5, 10.0, np.nan, 0.0]
IDENTIFIER = ("E: column 'x' looks like an identifier: its 30 values are all different, "
              "so as categories each is seen once and nothing can be learned from it. "
              "Drop the column, or list it in categorical_features to keep it without "
              "this warning.")


def fitted(column, **params):
    """A TabularEncoder fitted on one column named x, and its encoding."""
    encoder = TabularEncoder(estimator_name="E", **params)
    return encoder, encoder.fit_transform(pd.DataFrame({"x": column}))


def assert_encodes_like(column, numbers, kind):
    """``column`` is of ``kind`` and encodes as the float column ``numbers``, at fit
    and at predict, and each encoder reads the other's column the same way."""
    encoder, encoded = fitted(column)
    reference, expected = fitted(pd.Series(numbers, dtype=float))
    assert encoder.kinds == [kind]
    np.testing.assert_array_equal(encoded, expected)
    np.testing.assert_array_equal(encoder.transform(pd.DataFrame({"x": column})), expected)
    if kind == "numeric":  # the same numbers, either way round
        np.testing.assert_array_equal(
            encoder.transform(pd.DataFrame({"x": pd.Series(numbers, dtype=float)})),
            expected)
        np.testing.assert_array_equal(reference.transform(pd.DataFrame({"x": column})),
                                      expected)


def decimals(values):
    return [None if np.isnan(v) else Decimal(str(v)) for v in values]


# -- numbers ---------------------------------------------------------------------------
@pytest.mark.parametrize("source", [
    "objects with None", "objects with NaN and pd.NA", "Decimal NaN", "decimal128"])
def test_decimal_columns_are_numbers(source):
    column = {
        "objects with None": pd.Series(decimals(VALUES), dtype=object),
        "objects with NaN and pd.NA": pd.Series(
            [np.nan if v is None and i % 2 else pd.NA if v is None else v
             for i, v in enumerate(decimals(VALUES))], dtype=object),
        "Decimal NaN": pd.Series([Decimal("NaN") if v is None else v
                                  for v in decimals(VALUES)], dtype=object),
        "decimal128": pd.Series(decimals(VALUES), dtype=pd.ArrowDtype(pa.decimal128(9, 2))),
    }[source]
    assert_encodes_like(column, VALUES, "numeric")


def test_numbers_mixed_with_decimals_are_numbers():
    column = pd.Series([1, Decimal("2.5"), 3.25, None, Decimal("-1"), np.int64(4), True],
                       dtype=object)
    assert_encodes_like(column, [1, 2.5, 3.25, np.nan, -1, 4, 1], "numeric")


@pytest.mark.parametrize("dtype", ["Int64", "Float64", pd.ArrowDtype(pa.int64()),
                                   pd.ArrowDtype(pa.float32())])
def test_nullable_integers_and_arrow_numbers_are_numbers(dtype):
    numbers = [1.0, np.nan, -2.0, 3.0, 1.0, 10.0, np.nan, 0.0]
    assert_encodes_like(pd.array([None if np.isnan(v) else v for v in numbers], dtype=dtype),
                        numbers, "numeric")


@pytest.mark.parametrize("source", ["boolean", "objects", "arrow"])
def test_nullable_booleans_are_zero_or_one(source):
    flags = [True, None, False, True, True, None, False]
    dtype = {"boolean": "boolean", "objects": object, "arrow": pd.ArrowDtype(pa.bool_())}
    assert_encodes_like(pd.array(flags, dtype=dtype[source]) if source != "objects"
                        else pd.Series(flags, dtype=object),
                        [np.nan if f is None else float(f) for f in flags], "numeric")


@pytest.mark.parametrize("dtype", [object, "string", pd.ArrowDtype(pa.string())])
def test_numbers_written_as_text_with_blanks_are_numbers(dtype):
    text = ["1", "2", " ", "", None, "17", " 3 ", "-4.5", "1e3", "2"]
    assert_encodes_like(pd.Series(text, dtype=dtype),
                        [1, 2, np.nan, np.nan, np.nan, 17, 3, -4.5, 1000, 2], "numeric")


def test_missing_value_texts_among_numbers_are_missing():
    """``df.astype(str)`` writes NaN as 'nan'; read_csv reads 'NA', 'null', ... as missing."""
    floats = pd.Series(VALUES)
    assert_encodes_like(floats.astype(str), VALUES, "numeric")
    text = ["1", "NA", "null", " N/A ", "2.5", "None", "<NA>", "-NaN", "1"]
    assert_encodes_like(pd.Series(text, dtype=object),
                        [1, np.nan, np.nan, np.nan, 2.5, np.nan, np.nan, np.nan, 1],
                        "numeric")


def test_a_signaling_nan_decimal_is_missing():
    column = [Decimal("1.5"), Decimal("sNaN"), None, Decimal("-2"), Decimal("1.5")]
    assert_encodes_like(pd.Series(column, dtype=object), [1.5, np.nan, np.nan, -2, 1.5],
                        "numeric")


def test_numbers_in_bytes_are_numbers():
    assert_encodes_like(pd.Series([b"1", b"2", None, b" 7", b""], dtype=object),
                        [1, 2, np.nan, 7, np.nan], "numeric")


@pytest.mark.parametrize("text, level", [
    (["1", "2", "two", "2"], "2"),        # a word among numbers: genuine categories
    (["1", "NA", "nan", "n.a.", "1"], "1"),  # 'n.a.' is no missing-value text
    (["007", "12", "33", "12"], "12"),    # a leading zero: codes, not quantities
    ([" 01", "02", "03", "02"], "02"),
])
def test_text_that_is_not_all_plain_numbers_stays_categorical(text, level):
    encoder, _ = fitted(pd.Series(text, dtype=object))
    assert encoder.kinds == ["categorical"]
    assert list(encoder.categories[0].levels) == [level]

def test_numbers_text_with_a_leading_zero_at_predict_reads_as_the_numbers():
    # Numeric at fit (no leading zero among these ZIP codes); a later row's '02134'
    # is the number 2134, as '2134' would be, not a change of kind.
    encoder, _ = fitted(pd.Series(["90210", "94103", "10115", " 60601"], dtype=object))
    assert encoder.kinds == ["numeric"]
    np.testing.assert_array_equal(
        encoder.transform(pd.DataFrame({"x": ["02134", "007", None]})),
        encoder.transform(pd.DataFrame({"x": [2134.0, 7.0, np.nan]})))
    with pytest.raises(ValueError, match="E: column 'x' was numeric at fit time but is "
                                         "categorical now"):
        encoder.transform(pd.DataFrame({"x": ["02134", "two"]}))


# -- dates and times --------------------------------------------------------------------
DAYS = [0.0, 1.5, np.nan, 400.0, 31.0]


def stamps(days):
    return [None if np.isnan(d) else datetime.datetime(1970, 1, 1)
            + datetime.timedelta(days=d) for d in days]


@pytest.mark.parametrize("source", ["date objects", "datetime objects", "date32",
                                    "timestamp", "timestamp with a time zone"])
def test_dates_and_datetimes_are_days(source):
    days = [np.floor(d) for d in DAYS] if source in ("date objects", "date32") else DAYS
    values = stamps(days)
    column = {
        "date objects": pd.Series([v and v.date() for v in values], dtype=object),
        "datetime objects": pd.Series(values, dtype=object),
        "date32": pd.Series([v and v.date() for v in values], dtype=pd.ArrowDtype(pa.date32())),
        "timestamp": pd.Series(values, dtype=pd.ArrowDtype(pa.timestamp("us"))),
        "timestamp with a time zone": pd.Series(
            [v and v.replace(tzinfo=datetime.timezone.utc) for v in values],
            dtype=pd.ArrowDtype(pa.timestamp("us", tz="America/New_York"))),
    }[source]
    assert_encodes_like(column, days, "datetime")
    # and as pandas' own datetime64, at fit or at predict
    encoder, encoded = fitted(column)
    np.testing.assert_array_equal(
        encoder.transform(pd.DataFrame({"x": pd.Series(values, dtype="datetime64[us]")})),
        encoded)


@pytest.mark.parametrize("source", ["timedelta objects", "duration", "timedelta64"])
def test_durations_are_seconds(source):
    seconds = [0.0, 90.5, np.nan, -3600.0, 86_400.0 * 3]
    spans = [None if np.isnan(s) else datetime.timedelta(seconds=s) for s in seconds]
    column = {"timedelta objects": pd.Series(spans, dtype=object),
              "duration": pd.Series(spans, dtype=pd.ArrowDtype(pa.duration("us"))),
              "timedelta64": pd.Series(spans, dtype="timedelta64[us]")}[source]
    assert_encodes_like(column, seconds, "datetime")


@pytest.mark.parametrize("source", ["time objects", "time64"])
def test_times_of_day_are_seconds_since_midnight(source):
    times = [datetime.time(0, 0), datetime.time(13, 30, 15, 500_000), None,
             datetime.time(23, 59), datetime.time(6)]
    dtype = object if source == "time objects" else pd.ArrowDtype(pa.time64("us"))
    assert_encodes_like(pd.Series(times, dtype=dtype),
                        [0, 13 * 3600 + 30 * 60 + 15.5, np.nan, 23 * 3600 + 59 * 60, 6 * 3600],
                        "datetime")


@pytest.mark.parametrize("dtype", [object, pd.ArrowDtype(pa.date32())])
def test_dates_out_of_nanoseconds_range_are_read(dtype):
    # Databases use 0001-01-01 and 9999-12-31 as "never" and "forever".
    dates = [datetime.date(1, 1, 1), datetime.date(2000, 1, 1), None,
             datetime.date(9999, 12, 31)]
    epoch = datetime.date(1970, 1, 1).toordinal()
    assert_encodes_like(pd.Series(dates, dtype=dtype),
                        [np.nan if d is None else d.toordinal() - epoch for d in dates],
                        "datetime")


def test_a_datetime_column_missing_everywhere_at_predict_is_missing():
    encoder, encoded = fitted(pd.Series(stamps(DAYS), dtype=object))
    blank = encoder.transform(pd.DataFrame({"x": [None, None]}))
    np.testing.assert_array_equal(blank, encoded[[2, 2]])  # row 2 is missing


# -- text, bytes and identifiers ----------------------------------------------------------
def test_bytes_are_categories_of_their_text():
    encoder, encoded = fitted(pd.Series([b"red", b"blue", None, b"red", b"blue", b"",
                                         b"\xff"], dtype=object))
    column = encoder.categories[0]
    assert encoder.kinds == ["categorical"]
    assert list(column.levels) == ["blue", "red"]
    assert encoded[5, -1] == column.missing_code  # an empty value is missing
    again = encoder.transform(pd.DataFrame({"x": ["red", "blue", b"blue", "green"]}))
    np.testing.assert_array_equal(again[:, -1], [1, 0, 0, column.unknown_code])


def row_uuid(i):
    return uuid.uuid5(uuid.NAMESPACE_URL, f"row/{i}")


@pytest.mark.parametrize("make", [row_uuid, lambda i: str(row_uuid(i)),
                                  lambda i: row_uuid(i).hex.encode()])
def test_a_column_with_a_different_value_in_every_row_is_said_to_be_an_identifier(make):
    column = pd.Series([make(i) for i in range(30)] + [None], dtype=object)
    with pytest.warns(UserWarning, match=re.escape(IDENTIFIER)):
        encoder, _ = fitted(column)
    assert encoder.kinds == ["categorical"] and len(encoder.categories[0].levels) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        encoder, encoded = fitted(column, categorical_features=["x"])  # asked for: quiet
    assert encoder.kinds == ["categorical"] and len(encoder.categories[0].levels) == 0


def test_an_identifier_error_names_the_estimator():
    X = pd.DataFrame({"x": [str(row_uuid(i)) for i in range(30)], "y": np.arange(30.0)})
    with pytest.warns(UserWarning, match="MLPClassifier: column 'x' looks like an identifier"):
        model = MLPClassifier(**FAST).fit(X, np.arange(30) % 2)
    assert model.predict(X).shape == (30,)  # the fit goes on, as before the warning


def test_repeated_uuids_are_categories_of_their_text():
    keys = [uuid.UUID(int=i) for i in range(5)]
    column = pd.Series([keys[i % 5] for i in range(IDENTIFIER_MIN_VALUES * 2)], dtype=object)
    encoder, encoded = fitted(column)
    assert encoder.kinds == ["categorical"]
    assert list(encoder.categories[0].levels) == sorted(str(k) for k in keys)
    as_text = encoder.transform(pd.DataFrame({"x": column.map(str)}))
    np.testing.assert_array_equal(as_text, encoded)


def test_few_distinct_words_are_not_identifiers():
    encoder, _ = fitted(pd.Series([f"w{i}" for i in range(IDENTIFIER_MIN_VALUES - 1)]))
    assert encoder.kinds == ["categorical"]
    categorized, _ = fitted(pd.Series(pd.Categorical([f"w{i}" for i in range(30)])))
    assert categorized.kinds == ["categorical"]  # a category dtype is the user's word


# -- estimators, polars, export, the command line ------------------------------------------
def money_frame(n=40, seed=0):
    rng = np.random.default_rng(seed)
    amounts = np.round(rng.normal(100, 30, n), 2)
    y = (amounts > 100).astype(int)
    floats = pd.DataFrame({"amount": amounts, "day": rng.integers(0, 300, n).astype(float)})
    floats.loc[3, "amount"] = np.nan
    database = pd.DataFrame({
        "amount": pd.Series(decimals(floats["amount"]), dtype=object),
        "day": pd.Series([datetime.date(1970, 1, 1) + datetime.timedelta(days=int(d))
                          for d in floats["day"]], dtype=object),
    })
    floats["day"] = pd.to_datetime(floats["day"], unit="D")
    return database, floats, y


def test_decimals_and_dates_predict_as_floats_and_datetimes():
    database, floats, y = money_frame()
    from_database = MLPClassifier(**FAST).fit(database, y)
    from_floats = MLPClassifier(**FAST).fit(floats, y)
    assert from_database.encoder_.kinds == ["numeric", "datetime"]
    expected = from_floats.predict_proba(floats)
    np.testing.assert_array_equal(from_database.predict_proba(database), expected)
    np.testing.assert_array_equal(from_database.predict_proba(floats), expected)
    np.testing.assert_array_equal(from_floats.predict_proba(database), expected)


def test_export_reads_decimals_as_numbers():
    from sknn.export import prepare_input

    database, floats, y = money_frame()
    clf = MLPClassifier(**FAST).fit(database, y)
    np.testing.assert_array_equal(prepare_input(clf, database), prepare_input(clf, floats))


def test_polars_columns_of_every_kind():
    pl = pytest.importorskip("polars")
    days = [datetime.date(2020, 1, 1) + datetime.timedelta(days=i) for i in range(6)]
    frame = pl.DataFrame({
        "amount": pl.Series([Decimal("1.50"), None, Decimal("2.25"), Decimal("-1.00"),
                             Decimal("1.50"), Decimal("8.00")], dtype=pl.Decimal(10, 2)),
        "day": pl.Series([days[0], None, *days[2:]]),
        "time": pl.Series([datetime.time(h) for h in range(6)]),
        "span": pl.Series([datetime.timedelta(hours=h) for h in range(6)]),
        "flag": pl.Series([True, None, False, True, False, True]),
        "code": pl.Series(["1", "2", "1", "2", "3", "1"], dtype=pl.Categorical),
    })
    encoder = TabularEncoder()
    encoded = encoder.fit_transform(frame)
    assert encoder.kinds == ["numeric", "datetime", "datetime", "datetime", "numeric",
                             "categorical"]  # a polars category of digits stays one
    amount = fitted(pd.Series([1.5, np.nan, 2.25, -1, 1.5, 8]))[1]
    np.testing.assert_array_equal(encoded[:, 0], amount[:, 0])
    np.testing.assert_array_equal(encoder.transform(frame), encoded)


def test_the_command_line_reads_a_parquet_decimal_column_as_numbers(tmp_path, capsys):
    import sknn
    from sknn._cli._main import main

    database, _, y = money_frame(60)
    table = pa.table({
        "amount": pa.array(database["amount"], pa.decimal128(9, 2)),
        "day": pa.array(database["day"], pa.date32()),
        "label": pa.array(np.where(y == 1, "high", "low")),
    })
    pq.write_table(table, tmp_path / "money.parquet")
    args = ["fit", str(tmp_path / "money.parquet"), "--target", "label", "--cv", "0",
            "--param", "max_iter=2", "--param", "n_threads=1", "--param", "ensemble_size=1",
            "--output", str(tmp_path / "money.sknn")]
    assert main(args) == 0, capsys.readouterr().err
    assert "target 'label': classification, 2 classes" in capsys.readouterr().out
    model = sknn.load(tmp_path / "money.sknn")
    assert model.encoder_.kinds == ["numeric", "datetime"]
    assert main(["predict", str(tmp_path / "money.sknn"), str(tmp_path / "money.parquet")]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 61


# -- property: no representation loses its information silently ----------------------------
MISSING = (None, np.nan, pd.NA)


@st.composite
def numbers_column(draw):
    """A column of numbers in one of the forms a database or a file hands over,
    with the numbers it means (NaN: missing)."""
    form = draw(st.sampled_from(["decimal", "text", "bytes", "boolean", "Int64", "mixed"]))
    n = draw(st.integers(2, 40))
    if form == "boolean":
        numbers = draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=n, max_size=n))
    elif form in ("Int64", "text", "bytes"):
        numbers = [float(v) for v in draw(st.lists(st.integers(-10**6, 10**6), min_size=n,
                                                   max_size=n))]
    else:
        numbers = [float(v) for v in draw(st.lists(
            st.decimals(-10**6, 10**6, places=2, allow_nan=False), min_size=n, max_size=n))]
    missing = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    blank = draw(st.sampled_from(["", " ", None]))
    values = []
    for number, absent in zip(numbers, missing):
        if absent:
            values.append(blank if form in ("text", "bytes") else draw(st.sampled_from(MISSING)))
        elif form == "decimal":
            values.append(Decimal(repr(number)))
        elif form == "text":
            values.append(f" {int(number)}" if draw(st.booleans()) else str(int(number)))
        elif form == "bytes":
            values.append(str(int(number)).encode())
        elif form == "boolean":
            values.append(bool(number))
        elif form == "Int64":
            values.append(int(number))
        else:
            values.append(draw(st.sampled_from([Decimal(repr(number)), number,
                                                int(number) if number.is_integer() else number])))
    if form == "Int64":
        column = pd.array([None if v is None or v is pd.NA or v is np.nan else v
                           for v in values], dtype="Int64")
    elif form == "boolean" and draw(st.booleans()):
        column = pd.array([v if isinstance(v, bool) else None for v in values], dtype="boolean")
    else:
        column = pd.Series(values, dtype=object)
    return column, np.where(missing, np.nan, numbers)


@st.composite
def time_column(draw):
    """Dates, datetimes, durations or times of day, with the number each means."""
    form = draw(st.sampled_from(["date", "timedelta", "time"]))
    n = draw(st.integers(2, 40))
    strategy = {"date": st.dates(), "timedelta": st.timedeltas(),
                "time": st.times()}[form]
    values = draw(st.lists(st.one_of(strategy, st.none()), min_size=n, max_size=n))
    as_number = {"date": lambda v: v.toordinal(),
                 "timedelta": lambda v: v.total_seconds(),
                 "time": lambda v: v.hour * 3600 + v.minute * 60 + v.second
                 + v.microsecond / 1e6}[form]
    return (pd.Series(values, dtype=object),
            np.array([np.nan if v is None else as_number(v) for v in values]))


@st.composite
def identifier_like_column(draw):
    """UUIDs, bytes or words drawn from a pool: repeated levels, or one per row."""
    form = draw(st.sampled_from(["uuid", "bytes", "words"]))
    n = draw(st.integers(2, 2 * IDENTIFIER_MIN_VALUES))
    pool = draw(st.integers(1, 3 * IDENTIFIER_MIN_VALUES))
    make = {"uuid": lambda i: uuid.UUID(int=i), "bytes": lambda i: f"id{i}".encode(),
            "words": lambda i: f"w{i}"}[form]
    picks = draw(st.lists(st.integers(0, pool - 1), min_size=n, max_size=n))
    missing = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    return pd.Series([None if m else make(i) for i, m in zip(picks, missing)], dtype=object)


def assert_monotone(encoded, numbers):
    present = ~np.isnan(numbers)
    order = np.argsort(numbers[present], kind="stable")
    assert np.all(np.diff(encoded[present][order]) >= 0)


PROPERTY = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(numbers_column())
def test_numbers_in_any_form_encode_as_the_numbers(drawn):
    column, numbers = drawn
    encoder, encoded = fitted(column)
    assert encoder.kinds == ["numeric"]
    np.testing.assert_array_equal(encoded, fitted(pd.Series(numbers))[1])
    assert_monotone(encoded[:, 0], numbers)


@PROPERTY
@given(time_column())
def test_dates_durations_and_times_encode_in_their_order(drawn):
    column, numbers = drawn
    encoder, encoded = fitted(column, numeric_transform="standard")
    assert encoder.kinds == ["datetime"]
    assert_monotone(encoded[:, 0], numbers)
    if np.isnan(numbers).any():  # missing values are flagged, never dated
        np.testing.assert_array_equal(encoded[:, 1], np.isnan(numbers))


@PROPERTY
@given(identifier_like_column())
def test_no_column_becomes_one_level_per_row_silently(column):
    present = column.dropna()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        encoder, _ = fitted(column)
    said = [w for w in caught if "looks like an identifier" in str(w.message)]
    if said:  # never silently: one level per row is said
        assert len(present) >= IDENTIFIER_MIN_VALUES and present.map(str).is_unique
        return
    assert encoder.kinds == ["categorical"]
    levels = encoder.categories[0].levels
    counts = present.map(lambda v: v.decode() if isinstance(v, bytes) else str(v))
    assert set(levels) == set(counts.value_counts()[lambda c: c >= 2].index)
    assert len(levels) > 0 or len(present) < IDENTIFIER_MIN_VALUES


# -- dates written as text (CSV files) ------------------------------------------------------
@pytest.mark.parametrize("dtype", [object, "string"])
def test_iso_8601_text_is_read_as_dates(dtype):
    text = ["2024-03-01", "2024-03-02 06:00", "", None, "2024-03-05T12:00:00+02:00",
            "2024-03-04T00:00Z"] * 5
    stamps = pd.to_datetime(pd.Series(text).replace("", None), format="ISO8601", utc=True)
    days = ((stamps.dt.tz_localize(None) - pd.Timestamp(0)) / pd.Timedelta(days=1)).to_numpy()
    assert_encodes_like(pd.Series(text, dtype=dtype), days, "datetime")
    # One row a day is a time axis, not an identifier: no warning.
    daily = pd.Series(pd.date_range("2024-01-01", periods=40).strftime("%Y-%m-%d"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        encoder, _ = fitted(daily)
    assert encoder.kinds == ["datetime"]


def test_iso_dates_with_missing_value_texts_are_dates():
    text = ["2024-03-01", "nan", "2024-03-03", "NA", "null", "2024-03-01"] * 4
    days = [19783.0, np.nan, 19785.0, np.nan, np.nan, 19783.0] * 4
    assert_encodes_like(pd.Series(text, dtype=object), days, "datetime")


def test_text_that_is_not_a_valid_iso_date_stays_categorical():
    for text in (["2024-13-45", "2024-03-01"], ["2024-03-01", "next week"],
                 ["01/03/2024", "02/03/2024"]):
        encoder, _ = fitted(pd.Series(text * 3))
        assert encoder.kinds == ["categorical"], text
