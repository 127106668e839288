"""Autoencoders: neural feature learning and anomaly scoring as a transformer."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_array,
    check_is_fitted,
    validate_data,
)

from sknn._core._architecture import Architecture
from sknn._core._base import BaseNeuralEstimator
from sknn._core._data import TensorData, as_tensor
from sknn._core._params import hidden_sizes, positive_ints
from sknn._core._task import ReconstructionTask
from sknn._input._sequence import check_input_shape, sample_shape
from sknn._training._feature import GRADIENT_CLIPPING, GRADIENT_CLIPPING_CONSTRAINTS
from sknn._utils._errors import finite_outputs
from sknn._utils._registry import storable_estimator
from sknn.modules.autoencoder import CORRUPTIONS, Autoencoder, ConvAutoencoder
from sknn.modules.cnn import use_layer_norm
from sknn.modules.mlp import ACTIVATION_NAMES

ARCHITECTURES = ("mlp", "cnn")
DEFAULT_FILTERS = (16, 32)
# kernel_size=None: by spatial dimensions (series, images).
DEFAULT_KERNEL_SIZES = {1: 5, 2: 3}


class _AutoencoderArchitecture(Architecture):
    """What the autoencoder declares; it reads X and builds its network itself."""

    family = "Autoencoder"
    features = (GRADIENT_CLIPPING,)
    # Shared parameters documented here in the autoencoder's terms (reconstruction,
    # corruption noise); tests/test_parameters.py holds their defaults and
    # constraints to sknn._training._parameters.
    family_docs = frozenset({
        "alpha", "solver", "early_stopping", "validation_fraction", "n_iter_no_change", "tol",
        "random_state", "device", "n_threads", "verbose", "warm_start", "callbacks", "dtype",
        "clip_grad_norm"})


AUTOENCODER_ARCHITECTURE = _AutoencoderArchitecture()


@storable_estimator
class AutoencoderTransformer(TransformerMixin, BaseNeuralEstimator):
    """Autoencoder as a scikit-learn transformer: learned features and anomaly scores.

    An MLP encoder compresses each standardized row of X to ``n_components``
    features and a mirrored MLP decoder reconstructs it; both train together
    on the squared reconstruction error. With ``architecture='cnn'`` the
    encoder and decoder are convolutional, for series and images (X as the
    CNN estimators take it). :meth:`transform` returns the code
    (a nonlinear counterpart of :class:`~sklearn.decomposition.PCA`),
    :meth:`inverse_transform` decodes it back to the units of X and
    :meth:`score_samples` is the negative reconstruction error: rows unlike
    the training data reconstruct badly and score low (anomaly detection).
    With ``noise > 0`` it is a denoising autoencoder: inputs are corrupted
    during training only, and the network learns to restore them.

    X is standardized inside (with the sample weights; per feature, or per
    channel for ``architecture='cnn'``) and every output is mapped back, so no
    scaler is needed in front.

    Parameters
    ----------
    n_components : int, default=8
        Number of features of the code (the output of :meth:`transform`).
    hidden_layer_sizes : int or sequence of int, default=(64,)
        Hidden widths of the encoder; the decoder uses them in reverse
        ('mlp' only).
    activation : {'relu', 'gelu', 'silu', 'tanh', 'logistic', 'leaky_relu', \
'selu', 'identity'}, default='relu'
        Activation after each hidden layer ('mlp' only; the convolution
        blocks use ReLU). With 'identity' the autoencoder spans the same
        subspace as PCA.
    architecture : {'mlp', 'cnn'}, default='mlp'
        'mlp': fully connected encoder and decoder on the rows of 2-D X.
        'cnn': for time series ``(n_samples, n_channels, n_timepoints)``,
        images ``(n_samples, n_channels, height, width)``, or 2-D X read by
        ``input_shape`` (else as one channel of length ``n_features``). One
        stride-2 convolution block (convolution, per-sample normalization
        ``GroupNorm(1, C)``, ReLU) per entry of ``n_filters`` halves the
        length or the height and width, a linear layer makes the code; the
        decoder mirrors it with nearest-neighbour upsampling
        (:class:`~sknn.modules.ConvAutoencoder`). Every sample must have the
        shape seen in ``fit``.
    n_filters : int, sequence of int or None, default=None
        Filters of each convolution block ('cnn' only). None: (16, 32).
    kernel_size : int or None, default=None
        Kernel size of the convolutions ('cnn' only). None: 5 for series, 3
        for images.
    input_shape : tuple of int or None, default=None
        Shape of one sample, to reshape X by ('cnn' only), as in
        :class:`CNNClassifier`: ``(n_timepoints,)``, ``(height, width)`` or
        ``(n_channels, height, width)``; ``(8, 8)`` for flat 8x8 images.
    dropout : float in [0, 1), default=0.0
        Dropout probability after each hidden activation ('mlp'), or on the
        flattened feature maps before the code ('cnn').
    noise : float >= 0, default=0.0
        Corruption of the (standardized) input during training, for a
        denoising autoencoder: the standard deviation of added Gaussian noise,
        or with ``noise_kind='masking'`` the probability of zeroing (setting
        to the feature's mean) each input. 0 trains a plain autoencoder.
    noise_kind : {'gaussian', 'masking'}, default='gaussian'
        Kind of corruption applied when ``noise > 0``.
    alpha : float, default=1e-4
        Weight decay (L2 penalty).
    solver : {'adam', 'adamw', 'sgd'}, default='adam'
    learning_rate_init : float, default=1e-3
    learning_rate : {'constant', 'warmup_cosine', 'onecycle'}, default='constant'
        Learning-rate schedule, as in :class:`MLPRegressor`.
    batch_size : int or 'auto', default='auto'
        Minibatch size; 'auto' is ``min(256, n_samples)``.
    max_iter : int, default=200
        Maximum number of epochs.
    early_stopping : bool or 'auto', default='auto'
        Hold out ``validation_fraction`` of the rows and stop when their
        reconstruction R² stalls, restoring the best epoch ('auto': above
        1,000 rows).
    validation_fraction : float in (0, 1), default=0.1
    n_iter_no_change : int or 'auto', default='auto'
        Epochs without improvement before stopping (as in :class:`MLPRegressor`).
    tol : float, default=1e-4
    random_state : int, RandomState instance or None, default=None
        Seeds initialization, shuffling, corruption noise and the validation split.
    device : str or torch.device, default='auto'
    n_threads : int or None, default=None
        Torch CPU threads during fit and transform.
    verbose : int, default=0
    warm_start : bool, default=False
    callbacks : list of skorch callbacks, default=None
    dtype : {'auto', 'float32', 'float64'}, default='auto'
        As in :class:`MLPRegressor`.
    clip_grad_norm : float or None, default=None
        Clip the global gradient norm to this value before each step
        (gradient clipping); None: no clipping.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained net; ``net_.module_`` is an
        :class:`~sknn.modules.Autoencoder` (or a
        :class:`~sknn.modules.ConvAutoencoder`) with ``encode`` and ``decode``.
    device_ : torch.device
        Where the network is (``device`` resolved, or where ``sknn.load`` put it).
    input_shape_ : tuple of int
        'cnn' only: shape of one sample as the network reads it,
        ``(n_channels, n_timepoints)`` or ``(n_channels, height, width)``.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        When X was a DataFrame with string column names.
    n_outputs_ : int
        Width of the reconstruction: ``n_features_in_``, or the values of a
        sample for 'cnn'.
    n_iter_ : int
    loss_curve_ : list of float
        Mean squared reconstruction error (standardized units) per epoch.
    validation_scores_ : list of float or None
    best_validation_score_ : float or None
    best_loss_ : float or None

    See Also
    --------
    sklearn.decomposition.PCA : The linear counterpart.
    sklearn.ensemble.IsolationForest : Another anomaly scorer with ``score_samples``.

    Examples
    --------
    >>> import numpy as np
    >>> from sknn import AutoencoderTransformer
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(200, 2) @ rng.randn(2, 6)
    >>> ae = AutoencoderTransformer(n_components=2, max_iter=50, n_threads=1,
    ...                             random_state=0).fit(X)
    >>> ae.transform(X).shape
    (200, 2)
    >>> ae.get_feature_names_out().tolist()
    ['autoencoder0', 'autoencoder1']
    >>> outlier = 10 * rng.randn(1, 6)
    >>> bool(ae.score_samples(outlier)[0] < ae.score_samples(X).min())
    True

    A convolutional autoencoder for flat 8x8 grayscale images:

    >>> from sklearn.datasets import load_digits
    >>> digits, _ = load_digits(return_X_y=True)
    >>> conv = AutoencoderTransformer(n_components=8, architecture="cnn",
    ...                               input_shape=(8, 8), max_iter=5, n_threads=1,
    ...                               random_state=0).fit(digits[:200])
    >>> conv.transform(digits[:3]).shape, conv.input_shape_
    ((3, 8), (1, 8, 8))
    >>> conv.inverse_transform(conv.transform(digits[:3])).shape
    (3, 64)
    """

    _parameter_constraints: dict = {
        **BaseNeuralEstimator._parameter_constraints,
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATION_NAMES))],
        "architecture": [StrOptions(set(ARCHITECTURES))],
        "n_filters": [None, "array-like", Interval(Integral, 1, None, closed="left")],
        "kernel_size": [None, Interval(Integral, 1, None, closed="left")],
        "input_shape": [None, tuple, list],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "noise_kind": [StrOptions(set(CORRUPTIONS))],
        **GRADIENT_CLIPPING_CONSTRAINTS,
    }
    _architecture = AUTOENCODER_ARCHITECTURE

    def __init__(
        self,
        n_components=8,
        hidden_layer_sizes=(64,),
        activation="relu",
        *,
        architecture="mlp",
        n_filters=None,
        kernel_size=None,
        input_shape=None,
        dropout=0.0,
        noise=0.0,
        noise_kind="gaussian",
        alpha=1e-4,
        solver="adam",
        learning_rate_init=1e-3,
        learning_rate="constant",
        batch_size="auto",
        max_iter=200,
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change="auto",
        tol=1e-4,
        random_state=None,
        device="auto",
        n_threads=None,
        verbose=0,
        warm_start=False,
        callbacks=None,
        dtype="auto",
        clip_grad_norm=None,
    ):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.architecture = architecture
        self.n_filters = n_filters
        self.kernel_size = kernel_size
        self.input_shape = input_shape
        self.dropout = dropout
        self.noise = noise
        self.noise_kind = noise_kind
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
        self.callbacks = callbacks
        self.dtype = dtype
        self.clip_grad_norm = clip_grad_norm

    # -- hooks of the shared estimator layer ------------------------------------
    def _validate_X(self, X, reset: bool):
        """Validated X as rows: samples of series and images are flattened ('cnn')."""
        if self.architecture == "mlp":
            return self._raise_with_name(
                validate_data, self, X, reset=reset, dtype=[np.float64, np.float32],
            )
        name = type(self).__name__
        check_input_shape(self.input_shape, name)
        X = self._raise_with_name(validate_data, self, X, reset=reset, allow_nd=True,
                                  dtype=[np.float64, np.float32])
        per_sample = sample_shape(X.shape, self.input_shape, name)
        if reset:
            self.input_shape_ = per_sample
        elif per_sample != self.input_shape_:
            raise ValueError(
                f"{name} was fitted on samples of shape {self.input_shape_}; got X of shape "
                f"{X.shape}, read as samples of shape {per_sample}. The convolutional "
                "autoencoder reconstructs samples of the shape it was fitted on."
            )
        return X.reshape(len(X), -1)

    def _validate_X_y(self, X, y, reset: bool):
        X = self._validate_X(X, reset=reset)
        return X, X  # the targets are X itself

    def _encode_X(self, X, sample_weight, fit: bool):
        """Standardize X; in fit, learn the standardization (the task's) first."""
        if fit:
            self.task_ = self._standardization(X, sample_weight)
        return self.task_.standardize(X).astype(X.dtype, copy=False)

    def _standardization(self, X, sample_weight) -> ReconstructionTask:
        """Per feature ('mlp') or per channel of the flattened samples ('cnn')."""
        if self.architecture == "mlp":
            return ReconstructionTask.from_target(X, sample_weight)
        n_channels = self.input_shape_[0]
        n_positions = X.shape[1] // n_channels
        values = X.reshape(len(X), n_channels, n_positions).transpose(0, 2, 1)
        weights = None if sample_weight is None else np.repeat(sample_weight, n_positions)
        task = ReconstructionTask.from_target(values.reshape(-1, n_channels), weights)
        task.mean = np.repeat(task.mean, n_positions)
        task.scale = np.repeat(task.scale, n_positions)
        return task

    def _make_task(self, y, classes=None, sample_weight=None):
        return self.task_  # learned from X in _encode_X

    def _build_module(self, n_features, task):
        if self.architecture == "mlp":
            return Autoencoder(n_features, self.n_components, hidden_sizes(self),
                               self.activation, self.dropout, self.noise, self.noise_kind)
        name = type(self).__name__
        dims = len(self.input_shape_) - 1
        n_filters = positive_ints(name, "n_filters", self.n_filters, DEFAULT_FILTERS)
        kernel_size = DEFAULT_KERNEL_SIZES[dims] if self.kernel_size is None else (
            self.kernel_size)
        # Per-sample normalization: a row's code never depends on its batch, so
        # sample weights act as repetitions.
        return use_layer_norm(ConvAutoencoder(self.input_shape_, self.n_components,
                                              n_filters, kernel_size, self.dropout,
                                              self.noise, self.noise_kind))

    # -- public API -------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Train the encoder and decoder to reconstruct X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric training data without missing values; for
            ``architecture='cnn'`` also series ``(n_samples, n_channels,
            n_timepoints)`` or images ``(n_samples, n_channels, height, width)``.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-row weights of the reconstruction loss (and of the
            standardization).

        Returns
        -------
        self : object
            The fitted transformer.
        """
        return self._fit(X, X, sample_weight)

    def transform(self, X):
        """Encode X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_components)
            The code of each row.
        """
        return self._run(self._standardized(X), self.net_.module_.encode)

    def inverse_transform(self, X):
        """Decode codes back to the units of the training data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Codes, as :meth:`transform` returns them.

        Returns
        -------
        ndarray of shape (n_samples, n_features)
            Reconstructions: ``inverse_transform(transform(X))`` is X as the
            autoencoder reproduces it.
        """
        check_is_fitted(self)
        codes = self._raise_with_name(check_array, X, dtype=[np.float64, np.float32],
                                      estimator=self)
        if codes.shape[1] != self.n_components:
            raise ValueError(
                f"{type(self).__name__}.inverse_transform expects codes with "
                f"n_components={self.n_components} columns; got X with "
                f"{codes.shape[1]} columns."
            )
        decoded = self._run(codes, self.net_.module_.decode)
        return self.task_.predict(torch.as_tensor(decoded))

    def score_samples(self, X):
        """Negative reconstruction error of each row: lower is more anomalous.

        The mean over features of the squared error between the standardized
        row and its reconstruction, negated (as
        :meth:`sklearn.ensemble.IsolationForest.score_samples`: the higher,
        the more normal).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        standardized = self._standardized(X)
        reconstructed = self._run(standardized, self.net_.module_)
        return -np.mean((reconstructed - standardized) ** 2, axis=1)

    def get_feature_names_out(self, input_features=None):
        """Names of the code features: ``autoencoder0`` ... ``autoencoder{k-1}``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Checked against the names seen in ``fit``; not used otherwise.

        Returns
        -------
        ndarray of str objects
        """
        check_is_fitted(self)
        _check_feature_names_in(self, input_features, generate_names=False)
        return np.asarray([f"autoencoder{i}" for i in range(self.n_components)],
                          dtype=object)

    # -- helpers ----------------------------------------------------------------
    def _standardized(self, X):
        check_is_fitted(self)
        return self._encode_X(self._validate_X(X, reset=False), None, fit=False)

    def _run(self, values, function) -> np.ndarray:
        """``function`` (a part of the module) over rows of ``values``, in eval mode."""
        device = self.device_
        data = TensorData(as_tensor(values, device, self.net_.module_dtype()), device=device)
        self.net_.module_.eval()
        with self._torch_context(device), torch.inference_mode():
            parts = [function(X) for X, _, _ in self.net_.get_iterator(data)]
        outputs = finite_outputs(torch.cat(parts), type(self).__name__, data.X)
        return outputs.cpu().double().numpy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags
