"""Convolutional estimators for time series and images."""

from __future__ import annotations

import math
from dataclasses import replace
from numbers import Integral, Real

from sklearn.utils._param_validation import Interval, StrOptions

from sknn._core._adversarial import ADVERSARIAL, ADVERSARIAL_CONSTRAINTS
from sknn._core._architecture import Architecture
from sknn._core._base import BaseNeuralEstimator
from sknn._core._docs import DP_ATTRIBUTES_DOC, fitted_attributes_doc, param_docs
from sknn._core._kinds import BaseNeuralClassifier, BaseNeuralRegressor
from sknn._core._params import positive_ints
from sknn._core._privacy import DP_CONSTRAINTS, PRIVACY
from sknn._input._sequence import ARRAY_INPUT
from sknn._lifecycle._finetune import (
    FINE_TUNING,
    FINE_TUNING_CONSTRAINTS,
    FINE_TUNING_PARAMS_DOC,
    LAYER_FREEZING,
)
from sknn._training._feature import GRADIENT_CLIPPING, GRADIENT_CLIPPING_CONSTRAINTS
from sknn._training._plan import AutoRules, BatchRule, EpochBudget
from sknn._utils._registry import storable_estimator
from sknn.modules.cnn import (
    FCN,
    IMAGE_AUGMENTATIONS,
    SERIES_AUGMENTATIONS,
    ImageAugment,
    PlainCNN,
    ResNet,
    SeriesAugment,
    use_layer_norm,
)

ARCHITECTURES = {"resnet": ResNet, "fcn": FCN, "plain": PlainCNN}
# (architecture, spatial dims) -> default filters and kernel sizes.
DEFAULT_LAYERS = {
    ("resnet", 1): ((64, 128, 128), (8, 5, 3)),  # Wang et al. 2017
    ("resnet", 2): ((32, 64, 128), (3, 3)),
    ("fcn", 1): ((128, 256, 128), (8, 5, 3)),  # Wang et al. 2017
    ("fcn", 2): ((64, 128, 64), (3,)),
    ("plain", 1): ((32, 64, 128), (5,)),
    ("plain", 2): ((32, 64, 128), (3,)),
}
# augment=True: what suits most data of each kind (flips would break digits, text).
DEFAULT_AUGMENTATIONS = {1: SERIES_AUGMENTATIONS, 2: ("shift",)}
# batch_size='auto': a tenth of the training set, between these bounds.
AUTO_BATCH_BOUNDS = (16, 64)
# max_iter='auto': enough epochs for this many minibatch steps, between these bounds.
AUTO_STEPS = 800
AUTO_EPOCH_BOUNDS = (8, 100)
# Inputs of at most this many values (a table's few columns, not a series: the
# shortest UCR series here has 24): at most this many epochs. 100 took 4-8 s on
# iris and 50-row tables, at 9.6 ms a step, and scored no higher than 30
# (benchmarks/RESULTS.md, "Small data").
AUTO_SHORT_INPUT_VALUES = 16
AUTO_SHORT_INPUT_MAX_EPOCHS = 30

_CNN_CONSTRAINTS = {
    "architecture": [StrOptions(set(ARCHITECTURES))],
    "n_filters": [None, "array-like", Interval(Integral, 1, None, closed="left")],
    "kernel_size": [None, "array-like", Interval(Integral, 1, None, closed="left")],
    "input_shape": [None, tuple, list],
    "augment": [None, "boolean", list, tuple],
    "dropout": [Interval(Real, 0, 1, closed="left")],
    "normalization": [StrOptions({"batch", "layer"})],
    "max_iter": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
    **FINE_TUNING_CONSTRAINTS,
    **ADVERSARIAL_CONSTRAINTS,
    **DP_CONSTRAINTS,
    **GRADIENT_CLIPPING_CONSTRAINTS,
}


