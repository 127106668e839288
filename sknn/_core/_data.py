"""Training data kept as tensors on the target device, sliced into minibatches.

skorch's default ``Dataset`` + ``DataLoader`` index and collate one sample at a
time, which dominates the cost of an epoch on small tabular networks. Here the
whole X and y live as tensors (on the GPU when training there) and a batch is
one ``index_select``: the same work a hand-written PyTorch loop does.

Two kinds of X stay on the host and become dense tensors one minibatch at a
time: sparse CSR matrices, and memory-mapped arrays (:class:`EncodedRows`),
which are read from disk and encoded batch by batch so that data larger than
memory trains with memory bounded by the batch size.
"""

from __future__ import annotations

import math
import mmap
import warnings
from collections.abc import Callable, Iterator
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import torch

Batch = tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]
# What the estimators take as X and y: arrays and lists (of rows, sequences or
# strings), DataFrames, sparse matrices, memmaps; each input kind validates its own.
ArrayLike: TypeAlias = "npt.ArrayLike | sp.spmatrix | sp.sparray"

# A memory-mapped X fits its input encoding (scaling, categories, bins) on a
# random sample of rows holding about this many values (the encoder's float64
# work arrays then take tens of MB), within these bounds on the rows (the
# tabular scaling keeps at most 1,000 quantiles).
ENCODER_SAMPLE_VALUES = 2**20
ENCODER_SAMPLE_ROWS = (1_000, 100_000)
# Memory-mapped X of at least this many bytes stays on disk; smaller ones (as
# joblib hands its workers) are loaded and encoded once, which trains faster.
STREAM_MIN_BYTES = 2**26


def as_tensor(X: ArrayLike | EncodedRows, device: torch.device,
              dtype: torch.dtype = torch.float32) -> torch.Tensor | sp.csr_matrix:
    """Turn validated X into the one tensor the net trains on.

    An array already of ``dtype`` and C-contiguous is shared, not copied;
    anything else is copied once. Sparse CSR stays sparse and
    :class:`EncodedRows` stay on disk: their rows are densified per minibatch
    only.
    """
    numpy_dtype = torch.empty((), dtype=dtype).numpy().dtype
    if sp.issparse(X):
        return sp.csr_matrix(X, dtype=numpy_dtype)
    if isinstance(X, EncodedRows):
        return X.astype(numpy_dtype)
    with warnings.catch_warnings():
        # Read-only inputs (memmaps) are shared, never written to.
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        tensor = torch.as_tensor(np.asarray(X), dtype=dtype)
    return tensor.to(device)


