"""Fitting the bag-of-words branch of the token-id networks before gradient descent.

:class:`~sknn.modules.text.BagOfWords` is a linear model on TF-IDF vectors.
It is fitted here, on the training rows only (never the early-stopping
validation rows), as a logistic regression (classifiers) or ridge regression
(regressors) with scikit-learn's ``C``: the estimator's own loss and sample
weights, plus ``||W||^2 / (2 C n)`` (scaled by the task's ``penalty_scale`` so
that C means LogisticRegression's, and Ridge's ``alpha = 1 / (2 C)``),
minimized by full-batch L-BFGS on the sparse TF-IDF matrix. The
network then trains with the fitted branch fixed, and learns what it leaves;
after training, its part is weighed on the validation rows (0 to 1) and the
branch is refitted on every row.
"""

from __future__ import annotations

import math
import warnings

import torch
from sklearn.exceptions import ConvergenceWarning
from torch import nn

from sknn._core._data import TensorData
from sknn._training._feature import TrainingFeature
from sknn._training._parameters import constraints, owned_by
from sknn.modules.text import N_SPECIAL_IDS, BagOfWords

# Rows per chunk: each chunk's dense TF-IDF block holds at most this many values.
CHUNK_VALUES = 2**22
# L-BFGS iterations per solve; more means the solve did not converge (warned).
MAX_LBFGS_ITERATIONS = 2000
# bag_of_words_C='auto': the candidates, and the folds of the training rows.
C_GRID = (1.0, 3.0, 10.0, 30.0, 100.0)
DEFAULT_C = 10.0
CV_FOLDS = 3
# The candidate weights of the network's part next to the fitted branch.
NETWORK_WEIGHTS = tuple(step / 20 for step in range(21))


