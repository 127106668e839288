"""ResNet for tables: the residual MLP of Gorishniy et al. (2021) on sknn's tabular input."""

from __future__ import annotations

from numbers import Integral, Real

from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn

from sknn._core._adversarial import ADVERSARIAL, ADVERSARIAL_CONSTRAINTS
from sknn._core._architecture import Architecture
from sknn._core._base import BaseNeuralEstimator
from sknn._core._docs import DP_ATTRIBUTES_DOC, fitted_attributes_doc, param_docs
from sknn._core._kinds import BaseNeuralClassifier, BaseNeuralRegressor
from sknn._core._privacy import DP_CONSTRAINTS, PRIVACY
from sknn._input._tabular import TABLE_INPUT, TABULAR_CONSTRAINTS, tabular_input_layer
from sknn._lifecycle._finetune import (
    FINE_TUNING,
    FINE_TUNING_CONSTRAINTS,
    FINE_TUNING_PARAMS_DOC,
    LAYER_FREEZING,
)
from sknn._training._feature import GRADIENT_CLIPPING, GRADIENT_CLIPPING_CONSTRAINTS
from sknn._training._plan import AutoRules, BatchRule, EpochBudget
from sknn._utils._registry import storable_estimator
from sknn.modules.resnet import NORMALIZATIONS, TabularResNet

_RESNET_CONSTRAINTS = {
    "width": [Interval(Integral, 1, None, closed="left")],
    "n_blocks": [Interval(Integral, 0, None, closed="left")],
    "hidden_factor": [Interval(Real, 0, None, closed="neither")],
    "dropout": [Interval(Real, 0, 1, closed="left")],
    "residual_dropout": [Interval(Real, 0, 1, closed="left")],
    "normalization": [StrOptions(set(NORMALIZATIONS))],
    "max_iter": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
    **TABULAR_CONSTRAINTS, **FINE_TUNING_CONSTRAINTS, **ADVERSARIAL_CONSTRAINTS,
    **DP_CONSTRAINTS, **GRADIENT_CLIPPING_CONSTRAINTS,
}


class ResNetArchitecture(Architecture):
    """Tables through the tabular input layer (embeddings) into a residual MLP.

    The MLP's input and training features, with
    :class:`~sknn.modules.TabularResNet` as the body.
    """

    family = "ResNet"
    input = TABLE_INPUT
    accepts = (TABLE_INPUT,)
    features = (FINE_TUNING, LAYER_FREEZING, PRIVACY, ADVERSARIAL, GRADIENT_CLIPPING)
    # The MLP's batch and epoch rules (128 rows; 400,000 training rows in all, 3 to
    # 50 epochs), not yet chosen for the ResNet on the suite of tables (issue 28).
    auto_rules = AutoRules(batch=BatchRule(128, 1024, divisor=1000),
                           epochs=EpochBudget((3, 50), rows=400_000))
    family_constraints = frozenset({"max_iter"})  # also 'auto'

    def build_module(self, estimator, n_features, task):
        input_layer = tabular_input_layer(estimator.encoder_)
        width = n_features if input_layer is None else input_layer.out_features
        body = TabularResNet(
            width, task.n_outputs, width=estimator.width, n_blocks=estimator.n_blocks,
            hidden_factor=estimator.hidden_factor, dropout=estimator.dropout,
            residual_dropout=estimator.residual_dropout,
            normalization=estimator.normalization)
        return body if input_layer is None else nn.Sequential(input_layer, body)


RESNET_ARCHITECTURE = ResNetArchitecture()

_RESNET_PARAMS_DOC = """
    width : int, default=192
        Width of the residual stream (after a linear layer on the input).
    n_blocks : int, default=3
        Residual blocks: normalization, linear, ReLU, dropout, linear, added
        to the block's input.
    hidden_factor : float, default=2.0
        Width inside a block, as a multiple of ``width``.
    dropout : float in [0, 1), default=0.25
        Dropout inside each block, after its ReLU.
    residual_dropout : float in [0, 1), default=0.0
        Dropout on each block's output before it is added.
    normalization : {'batch', 'layer'}, default='batch'
        Normalization at the start of each block and before the output layer
        ('layer' for ``dp_epsilon``, which needs per-row layers).
    categorical_features : 'from_dtype', array-like, bool mask or None, default='from_dtype'
        Columns encoded as learned embeddings, as in :class:`MLPClassifier`.
    numeric_transform : {'quantile', 'standard', 'none'}, default='quantile'
        Scaling of numeric columns, as in :class:`MLPClassifier`.
    numeric_embedding : {'auto', 'piecewise_linear', 'periodic'} or None, default='auto'
        Embedding of each scaled numeric column, as in :class:`MLPClassifier`.""" + (
    param_docs(["alpha", "solver"])) + """
    learning_rate_init : float, default=1e-3
        Initial (peak) learning rate.
    learning_rate : {'constant', 'warmup_cosine', 'onecycle'}, default='warmup_cosine'
        Learning-rate schedule, as in :class:`MLPClassifier`.
    batch_size : int or 'auto', default='auto'
        Minibatch size, 'auto' as in :class:`MLPClassifier`.
    max_iter : int or 'auto', default='auto'
        Number of epochs, 'auto' as in :class:`MLPClassifier`.""" + param_docs([
    "early_stopping", "validation_fraction", "n_iter_no_change", "tol", "random_state",
    "device", "n_threads", "verbose", "warm_start",
]) + FINE_TUNING_PARAMS_DOC.format(
    family="ResNet", layout="the same columns (matched by position)",
    inputs="""Its fitted column scaling, categories and numeric-embedding
        bins are reused as they are.""") + param_docs([
    "callbacks", "dtype", "adversarial_epsilon", "adversarial_method", "dp_epsilon",
    "dp_delta", "dp_max_grad_norm", "clip_grad_norm",
])
_RESNET_ATTRIBUTES_DOC = fitted_attributes_doc("Number of features seen in ``fit``.") + (
    DP_ATTRIBUTES_DOC)


