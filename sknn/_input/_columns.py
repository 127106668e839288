"""Reading a table's columns: their kinds, their numbers and their category strings."""

from __future__ import annotations

import numpy as np
import pandas as pd

NUMERIC, DATETIME, CATEGORICAL = "numeric", "datetime", "categorical"


def is_dataframe(X) -> bool:
    """True for pandas and polars DataFrames."""
    return isinstance(X, pd.DataFrame) or type(X).__module__.startswith("polars")


def to_pandas(X) -> pd.DataFrame:
    """A pandas view of a pandas or polars DataFrame (polars without pyarrow)."""
    if isinstance(X, pd.DataFrame):
        return X
    return pd.DataFrame({name: X.get_column(name).to_numpy() for name in X.columns})


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
    uniques = np.asarray(uniques, dtype=object)
    blank = np.fromiter((_is_missing(v) for v in uniques), dtype=bool, count=len(uniques))
    if blank.any():
        inverse = np.where(blank[inverse] & (inverse >= 0), -1, inverse)
    return uniques, inverse


def _as_uniform(array: np.ndarray) -> np.ndarray:
    """A mixed-type column as the same type everywhere: strings, unless one type."""
    missing = np.fromiter((_is_missing(v) for v in array), dtype=bool, count=len(array))
    array = array.copy()
    array[missing] = None
    if len({type(v) for v in array[~missing]}) > 1:
        array[~missing] = [str(v) for v in array[~missing]]
    return array


def _as_strings(values: np.ndarray) -> np.ndarray:
    return np.array([str(v) for v in values], dtype=object)


def _sort_key(value):
    return (str(type(value)), value)


def _is_missing(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating) and np.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _is_numeric_array(X) -> bool:
    return isinstance(X, np.ndarray) and X.dtype.kind in "fiub"


def _column_name(table, j):
    return j if isinstance(table, np.ndarray) else table.columns[j]


def _row_block(table, rows: slice):
    """Rows ``rows`` of an array or a DataFrame (views where the type allows)."""
    return table[rows] if isinstance(table, np.ndarray) else table.iloc[rows]


def _column(table, j) -> pd.Series:
    if isinstance(table, np.ndarray):
        return pd.Series(table[:, j])
    return table.iloc[:, j]


def _column_kind(column: pd.Series) -> str:
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return CATEGORICAL
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(
            dtype):
        return DATETIME
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return NUMERIC
    values = column.dropna().to_numpy(dtype=object)
    if all(isinstance(v, int | float | np.number | bool) for v in values):
        return NUMERIC
    return CATEGORICAL


def _holds_complex(column: pd.Series) -> bool:
    if column.dtype == object:
        return any(isinstance(v, complex | np.complexfloating) for v in column)
    return pd.api.types.is_complex_dtype(column.dtype)


def _numeric_column(column: pd.Series, kind: str) -> np.ndarray:
    if kind == DATETIME:
        if pd.api.types.is_timedelta64_dtype(column.dtype):
            return column.dt.total_seconds().to_numpy(dtype=np.float64)
        stamps = pd.to_datetime(column)
        if stamps.dt.tz is not None:
            stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
        days = (stamps - pd.Timestamp(0)) / pd.Timedelta(days=1)
        return days.to_numpy(dtype=np.float64, na_value=np.nan)
    if column.dtype == object:
        column = pd.Series([np.nan if _is_missing(v) else v for v in column], dtype=object)
    return pd.to_numeric(column).to_numpy(dtype=np.float64, na_value=np.nan)
