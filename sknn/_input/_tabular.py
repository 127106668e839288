"""Tabular preprocessing that lives inside the estimator.

``TabularEncoder`` turns what a data scientist has — a pandas or polars
DataFrame with numeric, boolean, categorical, string and datetime columns and
missing values, or a plain array — into the one float matrix the network
trains on, laid out as ``[numeric | missing indicators | category codes]``
(see :class:`sknn.modules.tabular.TabularInput`):

- numeric columns (booleans and datetimes included) are scaled by a
  sample-weighted quantile-normal or standard transform; missing values are
  set to 0 after scaling and get a 0/1 indicator column when the column had
  missing values at fit time;
- categorical columns become integer codes for learned embeddings: one code per
  level seen at least twice, one shared code for levels seen once and levels
  never seen (so unseen levels at predict land on a trained embedding), one code
  for missing values.
"""

from __future__ import annotations

import copy
import functools
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from sklearn.utils.validation import check_array, validate_data

from sknn._input._adapter import InputAdapter
from sknn._input._columns import (
    CATEGORICAL,
    NUMERIC,
    _CategoricalColumn,
    _column_kind,
    _column_name,
    _first_container,
    _holds_numbers,
    _is_identifier,
    _numeric_column,
    _row_block,
    _values_kind,
    column_of,
    is_dataframe,
    is_numeric_array,
    to_pandas,
)
from sknn._input._numeric import (
    _column_quantiles,
    _NumericColumns,
    _NumericScaler,
)
from sknn._training._parameters import constraints, owned_by
from sknn._utils._errors import errors_naming
from sknn._utils._registry import storable_state

# Rows encoded together. Each column of a block takes some 60 NumPy and pandas
# calls, and every call passes the GIL between the threads: with fewer rows those
# passes, not the arithmetic, set the time (1.2x slower with 21,000 rows).
ENCODE_BLOCK_ROWS = 65_536

TABULAR_CONSTRAINTS = constraints(*owned_by("tabular input"))