class CNNArchitecture(Architecture):
    """The CNN family's network: convolutions over series and images.

    Series and images come in through :class:`~sknn._input._sequence.ArrayInput`
    (no fitted preprocessing: pixels and values are read as they are).
    """

    family = "CNN"
    input = ARRAY_INPUT
    accepts = (ARRAY_INPUT,)
    features = (FINE_TUNING, LAYER_FREEZING, PRIVACY, ADVERSARIAL, GRADIENT_CLIPPING)
    # dtype='auto' trains in float32: float64 convolutions have no oneDNN kernels and
    # took 3.8x as long per step on iris (benchmarks/RESULTS.md, "Small data").
    auto_rules = AutoRules(
        batch=BatchRule(*AUTO_BATCH_BOUNDS, divisor=10, equal_batches=True),
        epochs=EpochBudget(AUTO_EPOCH_BOUNDS, steps=AUTO_STEPS, full_batch_steps=True),
        float64_max_values=0)
    family_constraints = frozenset({"max_iter"})  # also 'auto'
    family_defaults = {"n_iter_no_change": 50}
    family_docs = frozenset({"n_iter_no_change"})

    def build_module(self, estimator, n_features, task):
        n_channels, *spatial = estimator.input_shape_
        spatial_dims = len(spatial)
        default_filters, default_kernels = DEFAULT_LAYERS[estimator.architecture, spatial_dims]
        name = type(estimator).__name__
        n_filters = positive_ints(name, "n_filters", estimator.n_filters, default_filters)
        kernel_sizes = positive_ints(name, "kernel_size", estimator.kernel_size,
                                     default_kernels)
        kwargs = {"n_filters": n_filters, "kernel_sizes": kernel_sizes,
                  "spatial_dims": spatial_dims, "dropout": estimator.dropout,
                  "augment": _augment_module(estimator, spatial_dims)}
        if estimator.architecture == "resnet":
            kwargs["spatial_size"] = min(spatial)
        module = ARCHITECTURES[estimator.architecture](n_channels, task.n_outputs, **kwargs)
        return use_layer_norm(module) if estimator.normalization == "layer" else module

    def auto_rules_for_fit(self, estimator) -> AutoRules:
        if math.prod(estimator.input_shape_) > AUTO_SHORT_INPUT_VALUES:
            return self.auto_rules
        low, _ = AUTO_EPOCH_BOUNDS  # a table's few columns: the short-input cap
        epochs = replace(self.auto_rules.epochs, bounds=(low, AUTO_SHORT_INPUT_MAX_EPOCHS))
        return replace(self.auto_rules, epochs=epochs)


def _augment_module(estimator, spatial_dims):
    augment = estimator.augment
    if augment is None or augment is False:
        return None
    allowed = SERIES_AUGMENTATIONS if spatial_dims == 1 else IMAGE_AUGMENTATIONS
    kinds = DEFAULT_AUGMENTATIONS[spatial_dims] if augment is True else augment
    unknown = sorted(set(kinds) - set(allowed))
    if unknown or not kinds:
        kind = "series" if spatial_dims == 1 else "images"
        raise ValueError(f"{type(estimator).__name__}: augment={augment!r} is not "
                         f"available for {kind}; use True or some of {allowed}.")
    return (SeriesAugment if spatial_dims == 1 else ImageAugment)(kinds)


CNN_ARCHITECTURE = CNNArchitecture()


_SHARED_PARAMS_DOC_CNN = """
    architecture : {'resnet', 'fcn', 'plain'}, default='resnet'
        'resnet': residual blocks of three convolutions (kernels 8, 5, 3) with
        batch norm and shortcuts, global average pooling (Wang et al. 2017;
        for images, blocks of two 3x3 convolutions that halve the resolution
        after the first). 'fcn': convolution, batch norm and ReLU layers
        (128, 256, 128 filters, kernels 8, 5, 3; Wang et al. 2017), global
        average pooling. 'plain': convolution blocks each followed by 2x max
        pooling.
    n_filters : int, sequence of int or None, default=None
        Filters of each residual block ('resnet') or layer; its length is the
        depth. None: (64, 128, 128) for 'resnet' on series, (32, 64, 128) on
        images; (128, 256, 128) for 'fcn' on series, (64, 128, 64) on images;
        (32, 64, 128) for 'plain'.
    kernel_size : int, sequence of int or None, default=None
        Kernel sizes: of the convolutions inside each residual block
        ('resnet'), or of each layer, cycled. None: (8, 5, 3) on series for
        'resnet' and 'fcn', 5 for 'plain'; 3 on images.
    input_shape : tuple of int or None, default=None
        Shape of one sample, to reshape X by: ``(n_timepoints,)`` a series,
        ``(height, width)`` a grayscale image, ``(n_channels, height, width)``
        an image. None reads 2-D X as one channel of length ``n_features``,
        3-D X as series and 4-D X as images.
    augment : bool, list of str or None, default=None
        Random perturbations of each training batch, on the device, in
        training only. True: jitter, scaling and time shifts for series,
        shifts for images; or a list of some of 'jitter', 'scale', 'shift'
        (series) or 'shift', 'flip' (images).
    dropout : float in [0, 1), default=0.0
        Dropout before the output layer.
    normalization : {'batch', 'layer'}, default='batch'
        Batch norm after each convolution, as the published networks; or a
        per-sample norm (``GroupNorm(1, C)``), which makes each sample's output
        independent of its batch: sample weights then train exactly as
        repeated samples, and tiny batches do no harm."""

