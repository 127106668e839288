"""Multilayer perceptron estimators."""

from __future__ import annotations

from numbers import Integral, Real

from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from torch import nn

from sknn._core._adversarial import ADVERSARIAL, ADVERSARIAL_CONSTRAINTS
from sknn._core._architecture import Architecture
from sknn._core._base import BaseNeuralEstimator
from sknn._core._docs import DP_ATTRIBUTES_DOC, fitted_attributes_doc, param_docs
from sknn._core._kinds import BaseNeuralClassifier, BaseNeuralRegressor
from sknn._core._params import hidden_sizes
from sknn._core._privacy import DP_CONSTRAINTS, PRIVACY
from sknn._input._tabular import (
    TABLE_INPUT,
    TABULAR_CONSTRAINTS,
    tabular_input_layer,
)
from sknn._lifecycle._finetune import (
    FINE_TUNING,
    FINE_TUNING_CONSTRAINTS,
    FINE_TUNING_PARAMS_DOC,
    LAYER_FREEZING,
)
from sknn._training._feature import GRADIENT_CLIPPING, GRADIENT_CLIPPING_CONSTRAINTS
from sknn._training._plan import AutoRules, BatchRule, EpochBudget
from sknn._utils._registry import storable_estimator
from sknn.modules.ensemble import EnsembleMLP
from sknn.modules.mlp import ACTIVATION_NAMES, MLP

_MLP_CONSTRAINTS = {
    "hidden_layer_sizes": [StrOptions({"auto"}), "array-like",
                           Interval(Integral, 1, None, closed="left")],
    "activation": [StrOptions(set(ACTIVATION_NAMES))],
    "dropout": [Interval(Real, 0, 1, closed="left")],
    "ensemble_size": [Interval(Integral, 1, None, closed="left")],
    "max_iter": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
    **TABULAR_CONSTRAINTS,
    **FINE_TUNING_CONSTRAINTS,
    **ADVERSARIAL_CONSTRAINTS,
    **DP_CONSTRAINTS,
    **GRADIENT_CLIPPING_CONSTRAINTS,
}


# batch_size='auto': AUTO_BATCH_SIZE rows; on tables of more than AUTO_BATCH_SIZE *
# AUTO_BATCH_STEPS training rows, AUTO_BATCH_STEPS batches an epoch (at most
# AUTO_MAX_BATCH_SIZE rows each), so large tables pay less per-step overhead.
AUTO_BATCH_SIZE = 128
AUTO_BATCH_STEPS = 1000
AUTO_MAX_BATCH_SIZE = 1024
# max_iter='auto': epochs that train on about AUTO_TRAINING_ROWS rows in all, the
# length of the cosine schedule that ends training, within AUTO_EPOCH_BOUNDS.
AUTO_TRAINING_ROWS = 400_000
AUTO_EPOCH_BOUNDS = (3, 50)


# hidden_layer_sizes='auto', by whether numeric columns are embedded. After the
# embeddings (each numeric column 16 learned features) the first hidden layer
# mixes a wide input, the largest product of the network: 128 units there instead
# of 256 predict 1.3x and fit 1.2x faster, as accurate on Adult and 0.002 higher
# RMSE on California (5 seeds, benchmarks/RESULTS.md). Without embeddings the
# first layer is cheap and builds the features itself: 256 (on digits' 8x8 pixels
# 128 was as accurate over 5 splits, but 0.967 against 0.975 on the main job's).
AUTO_HIDDEN_LAYER_SIZES = {True: (128, 256), False: (256, 256)}


class MLPArchitecture(Architecture):
    """The MLP family's network: tables through the tabular input layer into an MLP.

    Tables come in through :class:`~sknn._input._tabular.TableInput`; the
    tabular input layer (embeddings) feeds a plain MLP, or with
    ``ensemble_size > 1`` an :class:`~sknn.modules.ensemble.EnsembleMLP`.
    """

    family = "MLP"
    input = TABLE_INPUT
    accepts = (TABLE_INPUT,)
    features = (FINE_TUNING, LAYER_FREEZING, PRIVACY, ADVERSARIAL, GRADIENT_CLIPPING)
    auto_rules = AutoRules(
        batch=BatchRule(AUTO_BATCH_SIZE, AUTO_MAX_BATCH_SIZE, divisor=AUTO_BATCH_STEPS),
        epochs=EpochBudget(AUTO_EPOCH_BOUNDS, rows=AUTO_TRAINING_ROWS))
    family_constraints = frozenset({"max_iter"})  # also 'auto'

    def build_module(self, estimator, n_features, task):
        input_layer = tabular_input_layer(estimator.encoder_)
        sizes = _hidden_layer_sizes(estimator, input_layer)
        width = n_features if input_layer is None else input_layer.out_features
        if estimator.ensemble_size > 1:
            body = EnsembleMLP(width, task.n_outputs, sizes, estimator.activation,
                               estimator.dropout, n_members=estimator.ensemble_size,
                               average=task.ensemble_average)
        else:
            body = MLP(width, task.n_outputs, hidden_layer_sizes=sizes,
                       activation=estimator.activation, dropout=estimator.dropout)
        return body if input_layer is None else nn.Sequential(input_layer, body)