@dataclass
@storable_state("sknn._tabular.TabularEncoder")
class TabularEncoder:
    """Fitted tabular preprocessing (see the module docstring).

    Parameters
    ----------
    categorical_features : 'from_dtype', array-like or None
        'from_dtype': pandas ``category`` columns, and string and object columns
        holding anything but numbers, numbers' text, dates and times (see the
        user guide's table of column kinds). Or column names, indices, or a
        boolean mask.
    numeric_transform : {'quantile', 'standard', 'none'}
    n_bins : int or None
        Quantile bin edges to compute for piecewise-linear numeric embeddings.
    estimator_name : str
        Named in error messages.
    """

    categorical_features: object = "from_dtype"
    numeric_transform: str = "quantile"
    n_bins: int | None = None
    estimator_name: str = "estimator"
    columns: list = field(default_factory=list)
    kinds: list = field(default_factory=list)
    numeric_index: list = field(default_factory=list)
    categorical_index: list = field(default_factory=list)
    categories: list = field(default_factory=list)
    indicator_index: list = field(default_factory=list)
    scaler: _NumericScaler | None = None
    # Numeric columns (positions among them) missing in every row at fit: read as
    # missing at transform too (see _CategoricalColumn.observed). A tuple, whose
    # default files written before it existed read from the class.
    unobserved_index: tuple = ()
    bin_edges: list | None = None
    numeric_embedding: str | None = None
    output_dtype: type = np.float64

    # -- layout ---------------------------------------------------------------
    @property
    def n_numeric(self) -> int:
        return len(self.numeric_index)

    @property
    def n_indicators(self) -> int:
        return len(self.indicator_index)

    @property
    def cardinalities(self) -> list[int]:
        return [c.cardinality for c in self.categories]

    # -- fit / transform ------------------------------------------------------
    def fit_transform(self, X, sample_weight=None, dtype=None) -> np.ndarray:
        """Learn column kinds, scaling and categories from X; return its encoding.

        ``dtype`` is the encoding's float type, also at :meth:`transform`
        (None: float32 for float32 X, else float64). An estimator whose network
        runs in float32 asks for float32, so the table is never encoded in
        float64 first.
        """
        if sp.issparse(X):
            return self._fit_sparse(X)
        table = self.as_table(X)
        self.columns = [_column_name(table, j) for j in range(table.shape[1])]
        if is_numeric_array(X) and not self._explicit_categorical(X.shape[1]).any():
            self.kinds = [NUMERIC] * X.shape[1]
        else:
            self.kinds = [self._infer_kind(table, j) for j in range(table.shape[1])]
        self.numeric_index = [j for j, k in enumerate(self.kinds) if k != CATEGORICAL]
        self.categorical_index = [j for j, k in enumerate(self.kinds) if k == CATEGORICAL]
        weights = np.ones(table.shape[0]) if sample_weight is None else np.asarray(
            sample_weight, dtype=np.float64)

        numeric = self.numeric_columns(table)
        self.unobserved_index = tuple(
            k for k, column in enumerate(numeric)
            if not (~np.isnan(column) & (weights > 0)).any())
        self.indicator_index = numeric.with_missing()
        self.scaler = _NumericScaler(self.numeric_transform).fit(numeric, weights)
        self.categories = [_CategoricalColumn.fit(column_of(table, j), weights)
                           for j in self.categorical_index]
        self.output_dtype = self._output_dtype(X) if dtype is None else np.dtype(dtype).type
        encoded = self._encode(table, numeric)
        if self.n_bins:
            self.bin_edges = [
                _bin_edges(encoded[:, j], weights, self.n_bins)
                for j in range(self.n_numeric)
            ]
        return encoded

    def transform(self, X) -> np.ndarray:
        """Encode X with what was learned in :meth:`fit_transform`."""
        if self.kinds == ["sparse"]:
            # Sparse at fit: never scaled; sparse or dense numbers at predict, and as at
            # fit without missing values.
            with errors_naming(self.estimator_name):
                return check_array(X, accept_sparse="csr", dtype=(np.float64, np.float32))
        if sp.issparse(X):
            X = X.toarray()
        table = self.as_table(X)
        if not is_numeric_array(X):
            self.check_kinds(table)
        return self._encode(table, self.numeric_columns(table))

    def _fit_sparse(self, X):
        # Scaling would densify a sparse matrix: it passes through unchanged.
        if self._explicit_categorical(X.shape[1]).any():
            raise ValueError(
                f"{self.estimator_name}: categorical_features need dense X or a "
                "DataFrame; got a sparse matrix."
            )
        self.kinds = ["sparse"]
        self.numeric_index = list(range(X.shape[1]))
        self.output_dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float32
        return X

    def _output_dtype(self, X):
        dtype = getattr(X, "dtype", None)
        return np.float32 if dtype == np.float32 else np.float64

    def _encode(self, table, numeric: _NumericColumns) -> np.ndarray:
        if (self.numeric_transform == "none" and not self.indicator_index
                and not self.categorical_index and numeric.block is not None
                and numeric.block.dtype == self.output_dtype):
            return numeric.block  # nothing to do: no copy
        # One output array, no copy of the whole table besides it.
        n_rows = numeric.n_rows
        n_columns = len(numeric) + self.n_indicators + len(self.categories)
        out = np.empty((n_rows, n_columns), dtype=self.output_dtype)
        if n_rows <= ENCODE_BLOCK_ROWS:
            self._encode_into(out, table, numeric)
            return out
        # Larger tables on torch's threads (NumPy and pandas release the GIL in the
        # work on a column): numeric columns in blocks of rows, each category column
        # whole, since its codes depend on the whole column (one string among
        # numbers makes every value a string). Everything a thread reads is cut
        # here, so no thread reads another's frame; an array's numeric columns,
        # checked and converted once already, are viewed.
        blocks = [slice(start, min(start + ENCODE_BLOCK_ROWS, n_rows))
                  for start in range(0, n_rows, ENCODE_BLOCK_ROWS)]
        tasks = [functools.partial(self._encode_block_into, out[rows], part,
                                   numeric.rows(rows) if numeric.block is not None else None)
                 for rows, part in ((rows, _row_block(table, rows)) for rows in blocks)]
        tasks += [functools.partial(self._encode_category_into, out, k, column_of(table, j))
                  for k, j in enumerate(self.categorical_index)]
        try:
            with ThreadPoolExecutor(min(torch.get_num_threads(), len(tasks))) as pool:
                list(pool.map(lambda task: task(), tasks))
        except Exception:
            # Raise what encoding in one pass raises: the first invalid column's
            # error, whichever block met an error first.
            self._encode_into(out, table, numeric)
            raise
        return out

    def _encode_block_into(self, out: np.ndarray, part, numeric: _NumericColumns | None):
        """A block of rows' numeric columns (read from ``part`` if not given)."""
        self._encode_numeric_into(out, self.numeric_columns(part) if numeric is None
                                  else numeric)

    def _encode_numeric_into(self, out: np.ndarray, numeric: _NumericColumns) -> None:
        """Scaled numeric columns and missing-value indicators into ``out``."""
        n_numeric = len(numeric)
        indicator_of = {k: n_numeric + i for i, k in enumerate(self.indicator_index)}
        for k, column in enumerate(numeric):
            if k in self.unobserved_index:  # an array's column, read as is
                column = np.full(len(column), np.nan)
            scaled = self.scaler.scaled(k, column)
            # Written in float64, so a float32 output holds the result rounded once;
            # beyond float32's range it is infinite, and prediction says it overflowed.
            with np.errstate(over="ignore"):
                out[:, k] = np.where(np.isnan(scaled), 0.0, scaled)  # missing: the middle
            if k in indicator_of:
                out[:, indicator_of[k]] = np.isnan(column)

    def _encode_into(self, out: np.ndarray, table, numeric: _NumericColumns) -> None:
        """Encode the whole of ``table`` into ``out`` in one pass, column by column."""
        self._encode_numeric_into(out, numeric)
        for k, j in enumerate(self.categorical_index):
            self._encode_category_into(out, k, column_of(table, j))

    def _encode_category_into(self, out: np.ndarray, k: int, column: pd.Series) -> None:
        """Category codes of categorical column ``k`` into its column of ``out``."""
        out[:, self.n_numeric + self.n_indicators + k] = self.categories[k].encode(column)

    # -- columns --------------------------------------------------------------
    def as_table(self, X):
        if is_dataframe(X):
            return to_pandas(X)
        if is_numeric_array(X):
            return X
        return pd.DataFrame(np.asarray(X))

    def _explicit_categorical(self, n_columns, names=None) -> np.ndarray:
        spec = self.categorical_features
        mask = np.zeros(n_columns, dtype=bool)
        if spec is None or (isinstance(spec, str) and spec == "from_dtype"):
            return mask
        spec = np.asarray(spec)
        if spec.dtype == bool:
            if len(spec) != n_columns:
                raise ValueError(
                    f"{self.estimator_name}: categorical_features is a boolean mask of "
                    f"length {len(spec)}, but X has {n_columns} columns."
                )
            return spec.copy()
        for item in spec.tolist():
            if isinstance(item, str):
                if names is None or item not in names:
                    raise ValueError(
                        f"{self.estimator_name}: categorical_features names column "
                        f"{item!r}, which X does not have."
                    )
                mask[names.index(item)] = True
            elif isinstance(item, int | np.integer) and -n_columns <= item < n_columns:
                mask[item] = True
            else:
                raise ValueError(
                    f"{self.estimator_name}: categorical_features entry {item!r} is not a "
                    f"column name or an index below {n_columns}."
                )
        return mask

    def _infer_kind(self, table: pd.DataFrame, j: int) -> str:
        names = None if isinstance(table, np.ndarray) else list(table.columns)
        column = column_of(table, j)
        values_kind = self._refuse_containers(column, _column_name(table, j))  # listed too
        if self._explicit_categorical(table.shape[1], names)[j]:
            return CATEGORICAL
        spec = self.categorical_features
        from_dtype = isinstance(spec, str) and spec == "from_dtype"
        kind = _column_kind(column, values_kind)
        if kind == CATEGORICAL and not from_dtype:
            raise ValueError(
                f"{self.estimator_name}: column {_column_name(table, j)!r} holds strings or "
                "categories but is not among categorical_features; list it there or use "
                "categorical_features='from_dtype'."
            )
        if kind == CATEGORICAL and _is_identifier(column):
            # Kept (harmless: every value shares the code of unseen levels), but said:
            # refusing it broke fits of tables with a name or a free-text column.
            warnings.warn(
                f"{self.estimator_name}: column {_column_name(table, j)!r} looks like an "
                f"identifier: its {column.count()} values are all different, so as "
                "categories each is seen once and nothing can be learned from it. Drop "
                "the column, or list it in categorical_features to keep it without this "
                "warning.", UserWarning, stacklevel=2,
            )
        return kind

    def _refuse_containers(self, column: pd.Series, name) -> str:
        """Refuse lists, dicts, ... in cells; return what the column holds (_values_kind)."""
        values_kind = _values_kind(column)
        found = _first_container(column, values_kind)
        if found is not None:
            row, type_name = found
            raise TypeError(
                f"{self.estimator_name}: column {name!r} holds a {type_name} (first at row "
                f"{row}); each cell must be one number, string, date or category. Expand "
                f"it into columns first (for example pd.DataFrame(df[{name!r}].tolist())) "
                "or join its items into one string."
            )
        return values_kind

    def check_kinds(self, table: pd.DataFrame):
        unobserved = {self.numeric_index[k] for k in self.unobserved_index}
        for j, expected in enumerate(self.kinds):
            column = column_of(table, j)
            values_kind = self._refuse_containers(column, _column_name(table, j))
            if expected == CATEGORICAL or j in unobserved:
                continue
            found = _column_kind(column, values_kind)
            # A column missing everywhere fits every kind; numbers' text with leading
            # zeros, which would have made it categorical at fit, reads as numbers now.
            if found != expected and not column.isna().all() and not (
                    (expected, found) == (NUMERIC, CATEGORICAL) and _holds_numbers(column)):
                raise ValueError(
                    f"{self.estimator_name}: column {_column_name(table, j)!r} was {expected} "
                    f"at fit time but is {found} now."
                )

    def numeric_columns(self, table) -> _NumericColumns:
        if isinstance(table, np.ndarray):
            values = table[:, self.numeric_index] if self.categorical_index else table
            values = values if values.dtype.kind == "f" else values.astype(np.float64)
            if np.isinf(values).any():
                column = int(np.nonzero(np.isinf(values).any(axis=0))[0][0])
                raise ValueError(
                    f"{self.estimator_name}: column {column} contains infinity; only "
                    "NaN is accepted as missing."
                )
            return _NumericColumns(lambda k: values[:, k], values.shape[1], len(values),
                                   block=values)

        def read(k):
            if k in self.unobserved_index:  # whatever it holds now: never learned
                return np.full(table.shape[0], np.nan)
            j = self.numeric_index[k]
            values = _numeric_column(column_of(table, j), self.kinds[j])
            if np.iscomplexobj(values):
                raise ValueError(
                    f"{self.estimator_name}: column {_column_name(table, j)!r} holds "
                    "complex numbers; only real numbers are supported."
                )
            if np.isinf(values).any():
                raise ValueError(
                    f"{self.estimator_name}: column {_column_name(table, j)!r} contains "
                    "infinity; only NaN (or None, pd.NA) is accepted as missing."
                )
            return values

        return _NumericColumns(read, len(self.numeric_index), table.shape[0])