class TensorData:
    """Rows of X, y and sample weights that the net trains or predicts on.

    Parameters
    ----------
    X : torch.Tensor, scipy.sparse.csr_matrix or EncodedRows
        All rows, already on ``device`` (a sparse matrix and rows on disk stay
        on the host until batched).
    y : torch.Tensor or None
        Encoded targets for all rows, on ``device``.
    weight : torch.Tensor or None
        Per-row loss weights, on ``device``.
    indices : torch.Tensor or None
        Which rows of ``X`` belong to this set (a validation split shares the
        same X instead of copying it); None means all rows.
    device : torch.device
        Where batches are delivered.
    """

    def __init__(self, X: torch.Tensor | sp.csr_matrix | EncodedRows,
                 y: torch.Tensor | None = None, weight: torch.Tensor | None = None,
                 indices: torch.Tensor | None = None,
                 device: torch.device | str = "cpu"):
        self.X = X
        self.y = y
        self.weight = weight
        self.device = torch.device(device)
        self.indices = None if indices is None else indices.to(self.device)

    def __len__(self) -> int:
        if self.indices is not None:
            return len(self.indices)
        return self.X.shape[0]

    def _rows(self, index: torch.Tensor | slice) -> torch.Tensor | slice:
        if self.indices is None:
            return index
        return self.indices[index]

    def take(self, index: torch.Tensor | slice) -> Batch:
        """Return ``(X, y, weight)`` for the given positions of this set."""
        rows = self._rows(index)
        return (
            self._take_x(rows),
            None if self.y is None else self.y[rows],
            None if self.weight is None else self.weight[rows],
        )

    def targets(self) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Return ``(y, weight)`` for every row of this set, in order."""
        rows = self._rows(slice(None))
        return (
            None if self.y is None else self.y[rows],
            None if self.weight is None else self.weight[rows],
        )

    def _take_x(self, rows) -> torch.Tensor:
        if isinstance(self.X, torch.Tensor):
            return self.X[rows]
        if isinstance(rows, torch.Tensor):
            rows = rows.cpu().numpy()
        if isinstance(self.X, EncodedRows):
            dense = self.X.take(rows)
        else:
            dense = self.X[rows].toarray()
        return torch.from_numpy(dense).to(self.device, non_blocking=True)


def is_memory_mapped(X: object) -> bool:
    """True when X's values live in a memory-mapped file.

    ``np.memmap`` and ``np.load(..., mmap_mode='r')`` arrays, and the plain
    ndarray views of them that scikit-learn's validation returns.
    """
    while X is not None:
        if isinstance(X, np.memmap | mmap.mmap):
            return True
        X = getattr(X, "base", None)
    return False


def stays_on_disk(X: np.ndarray) -> bool:
    """Whether X is memory-mapped and large enough to be read one minibatch at a time."""
    return is_memory_mapped(X) and X.nbytes >= STREAM_MIN_BYTES


def encoder_sample(shape: tuple[int, ...], seed: int) -> slice | np.ndarray:
    """Rows of a memory-mapped X to fit the input encoding on, in file order.

    All rows when there are few enough (the encoding then equals an in-memory
    fit's), else a random sample of about ``ENCODER_SAMPLE_VALUES`` values.
    """
    row_values = max(math.prod(shape[1:]), 1)
    low, high = ENCODER_SAMPLE_ROWS
    size = min(high, max(low, ENCODER_SAMPLE_VALUES // row_values))
    if shape[0] <= size:
        return slice(None)
    rows = np.random.default_rng(seed).choice(shape[0], size, replace=False)
    return np.sort(rows)


class EncodedRows:
    """Rows of a memory-mapped array, read and encoded one minibatch at a time.

    Lets data larger than memory train and predict: only the current
    minibatch's rows are read from disk and passed through the estimator's
    fitted input encoding, so memory follows the batch size, not the file.

    Parameters
    ----------
    source : ndarray
        The raw rows, memory-mapped (or any array supporting row indexing).
    encode : callable
        ``encode(raw_rows) -> ndarray``; a row's encoding may not depend on the
        other rows of the block.
    dtype : numpy dtype or None
        Type of the rows delivered; None keeps the one ``encode`` returns.
    """

    def __init__(self, source: np.ndarray, encode: Callable[[np.ndarray], np.ndarray],
                 dtype: npt.DTypeLike | None = None):
        self.source = source
        self.encode = encode
        first = encode(source[:1])
        self.shape = (len(source), *first.shape[1:])
        self.dtype = np.dtype(first.dtype if dtype is None else dtype)

    def __len__(self) -> int:
        return self.shape[0]

    def astype(self, dtype: npt.DTypeLike) -> EncodedRows:
        """The same rows, delivered as ``dtype``."""
        return EncodedRows(self.source, self.encode, dtype)

    def take(self, rows: slice | np.ndarray) -> np.ndarray:
        """Encoded rows, in the order asked for (a slice or row positions)."""
        if isinstance(rows, slice):
            return self._encoded(self.source[rows])
        rows = np.asarray(rows)
        # Read in file order (near-sequential disk access), then put the rows
        # back in the shuffled order, so batches equal an in-memory X's.
        order = np.argsort(rows, kind="stable")
        encoded = self._encoded(self.source[rows[order]])
        batch = np.empty_like(encoded)
        batch[order] = encoded
        return batch

    def _encoded(self, raw: np.ndarray) -> np.ndarray:
        # Writable and contiguous: torch shares it instead of warning or copying again.
        return np.require(self.encode(raw), self.dtype, ["C", "W"])


class BatchIterator:
    """Iterate over a :class:`TensorData` in (optionally shuffled) minibatches.

    Used as skorch's ``iterator_train`` / ``iterator_valid``.

    Parameters
    ----------
    data : TensorData
    batch_size : int
    shuffle : bool
        Draw a new permutation every epoch from ``generator``.
    generator : torch.Generator or None
        Source of the permutations (CPU), so shuffling never touches the global
        torch random state.
    """

    def __init__(self, data: TensorData, batch_size: int, shuffle: bool = False,
                 generator: torch.Generator | None = None):
        self.data = data
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.generator = generator

    def __len__(self) -> int:
        return math.ceil(len(self.data) / self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        n_rows = len(self.data)
        if self.shuffle:
            order = torch.randperm(n_rows, generator=self.generator)
            order = order.to(self.data.device)
            for start in range(0, n_rows, self.batch_size):
                yield self.data.take(order[start:start + self.batch_size])
        else:
            for start in range(0, n_rows, self.batch_size):
                yield self.data.take(slice(start, start + self.batch_size))
