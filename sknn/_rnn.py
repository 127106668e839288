"""Recurrent estimators for series, variable-length sequences and token ids (text)."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from sknn._base import BaseNeuralClassifier, BaseNeuralEstimator, BaseNeuralRegressor
from sknn._cnn import _param_entries
from sknn._finetune import FINE_TUNING_CONSTRAINTS, FINE_TUNING_PARAMS_DOC, FineTuningMixin
from sknn._mlp import _SHARED_ATTRIBUTES_DOC
from sknn._sequence import SERIES_LAYOUT, SequenceInputMixin, _shape_of, sample_shape
from sknn._text import TokenArray
from sknn.modules.rnn import CELLS, POOLINGS, RNN

INPUT_KINDS = ("auto", "series", "tokens")
# batch_size='auto': at most this many sequences per minibatch.
AUTO_BATCH_SIZE = 32

_RNN_CONSTRAINTS = {
    "cell": [StrOptions(set(CELLS))],
    "hidden_size": [Interval(Integral, 1, None, closed="left")],
    "num_layers": [Interval(Integral, 1, None, closed="left")],
    "bidirectional": ["boolean"],
    "dropout": [Interval(Real, 0, 1, closed="left")],
    "pooling": [StrOptions(set(POOLINGS))],
    "input_kind": [StrOptions(set(INPUT_KINDS))],
    "embedding_dim": [Interval(Integral, 1, None, closed="left")],
    "clip_grad_norm": [None, Interval(Real, 0, None, closed="neither")],
    **FINE_TUNING_CONSTRAINTS,
}


def _sequence_items(X) -> list | None:
    """The sequences of X when it is a collection of separate arrays of different lengths.

    A list, tuple or 1-D object array whose items are arrays (or lists) of
    unequal lengths; None for anything that is one array (validate_data's job).
    """
    if isinstance(X, np.ndarray):
        if X.dtype != object or X.ndim != 1:
            return None
    elif not isinstance(X, list | tuple):
        return None
    items = list(X)
    if not items or not all(isinstance(x, np.ndarray | list | tuple) for x in items):
        return None
    lengths = {np.shape(x)[-1] if np.ndim(x) else None for x in items}
    return items if len(lengths) > 1 or isinstance(X, np.ndarray) else None


def _pad_sequences(items: list, name: str, tokens: bool) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad sequences ``(n_channels, length_i)`` (or ``(length_i,)``) with zeros.

    Returns the padded ``(n_samples, n_channels, max_length)`` array and the lengths.
    """
    arrays = []
    for i, item in enumerate(items):
        array = np.asarray(item)
        if array.ndim == 1:
            array = array[None, :]
        if array.ndim != 2:
            raise ValueError(
                f"{name} expects each sequence as a 2-D array (n_channels, length) or a "
                f"1-D array (length,); sequence {i} has shape {array.shape}."
            )
        if array.dtype.kind not in "biuf":
            raise TypeError(f"{name}: sequence {i} has dtype {array.dtype}; expected "
                            "numbers.")
        arrays.append(array)
    channels = [a.shape[0] for a in arrays]
    if len(set(channels)) > 1:
        other = next(i for i, c in enumerate(channels) if c != channels[0])
        raise ValueError(
            f"{name}: every sequence needs the same number of channels; sequence 0 has "
            f"{channels[0]}, sequence {other} has {channels[other]}."
        )
    lengths = np.array([a.shape[1] for a in arrays])
    if not tokens and (lengths == 0).any():
        raise ValueError(
            f"{name}: sequence {int(np.argmin(lengths))} is empty (length 0); every "
            "sequence needs at least one time step."
        )
    dtype = np.result_type(*{a.dtype for a in arrays})
    padded = np.zeros((len(arrays), channels[0], max(1, lengths.max())), dtype=dtype)
    for i, array in enumerate(arrays):
        padded[i, :, :array.shape[1]] = array
    return padded, lengths


class _RNNArchitecture(SequenceInputMixin):
    """Input handling and module factory shared by the RNN classifier and regressor.

    X reaches the net as one array ``(n_samples, n_channels + 1, length)``:
    the sequences right-padded with zeros and a last channel that is 1 on
    valid steps (see :mod:`sknn.modules.rnn`), so variable-length data trains
    through the same tensor minibatches as everything else.
    """

    input_shape = None  # the sequence mixin's reshaping parameter: not offered here
    _family = "RNN"

    def _validate_X(self, X, reset: bool):
        name = type(self).__name__
        kind = self._input_kind(X, reset)
        shape = _shape_of(X)
        if shape is not None and len(shape) > 3:
            raise ValueError(
                f"{name} expects 2-D X (n_samples, n_timepoints), series {SERIES_LAYOUT} "
                f"or a list of (n_channels, length) arrays; got {len(shape)}-D X of "
                f"shape {shape}."
            )
        lengths = None
        items = _sequence_items(X)
        if items is not None:
            X, lengths = _pad_sequences(items, name, tokens=kind == "tokens")
        elif kind == "tokens" and shape is not None and len(shape) == 2:
            X = np.asarray(X)[:, None, :]  # one channel of ids; any length
        X = super()._validate_X(X, reset)
        X = X.reshape(len(X), *sample_shape(X.shape, None, name))
        if X.shape[2] == 0:
            raise ValueError(f"{name}: sequences of length 0 cannot be read; got X of "
                             f"shape {X.shape}.")
        if X.shape[1] == 0:
            raise ValueError(f"{name}: sequences need at least one channel; got X of "
                             f"shape {X.shape}.")
        if kind == "tokens":
            X, lengths = self._check_tokens(X, reset)
        elif X.dtype == np.uint8:
            X = X.astype(np.float32) / np.float32(255)
        elif X.dtype.kind != "f":
            X = X.astype(np.float64)
        steps = np.arange(X.shape[2])
        mask = steps[None, :] < (X.shape[2] if lengths is None else lengths[:, None])
        mask = np.broadcast_to(mask, (len(X), X.shape[2]))
        return np.concatenate([X, mask[:, None].astype(X.dtype)], axis=1)

    def _input_kind(self, X, reset: bool) -> str:
        if not reset:
            return self.input_kind_
        if self.input_kind == "auto":
            self.input_kind_ = "tokens" if isinstance(X, TokenArray) else "series"
        else:
            self.input_kind_ = self.input_kind
        return self.input_kind_

    def _check_tokens(self, X, reset: bool):
        name = type(self).__name__
        if X.shape[1] != 1:
            raise ValueError(f"{name}: token ids come as one sequence per sample; got X "
                             f"of shape {X.shape} ({X.shape[1]} channels).")
        if X.dtype.kind not in "iu":
            raise TypeError(f"{name}: token ids must be integers; got X of dtype "
                            f"{X.dtype}.")
        low, high = int(X.min()), int(X.max())
        if low < 0:
            raise ValueError(f"{name}: token ids must be non-negative (0 is padding); "
                             f"got {low}.")
        if not reset and high >= self.vocabulary_size_:
            raise ValueError(
                f"{name}: token id {high} is outside the vocabulary seen in fit (ids 0 "
                f"to {self.vocabulary_size_ - 1}); map unknown tokens to the unknown "
                "id (TextSequencer does)."
            )
        nonzero = X[:, 0] != 0
        lengths = np.where(nonzero.any(axis=1),
                           X.shape[2] - np.argmax(nonzero[:, ::-1], axis=1), 0)
        return X.astype(np.float32), lengths

    def _encode_X(self, X, sample_weight, fit: bool):
        if not fit:
            return X
        values, mask = X[:, :-1], X[:, -1:]
        self.input_shape_ = (values.shape[1], values.shape[2])
        if self.input_kind_ == "tokens":
            self.vocabulary_size_ = max(int(values.max()) + 1, 2)
            return X
        # Per-channel standardization over the valid steps, with the sample weights.
        weights = mask.astype(np.float64) * np.asarray(sample_weight)[:, None, None]
        total = weights.sum(axis=(0, 2))
        mean = (values * weights).sum(axis=(0, 2)) / total
        variance = (((values - mean[None, :, None]) ** 2) * weights).sum(axis=(0, 2)) / total
        scale = np.sqrt(variance)
        self.input_mean_ = mean
        self.input_scale_ = np.where(scale > 1e-12 * (1 + np.abs(mean)), scale, 1.0)
        return X

    def _adopt_inputs(self, source, X, encoded):
        if self.input_kind_ == "series":
            self.input_mean_, self.input_scale_ = source.input_mean_, source.input_scale_
        elif self.vocabulary_size_ > source.vocabulary_size_:
            raise ValueError(
                f"{type(self).__name__}: X holds token id {self.vocabulary_size_ - 1}, "
                f"outside init_from's vocabulary (ids 0 to {source.vocabulary_size_ - 1}); "
                "encode the texts with the TextSequencer init_from was trained on."
            )
        else:
            self.vocabulary_size_ = source.vocabulary_size_
        return encoded

    def _build_module(self, n_features, task):
        tokens = self.input_kind_ == "tokens"
        return RNN(
            self.input_shape_[0], task.n_outputs, cell=self.cell,
            hidden_size=self.hidden_size, num_layers=self.num_layers,
            bidirectional=self.bidirectional, dropout=self.dropout, pooling=self.pooling,
            vocabulary_size=self.vocabulary_size_ if tokens else None,
            embedding_dim=self.embedding_dim,
            input_mean=None if tokens else torch.as_tensor(self.input_mean_),
            input_scale=None if tokens else torch.as_tensor(self.input_scale_),
        )

    def _prepare_callbacks(self, net, fit_data, incremental):
        super()._prepare_callbacks(net, fit_data, incremental)
        net.clip_grad_norm = self.clip_grad_norm

    def _batch_size(self, n_train: int) -> int:
        if self.batch_size == "auto":
            return min(AUTO_BATCH_SIZE, n_train)
        return min(self.batch_size, n_train)


_RNN_PARAMS_DOC = """
    cell : {'lstm', 'gru', 'rnn'}, default='lstm'
        Recurrent cell: long short-term memory, gated recurrent unit, or a
        plain tanh (Elman) RNN.
    hidden_size : int, default=64
        Width of the recurrent state (per direction).
    num_layers : int, default=1
        Stacked recurrent layers.
    bidirectional : bool, default=False
        Read each sequence forwards and backwards; the pooled features of both
        directions are concatenated.
    dropout : float in [0, 1), default=0.0
        Dropout on the inputs of the recurrent layers (embeddings or series),
        between stacked layers and before the output layer.
    pooling : {'last', 'mean', 'attention'}, default='last'
        Summary of a sequence for the output layer: the final hidden state
        (after the last valid step; for the backward direction, after the
        first), the mean of the outputs over the valid steps, or their
        attention-weighted mean (a learned score, softmax over valid steps).
    input_kind : {'auto', 'series', 'tokens'}, default='auto'
        'series': numeric values, standardized per channel with the training
        mean and standard deviation (over valid steps, with the sample
        weights). 'tokens': non-negative integer token ids, 0 being padding,
        read through a learned embedding sized from the largest id seen in
        ``fit``. 'auto': tokens when X is the output of
        :class:`sknn.text.TextSequencer` (a :class:`sknn.text.TokenArray`),
        series otherwise.
    embedding_dim : int, default=64
        Width of the token embedding (token ids only).
    clip_grad_norm : float or None, default=1.0
        Clip the global gradient norm to this value before each step (None:
        no clipping); recurrent nets are prone to exploding gradients."""

_TRAINING_PARAMS_DOC = _param_entries(["alpha", "solver"]) + """
    learning_rate_init : float, default=3e-3
        Initial (peak) learning rate.
    learning_rate : {'constant', 'warmup_cosine', 'onecycle'}, default='constant'
        Learning-rate schedule, stepped every minibatch over ``max_iter``
        epochs: constant; linear warm-up over 5% of the steps then cosine decay
        to zero; or one-cycle (cosine up from lr/25 over 30%, then down).
    batch_size : int or 'auto', default='auto'
        Minibatch size; 'auto' is ``min(32, n_samples)``.
    max_iter : int, default=100
        Maximum number of epochs.""" + _param_entries([
    "early_stopping", "validation_fraction", "n_iter_no_change", "tol"])

_RUN_PARAMS_DOC = _param_entries([
    "random_state", "device", "n_threads", "verbose", "warm_start",
]) + FINE_TUNING_PARAMS_DOC.format(
    family="RNN", layout="series of as many channels, or token ids",
    inputs="""Its per-channel standardization (series) or vocabulary size
        (token ids) is reused as it is; sequences may differ in length.""") + _param_entries(
    ["callbacks", "dtype"])

_DATA_DOC = """
    X is one of:

    - series ``(n_samples, n_channels, n_timepoints)`` (the aeon/sktime
      layout, as :class:`CNNClassifier`), or 2-D ``(n_samples, n_timepoints)``
      read as one channel;
    - sequences of different lengths: a list (or 1-D object array) of 2-D
      arrays ``(n_channels, length_i)`` (1-D arrays are one channel). They are
      right-padded with zeros and packed to their lengths inside the network,
      so the padding never enters the recurrence or the pooling, and nothing
      is truncated;
    - integer token ids, e.g. :class:`sknn.text.TextSequencer`'s output
      (``make_pipeline(TextSequencer(), RNNClassifier())`` trains on a list of
      strings): 2-D ``(n_samples, length)`` right-padded with 0, or a list of
      1-D id arrays; see ``input_kind``. A document without tokens is read as
      one padding step.

    Predict takes sequences of any length (the 2-D layout excepted, whose
    width scikit-learn fixes as the number of features) with the channel
    count seen in ``fit``. Empty sequences, NaN and infinite values, mixed
    channel counts, negative ids and ids beyond the fitted vocabulary are
    refused with errors that say which."""

_RNN_ATTRIBUTES_DOC = """
    input_kind_ : {'series', 'tokens'}
        How X was read.
    input_shape_ : tuple of int
        ``(n_channels, n_timepoints)`` of the (padded) training sequences.
    vocabulary_size_ : int
        Token ids only: the largest id seen in ``fit`` plus one.
    input_mean_, input_scale_ : ndarray of shape (n_channels,)
        Series only: the per-channel standardization.""" + _SHARED_ATTRIBUTES_DOC.replace(
    "Number of features seen in ``fit``.",
    "``X.shape[1]`` in ``fit`` (channels of 3-D X and of sequence lists, 1 for "
    "token ids), as scikit-learn sets it.",
)


class RNNClassifier(FineTuningMixin, _RNNArchitecture, BaseNeuralClassifier):
    __doc__ = f"""Recurrent network classifier (LSTM, GRU, RNN) for series, sequences and text.
{_DATA_DOC}

    Parameters
    ----------{_RNN_PARAMS_DOC}{_TRAINING_PARAMS_DOC}
    class_weight : dict, 'balanced' or None, default=None
        Weights of the classes in the loss, as in scikit-learn; multiplied
        with ``sample_weight``.{_RUN_PARAMS_DOC}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (``arange(n_labels)`` for multilabel y).{_RNN_ATTRIBUTES_DOC}

    See Also
    --------
    RNNRegressor : The regression counterpart.
    CNNClassifier : Convolutions for fixed-length series and images.
    sknn.text.TextSequencer : Raw strings to token ids.

    Examples
    --------
    >>> import numpy as np
    >>> from sknn import RNNClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = [rng.randn(2, n) for n in rng.randint(5, 30, size=40)]  # 2 channels
    >>> y = [int(x[0].mean() > 0) for x in X]
    >>> clf = RNNClassifier(cell="gru", hidden_size=16, max_iter=10, n_threads=1,
    ...                     random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:3]).shape
    (3, 2)

    Raw text, through :class:`sknn.text.TextSequencer`:

    >>> from sklearn.pipeline import make_pipeline
    >>> from sknn.text import TextSequencer
    >>> texts, labels = ["good fun", "bad plot", "great fun", "dull, bad"] * 5, [1, 0, 1, 0] * 5
    >>> pipe = make_pipeline(TextSequencer(), RNNClassifier(max_iter=5, random_state=0))
    >>> pipe.fit(texts, labels).predict(["fun fun"]).shape
    (1,)
    """

    _parameter_constraints: dict = {
        **BaseNeuralClassifier._parameter_constraints, **_RNN_CONSTRAINTS
    }

    def __init__(
        self,
        cell="lstm",
        *,
        hidden_size=64,
        num_layers=1,
        bidirectional=False,
        dropout=0.0,
        pooling="last",
        input_kind="auto",
        embedding_dim=64,
        clip_grad_norm=1.0,
        alpha=1e-4,
        solver="adam",
        learning_rate_init=3e-3,
        learning_rate="constant",
        batch_size="auto",
        max_iter=100,
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change="auto",
        tol=1e-4,
        class_weight=None,
        random_state=None,
        device="auto",
        n_threads=None,
        verbose=0,
        warm_start=False,
        init_from=None,
        freeze_epochs=0,
        trainable_layers=1,
        callbacks=None,
        dtype="auto",
    ):
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.pooling = pooling
        self.input_kind = input_kind
        self.embedding_dim = embedding_dim
        self.clip_grad_norm = clip_grad_norm
        self.alpha = alpha
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.class_weight = class_weight
        self.random_state = random_state
        self.device = device
        self.n_threads = n_threads
        self.verbose = verbose
        self.warm_start = warm_start
        self.init_from = init_from
        self.freeze_epochs = freeze_epochs
        self.trainable_layers = trainable_layers
        self.callbacks = callbacks
        self.dtype = dtype


class RNNRegressor(FineTuningMixin, _RNNArchitecture, BaseNeuralRegressor):
    __doc__ = f"""Recurrent network regressor (LSTM, GRU, RNN): sequence to value(s).
{_DATA_DOC}

    Targets are standardized inside and mapped back; 2-D y gives one output
    per column (e.g. the next several values of a series).

    Parameters
    ----------{_RNN_PARAMS_DOC}{_TRAINING_PARAMS_DOC}{_RUN_PARAMS_DOC}

    Attributes
    ----------{_RNN_ATTRIBUTES_DOC}

    See Also
    --------
    RNNClassifier : The classification counterpart.
    CNNRegressor : Convolutions for fixed-length series and images.

    Examples
    --------
    >>> import numpy as np
    >>> from sknn import RNNRegressor
    >>> series = np.sin(np.arange(300) / 5)
    >>> X = np.stack([series[i:i + 20] for i in range(250)])  # windows of 20
    >>> y = np.stack([series[i + 20:i + 22] for i in range(250)])  # the next 2 values
    >>> reg = RNNRegressor(cell="gru", hidden_size=16, max_iter=20, n_threads=1,
    ...                    random_state=0).fit(X, y)
    >>> reg.predict(X[:3]).shape
    (3, 2)
    """

    _parameter_constraints: dict = {
        **BaseNeuralEstimator._parameter_constraints, **_RNN_CONSTRAINTS
    }

    def __init__(
        self,
        cell="lstm",
        *,
        hidden_size=64,
        num_layers=1,
        bidirectional=False,
        dropout=0.0,
        pooling="last",
        input_kind="auto",
        embedding_dim=64,
        clip_grad_norm=1.0,
        alpha=1e-4,
        solver="adam",
        learning_rate_init=3e-3,
        learning_rate="constant",
        batch_size="auto",
        max_iter=100,
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change="auto",
        tol=1e-4,
        random_state=None,
        device="auto",
        n_threads=None,
        verbose=0,
        warm_start=False,
        init_from=None,
        freeze_epochs=0,
        trainable_layers=1,
        callbacks=None,
        dtype="auto",
    ):
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.pooling = pooling
        self.input_kind = input_kind
        self.embedding_dim = embedding_dim
        self.clip_grad_norm = clip_grad_norm
        self.alpha = alpha
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.device = device
        self.n_threads = n_threads
        self.verbose = verbose
        self.warm_start = warm_start
        self.init_from = init_from
        self.freeze_epochs = freeze_epochs
        self.trainable_layers = trainable_layers
        self.callbacks = callbacks
        self.dtype = dtype
