"""Training data kept as tensors on the target device, sliced into minibatches.

skorch's default ``Dataset`` + ``DataLoader`` index and collate one sample at a
time, which dominates the cost of an epoch on small tabular networks. Here the
whole X and y live as tensors (on the GPU when training there) and a batch is
one ``index_select``: the same work a hand-written PyTorch loop does.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp
import torch

Batch = tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]


def as_tensor(X, device: torch.device,
              dtype: torch.dtype = torch.float32) -> torch.Tensor | sp.csr_matrix:
    """Turn validated X into the one tensor the net trains on.

    An array already of ``dtype`` and C-contiguous is shared, not copied;
    anything else is copied once. Sparse CSR stays sparse: rows are densified
    per minibatch only.
    """
    if sp.issparse(X):
        return sp.csr_matrix(X, dtype=torch.empty((), dtype=dtype).numpy().dtype)
    with warnings.catch_warnings():
        # Read-only inputs (memmaps) are shared, never written to.
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        tensor = torch.as_tensor(np.asarray(X), dtype=dtype)
    return tensor.to(device)


class TensorData:
    """Rows of X, y and sample weights that the net trains or predicts on.

    Parameters
    ----------
    X : torch.Tensor or scipy.sparse.csr_matrix
        All rows, already on ``device`` (a sparse matrix stays on the host).
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

    def __init__(self, X, y=None, weight=None, indices=None, device="cpu"):
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
        if not sp.issparse(self.X):
            return self.X[rows]
        if isinstance(rows, torch.Tensor):
            rows = rows.cpu().numpy()
        dense = self.X[rows].toarray()
        return torch.from_numpy(dense).to(self.device, non_blocking=True)


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