def _mostly_measurements(encoded: np.ndarray, encoder: TabularEncoder) -> bool:
    """Whether most numeric columns take more distinct values than the embedding's bins.

    Counted on the first rows (enough to tell a measurement from a few-valued
    column, at no cost on large tables).
    """
    if encoder.n_numeric == 0:
        return True
    head = encoded[:AUTO_EMBEDDING_ROWS_CHECKED, :encoder.n_numeric]
    n_values = [len(np.unique(column[np.isfinite(column)])) for column in head.T]
    return 2 * sum(n > N_BINS for n in n_values) > len(n_values)


def _bin_edges(values, weights, n_bins) -> np.ndarray:
    levels = np.linspace(0, 1, n_bins + 1)
    edges = np.unique(_column_quantiles(values, weights, levels))
    edges = edges[np.isfinite(edges)]
    if len(edges) < 2:
        center = edges[0] if len(edges) else 0.0
        edges = np.array([center - 1.0, center + 1.0])
    return edges


# Numeric-embedding sizes (Gorishniy et al. 2022; TabM's PLR-lite defaults).
N_FREQUENCIES = 48
FREQUENCY_SCALE = 0.1
D_NUMERIC_EMBEDDING = 16
N_BINS = 48
# numeric_embedding='auto' embeds dense tables of at most this many numeric columns,
AUTO_EMBEDDING_MAX_COLUMNS = 100
# when most of their numeric columns are measurements: more distinct values than the
# piecewise-linear embedding has bins. On few-valued columns (pixel intensities,
# counts, ratings) its bins are a lookup table of the values, which overfits
# (digits: 0.961 embedded against 0.975 fed as scaled values).
AUTO_EMBEDDING_ROWS_CHECKED = 10_000


