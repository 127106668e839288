"""The rows a fit trains on: the held-out validation rows and the row weights."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.model_selection import train_test_split


def validation_split(y, fraction: float, seed: int, stratified: bool, owner: str):
    """Sorted row indices ``(train, valid)`` with ``fraction`` of the rows held out.

    ``stratified``: by the classes of a 1-D y (unless a class has a single
    row). Raises ``ValueError`` naming ``owner`` when the rows cannot be split.

    Examples
    --------
    >>> import numpy as np
    >>> train, valid = validation_split(np.arange(10) % 2, 0.2, 0, True, "MLPClassifier")
    >>> len(train), len(valid)
    (8, 2)
    """
    stratify = y if stratified and y.ndim == 1 else None
    if stratify is not None and np.unique(y, return_counts=True)[1].min() < 2:
        stratify = None
    try:
        train, valid = train_test_split(np.arange(len(y)), test_size=fraction,
                                        random_state=seed, stratify=stratify)
    except ValueError as error:
        raise ValueError(
            f"{owner}: cannot hold out validation_fraction={fraction} of {len(y)} samples "
            f"for early stopping ({error}). Use more samples or early_stopping=False."
        ) from error
    return torch.as_tensor(np.sort(train)), torch.as_tensor(np.sort(valid))


def normalized_weights(weights, train_idx, owner: str):
    """Row weights scaled to mean 1 on the training rows (None if all equal).

    Examples
    --------
    >>> normalized_weights([1.0, 3.0], None, "MLPRegressor").tolist()
    [0.5, 1.5]
    """
    if weights is None:
        return None
    weights = np.asarray(weights, dtype=np.float64)
    train_weights = weights if train_idx is None else weights[train_idx.numpy()]
    if np.all(train_weights == train_weights[0]) and train_weights[0] > 0:
        return None
    total = train_weights.mean()
    if not total > 0:
        raise ValueError(
            f"{owner}: sample weights of the training rows sum to "
            f"{train_weights.sum()}; at least one must be positive."
        )
    return torch.as_tensor(weights / total)  # float64; cast on the device