def _hidden_layer_sizes(estimator, input_layer) -> list[int]:
    if isinstance(estimator.hidden_layer_sizes, str):  # 'auto'
        embedded = getattr(input_layer, "numeric_embedding", None) is not None
        return list(AUTO_HIDDEN_LAYER_SIZES[embedded])
    return hidden_sizes(estimator)


MLP_ARCHITECTURE = MLPArchitecture()


_MLP_PARAMS_DOC = """
    hidden_layer_sizes : 'auto', int or sequence of int, default='auto'
        Width of each hidden layer. 'auto': ``(128, 256)`` when numeric columns
        are embedded (``numeric_embedding``), else ``(256, 256)``.
    activation : {'relu', 'gelu', 'silu', 'tanh', 'logistic', 'leaky_relu', \
'selu', 'identity'}, default='relu'
        Activation after each hidden layer.
    dropout : float in [0, 1), default=0.0
        Dropout probability after each hidden activation.
    ensemble_size : int, default=4
        Number of MLPs trained together as one parameter-efficient ensemble
        (TabM-mini, Gorishniy et al. 2024): they share the hidden layers, differ
        by a random-sign input adapter and their output layers, and predictions
        average their probabilities (or values). 1 gives a plain MLP, about
        three times faster to train and less accurate (see the user guide).
    categorical_features : 'from_dtype', array-like, bool mask or None, default='from_dtype'
        Columns encoded as learned embeddings. 'from_dtype': pandas
        ``category``, string and object columns (anything but numbers). Unseen
        levels and missing values map to their own embeddings at predict time.
    numeric_transform : {'quantile', 'standard', 'none'}, default='quantile'
        Scaling of numeric (and boolean and datetime) columns, fitted with the
        sample weights: quantile-normal, standardization, or none. Missing
        values are imputed after scaling and flagged by an indicator input.
        Sparse X is never scaled.
    numeric_embedding : {'auto', 'piecewise_linear', 'periodic'} or None, default='auto'
        Embedding of each scaled numeric column (Gorishniy et al. 2022):
        piecewise-linear encoding on 48 quantile bins or periodic features,
        each followed by a linear layer and ReLU; None feeds the values as they
        are. 'auto': piecewise-linear when most numeric columns take more than
        48 distinct values (in the first 10,000 rows) and the table is dense
        with at most 100 columns; None for tables of few-valued columns (pixel
        intensities, counts, ratings), where the bins would be a lookup table
        of the values.""" + param_docs(["alpha", "solver"]) + """
    learning_rate_init : float, default=3e-3
        Initial (peak) learning rate.
    learning_rate : {'constant', 'warmup_cosine', 'onecycle'}, default='warmup_cosine'
        Learning-rate schedule, stepped every minibatch over ``max_iter``
        epochs: constant; linear warm-up over 5% of the steps then cosine decay
        to zero; or one-cycle (cosine up from lr/25 over 30%, then down). ``partial_fit``
        calls, which have no horizon, train at a constant rate:
        ``learning_rate_init`` when the first of them (since a fit) ran. A
        decaying schedule ends training by design after ``max_iter`` epochs.
    batch_size : int or 'auto', default='auto'
        Minibatch size; 'auto' is 128 rows (all of them on smaller data), and
        on tables of more than 128,000 training rows the size that makes 1,000
        batches an epoch, at most 1,024.
    max_iter : int or 'auto', default='auto'
        Number of epochs (the length of the learning-rate schedule; early
        stopping may end training sooner). 'auto': about 400,000 training rows
        in all, at least 3 and at most 50 epochs (50 below 8,000 rows, 14 on
        Adult's 29,000, 3 from 134,000 rows on).""" + param_docs([
    "early_stopping", "validation_fraction", "n_iter_no_change", "tol", "random_state",
    "device", "n_threads", "verbose", "warm_start",
]) + FINE_TUNING_PARAMS_DOC.format(
    family="MLP", layout="the same columns (matched by position)",
    inputs="""Its fitted column scaling, categories and numeric-embedding
        bins are reused as they are.""") + param_docs([
    "callbacks", "dtype", "adversarial_epsilon", "adversarial_method", "dp_epsilon",
    "dp_delta", "dp_max_grad_norm", "clip_grad_norm",
])

_DP_ATTRIBUTES_DOC = """
    epsilon_ : float or None
        The privacy budget the fit spent (at most ``dp_epsilon``, less when
        early stopping ended it); None without ``dp_epsilon``."""