def _chunks(n_rows: int, vocabulary_size: int):
    size = max(1, CHUNK_VALUES // vocabulary_size)
    return [slice(start, min(start + size, n_rows)) for start in range(0, n_rows, size)]


def fit_bag_of_words(bag: BagOfWords, net, train, C: float | str,
                     offsets: torch.Tensor | None = None, owner: str = "BagOfWords",
                     penalty_scale: float = 1.0) -> float:
    """Set ``bag``'s idf, weights and bias from the training rows ``train``.

    Parameters
    ----------
    bag : BagOfWords
        The branch to fit (its buffers are overwritten).
    net : SknnNet
        The initialized net; its ``get_loss`` is the loss minimized.
    train : sknn._core._data.TensorData
        The training rows (X on the net's device).
    C : float or 'auto'
        Inverse regularization strength, as in LogisticRegression; 'auto'
        picks the one of ``C_GRID`` with the lowest mean held-out loss over
        ``CV_FOLDS`` fixed folds of ``train`` (as LogisticRegressionCV).
    offsets : torch.Tensor of shape (len(train), n_outputs) or None
        Outputs added to the bag's (the rest of the network's), held fixed.
    owner : str
        The estimator's name, for the warning when L-BFGS does not converge.
    penalty_scale : float
        Factor on the penalty that makes ``C`` scikit-learn's for the task
        (``task.penalty_scale``: 2 for two classes' softmax columns).

    Returns
    -------
    float
        The C used.
    """
    X, y, weight = train.take(slice(None))
    _set_idf(bag, X)
    features = _sparse_tfidf(bag, X)
    if C == "auto":
        C = _cross_validated_C(bag, net, features, y, weight, offsets, penalty_scale)
    coefficients, intercept, converged = _solve(bag, net, features, y, weight,
                                                C / penalty_scale, offsets, owner)
    if not converged:
        warnings.warn(
            f"{owner}: the bag-of-words model (C={C}) did not converge in "
            f"{MAX_LBFGS_ITERATIONS} L-BFGS iterations; a smaller bag_of_words_C "
            "converges faster.", ConvergenceWarning, stacklevel=2)
    bag.weight.copy_(coefficients)
    bag.bias.copy_(intercept)
    return C


def _set_idf(bag: BagOfWords, X: torch.Tensor) -> None:
    """Smoothed inverse document frequencies of the ids in ``X``, as TfidfVectorizer's."""
    document_frequency = torch.zeros(bag.vocabulary_size, dtype=X.dtype, device=X.device)
    for rows in _chunks(X.shape[0], bag.vocabulary_size):
        document_frequency += (bag.counts(X[rows]) > 0).sum(dim=0)
    idf = torch.log((1 + X.shape[0]) / (1 + document_frequency)) + 1
    idf[:N_SPECIAL_IDS] = 0.0
    bag.idf.copy_(idf)


def _sparse_tfidf(bag: BagOfWords, X: torch.Tensor) -> torch.Tensor:
    """The rows' TF-IDF vectors as one sparse matrix, built once for every solve.

    A document uses a few hundred of the vocabulary's ids, so the sparse
    matrix makes an L-BFGS iteration a sparse product instead of a rebuild
    of dense vectors, and lets every solve run to convergence.
    """
    return torch.cat([bag.tfidf(X[rows]).to_sparse()
                      for rows in _chunks(X.shape[0], bag.vocabulary_size)]).coalesce()


def _take(tensor: torch.Tensor | None, rows: torch.Tensor) -> torch.Tensor | None:
    return None if tensor is None else tensor[rows]


def _cross_validated_C(bag, net, features, y, weight, offsets, penalty_scale) -> float:
    """The C of ``C_GRID`` with the lowest mean held-out loss over fixed folds."""
    n_rows = features.shape[0]
    order = torch.randperm(n_rows, generator=torch.Generator().manual_seed(0))
    folds = [f for f in torch.tensor_split(order.to(features.device), CV_FOLDS) if len(f)]
    if len(folds) < 2:
        return DEFAULT_C  # one training row: nothing to hold out
    # Each fold's rows, sliced once for all the candidates.
    splits = []
    for k, held_out in enumerate(folds):
        rows = torch.cat([f for j, f in enumerate(folds) if j != k])
        splits.append([(features.index_select(0, part), _take(y, part),
                        _take(weight, part), _take(offsets, part))
                       for part in (rows, held_out)])
    losses = []
    for C in C_GRID:
        loss = 0.0
        for (train_part, train_y, train_w, train_o), (held, held_y, held_w, held_o) in splits:
            coefficients, intercept, _ = _solve(bag, net, train_part, train_y, train_w,
                                                C / penalty_scale, train_o)
            outputs = _outputs(held, coefficients, intercept, held_o)
            loss += float(net.get_loss(outputs, held_y, weight=held_w))
        losses.append(loss)
    return C_GRID[min(range(len(C_GRID)), key=losses.__getitem__)]


def _outputs(features, coefficients, intercept, offsets) -> torch.Tensor:
    outputs = torch.sparse.mm(features, coefficients.t()) + intercept
    return outputs if offsets is None else outputs + offsets


def _solve(bag, net, features, y, weight, C: float, offsets, owner="BagOfWords"):
    """Weights and bias minimizing the mean loss plus ``||W||^2 / (2 C n)`` (L-BFGS).

    Returns the weights, the bias, and whether L-BFGS converged (stopped
    before its budget of ``MAX_LBFGS_ITERATIONS`` iterations and evaluations).
    """
    coefficients = torch.zeros_like(bag.weight, requires_grad=True)
    intercept = torch.zeros_like(bag.bias, requires_grad=True)
    optimizer = torch.optim.LBFGS([coefficients, intercept], lr=1.0,
                                  max_iter=MAX_LBFGS_ITERATIONS, history_size=20,
                                  tolerance_grad=1e-7, tolerance_change=1e-12,
                                  line_search_fn="strong_wolfe")
    penalty = 1.0 / (2.0 * C * features.shape[0])

    def closure():
        optimizer.zero_grad()
        outputs = _outputs(features, coefficients, intercept, offsets)
        loss = net.get_loss(outputs, y, weight=weight) + penalty * coefficients.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        loss = float(optimizer.step(closure).detach())
    if not math.isfinite(loss):
        raise ValueError(f"{owner}: the bag-of-words model diverged (loss {loss}); "
                         "check the targets for extreme values.")
    # L-BFGS also stops at its budget of loss evaluations (max_eval).
    state, budget = optimizer.state[coefficients], optimizer.param_groups[0]
    converged = (state["n_iter"] < budget["max_iter"]
                 and state["func_evals"] < budget["max_eval"])
    return coefficients.detach(), intercept.detach(), converged


def _output_layer(module: nn.Module) -> nn.Linear:
    """The network's last linear layer (its head's), which scales its part."""
    return [m for m in module.head.modules() if isinstance(m, nn.Linear)][-1]


def _network_outputs(net, data) -> torch.Tensor:
    """The module's outputs without its bag-of-words branch, on the data's device."""
    module = net.module_
    bag, module.bag = module.bag, None
    try:
        return net.predict_outputs(data).to(data.device)
    finally:
        module.bag = bag


def _weigh_network(net, bag, valid) -> float:
    """Scale the network's output layer by a weight chosen on the validation rows.

    The candidates are ``NETWORK_WEIGHTS`` (0 to 1) on the network's part of
    ``bag + weight * network``: a one-parameter stacking of the two parts,
    where 0 switches the network's part off and 1 keeps it as trained. The
    choice follows the one-standard-error rule (Hastie, Tibshirani &
    Friedman, *Elements of Statistical Learning*, 7.10): the smallest weight
    whose validation loss exceeds the lowest by at most the standard error
    of their per-row difference. The rows also chose the network's epoch,
    and a few hundred of them cannot tell a small gain from noise, so the
    network's part must earn its place by more than that noise.
    """
    y, weight = valid.targets()
    network = _network_outputs(net, valid)
    bag_only = torch.cat([bag(X) for X, _, _ in net.get_iterator(valid, training=False)])
    losses = torch.stack([net.row_losses(bag_only + w * network if w else bag_only, y,
                                         weight=weight) for w in NETWORK_WEIGHTS])
    means = losses.mean(dim=1)
    if not torch.isfinite(means).all():
        best = 0.0  # non-finite network outputs: the branch alone
    else:
        lowest = losses[int(means.argmin())]
        best = next(w for w, row_losses in zip(NETWORK_WEIGHTS, losses)
                    if _within_one_standard_error(row_losses - lowest))
    output = _output_layer(net.module_)
    output.weight.mul_(best)
    if output.bias is not None:
        output.bias.mul_(best)
    return best


def _within_one_standard_error(differences: torch.Tensor) -> bool:
    """Whether the mean of per-row loss differences is at most its standard error."""
    n_rows = differences.shape[0]
    error = differences.std() / math.sqrt(n_rows) if n_rows > 1 else 0.0
    return bool(differences.mean() <= error)


BAG_OF_WORDS_CONSTRAINTS = constraints(*owned_by("bag_of_words"))

BAG_OF_WORDS_ATTRIBUTES_DOC = """
    bag_of_words_C_ : float or None
        Token ids with ``bag_of_words``: the C of the bag-of-words model
        (``bag_of_words_C``, or the one 'auto' picked); None without it.
    network_weight_ : float or None
        Token ids with ``bag_of_words``: the factor (0 to 1, in steps of
        0.05) on the network's part, chosen on the validation rows (the
        smallest within one standard error of the lowest validation loss;
        1.0 without a validation set); None without the branch.
    bag_of_words_only_ : bool or None
        Token ids with ``bag_of_words``: True when ``network_weight_`` is 0,
        i.e. no weight of the network's part lowered the validation loss by
        more than one standard error, and the part was switched off, so that
        the model is the bag-of-words linear model alone; None without the
        branch. Both are set by the first fit: warm starts and
        ``partial_fit`` keep the branch, the weight and these values."""

BAG_OF_WORDS_PARAMS_DOC = """
    bag_of_words : bool, default=True
        Token ids only: add a linear model on each document's TF-IDF vector
        (as ``TfidfVectorizer(sublinear_tf=True)`` over the token ids) to the
        network's output, wide-and-deep. It is fitted first, on the training
        rows, as a logistic (classifiers) or ridge (regressors) regression,
        and stays fixed while the network trains on what it leaves. With a
        validation set (early stopping), the network's part is then weighed:
        its output layer is scaled by a factor from 0 (switched off) to 1
        (as trained), the smallest whose validation loss is within one
        standard error of the lowest (``network_weight_``), and the linear
        model is refitted on all rows, the weighed network's outputs held
        fixed. On small corpora the linear
        part carries most of the accuracy (``benchmarks/RESULTS.md``).
        Ignored for numeric series.
    bag_of_words_C : float or 'auto', default='auto'
        Inverse L2 regularization strength of the bag-of-words model: the
        ``C`` of LogisticRegression (binary, multinomial, or one per label)
        and, for regressors, Ridge with ``alpha = 1 / (2 C)`` on the
        standardized target (the penalty is ``||W||^2 / (2 C n)`` on the mean
        training loss, per output). 'auto' picks it from 1, 3, 10, 30 and 100 by
        the lowest held-out loss over 3 fixed folds of the training rows (as
        LogisticRegressionCV); the choice is kept in ``bag_of_words_C_``."""


class BagOfWordsBranch(TrainingFeature):
    """Estimator side of the bag-of-words branch: fit it when a new net is made.

    The module the family builds holds the branch as ``module.bag`` (None
    when absent; :func:`bag_of_words_module` makes it); warm starts and
    ``partial_fit`` calls after the first keep the fitted branch. Its
    parameters shape the network.
    """

    name = "bag_of_words"
    params = ("bag_of_words", "bag_of_words_C")
    training_only = False

    def active(self, estimator) -> bool:
        return bool(estimator.bag_of_words)

    def before_training(self, estimator, net, fit_data, task) -> None:
        bag = getattr(net.module_, "bag", None)
        if bag is not None:
            with torch.no_grad():
                estimator.bag_of_words_C_ = fit_bag_of_words(
                    bag, net, fit_data.train, estimator.bag_of_words_C,
                    owner=type(estimator).__name__, penalty_scale=task.penalty_scale)

    def after_training(self, estimator, net, fit_data, task) -> None:
        bag = getattr(net.module_, "bag", None)
        estimator.network_weight_ = 1.0 if bag is not None else None
        estimator.bag_of_words_only_ = False if bag is not None else None
        if bag is None:
            estimator.bag_of_words_C_ = None
        if bag is None or fit_data.valid is None:
            return
        with torch.no_grad():
            estimator.network_weight_ = _weigh_network(net, bag, fit_data.valid)
            estimator.bag_of_words_only_ = estimator.network_weight_ == 0.0
            train = fit_data.train
            every_row = TensorData(train.X, train.y, train.weight, device=train.device)
            offsets = _network_outputs(net, every_row)
            fit_bag_of_words(bag, net, every_row, estimator.bag_of_words_C_, offsets,
                             owner=type(estimator).__name__, penalty_scale=task.penalty_scale)


def bag_of_words_module(estimator, task) -> BagOfWords | None:
    """The (unfitted) branch for token ids when ``bag_of_words`` asks for one."""
    if not (estimator.bag_of_words and estimator.input_kind_ == "tokens"):
        return None
    return BagOfWords(estimator.vocabulary_size_, task.n_outputs)


BAG_OF_WORDS = BagOfWordsBranch()
