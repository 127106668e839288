"""Recurrent estimators for series, variable-length sequences and token ids (text)."""

from __future__ import annotations

from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import Interval, StrOptions

from sknn._core._adversarial import ADVERSARIAL, ADVERSARIAL_CONSTRAINTS
from sknn._core._architecture import Architecture
from sknn._core._base import BaseNeuralEstimator
from sknn._core._docs import fitted_attributes_doc, param_docs
from sknn._core._kinds import BaseNeuralClassifier, BaseNeuralRegressor
from sknn._input._bag_of_words import (
    BAG_OF_WORDS,
    BAG_OF_WORDS_ATTRIBUTES_DOC,
    BAG_OF_WORDS_CONSTRAINTS,
    BAG_OF_WORDS_PARAMS_DOC,
    bag_of_words_module,
)
from sknn._input._sequence import (
    MASKED_SEQUENCE_INPUT,
    SERIES_LAYOUT,
    TOKEN_INPUT,
    auto_sequence_kind,
    resolve_input_kind,
    shape_of,
)
from sknn._lifecycle._finetune import (
    FINE_TUNING,
    FINE_TUNING_CONSTRAINTS,
    FINE_TUNING_PARAMS_DOC,
    LAYER_FREEZING,
)
from sknn._training._feature import GRADIENT_CLIPPING, GRADIENT_CLIPPING_CONSTRAINTS
from sknn._training._plan import AutoRules, BatchRule
from sknn._utils._registry import storable_estimator
from sknn.modules.rnn import CELLS, POOLINGS, RNN

INPUT_KINDS = ("auto", "series", "tokens")
# batch_size='auto': at most this many sequences per minibatch.
AUTO_BATCH_SIZE = 32
# patch_size='auto' on token ids: windows that make the longest training document
# at most this many recurrent steps. Recurrent steps are sequential (about 2 ms
# each for a batch of 32, forward and backward): a default fit on 1,600 reviews of
# up to 2,500 tokens took 226 s an epoch, and 61-92 s in all with windows (22-37
# epochs; 5 folds 0.8820, above TF-IDF's 0.8765; benchmarks/RESULTS.md, "Small
# data"). Series: no windows.
AUTO_MAX_TOKEN_STEPS = 128

_RNN_CONSTRAINTS = {
    "cell": [StrOptions(set(CELLS))],
    "hidden_size": [Interval(Integral, 1, None, closed="left")],
    "num_layers": [Interval(Integral, 1, None, closed="left")],
    "bidirectional": ["boolean"],
    "dropout": [Interval(Real, 0, 1, closed="left")],
    "pooling": [StrOptions(set(POOLINGS))],
    "input_kind": [StrOptions(set(INPUT_KINDS))],
    "embedding_dim": [Interval(Integral, 1, None, closed="left")],
    "patch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
    **GRADIENT_CLIPPING_CONSTRAINTS,
    **BAG_OF_WORDS_CONSTRAINTS,
    **FINE_TUNING_CONSTRAINTS,
    **ADVERSARIAL_CONSTRAINTS,
}


class RNNArchitecture(Architecture):
    """The RNN family's network: a recurrent network over series, sequences and text.

    X reaches the net as one array ``(n_samples, n_channels + 1, length)``
    (:class:`~sknn._input._sequence.MaskedSequenceInput`, or
    :class:`~sknn._input._sequence.TokenInput` for token ids;
    :mod:`sknn.modules.rnn`), whatever its layout: fixed-length series are
    masked all-valid.
    """

    family = "RNN"
    accepts = (MASKED_SEQUENCE_INPUT, TOKEN_INPUT)
    features = (FINE_TUNING, LAYER_FREEZING, BAG_OF_WORDS, ADVERSARIAL, GRADIENT_CLIPPING)
    auto_rules = AutoRules(batch=BatchRule(AUTO_BATCH_SIZE, AUTO_BATCH_SIZE))
    family_defaults = {"clip_grad_norm": 1.0}  # recurrent nets' exploding gradients
    family_docs = frozenset({"clip_grad_norm"})
    # Parameters added after model files were written, with the value that does
    # what those files' models did (sknn.load fills them in).
    params_before_added = {"patch_size": 1}

    def input_for(self, estimator):
        """The input adapter of the kind of X seen in fit (``input_kind_``)."""
        return TOKEN_INPUT if estimator.input_kind_ == "tokens" else MASKED_SEQUENCE_INPUT

    def validate_X(self, estimator, X, reset: bool):
        name = type(estimator).__name__
        resolve_input_kind(estimator, X, reset, auto_sequence_kind)
        shape = shape_of(X)
        if shape is not None and len(shape) > 3:
            raise ValueError(
                f"{name} expects 2-D X (n_samples, n_timepoints), series {SERIES_LAYOUT} "
                f"or a list of (n_channels, length) arrays; got {len(shape)}-D X of "
                f"shape {shape}."
            )
        return self.input_for(estimator).validate(estimator, X, reset)

    def build_module(self, estimator, n_features, task):
        tokens = estimator.input_kind_ == "tokens"
        return RNN(
            estimator.input_shape_[0], task.n_outputs, cell=estimator.cell,
            hidden_size=estimator.hidden_size, num_layers=estimator.num_layers,
            bidirectional=estimator.bidirectional, dropout=estimator.dropout,
            pooling=estimator.pooling,
            vocabulary_size=estimator.vocabulary_size_ if tokens else None,
            embedding_dim=estimator.embedding_dim, bag=bag_of_words_module(estimator, task),
            input_mean=None if tokens else torch.as_tensor(estimator.input_mean_),
            input_scale=None if tokens else torch.as_tensor(estimator.input_scale_),
            patch_size=_patch_size(estimator),
        )


