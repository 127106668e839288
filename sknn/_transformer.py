"""Transformer estimators: FT-Transformer for tables, patch Transformer for series."""

from __future__ import annotations

from numbers import Integral, Real

from sklearn.utils._param_validation import Interval, StrOptions

from sknn._base import BaseNeuralClassifier, BaseNeuralEstimator, BaseNeuralRegressor
from sknn._cnn import _param_entries
from sknn._finetune import (
    FINE_TUNING_CONSTRAINTS,
    FINE_TUNING_PARAMS_DOC,
    FineTuningMixin,
    adopt_tabular_encoder,
)
from sknn._mlp import _SHARED_ATTRIBUTES_DOC
from sknn._sequence import SERIES_LAYOUT, SequenceInputMixin, _shape_of, sample_shape
from sknn._tabular import TABULAR_CONSTRAINTS, TabularInputMixin
from sknn.modules.transformer import (
    POOLINGS,
    POSITIONAL_ENCODINGS,
    FeatureTokenizer,
    PatchTokenizer,
    Transformer,
)

# patch_size='auto': series are cut into at most this many tokens (attention is
# quadratic in the number of tokens).
AUTO_MAX_PATCHES = 64
# batch_size='auto': a tenth of the training set, between these bounds (256 is the
# paper's batch size for Adult and California).
AUTO_BATCH_BOUNDS = (16, 256)
# max_iter='auto': enough epochs for this many minibatch steps, between these bounds
# (about 4 CPU minutes on Adult at the default width; benchmarks/RESULTS.md).
AUTO_STEPS = 2000
AUTO_EPOCH_BOUNDS = (10, 200)
# n_iter_no_change='auto' without held-out data: long, so that the learning-rate
# schedule rather than a noisy stall of the training loss ends training (10 epochs
# stopped GunPoint fits at 33-83 of 200 epochs, at 0.70 test accuracy; 50: 0.83).
AUTO_PATIENCE_TRAINING_LOSS = 50

_TRANSFORMER_CONSTRAINTS = {
    "n_blocks": [Interval(Integral, 1, None, closed="left")],
    "d_token": [Interval(Integral, 1, None, closed="left")],
    "n_heads": [Interval(Integral, 1, None, closed="left")],
    "d_ffn_factor": [Interval(Real, 0, None, closed="neither")],
    "attention_dropout": [Interval(Real, 0, 1, closed="left")],
    "ffn_dropout": [Interval(Real, 0, 1, closed="left")],
    "residual_dropout": [Interval(Real, 0, 1, closed="left")],
    "pooling": [StrOptions(set(POOLINGS))],
    "patch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
    "positional_encoding": [StrOptions(set(POSITIONAL_ENCODINGS))],
    "input_shape": [None, tuple, list],
    "max_iter": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
    **TABULAR_CONSTRAINTS,
    **FINE_TUNING_CONSTRAINTS,
}