class TableInput(InputAdapter):
    """Tables: DataFrames with categorical, string, boolean and datetime columns.

    Missing values are allowed. The estimator needs the parameters
    ``categorical_features``, ``numeric_transform`` and ``numeric_embedding``;
    the fitted :class:`TabularEncoder` is kept in its ``encoder_``.
    """

    kind = "table"
    input_tags = {"allow_nan": True, "string": True, "categorical": True}

    def validate(self, estimator, X, reset: bool):
        name = type(estimator).__name__
        if is_dataframe(X):
            X = _match_columns(estimator, to_pandas(X), reset)
            if X.shape[0] < 1 or X.shape[1] < 1:
                raise ValueError(
                    f"{name}: found a DataFrame of shape {X.shape}; at least one row "
                    "and one column are required."
                )
        else:
            self._refuse_sequences(estimator, X, reset)
            X = estimator._raise_with_name(
                check_array, X, accept_sparse="csr", dtype=None, ensure_all_finite=False,
                estimator=estimator,
            )
            if X.dtype.kind in "USO":
                X = X.astype(object)
            elif X.dtype.kind not in "fiub":
                raise TypeError(f"{name}: X has unsupported dtype {X.dtype}.")
            if sp.issparse(X):
                X = estimator._raise_with_name(check_array, X, accept_sparse="csr",
                                               dtype="numeric", estimator=estimator)
            elif X.dtype.kind in "fiub":
                X = estimator._raise_with_name(check_array, X, dtype="numeric",
                                               ensure_all_finite="allow-nan",
                                               estimator=estimator)
        estimator._raise_with_name(validate_data, estimator, X, skip_check_array=True,
                                   reset=reset)
        return X

    def _refuse_sequences(self, estimator, X, reset: bool) -> None:
        """Refuse 3-D input (sequences, images), pointing to what reads it."""
        if sp.issparse(X):
            return
        # Through __array__: np.ndim is an array function, which array-likes may refuse.
        # Ragged lists fail here (as in check_array): the error names the estimator.
        X = estimator._raise_with_name(np.asarray, X)
        if X.ndim < 3:
            return
        name = type(estimator).__name__
        if not reset:
            raise ValueError(f"{name} was fitted on {self.layout(estimator)}; got X of "
                             f"shape {X.shape}.")
        kind = "Classifier" if name.endswith("Classifier") else "Regressor"
        raise ValueError(
            f"{name} reads tables of shape (n_samples, n_features); got X of shape "
            f"{X.shape}. For sequences or images use CNN{kind}, RNN{kind} or "
            f"Transformer{kind}, or flatten X to 2-D with X.reshape(len(X), -1)."
        )

    def encode(self, estimator, X, sample_weight, fit: bool):
        if not fit:
            return estimator.encoder_.transform(X)
        embedding = _numeric_embedding_for(estimator, X)
        encoder = TabularEncoder(
            categorical_features=estimator.categorical_features,
            numeric_transform=estimator.numeric_transform,
            n_bins=N_BINS if embedding == "piecewise_linear" else None,
            estimator_name=type(estimator).__name__,
        )
        encoded = encoder.fit_transform(X, sample_weight,
                                        dtype=estimator._encoding_dtype(X))
        if (estimator.numeric_embedding == "auto" and embedding is not None
                and not _mostly_measurements(encoded, encoder)):
            embedding, encoder.n_bins, encoder.bin_edges = None, None, None
        encoder.numeric_embedding = embedding
        estimator.encoder_ = encoder
        return encoded

    def adopt(self, estimator, source, X, encoded):
        """Encode X with a copy of ``source``'s fitted encoder, kept as ``encoder_``."""
        estimator.encoder_ = copy.deepcopy(source.encoder_)
        estimator.encoder_.estimator_name = type(estimator).__name__
        return estimator.encoder_.transform(X)

    def layout(self, estimator) -> str:
        plural = "s" if estimator.n_features_in_ != 1 else ""
        return f"a table of {estimator.n_features_in_} column{plural}"

    def example_input(self, estimator) -> torch.Tensor:
        # The exported graph reads the columns as numbers, categories as codes.
        encoder = estimator.encoder_
        return torch.zeros(2, encoder.n_numeric + len(encoder.categorical_index),
                           dtype=torch.float64)

    def attack_inputs(self, estimator) -> dict:
        # Scaled numbers move; missing indicators and category codes do not.
        return {"n_continuous": estimator.encoder_.n_numeric}