_MLP_ATTRIBUTES_DOC = fitted_attributes_doc("Number of features seen in ``fit``.") + (
    DP_ATTRIBUTES_DOC)


@storable_estimator
class MLPClassifier(BaseNeuralClassifier):
    __doc__ = f"""Multilayer perceptron classifier trained with PyTorch through skorch.

    Binary, multiclass and multilabel classification on dense or sparse
    numeric data, on the CPU or a GPU. Training slices minibatches from tensors
    kept on the device, so it runs at the speed of a hand-written PyTorch loop.

    Parameters
    ----------{_MLP_PARAMS_DOC}
    class_weight : dict, 'balanced' or None, default=None
        Weights of the classes in the loss, as in scikit-learn; multiplied
        with ``sample_weight``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (``arange(n_labels)`` for multilabel y).{_MLP_ATTRIBUTES_DOC}

    See Also
    --------
    MLPRegressor : The regression counterpart.
    sklearn.neural_network.MLPClassifier : scikit-learn's CPU-only MLP.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sknn import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier(random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    >>> bool(clf.score(X, y) > 0.9)
    True
    """

    _architecture = MLP_ARCHITECTURE
    _parameter_constraints: dict = {
        **BaseNeuralClassifier._parameter_constraints, **_MLP_CONSTRAINTS
    }

    def __init__(
        self,
        hidden_layer_sizes="auto",
        activation="relu",
        *,
        dropout=0.0,
        ensemble_size=4,
        categorical_features="from_dtype",
        numeric_transform="quantile",
        numeric_embedding="auto",
        alpha=1e-4,
        solver="adam",
        learning_rate_init=3e-3,
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
        adversarial_epsilon=None,
        adversarial_method="pgd",
        dp_epsilon=None,
        dp_delta="auto",
        dp_max_grad_norm=1.0,
        clip_grad_norm=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.ensemble_size = ensemble_size
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
class MLPRegressor(BaseNeuralRegressor):
    __doc__ = f"""Multilayer perceptron regressor trained with PyTorch through skorch.

    Single- and multi-output regression on dense or sparse numeric data, on the
    CPU or a GPU. Targets are standardized inside and mapped back.

    Parameters
    ----------{_MLP_PARAMS_DOC}

    Attributes
    ----------{_MLP_ATTRIBUTES_DOC}

    See Also
    --------
    MLPClassifier : The classification counterpart.
    sklearn.neural_network.MLPRegressor : scikit-learn's CPU-only MLP.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sknn import MLPRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = MLPRegressor(random_state=0).fit(X, y)
    >>> reg.predict(X[:3]).shape
    (3,)
    >>> mean, std = reg.predict(X[:3], return_std=True)
    >>> bool((std > 0).all())
    True
    """

    _architecture = MLP_ARCHITECTURE
    _parameter_constraints: dict = {
        **BaseNeuralEstimator._parameter_constraints, **_MLP_CONSTRAINTS
    }

    def predict(self, X, return_std=False):
        """Predicted values, optionally with the ensemble members' spread.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
        return_std : bool, default=False
            Also return the standard deviation of the ``ensemble_size``
            members' predictions, in the units of y: an uncertainty estimate
            that grows where the members disagree, e.g. away from the training
            data. Needs ``ensemble_size > 1``. With the default
            ``numeric_transform='quantile'``, values beyond the training range
            are clipped to its edge, so the spread there stays at the edge's;
            ``numeric_transform='standard'`` lets it keep growing.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The members' mean; 1-D when ``y`` was 1-D in ``fit``.
        y_std : ndarray of the same shape
            Only with ``return_std=True``.
        """
        if not return_std:
            return super().predict(X)
        check_is_fitted(self)
        if self.ensemble_size == 1:
            raise ValueError(
                "MLPRegressor: predict(X, return_std=True) needs the members of an "
                "ensemble (ensemble_size > 1); this model was fitted with "
                "ensemble_size=1."
            )
        ensemble = next(m for m in self.net_.module_.modules() if isinstance(m, EnsembleMLP))
        ensemble.return_members = True
        try:
            members = self._predict_outputs(X).double()  # (n_samples, k, n_outputs)
        finally:
            ensemble.return_members = False
        std = members.std(dim=1, correction=0).numpy() * self.task_.scale
        mean = self.task_.predict(members.mean(dim=1))
        return mean, std.reshape(mean.shape)

    def __init__(
        self,
        hidden_layer_sizes="auto",
        activation="relu",
        *,
        dropout=0.0,
        ensemble_size=4,
        categorical_features="from_dtype",
        numeric_transform="quantile",
        numeric_embedding="auto",
        alpha=1e-4,
        solver="adam",
        learning_rate_init=3e-3,
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
        adversarial_epsilon=None,
        adversarial_method="pgd",
        dp_epsilon=None,
        dp_delta="auto",
        dp_max_grad_norm=1.0,
        clip_grad_norm=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.ensemble_size = ensemble_size
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
