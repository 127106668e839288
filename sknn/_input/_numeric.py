"""Numeric columns of a table: read one at a time, scaled by quantiles or moments.

Part of :mod:`sknn._input._tabular`'s encoding: a DataFrame's numeric columns are
read as float64 one at a time (never stacked into a float64 copy of the table)
and each is scaled in float64 before the encoder writes it, rounded once, into
its output of the network's type.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from sknn._utils._registry import storable_state

MAX_QUANTILES = 1000
# Fewer values are ranked by np.searchsorted (see _count_at_or_below).
BRANCH_FREE_SEARCH_MIN_VALUES = 1024
# Quantile-normal outputs are clipped to about +-5.2 standard deviations.
QUANTILE_CLIP = 1e-7


@dataclass
@storable_state("sknn._tabular._NumericScaler")
class _NumericScaler:
    """Sample-weighted, NaN-aware quantile-normal or standard scaling."""

    kind: str
    quantiles: np.ndarray | None = None
    references: np.ndarray | None = None
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None

    def fit(self, columns: _NumericColumns, weights: np.ndarray) -> _NumericScaler:
        if self.kind == "quantile":
            self._fit_quantiles(columns, weights)
        elif self.kind == "standard":
            self._fit_moments(columns, weights)
        return self

    def _fit_quantiles(self, columns, weights):
        # Sized by the total weight, so integer weights act exactly as repetitions.
        n_quantiles = int(np.clip(weights.sum() // 30, 10, MAX_QUANTILES))
        self.references = np.linspace(0, 1, n_quantiles)
        self.quantiles = np.column_stack([
            _column_quantiles(column, weights, self.references) for column in columns
        ]) if len(columns) else np.zeros((n_quantiles, 0))

    def _fit_moments(self, columns, weights):
        means, scales = [], []
        for column in columns:
            observed = ~np.isnan(column)
            w = observed * weights
            total = max(w.sum(), 1e-300)
            filled = np.where(observed, column, 0.0)
            mean = (w * filled).sum() / total
            variance = (w * (filled - mean) ** 2).sum() / total
            means.append(mean)
            scales.append(np.sqrt(variance) if variance > 0 else 1.0)
        self.mean, self.scale = np.array(means), np.array(scales)

    def scaled(self, j: int, x: np.ndarray) -> np.ndarray:
        """Numeric column ``j`` scaled, in float64 (missing values stay NaN)."""
        if self.kind == "standard":
            return (x - self.mean[j]) / self.scale[j]
        if self.kind != "quantile":
            return x
        q = self.quantiles[:, j]
        if np.isnan(q).all():
            return np.full(len(x), np.nan)
        ranks = _quantile_ranks(x, q, self.references)
        np.clip(ranks, QUANTILE_CLIP, 1 - QUANTILE_CLIP, out=ranks)
        return ndtri(ranks, out=ranks)


class _NumericColumns:
    """The numeric columns of a table as float64, each read when it is asked for.

    A plain array's columns are views of it (or of one float64 copy of an
    integer array); a DataFrame's are read one at a time, so encoding never
    holds a float64 copy of the whole table.
    """

    def __init__(self, read, count: int, n_rows: int, block: np.ndarray | None = None):
        self._read = read
        self._count = count
        self.n_rows = n_rows
        self.block = block  # the 2-D float array of an array input, else None

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, k: int) -> np.ndarray:
        if not 0 <= k < self._count:
            raise IndexError(k)
        return self._read(k)

    def rows(self, rows: slice) -> _NumericColumns:
        """Rows ``rows`` of an array input's columns, as views (array inputs only)."""
        block = self.block[rows]
        return _NumericColumns(lambda k: block[:, k], self._count, len(block), block=block)

    def with_missing(self) -> list[int]:
        """Positions of the columns that hold a missing value."""
        if self.block is not None:
            # One row-major pass, not a strided scan per column.
            return np.flatnonzero(np.isnan(self.block).any(axis=0)).tolist()
        return [k for k, column in enumerate(self) if np.isnan(column).any()]

    def stacked(self) -> np.ndarray:
        """All columns as one float64 array ``(n_rows, len(self))``."""
        if self.block is not None:
            return self.block
        out = np.empty((self.n_rows, len(self)))
        for k, column in enumerate(self):
            out[:, k] = column
        return out


def _quantile_ranks(x: np.ndarray, quantiles: np.ndarray, references: np.ndarray) -> np.ndarray:
    """The rank in ``[0, 1]`` of each value of ``x`` among sorted ``quantiles``.

    The average of forward and backward linear interpolation, as scikit-learn's
    QuantileTransformer: linear between two distinct quantiles, the middle rank
    of a repeated quantile on it (integer columns sit on them), and the end
    ranks beyond them; missing values stay NaN. One search where two
    interpolations need two; a few temporaries of one column, whatever the
    table's width.
    """
    # In float64 whatever the table's type, as interpolation computes.
    x = np.asarray(x, dtype=np.float64)
    quantiles = np.asarray(quantiles, dtype=np.float64)
    values, first, counts = np.unique(quantiles, return_index=True, return_counts=True)
    starts, ends = references[first], references[first + counts - 1]
    # Slope of the segment after each distinct value; 0 after the last, so values
    # beyond it keep its end rank.
    slopes = np.append((starts[1:] - ends[:-1]) / np.diff(values), 0.0)
    position = _count_at_or_below(values, x) - 1
    segment = np.maximum(position, 0)
    ranks = x - values[segment]
    ranks *= slopes[segment]
    ranks += ends[segment]
    ranks[position < 0] = references[0]
    on_value = x == values[segment]
    ranks[on_value] = (starts[segment[on_value]] + ends[segment[on_value]]) / 2
    ranks[np.isnan(x)] = np.nan
    return ranks


def _count_at_or_below(values: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``np.searchsorted(values, x, side='right')`` for sorted ``values``, NaN aside.

    A binary search with one vectorized step per halving, all values of ``x`` at
    once: NumPy's search branches at every step, one value at a time, and spends
    most of its time on mispredicted branches (2.5x slower on 16k values in 1,000
    quantiles), but its 11 passes cost more than they save on a few values. NaN
    counts as below every value (0) or above them all; callers handle it.
    """
    if x.size < BRANCH_FREE_SEARCH_MIN_VALUES:
        return np.searchsorted(values, x, side="right")
    size = 1 << len(values).bit_length()  # a power of two above len(values)
    padded = np.full(size, np.nan)  # never at or below anything
    padded[:len(values)] = values
    count = np.zeros(x.shape, dtype=np.intp)
    step = size // 2
    while step:
        # Where padded[count + step - 1] <= x, the first count + step values are.
        count += (padded[count + (step - 1)] <= x) * step
        step //= 2
    return count


def _column_quantiles(column, weights, levels):
    """Weighted inverted-CDF quantiles of the non-missing values.

    With integer weights these equal the quantiles of the data with each row
    repeated that many times, so sample weights act exactly like repetitions.
    """
    keep = ~np.isnan(column) & (weights > 0)
    if not keep.any():
        return np.full(len(levels), np.nan)
    order = np.argsort(column[keep], kind="stable")
    values = column[keep][order]
    cumulative = np.cumsum(weights[keep][order])
    positions = np.searchsorted(cumulative, levels * cumulative[-1], side="left")
    return values[np.minimum(positions, len(values) - 1)]