class _TransformerArchitecture(TabularInputMixin, SequenceInputMixin):
    """Input handling and module factory shared by the Transformer estimators.

    2-D X (arrays, sparse matrices, DataFrames) is a table and goes through the
    tabular layer (:class:`~sknn._tabular.TabularInputMixin`); 3-D X, or 2-D X
    with ``input_shape=(n_timepoints,)``, is a series and goes through the
    sequence layer (:class:`~sknn._sequence.SequenceInputMixin`). The kind
    seen in ``fit`` is kept in ``input_kind_``.
    """

    _family = "Transformer"

    def _adopt_inputs(self, source, X, encoded):
        if self.input_kind_ == "table":
            return adopt_tabular_encoder(self, source, X)
        return encoded

    def _reads_series(self, X, reset: bool) -> bool:
        if not reset:
            return self.input_kind_ == "series"
        shape = _shape_of(X)
        return self.input_shape is not None or (shape is not None and len(shape) >= 3)

    def _validate_X(self, X, reset: bool):
        if not self._reads_series(X, reset):
            return TabularInputMixin._validate_X(self, X, reset)
        name = type(self).__name__
        shape = _shape_of(X)
        if shape is not None and len(shape) >= 2:
            per_sample = (sample_shape(shape, self.input_shape, name)
                          if len(shape) <= 4 else None)
            if per_sample is None or len(per_sample) != 2:
                raise ValueError(
                    f"{name} reads tables (2-D X) and time series {SERIES_LAYOUT}; got "
                    f"X of shape {shape}"
                    + ("" if per_sample is None else f", read as images of shape {per_sample}")
                    + ". Give series as 3-D X or 2-D X with input_shape=(n_timepoints,); "
                    "for images use CNNClassifier or CNNRegressor."
                )
        return SequenceInputMixin._validate_X(self, X, reset)

    def _encode_X(self, X, sample_weight, fit: bool):
        if fit:
            self.input_kind_ = "series" if self._reads_series(X, reset=True) else "table"
        if self.input_kind_ == "series":
            X = SequenceInputMixin._encode_X(self, X, sample_weight, fit)
            if not fit:
                self._check_positions(X.shape[-1])
            return X
        return TabularInputMixin._encode_X(self, X, sample_weight, fit)

    def _build_module(self, n_features, task):
        name = type(self).__name__
        if self.d_token % self.n_heads:
            raise ValueError(
                f"{name}: n_heads must divide d_token; got d_token={self.d_token} and "
                f"n_heads={self.n_heads}."
            )
        if self.input_kind_ == "series":
            n_channels, n_timepoints = self.input_shape_
            tokenizer = PatchTokenizer(n_channels, n_timepoints, self.d_token,
                                       self._patch_size(n_timepoints),
                                       self.positional_encoding)
        else:
            encoder = self.encoder_
            tokenizer = FeatureTokenizer(
                encoder.n_numeric, encoder.n_indicators, encoder.cardinalities,
                self.d_token, self._numeric_embedding_layer(self.d_token),
            )
        return Transformer(
            tokenizer, self.d_token, task.n_outputs, n_blocks=self.n_blocks,
            n_heads=self.n_heads,
            d_ffn=max(1, round(self.d_ffn_factor * self.d_token)),
            attention_dropout=self.attention_dropout, ffn_dropout=self.ffn_dropout,
            residual_dropout=self.residual_dropout, pooling=self.pooling,
        )

    def _check_positions(self, n_timepoints: int) -> None:
        """Refuse series with more patches than the learned positional encodings."""
        tokenizer = self.net_.module_.tokenizer
        n_tokens = -(-n_timepoints // tokenizer.patch_size)
        if tokenizer.positions is not None and n_tokens > tokenizer.n_positions:
            raise ValueError(
                f"{type(self).__name__} was fitted on series of {self.input_shape_[1]} "
                f"time steps ({tokenizer.n_positions} tokens); got {n_timepoints} time "
                f"steps ({n_tokens} tokens), more than its learned positions. Use "
                "positional_encoding='sinusoidal' to predict on longer series."
            )

    def _patience(self, validation: bool) -> int:
        if self.n_iter_no_change == "auto" and not validation:
            return AUTO_PATIENCE_TRAINING_LOSS
        return super()._patience(validation)

    def _batch_size(self, n_train: int) -> int:
        if self.batch_size == "auto":
            low, high = AUTO_BATCH_BOUNDS
            return min(n_train, max(low, min(high, n_train // 10)))
        return min(self.batch_size, n_train)

    def _max_epochs(self, n_train: int, batch_size: int) -> int:
        if self.max_iter == "auto":
            low, high = AUTO_EPOCH_BOUNDS
            n_batches = -(-n_train // batch_size)
            return max(low, min(high, -(-AUTO_STEPS // n_batches)))
        return self.max_iter

    def _patch_size(self, n_timepoints: int) -> int:
        if self.patch_size == "auto":
            return -(-n_timepoints // AUTO_MAX_PATCHES)
        return self.patch_size

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # tables: sparse X is densified per minibatch
        return tags


_ARCHITECTURE_DOC = """
    n_blocks : int, default=3
        Number of Transformer blocks (the paper's default).
    d_token : int, default=64
        Width of every token. The paper's default is 192, which costs about 3
        times as much per epoch on a CPU (46 against 14 CPU seconds per Adult
        epoch on one thread; benchmarks/RESULTS.md, Transformer section); 64
        keeps a default fit on Adult near 4 CPU minutes.
    n_heads : int, default=8
        Attention heads; must divide ``d_token``.
    d_ffn_factor : float, default=4/3
        Hidden width of each block's ReGLU feed-forward network, as a multiple
        of ``d_token``.
    attention_dropout : float in [0, 1), default=0.2
        Dropout of the attention probabilities.
    ffn_dropout : float in [0, 1), default=0.1
        Dropout inside the feed-forward networks.
    residual_dropout : float in [0, 1), default=0.0
        Dropout of each attention and feed-forward output before it is added
        to the residual stream.
    pooling : {'cls', 'mean'}, default='cls'
        What the head reads: a learned [CLS] token (the last block computes it
        alone) or the mean of the output tokens.
    patch_size : int or 'auto', default='auto'
        Series only: time steps per token, projected linearly (all channels
        together). 'auto': 1 for series up to 64 steps, else
        ``ceil(n_timepoints / 64)``, so that there are at most 64 tokens.
    positional_encoding : {'learned', 'sinusoidal'}, default='learned'
        Series only: learned position vectors (predict then takes series up to
        the training length) or fixed sinusoids (any length). Tables need
        none: each column has its own tokenizer weights.
    input_shape : tuple of int or None, default=None
        None reads 2-D X as a table and 3-D X as time series
        ``(n_samples, n_channels, n_timepoints)``. ``(n_timepoints,)`` reads
        2-D X as one-channel series (the ``input_shape`` of CNNClassifier;
        images are not supported)."""

_TABULAR_DOC = """
    categorical_features : 'from_dtype', array-like, bool mask or None, default='from_dtype'
        Tables: columns tokenized by learned embeddings. 'from_dtype': pandas
        ``category``, string and object columns (anything but numbers). Unseen
        levels and missing values map to their own embeddings at predict time.
        The same tabular layer as MLPClassifier's.
    numeric_transform : {'quantile', 'standard', 'none'}, default='quantile'
        Tables: scaling of numeric (and boolean and datetime) columns, fitted
        with the sample weights. Missing values are imputed after scaling and
        flagged by an indicator column, which gets its own token.
    numeric_embedding : {'auto', 'piecewise_linear', 'periodic'} or None, default=None
        Tables: tokens of numeric columns. None: FT-Transformer's per-feature
        linear projection ``x_j * W_j + b_j``; 'piecewise_linear' or
        'periodic': the tabular layer's numeric embeddings (Gorishniy et al.
        2022) at width ``d_token``; 'auto': piecewise-linear for dense tables
        of at most 100 numeric columns."""

_TRAINING_DOC = """
    alpha : float, default=1e-5
        Weight decay (decoupled from the gradient, AdamW; the paper's value).
    solver : {'adam', 'adamw', 'sgd'}, default='adamw'
        Optimizer; 'sgd' uses Nesterov momentum 0.9.
    learning_rate_init : float, default=1e-3
        Initial (peak) learning rate. The paper's 1e-4 (constant, for 192-wide
        tokens and up to hundreds of epochs) is far from converged within the
        default budget; 1e-3 with warm-up and cosine decay is (RESULTS.md).
    learning_rate : {'constant', 'warmup_cosine', 'onecycle'}, default='warmup_cosine'
        Learning-rate schedule, stepped every minibatch over ``max_iter``
        epochs: constant; linear warm-up over 5% of the steps then cosine decay
        to zero; or one-cycle (cosine up from lr/25 over 30%, then down).
    batch_size : int or 'auto', default='auto'
        Minibatch size; 'auto' is a tenth of the training set, at least 16
        and at most 256 (the paper's batch size for mid-sized tables).
    max_iter : int or 'auto', default='auto'
        Maximum number of epochs. 'auto': enough for about 2,000 minibatch
        steps, at least 10 and at most 200 epochs (18 on Adult, 34 on
        California, 200 on small series datasets), which keeps a table fit
        within minutes on a CPU.""" + _param_entries([
    "early_stopping", "validation_fraction"]) + """
    n_iter_no_change : int or 'auto', default='auto'
        Epochs without improvement before stopping. 'auto': 20 when early
        stopping monitors held-out data (the best epoch is restored), 50 when
        it monitors the training loss, so that on small data the learning-rate
        schedule, not a noisy stall, ends training.""" + _param_entries(["tol"])

_RUN_DOC = _param_entries([
    "random_state", "device", "n_threads", "verbose", "warm_start",
]) + FINE_TUNING_PARAMS_DOC.format(
    family="Transformer", layout="the same columns (matched by position), or series of "
    "as many channels and the same length",
    inputs="""Its fitted column scaling, categories and numeric-embedding
        bins are reused as they are (tables).""") + _param_entries(
    ["callbacks", "dtype"])

_DATA_DOC = """
    Tables (2-D X: arrays, sparse matrices, pandas or polars DataFrames with
    categorical, string, boolean and datetime columns and missing values) go
    through the same tabular layer as MLPClassifier; each column becomes a
    token (FT-Transformer, Gorishniy et al. 2021): numbers by a learned
    per-feature linear map, categories by embeddings. Time series
    ``(n_samples, n_channels, n_timepoints)`` (the layout of CNNClassifier)
    become one token per patch of time steps with positional encodings. A
    learned [CLS] token is added, pre-norm Transformer blocks with ReGLU
    feed-forward networks run over the tokens, and a head reads the [CLS]
    token. Attention is :func:`torch.nn.functional.scaled_dot_product_attention`.
    Sequences of different lengths and token ids (text) are not supported
    yet (RNNClassifier takes them).

    Attention costs grow with the square of the number of tokens (columns or
    patches): for wide tables (hundreds of columns) use MLPClassifier."""

_TRANSFORMER_ATTRIBUTES_DOC = """
    input_kind_ : {'table', 'series'}
        How X was read in ``fit``.
    encoder_ : TabularEncoder
        The fitted tabular layer (tables only).
    input_shape_ : tuple of int
        ``(n_channels, n_timepoints)`` of a sample (series only).""" + (
    _SHARED_ATTRIBUTES_DOC.replace(
        "Number of features seen in ``fit``.",
        "``X.shape[1]`` in ``fit`` (columns of a table, channels of 3-D series).",
    ))


class TransformerClassifier(FineTuningMixin, _TransformerArchitecture, BaseNeuralClassifier):
    __doc__ = f"""Transformer classifier for tables (FT-Transformer) and time series.
{_DATA_DOC}

    Parameters
    ----------{_ARCHITECTURE_DOC}{_TABULAR_DOC}{_TRAINING_DOC}
    class_weight : dict, 'balanced' or None, default=None
        Weights of the classes in the loss, as in scikit-learn; multiplied
        with ``sample_weight``.{_RUN_DOC}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (``arange(n_labels)`` for multilabel y).{_TRANSFORMER_ATTRIBUTES_DOC}

    See Also
    --------
    TransformerRegressor : The regression counterpart.
    MLPClassifier : Faster on tables; often as accurate.
    CNNClassifier : Convolutions for series and images.

    References
    ----------
    Gorishniy, Rubachev, Khrulkov, Babenko. "Revisiting Deep Learning Models
    for Tabular Data", NeurIPS 2021.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sknn import TransformerClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = TransformerClassifier(d_token=16, n_blocks=1, learning_rate_init=1e-2,
    ...                             max_iter=20, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    >>> bool(clf.score(X, y) > 0.9)
    True
    """

    _parameter_constraints: dict = {
        **BaseNeuralClassifier._parameter_constraints, **_TRANSFORMER_CONSTRAINTS
    }

    def __init__(
        self,
        n_blocks=3,
        d_token=64,
        *,
        n_heads=8,
        d_ffn_factor=4 / 3,
        attention_dropout=0.2,
        ffn_dropout=0.1,
        residual_dropout=0.0,
        pooling="cls",
        patch_size="auto",
        positional_encoding="learned",
        input_shape=None,
        categorical_features="from_dtype",
        numeric_transform="quantile",
        numeric_embedding=None,
        alpha=1e-5,
        solver="adamw",
        learning_rate_init=1e-3,
        learning_rate="warmup_cosine",
        batch_size="auto",
        max_iter="auto",
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
        self.n_blocks = n_blocks
        self.d_token = d_token
        self.n_heads = n_heads
        self.d_ffn_factor = d_ffn_factor
        self.attention_dropout = attention_dropout
        self.ffn_dropout = ffn_dropout
        self.residual_dropout = residual_dropout
        self.pooling = pooling
        self.patch_size = patch_size
        self.positional_encoding = positional_encoding
        self.input_shape = input_shape
        self.categorical_features = categorical_features
        self.numeric_transform = numeric_transform
        self.numeric_embedding = numeric_embedding
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


class TransformerRegressor(FineTuningMixin, _TransformerArchitecture, BaseNeuralRegressor):
    __doc__ = f"""Transformer regressor for tables (FT-Transformer) and time series.
{_DATA_DOC}

    Targets are standardized inside and mapped back.

    Parameters
    ----------{_ARCHITECTURE_DOC}{_TABULAR_DOC}{_TRAINING_DOC}{_RUN_DOC}

    Attributes
    ----------{_TRANSFORMER_ATTRIBUTES_DOC}

    See Also
    --------
    TransformerClassifier : The classification counterpart.
    MLPRegressor : Faster on tables; often as accurate.

    References
    ----------
    Gorishniy, Rubachev, Khrulkov, Babenko. "Revisiting Deep Learning Models
    for Tabular Data", NeurIPS 2021.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sknn import TransformerRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = TransformerRegressor(d_token=16, n_blocks=1, max_iter=5,
    ...                            random_state=0).fit(X, y)
    >>> reg.predict(X[:3]).shape
    (3,)
    """

    _parameter_constraints: dict = {
        **BaseNeuralEstimator._parameter_constraints, **_TRANSFORMER_CONSTRAINTS
    }

    def __init__(
        self,
        n_blocks=3,
        d_token=64,
        *,
        n_heads=8,
        d_ffn_factor=4 / 3,
        attention_dropout=0.2,
        ffn_dropout=0.1,
        residual_dropout=0.0,
        pooling="cls",
        patch_size="auto",
        positional_encoding="learned",
        input_shape=None,
        categorical_features="from_dtype",
        numeric_transform="quantile",
        numeric_embedding=None,
        alpha=1e-5,
        solver="adamw",
        learning_rate_init=1e-3,
        learning_rate="warmup_cosine",
        batch_size="auto",
        max_iter="auto",
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
        self.n_blocks = n_blocks
        self.d_token = d_token
        self.n_heads = n_heads
        self.d_ffn_factor = d_ffn_factor
        self.attention_dropout = attention_dropout
        self.ffn_dropout = ffn_dropout
        self.residual_dropout = residual_dropout
        self.pooling = pooling
        self.patch_size = patch_size
        self.positional_encoding = positional_encoding
        self.input_shape = input_shape
        self.categorical_features = categorical_features
        self.numeric_transform = numeric_transform
        self.numeric_embedding = numeric_embedding
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