TABLE_INPUT = TableInput()


def _match_columns(estimator, frame: pd.DataFrame, reset: bool) -> pd.DataFrame:
    """Reorder a DataFrame's columns to the fit-time order when names match."""
    names = getattr(estimator, "feature_names_in_", None)
    if reset or names is None:
        return frame
    if list(frame.columns) != list(names) and set(frame.columns) == set(names):
        return frame[list(names)]
    return frame


def _numeric_embedding_for(estimator, X):
    """Resolve numeric_embedding='auto' for this X; refuse embeddings of sparse X."""
    if estimator.numeric_embedding == "auto":
        wide = X.shape[1] > AUTO_EMBEDDING_MAX_COLUMNS
        return None if sp.issparse(X) or wide else "piecewise_linear"
    if estimator.numeric_embedding is not None and sp.issparse(X):
        raise ValueError(
            f"{type(estimator).__name__}: numeric_embedding={estimator.numeric_embedding!r} "
            "needs dense X; got a sparse matrix (use numeric_embedding=None)."
        )
    return estimator.numeric_embedding


def tabular_input_layer(encoder: TabularEncoder):
    """Input module for a fitted encoder's layout, or None for plain numbers."""
    from sknn.modules.tabular import TabularInput

    if (encoder.numeric_embedding is None and not encoder.categorical_index
            and not encoder.indicator_index):
        return None
    return TabularInput(encoder.n_numeric, encoder.n_indicators, encoder.cardinalities,
                        numeric_embedding_layer(encoder, D_NUMERIC_EMBEDDING))


def numeric_embedding_layer(encoder: TabularEncoder, d_embedding: int):
    """A fitted encoder's numeric embedding, ``d_embedding`` wide per column, or None."""
    from sknn.modules.tabular import PeriodicEmbedding, PiecewiseLinearEmbedding

    if encoder.n_numeric == 0:
        return None  # only categorical columns: nothing to embed numerically
    if encoder.numeric_embedding == "periodic":
        return PeriodicEmbedding(encoder.n_numeric, N_FREQUENCIES, FREQUENCY_SCALE,
                                 d_embedding)
    if encoder.numeric_embedding == "piecewise_linear":
        edges = [torch.as_tensor(e) for e in encoder.bin_edges]
        return PiecewiseLinearEmbedding(edges, d_embedding)
    return None