def _patch_size(estimator) -> int:
    """``patch_size``, 'auto' resolved from the longest training sequence.

    Fine-tuning keeps init_from's windows: its weights learned to read them.
    """
    if estimator.patch_size != "auto":
        return estimator.patch_size
    if estimator.init_from is not None:
        return getattr(estimator.init_from.net_.module_, "patch_size", 1)
    if estimator.input_kind_ != "tokens":
        return 1
    return -(-estimator.input_shape_[1] // AUTO_MAX_TOKEN_STEPS)


RNN_ARCHITECTURE = RNNArchitecture()


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
    patch_size : int or 'auto', default='auto'
        The recurrent layers read the mean of each window of this many steps
        (padding left out), as a Transformer reads patches; the bag of words
        still counts every token. 'auto': 1 on series; on token ids, windows
        that make the longest training document at most 128 steps (20 tokens
        for 2,500-token documents), since recurrent steps are sequential and
        a default fit on 1,600 movie reviews took 226 s an epoch without
        them, 61-92 s in all with them. Fine-tuning (``init_from``) keeps
        the source's windows.""" + BAG_OF_WORDS_PARAMS_DOC + """
    clip_grad_norm : float or None, default=1.0
        Clip the global gradient norm to this value before each step (None:
        no clipping); recurrent nets are prone to exploding gradients."""

_TRAINING_PARAMS_DOC = param_docs(["alpha", "solver"]) + """
    learning_rate_init : float, default=3e-3
        Initial (peak) learning rate.
    learning_rate : {'constant', 'warmup_cosine', 'onecycle'}, default='constant'
        Learning-rate schedule, stepped every minibatch over ``max_iter``
        epochs: constant; linear warm-up over 5% of the steps then cosine decay
        to zero; or one-cycle (cosine up from lr/25 over 30%, then down). ``partial_fit``
        calls, which have no horizon, train at a constant rate:
        ``learning_rate_init`` when the first of them (since a fit) ran.
    batch_size : int or 'auto', default='auto'
        Minibatch size; 'auto' is ``min(32, n_samples)``.
    max_iter : int, default=100
        Maximum number of epochs.""" + param_docs([
    "early_stopping", "validation_fraction", "n_iter_no_change", "tol"])

_RUN_PARAMS_DOC = param_docs([
    "random_state", "device", "n_threads", "verbose", "warm_start",
]) + FINE_TUNING_PARAMS_DOC.format(
    family="RNN", layout="series of as many channels, or token ids",
    inputs="""Its per-channel standardization (series) or vocabulary size
        (token ids) is reused as it is; sequences may differ in length.""") + param_docs(
    ["callbacks", "dtype", "adversarial_epsilon", "adversarial_method"])

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
        Token ids only: the largest id seen in ``fit`` plus one.""" + (
    BAG_OF_WORDS_ATTRIBUTES_DOC) + """
    input_mean_, input_scale_ : ndarray of shape (n_channels,)
        Series only: the per-channel standardization.""" + fitted_attributes_doc(
    "``X.shape[1]`` in ``fit`` (channels of 3-D X and of sequence lists, 1 for "
    "token ids), as scikit-learn sets it.",
)


@storable_estimator
class RNNClassifier(BaseNeuralClassifier):
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

    _architecture = RNN_ARCHITECTURE
    input_shape = None  # the sequence layer's reshaping parameter: not offered here
    patch_size = 1  # what pickles of RNNs from before the parameter read
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
        patch_size="auto",
        bag_of_words=True,
        bag_of_words_C="auto",
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
        adversarial_epsilon=None,
        adversarial_method="pgd",
    ):
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.pooling = pooling
        self.input_kind = input_kind
        self.embedding_dim = embedding_dim
        self.patch_size = patch_size
        self.bag_of_words = bag_of_words
        self.bag_of_words_C = bag_of_words_C
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
        self.adversarial_epsilon = adversarial_epsilon
        self.adversarial_method = adversarial_method


@storable_estimator
class RNNRegressor(BaseNeuralRegressor):
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

    _architecture = RNN_ARCHITECTURE
    input_shape = None  # the sequence layer's reshaping parameter: not offered here
    patch_size = 1  # what pickles of RNNs from before the parameter read
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
        patch_size="auto",
        bag_of_words=True,
        bag_of_words_C="auto",
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
        adversarial_epsilon=None,
        adversarial_method="pgd",
    ):
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.pooling = pooling
        self.input_kind = input_kind
        self.embedding_dim = embedding_dim
        self.patch_size = patch_size
        self.bag_of_words = bag_of_words
        self.bag_of_words_C = bag_of_words_C
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
        self.adversarial_epsilon = adversarial_epsilon
        self.adversarial_method = adversarial_method