@storable_estimator
class ResNetClassifier(BaseNeuralClassifier):
    __doc__ = f"""ResNet for tables (Gorishniy et al. 2021), a classifier.

    A residual MLP over sknn's tabular input (embedded categories and numeric
    columns, missing values flagged), trained with PyTorch through skorch.

    Parameters
    ----------{_RESNET_PARAMS_DOC}
    class_weight : dict, 'balanced' or None, default=None
        Weights of the classes in the loss, as in scikit-learn; multiplied
        with ``sample_weight``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.{_RESNET_ATTRIBUTES_DOC}

    See Also
    --------
    ResNetRegressor : The regression counterpart.
    MLPClassifier : sknn's default tabular network (an ensemble of MLPs).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sknn import ResNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = ResNetClassifier(random_state=0).fit(X, y)
    >>> bool(clf.score(X, y) > 0.9)
    True
    """

    _architecture = RESNET_ARCHITECTURE
    _parameter_constraints: dict = {
        **BaseNeuralClassifier._parameter_constraints, **_RESNET_CONSTRAINTS}

    def __init__(self, width=192, n_blocks=3, *, hidden_factor=2.0, dropout=0.25,
                 residual_dropout=0.0, normalization="batch",
                 categorical_features="from_dtype", numeric_transform="quantile",
                 numeric_embedding="auto", alpha=1e-4, solver="adam",
                 learning_rate_init=1e-3, learning_rate="warmup_cosine", batch_size="auto",
                 max_iter="auto", early_stopping="auto", validation_fraction=0.1,
                 n_iter_no_change="auto", tol=1e-4, class_weight=None, random_state=None,
                 device="auto", n_threads=None, verbose=0, warm_start=False, init_from=None,
                 freeze_epochs=0, trainable_layers=1, callbacks=None, dtype="auto",
                 adversarial_epsilon=None, adversarial_method="pgd", dp_epsilon=None,
                 dp_delta="auto", dp_max_grad_norm=1.0, clip_grad_norm=None):
        self.width = width
        self.n_blocks = n_blocks
        self.hidden_factor = hidden_factor
        self.dropout = dropout
        self.residual_dropout = residual_dropout
        self.normalization = normalization
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
        self.adversarial_epsilon = adversarial_epsilon
        self.adversarial_method = adversarial_method
        self.dp_epsilon = dp_epsilon
        self.dp_delta = dp_delta
        self.dp_max_grad_norm = dp_max_grad_norm
        self.clip_grad_norm = clip_grad_norm


@storable_estimator
class ResNetRegressor(BaseNeuralRegressor):
    __doc__ = f"""ResNet for tables (Gorishniy et al. 2021), a regressor.

    A residual MLP over sknn's tabular input; targets are standardized inside
    and mapped back.

    Parameters
    ----------{_RESNET_PARAMS_DOC}

    Attributes
    ----------{_RESNET_ATTRIBUTES_DOC}

    See Also
    --------
    ResNetClassifier : The classification counterpart.
    MLPRegressor : sknn's default tabular network (an ensemble of MLPs).

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sknn import ResNetRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> ResNetRegressor(random_state=0).fit(X, y).predict(X[:3]).shape
    (3,)
    """

    _architecture = RESNET_ARCHITECTURE
    _parameter_constraints: dict = {
        **BaseNeuralEstimator._parameter_constraints, **_RESNET_CONSTRAINTS}

    def __init__(self, width=192, n_blocks=3, *, hidden_factor=2.0, dropout=0.25,
                 residual_dropout=0.0, normalization="batch",
                 categorical_features="from_dtype", numeric_transform="quantile",
                 numeric_embedding="auto", alpha=1e-4, solver="adam",
                 learning_rate_init=1e-3, learning_rate="warmup_cosine", batch_size="auto",
                 max_iter="auto", early_stopping="auto", validation_fraction=0.1,
                 n_iter_no_change="auto", tol=1e-4, random_state=None, device="auto",
                 n_threads=None, verbose=0, warm_start=False, init_from=None, freeze_epochs=0,
                 trainable_layers=1, callbacks=None, dtype="auto", adversarial_epsilon=None,
                 adversarial_method="pgd", dp_epsilon=None, dp_delta="auto",
                 dp_max_grad_norm=1.0, clip_grad_norm=None):
        self.width = width
        self.n_blocks = n_blocks
        self.hidden_factor = hidden_factor
        self.dropout = dropout
        self.residual_dropout = residual_dropout
        self.normalization = normalization
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
        self.adversarial_epsilon = adversarial_epsilon
        self.adversarial_method = adversarial_method
        self.dp_epsilon = dp_epsilon
        self.dp_delta = dp_delta
        self.dp_max_grad_norm = dp_max_grad_norm
        self.clip_grad_norm = clip_grad_norm

