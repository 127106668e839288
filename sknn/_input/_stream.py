"""Training on data that arrives in chunks: iterables of batches and Parquet files.

An estimator's ``partial_fit`` trains one epoch on the chunk it is given and
keeps nothing of it, so feeding chunks one at a time keeps memory bounded by
the chunk size. :func:`fit_batches` does that over any iterable of
``(X, y)`` chunks, for several passes if asked; :func:`iter_parquet` reads a
Parquet file as such chunks.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from numbers import Integral

from sklearn.base import is_classifier
from sklearn.utils._param_validation import HasMethods, Interval, validate_params


@validate_params(
    {
        "estimator": [HasMethods(["partial_fit"])],
        "batches": [Iterable, callable],
        "classes": ["array-like", None],
        "n_epochs": [Interval(Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=False,
)
def fit_batches(estimator, batches, *, classes=None, n_epochs=1):
    """Train an estimator on chunks of data, one ``partial_fit`` call per chunk.

    Memory is bounded by the largest chunk: each chunk is validated, encoded
    and trained on for one epoch (in minibatches of the estimator's
    ``batch_size``, shuffled within the chunk), then released before the next
    one is read.

    The first chunk fixes what an sknn estimator learns from its data before
    training: the tabular encoding (quantiles or means of numeric columns,
    category levels, missing-value indicators, numeric-embedding bins), the
    standardization of regression targets, ``batch_size='auto'``
    (``min(256, rows)``) and ``dtype='auto'``. Make it large and
    representative (e.g. shuffle the rows of the file once). Levels first seen
    in later chunks are encoded as unknown. Early stopping does not apply
    (``partial_fit`` holds nothing out).

    Parameters
    ----------
    estimator : estimator with ``partial_fit``
        An sknn estimator (or any scikit-learn estimator with
        ``partial_fit``). An estimator already fitted by ``partial_fit``
        continues from its current weights; pass ``clone(estimator)`` to start
        afresh.
    batches : iterable or callable
        Chunks as tuples ``(X, y)`` or ``(X, y, sample_weight)``: a list, a
        generator, :func:`iter_parquet`'s output, or a callable returning a new
        iterable of them on each call. With ``n_epochs > 1``, a generator can
        only be read once: pass a list or a callable (e.g.
        ``lambda: iter_parquet(path, target="y")``).
    classes : array-like of shape (n_classes,), default=None
        All class labels that will ever appear, for classifiers (required
        unless the targets are a multilabel indicator matrix or the
        estimator was already fitted by ``partial_fit``).
    n_epochs : int, default=1
        Passes over all the chunks.

    Returns
    -------
    estimator : object
        The trained estimator (the same object).

    See Also
    --------
    iter_parquet : Read a Parquet file in chunks.

    Examples
    --------
    >>> import numpy as np
    >>> from sknn import MLPClassifier
    >>> from sknn.stream import fit_batches
    >>> rng = np.random.RandomState(0)
    >>> chunks = []
    >>> for _ in range(4):
    ...     X = rng.normal(size=(500, 5))
    ...     chunks.append((X, (X[:, 0] > 0).astype(int)))
    >>> clf = MLPClassifier(hidden_layer_sizes=(32,), random_state=0)
    >>> clf = fit_batches(clf, chunks, classes=[0, 1], n_epochs=3)
    >>> clf.n_iter_
    12
    >>> bool(clf.score(*chunks[0]) > 0.9)
    True
    """
    name = "fit_batches"
    if classes is not None and not is_classifier(estimator):
        raise ValueError(
            f"{name}: classes is for classifiers; got classes={classes!r} with "
            f"{type(estimator).__name__}, which is not a classifier."
        )
    if n_epochs > 1 and not callable(batches) and iter(batches) is batches:
        raise ValueError(
            f"{name}: n_epochs={n_epochs} needs chunks that can be read again, but "
            f"batches is a one-shot {type(batches).__name__}; pass a list, or a "
            "callable that returns a new iterable on each call (e.g. "
            "lambda: iter_parquet(path, target='y'))."
        )
    classes_argument = {} if classes is None else {"classes": classes}
    for epoch in range(n_epochs):
        n_chunks = 0
        for chunk in batches() if callable(batches) else batches:
            n_chunks += 1
            X, y, sample_weight = _unpack(chunk, n_chunks)
            estimator.partial_fit(X, y, sample_weight=sample_weight, **classes_argument)
            # Drop this chunk before the next is read: one chunk in memory at a time.
            del chunk, X, y, sample_weight
        if n_chunks == 0:
            raise ValueError(f"{name}: batches held no chunk in epoch {epoch + 1}; "
                             "expected at least one (X, y) tuple.")
    return estimator


def _unpack(chunk, position: int):
    """``(X, y, sample_weight)`` of one chunk."""
    if not isinstance(chunk, tuple | list) or len(chunk) not in (2, 3):
        described = (f"a {len(chunk)}-tuple" if isinstance(chunk, tuple | list)
                     else f"a {type(chunk).__name__}")
        raise TypeError(
            f"fit_batches: each chunk must be a tuple (X, y) or (X, y, sample_weight); "
            f"chunk {position} is {described}."
        )
    X, y, *rest = chunk
    return X, y, rest[0] if rest else None


def _import_parquet():
    try:
        import pyarrow.parquet as pq
    except ImportError as error:
        raise ImportError(
            "iter_parquet reads Parquet files with pyarrow, which is not installed; "
            "install it with pip install 'sknn[parquet]'."
        ) from error
    return pq


@validate_params(
    {
        "path": [str, os.PathLike, HasMethods(["read"])],
        "target": [str, None],
        "columns": ["array-like", None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def iter_parquet(path, target=None, *, columns=None, batch_size=65_536):
    """Read a Parquet file in chunks of rows, as ``(X, y)`` pairs.

    Only one chunk (and the row group it comes from) is in memory at a time,
    so :func:`fit_batches` trains on files larger than memory, and
    predictions can be made chunk by chunk. Needs pyarrow
    (``pip install 'sknn[parquet]'``).

    Parameters
    ----------
    path : str, path-like or file-like
        One Parquet file.
    target : str or None, default=None
        Column holding y; None yields ``(X, None)`` pairs (for prediction).
    columns : array-like of str or None, default=None
        Feature columns, in this order; None takes every column but ``target``.
    batch_size : int, default=65536
        Rows per chunk (the last chunk of each row group may be shorter).

    Returns
    -------
    chunks : iterator of tuples (X, y)
        ``X`` a pandas DataFrame of the feature columns (strings and
        dictionary-encoded columns come as text and ``category`` columns, which
        sknn's tabular estimators embed), ``y`` a NumPy array or None.

    See Also
    --------
    fit_batches : Train an estimator on such chunks.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import pandas as pd
    >>> from sknn import MLPRegressor
    >>> from sknn.stream import fit_batches, iter_parquet
    >>> rng = np.random.RandomState(0)
    >>> frame = pd.DataFrame({"a": rng.normal(size=2000), "b": rng.normal(size=2000)})
    >>> frame["y"] = frame["a"] - 2 * frame["b"]
    >>> path = os.path.join(tempfile.mkdtemp(), "train.parquet")
    >>> frame.to_parquet(path)
    >>> reg = MLPRegressor(hidden_layer_sizes=(32,), random_state=0)
    >>> reg = fit_batches(reg, lambda: iter_parquet(path, "y", batch_size=500),
    ...                   n_epochs=5)
    >>> chunks = iter_parquet(path, columns=["a", "b"], batch_size=500)
    >>> pred = np.concatenate([reg.predict(X) for X, _ in chunks])
    >>> pred.shape
    (2000,)
    >>> bool(np.corrcoef(pred, frame["y"])[0, 1] > 0.9)
    True
    """
    pq = _import_parquet()
    parquet_file = pq.ParquetFile(path)
    names = parquet_file.schema_arrow.names
    if target is not None and target not in names:
        raise ValueError(
            f"iter_parquet: target={target!r} is not a column of the file; its columns "
            f"are {names}."
        )
    features = [n for n in names if n != target] if columns is None else list(columns)
    unknown = [c for c in features if c not in names]
    if unknown:
        raise ValueError(f"iter_parquet: columns {unknown} are not in the file; its "
                         f"columns are {names}.")
    if target is not None and target in features:
        raise ValueError(f"iter_parquet: the target {target!r} is also listed in columns; "
                         "a column cannot be both a feature and y.")
    read = features if target is None else [*features, target]
    return _parquet_chunks(parquet_file, read, features, target, batch_size)


def _parquet_chunks(parquet_file, read, features, target, batch_size) -> Iterator:
    for record_batch in parquet_file.iter_batches(batch_size=batch_size, columns=read):
        frame = record_batch.to_pandas()
        y = None if target is None else frame[target].to_numpy()
        yield frame[features], y