_TRAINING_PARAMS_DOC = param_docs(["alpha", "solver"]) + """
    learning_rate_init : float, default=1e-3
        Initial (peak) learning rate.
    learning_rate : {'constant', 'warmup_cosine', 'onecycle'}, default='warmup_cosine'
        Learning-rate schedule, stepped every minibatch over ``max_iter``
        epochs: constant; linear warm-up over 5% of the steps then cosine decay
        to zero; or one-cycle (cosine up from lr/25 over 30%, then down). ``partial_fit``
        calls, which have no horizon, train at a constant rate:
        ``learning_rate_init`` when the first of them (since a fit) ran.
    batch_size : int or 'auto', default='auto'
        Minibatch size; 'auto' is a tenth of the training set, at least 16
        and at most 64, evened out so that the last batch is not much smaller
        (batch norm suffers from tiny batches).
    max_iter : int or 'auto', default='auto'
        Maximum number of epochs. 'auto': enough for about 800 minibatch
        steps, at least 8 and at most 100 epochs (100 on small series
        datasets, 8 on 8,000 images); at most 30 on inputs of 16 values or
        fewer (a table's few columns), where more only took longer.""" + param_docs([
    "early_stopping", "validation_fraction"]) + """
    n_iter_no_change : int, default=50
        Epochs without improvement before stopping. High, so that on small
        data the learning-rate schedule, not a noisy stall, ends training.""" + (
    param_docs(["tol"]))

_RUN_PARAMS_DOC = param_docs([
    "random_state", "device", "n_threads", "verbose", "warm_start",
]) + FINE_TUNING_PARAMS_DOC.format(
    family="CNN", layout="series or images of as many channels",
    inputs="""Series may differ in length and images in size (global
        average pooling reads any).""") + param_docs([
    "callbacks", "dtype", "adversarial_epsilon", "adversarial_method", "dp_epsilon",
    "dp_delta", "dp_max_grad_norm", "clip_grad_norm"])

_DATA_DOC = """
    X is a numeric array: time series ``(n_samples, n_channels, n_timepoints)``,
    images ``(n_samples, n_channels, height, width)``, or 2-D
    ``(n_samples, n_features)``, read as one channel of length ``n_features``
    or reshaped by ``input_shape`` (``(28, 28)`` for flat grayscale digits;
    ``(n_samples, height, width)`` grayscale images need it too). ``uint8``
    arrays are pixels and are divided by 255. One-dimensional convolutions
    serve series and two-dimensional ones images, sized from the data; global
    average pooling lets predict take other lengths or image sizes, with the
    same number of channels. Convolutions are zero-padded, so series shorter
    than a kernel work too."""

_CNN_ATTRIBUTES_DOC = """
    input_shape_ : tuple of int
        Shape of one sample as the network reads it: ``(n_channels,
        n_timepoints)`` or ``(n_channels, height, width)``.""" + fitted_attributes_doc(
    "``X.shape[1]`` in ``fit`` (channels of 3-D and 4-D X), as scikit-learn sets it.",
) + DP_ATTRIBUTES_DOC


