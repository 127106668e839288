"""Reading a table's columns: their kinds, their numbers and their category codes."""

from __future__ import annotations

import datetime
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

from sknn._utils._registry import storable_state

NUMERIC, DATETIME, CATEGORICAL = "numeric", "datetime", "categorical"


def is_dataframe(X) -> bool:
    """True for pandas and polars DataFrames."""
    return isinstance(X, pd.DataFrame) or type(X).__module__.startswith("polars")


def to_pandas(X) -> pd.DataFrame:
    """A pandas view of a pandas or polars DataFrame (polars without pyarrow)."""
    if isinstance(X, pd.DataFrame):
        return X
    return pd.DataFrame({name: _polars_column(X.get_column(name)) for name in X.columns})


def _polars_column(series):
    """A polars column as NumPy values; categories stay pandas categories.

    ``to_numpy`` gives Decimals, dates, times and nullable booleans as objects and
    dates, datetimes (in UTC) and durations as datetime64/timedelta64, which the
    kinds read as pandas' own; categories it would give as plain strings.
    """
    import polars as pl

    if isinstance(series.dtype, pl.Categorical | pl.Enum):
        return pd.Categorical(series.to_numpy())
    return series.to_numpy()


# Column kinds (pandas' infer_dtype, computed in C) whose values are all of one
# kind, so factorizing cannot merge values that would differ as strings.
_UNIFORM_KINDS = frozenset({"string", "bytes", "integer", "floating", "boolean", "empty"})