@storable_estimator
class CNNClassifier(BaseNeuralClassifier):
    __doc__ = f"""Convolutional network classifier for time series and images.
{_DATA_DOC}

    Parameters
    ----------{_SHARED_PARAMS_DOC_CNN}{_TRAINING_PARAMS_DOC}
    class_weight : dict, 'balanced' or None, default=None
        Weights of the classes in the loss, as in scikit-learn; multiplied
        with ``sample_weight``.{_RUN_PARAMS_DOC}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (``arange(n_labels)`` for multilabel y).{_CNN_ATTRIBUTES_DOC}

    See Also
    --------
    CNNRegressor : The regression counterpart.
    MLPClassifier : For tabular data.

    Examples
    --------
    >>> import numpy as np
    >>> from sknn import CNNClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(40, 2, 30).astype(np.float32)  # 40 series, 2 channels, length 30
    >>> y = (X[:, 0].mean(axis=1) > 0).astype(int)
    >>> clf = CNNClassifier(n_filters=(8, 8), max_iter=20, n_threads=1, random_state=0)
    >>> clf = clf.fit(X, y)
    >>> clf.input_shape_
    (2, 30)
    >>> clf.predict_proba(X[:3]).shape
    (3, 2)
    """

    _architecture = CNN_ARCHITECTURE
    _parameter_constraints: dict = {
        **BaseNeuralClassifier._parameter_constraints, **_CNN_CONSTRAINTS
    }

    def __init__(
        self,
        architecture="resnet",
        *,
        n_filters=None,
        kernel_size=None,
        input_shape=None,
        augment=None,
        dropout=0.0,
        normalization="batch",
        alpha=1e-4,
        solver="adam",
        learning_rate_init=1e-3,
        learning_rate="warmup_cosine",
        batch_size="auto",
        max_iter="auto",
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change=50,
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
        dp_epsilon=None,
        dp_delta="auto",
        dp_max_grad_norm=1.0,
        clip_grad_norm=None,
    ):
        self.architecture = architecture
        self.n_filters = n_filters
        self.kernel_size = kernel_size
        self.input_shape = input_shape
        self.augment = augment
        self.dropout = dropout
        self.normalization = normalization
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
        self.dp_epsilon = dp_epsilon
        self.dp_delta = dp_delta
        self.dp_max_grad_norm = dp_max_grad_norm
        self.clip_grad_norm = clip_grad_norm


@storable_estimator
class CNNRegressor(BaseNeuralRegressor):
    __doc__ = f"""Convolutional network regressor for time series and images.
{_DATA_DOC}

    Targets are standardized inside and mapped back.

    Parameters
    ----------{_SHARED_PARAMS_DOC_CNN}{_TRAINING_PARAMS_DOC}{_RUN_PARAMS_DOC}

    Attributes
    ----------{_CNN_ATTRIBUTES_DOC}

    See Also
    --------
    CNNClassifier : The classification counterpart.
    MLPRegressor : For tabular data.

    Examples
    --------
    >>> import numpy as np
    >>> from sknn import CNNRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(40, 1, 30).astype(np.float32)
    >>> y = X[:, 0, :10].sum(axis=1)
    >>> reg = CNNRegressor(n_filters=(8,), max_iter=20, n_threads=1, random_state=0)
    >>> reg = reg.fit(X, y)
    >>> reg.predict(X[:3]).shape
    (3,)
    """

    _architecture = CNN_ARCHITECTURE
    _parameter_constraints: dict = {
        **BaseNeuralEstimator._parameter_constraints, **_CNN_CONSTRAINTS
    }

    def __init__(
        self,
        architecture="resnet",
        *,
        n_filters=None,
        kernel_size=None,
        input_shape=None,
        augment=None,
        dropout=0.0,
        normalization="batch",
        alpha=1e-4,
        solver="adam",
        learning_rate_init=1e-3,
        learning_rate="warmup_cosine",
        batch_size="auto",
        max_iter="auto",
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change=50,
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
        dp_epsilon=None,
        dp_delta="auto",
        dp_max_grad_norm=1.0,
        clip_grad_norm=None,
    ):
        self.architecture = architecture
        self.n_filters = n_filters
        self.kernel_size = kernel_size
        self.input_shape = input_shape
        self.augment = augment
        self.dropout = dropout
        self.normalization = normalization
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
        self.dp_epsilon = dp_epsilon
        self.dp_delta = dp_delta
        self.dp_max_grad_norm = dp_max_grad_norm
        self.clip_grad_norm = clip_grad_norm