def _normalize_categories(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a column and each row's index into them (-1: missing).

    Empty strings count as missing; a column mixing types becomes strings. The
    rows are hashed in C; only the distinct values are looked at in Python, so a
    categorical column costs no Python work per row.
    """
    if isinstance(values.dtype, pd.CategoricalDtype | pd.StringDtype):
        # Distinct already (categories, strings): pandas' own codes, no Python
        # object per row; only the distinct values are normalized.
        inverse, uniques = values.factorize(use_na_sentinel=True)
        uniques, unique_inverse = _normalize_array(np.asarray(uniques, dtype=object))
        return uniques, np.append(unique_inverse, -1)[inverse]  # -1 stays missing
    return _normalize_array(values.to_numpy(dtype=object))


def _normalize_array(array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_normalize_categories` of an object array."""
    if pd.api.types.infer_dtype(array, skipna=True) not in _UNIFORM_KINDS:
        array = _as_uniform(array)
    inverse, uniques = pd.factorize(array, use_na_sentinel=True)
    uniques = np.array([_category_value(v) for v in uniques], dtype=object)
    blank = np.fromiter((_is_missing(v) for v in uniques), dtype=bool, count=len(uniques))
    if blank.any():
        inverse = np.where(blank[inverse] & (inverse >= 0), -1, inverse)
    return uniques, inverse


def _as_uniform(array: np.ndarray) -> np.ndarray:
    """A mixed-type column as the same type everywhere: strings, unless one type."""
    missing = np.fromiter((_is_missing(v) for v in array), dtype=bool, count=len(array))
    array = array.copy()
    array[missing] = None
    array[~missing] = [_category_value(v) for v in array[~missing]]
    if len({type(v) for v in array[~missing]}) > 1:
        array[~missing] = [str(v) for v in array[~missing]]
    return array


def _category_value(value):
    """Bytes as their UTF-8 text (b'red' is the level 'red'), UUIDs as their text."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="backslashreplace")
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _as_strings(values: np.ndarray) -> np.ndarray:
    return np.array([str(v) for v in values], dtype=object)


def _sort_key(value):
    return (str(type(value)), value)


def _is_missing(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating) and np.isnan(value):
        return True
    if isinstance(value, Decimal):
        return value.is_nan()
    return isinstance(value, str | bytes) and not value.strip()


def is_numeric_array(X) -> bool:
    return isinstance(X, np.ndarray) and X.dtype.kind in "fiub"


def _column_name(table, j):
    return j if isinstance(table, np.ndarray) else table.columns[j]


def _row_block(table, rows: slice):
    """Rows ``rows`` of an array or a DataFrame (views where the type allows)."""
    return table[rows] if isinstance(table, np.ndarray) else table.iloc[rows]


def column_of(table, j) -> pd.Series:
    if isinstance(table, np.ndarray):
        return pd.Series(table[:, j])
    return table.iloc[:, j]


# What pandas' infer_dtype (in C; from the dtype alone when it says) calls a
# column's values, and the kind they are read as. Text and mixed values
# ('string', 'bytes', 'mixed', 'mixed-integer') are read by _text_kind.
_KIND_OF_VALUES = {
    **dict.fromkeys(("integer", "floating", "mixed-integer-float", "decimal", "boolean",
                     "complex", "empty"), NUMERIC),
    **dict.fromkeys(("datetime64", "datetime", "date", "timedelta64", "timedelta", "time"),
                    DATETIME),
    **dict.fromkeys(("categorical", "period", "interval"), CATEGORICAL),
}
# Numbers written with a leading zero ('007', '02134') are codes, not quantities.
_LEADING_ZERO = re.compile(r"\s*[+-]?0\d")
# Distinct values of a text column parsed first, to tell words without parsing them all.
TEXT_PROBE_VALUES = 1_000
# Texts that pandas.read_csv reads as missing (its default na_values).
MISSING_TEXTS = frozenset({
    "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
    "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
})
# Fewer distinct values than this are not taken for an identifier.
IDENTIFIER_MIN_VALUES = 20


def _values_kind(column: pd.Series) -> str:
    """pandas' name for what a column holds ('floating', 'decimal', 'mixed', ...).

    From the dtype alone where it says; a pass in C over an object column, so
    callers compute it once and hand it on.
    """
    return pd.api.types.infer_dtype(column, skipna=True)


def _column_kind(column: pd.Series, values_kind: str | None = None) -> str:
    """Numeric, datetime or categorical, by what the values are (see the user guide)."""
    values_kind = _values_kind(column) if values_kind is None else values_kind
    kind = _KIND_OF_VALUES.get(values_kind)
    return kind if kind is not None else _text_kind(column)


def _text_kind(column: pd.Series) -> str:
    """Numeric if every value not missing or blank is a number or a number's text.

    Only the distinct values are looked at; pandas parses them in C. Words show
    in the first of them: a column of words (names, say) is not parsed whole.
    """
    values = _distinct(column)
    if not _all_numbers(values[:TEXT_PROBE_VALUES]) or not _all_numbers(values):
        return DATETIME if _all_iso_dates(values) else CATEGORICAL
    codes = (_LEADING_ZERO.match(v) for v in map(_category_value, values) if isinstance(v, str))
    return CATEGORICAL if any(codes) else NUMERIC


# Dates and times written as ISO 8601 text (what CSV files and JSON hold): 2024-03-01,
# 2024-03-01 12:30, 2024-03-01T12:30:00.5+02:00, 2024-03-01T12:30Z.
_ISO_DATE = re.compile(r"\s*\d{4}-\d{2}-\d{2}"
                       r"([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?\s*")


def _all_iso_dates(values: np.ndarray) -> bool:
    """Whether every value not missing, blank or a missing-value text ('nan', 'NA',
    ...) is a valid ISO 8601 date or datetime."""
    present = [v for v in values[:TEXT_PROBE_VALUES] if not _missing_or_text(v)]
    if not present or not all(isinstance(v, str) and _ISO_DATE.fullmatch(v)
                              for v in present):
        return False
    present = [v for v in values if not _missing_or_text(v)]
    return all(isinstance(v, str) and _ISO_DATE.fullmatch(v) for v in present) and not any(
        np.isnan(_time_number(v)) for v in present)


def _holds_numbers(column: pd.Series) -> bool:
    """Whether every value not missing or blank is a number or a number's text,
    leading zeros allowed ('02134' is 2134 in a column that was numeric at fit)."""
    return _all_numbers(_distinct(column))


def _all_numbers(values: np.ndarray) -> bool:
    """Whether every value not missing or blank parses as a number.

    The texts pandas.read_csv reads as missing ('nan', 'NA', 'null', ...) count
    as missing: ``df.astype(str)`` writes NaN as 'nan'.
    """
    try:
        parsed = pd.to_numeric(values, errors="coerce")
    except TypeError:  # pandas cannot hash Decimal('sNaN'), a missing value like NaN
        values = np.array([v for v in values if not _is_missing(v)], dtype=object)
        parsed = pd.to_numeric(values, errors="coerce")
    return all(_missing_or_text(v) for v in values[pd.isna(parsed)])


def _missing_or_text(value) -> bool:
    """Missing, blank, or a text pandas.read_csv reads as missing ('nan', 'NA', ...)."""
    return _is_missing(value) or (isinstance(value, str) and value.strip() in MISSING_TEXTS)


def _distinct(column: pd.Series) -> np.ndarray:
    try:
        return np.asarray(column.unique(), dtype=object)
    except TypeError:  # unhashable values (lists, dicts): all of them
        return column.to_numpy(dtype=object)


_CONTAINERS = (list, tuple, dict, set, frozenset, np.ndarray)


def _first_container(column: pd.Series, values_kind: str) -> tuple[int, str] | None:
    """Row and type name of the first list, dict, set, tuple or array in a column.

    pandas calls a column holding them 'mixed' (in C); only such columns are
    scanned, value by value. Arrow's lists, structs and maps say so in their dtype.
    """
    if _arrow_nested(column.dtype):
        present = np.flatnonzero(column.notna().to_numpy())
        return int(present[0]) if len(present) else 0, str(column.dtype.pyarrow_dtype)
    if column.dtype != object or values_kind not in ("mixed", "mixed-integer"):
        return None
    for row, value in enumerate(column.to_numpy()):
        if isinstance(value, _CONTAINERS):
            return row, type(value).__name__
    return None


def _arrow_nested(dtype) -> bool:
    if not isinstance(dtype, pd.ArrowDtype):
        return False
    import pyarrow as pa  # present: pandas made an ArrowDtype

    return pa.types.is_nested(dtype.pyarrow_dtype)


def _is_identifier(column: pd.Series) -> bool:
    """Whether a column of text or UUIDs holds a different value in each row.

    As categories each value would be a level seen once, which all share the code
    of unseen levels: the column would say nothing.
    """
    values = column.dropna()
    if len(values) < IDENTIFIER_MIN_VALUES:
        return False
    values_kind = pd.api.types.infer_dtype(values, skipna=True)
    if values_kind == "mixed":
        if not all(isinstance(v, uuid.UUID) for v in values):
            return False
    elif values_kind not in ("string", "bytes"):
        return False
    return values.is_unique


def _numeric_column(column: pd.Series, kind: str) -> np.ndarray:
    """A numeric or datetime column as float64 (NaN: missing), or complex if it is.

    Datetimes and dates become days since 1970-01-01 (UTC), durations seconds,
    times of day seconds since midnight.
    """
    if kind == DATETIME:
        return _time_values(column)
    if pd.api.types.is_complex_dtype(column.dtype):
        return column.to_numpy()
    if pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(
            column.dtype):
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    # Objects and text: numbers, Decimals, booleans and numbers' text, parsed in C;
    # missing values and blanks become NaN.
    objects = column.to_numpy(dtype=object)
    try:
        values = pd.to_numeric(objects, errors="coerce")
    except TypeError:  # pandas cannot hash Decimal('sNaN'), a missing value like NaN
        values = pd.to_numeric(np.array([None if _is_missing(v) else v for v in objects],
                                        dtype=object), errors="coerce")
    return values if np.iscomplexobj(values) else values.astype(np.float64, copy=False)


def _time_values(column: pd.Series) -> np.ndarray:
    if column.dtype == object:
        # Python objects, of any range (a database's 0001-01-01 included): each
        # distinct value converted exactly.
        return _per_distinct_value(column, _time_number)
    values_kind = pd.api.types.infer_dtype(column, skipna=True)
    if values_kind == "string":  # ISO 8601 text in a string column
        return _per_distinct_value(column, _time_number)
    if values_kind == "timedelta64":
        spans = column.to_numpy(dtype="timedelta64[us]", na_value=np.timedelta64("NaT"))
        return spans / np.timedelta64(1, "s")
    if values_kind == "time":  # Arrow times of day: datetime.time objects
        return _per_distinct_value(column, _time_number)
    if values_kind == "date":  # Arrow dates, which NumPy reads only as objects
        column = column.astype("timestamp[us][pyarrow]")
    # In microseconds, whose range (unlike nanoseconds') holds any year a database does.
    stamps = _utc_naive(column).to_numpy(dtype="datetime64[us]", na_value=np.datetime64("NaT"))
    return (stamps - np.datetime64(0, "us")) / np.timedelta64(1, "D")


def _utc_naive(column: pd.Series) -> pd.Series:
    try:
        zone = column.dt.tz
    except (AttributeError, NotImplementedError):  # dates, which have no time zone
        return column
    return column if zone is None else column.dt.tz_convert("UTC").dt.tz_localize(None)


def _per_distinct_value(column: pd.Series, number) -> np.ndarray:
    inverse, uniques = pd.factorize(column.to_numpy(dtype=object), use_na_sentinel=True)
    numbers = np.array([number(v) for v in uniques], dtype=np.float64)
    return np.append(numbers, np.nan)[inverse]


_EPOCH = datetime.datetime(1970, 1, 1)


def _time_number(value) -> float:
    """Days since 1970-01-01 (UTC) of a date or datetime, seconds of a duration,
    seconds since midnight of a time of day."""
    if isinstance(value, str):  # ISO 8601 text; blank or invalid: missing
        try:
            stamp = pd.Timestamp(value.strip()) if value.strip() else pd.NaT
        except ValueError:
            return np.nan
        if stamp is pd.NaT:
            return np.nan
        value = stamp.to_pydatetime()
    if isinstance(value, datetime.time):
        return (value.hour * 3600 + value.minute * 60 + value.second
                + value.microsecond / 1e6)
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, np.timedelta64):
        return pd.Timedelta(value).total_seconds()
    if not isinstance(value, datetime.date):  # NumPy datetime64 objects
        value = pd.Timestamp(value).to_pydatetime()
    if not isinstance(value, datetime.datetime):
        return float(value.toordinal() - _EPOCH.toordinal())
    if value.utcoffset() is not None:
        value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return (value - _EPOCH) / datetime.timedelta(days=1)


@dataclass
@storable_state("sknn._tabular._CategoricalColumn")
class _CategoricalColumn:
    """Codes of one categorical column: levels, then 'rare or unseen', then missing."""

    levels: pd.Index
    string_levels: bool
    # False when the column was missing in every row at fit: its values then carry
    # nothing learned, and every row is encoded as missing (as scikit-learn's
    # imputers drop such a column), so values that appear later move nothing.
    observed: bool = True

    @property
    def unknown_code(self) -> int:
        return len(self.levels)

    @property
    def missing_code(self) -> int:
        return len(self.levels) + 1

    @property
    def cardinality(self) -> int:
        return len(self.levels) + 2

    @classmethod
    def fit(cls, values: pd.Series, weights: np.ndarray) -> _CategoricalColumn:
        uniques, inverse = _normalize_categories(values)
        seen = np.bincount(inverse[inverse >= 0], minlength=len(uniques)) > 0
        string_levels = any(isinstance(v, str) for v in uniques[seen])
        if string_levels:
            uniques = _as_strings(uniques)
        present = (inverse >= 0) & (weights > 0)
        # Converted to strings, distinct values may coincide ("1" from 1 and "1"):
        # count by the converted value.
        level_of_unique, levels = pd.factorize(uniques)
        counts = np.bincount(level_of_unique[inverse[present]], minlength=len(levels))
        # A level seen once cannot be learned; it trains the shared unknown code.
        kept = sorted(np.asarray(levels, dtype=object)[counts >= 2], key=_sort_key)
        return cls(pd.Index(kept, dtype=object), string_levels, observed=bool(present.any()))

    def encode(self, values: pd.Series) -> np.ndarray:
        if not self.observed:
            return np.full(len(values), float(self.missing_code))
        uniques, inverse = _normalize_categories(values)
        if self.string_levels:
            uniques = _as_strings(uniques)
        unique_codes = self.levels.get_indexer(uniques).astype(np.float64)
        unique_codes[unique_codes < 0] = self.unknown_code
        # Index -1 (missing) picks the appended missing code.
        return np.append(unique_codes, self.missing_code)[inverse]
