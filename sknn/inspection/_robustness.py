"""How a fitted network's score holds up under noise and adversarial attacks (Captum)."""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
import pandas as pd
import torch
from sklearn.base import is_classifier
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_params

from sknn._core._process import torch_threads
from sknn.inspection._network_input import (
    IMAGE,
    TABLE,
    TOKENS,
    SubstitutedNetwork,
    encode,
    explained_estimator,
    feature_names,
    import_captum,
    network_copy,
)
from sknn.inspection._training_curve import final_estimator, import_pyplot

ATTACKS = ("noise", "fgsm", "pgd")
DEFAULT_EPSILONS = (0.0, 0.01, 0.03, 0.1, 0.3)
# Rows attacked at once.
CHUNK_ROWS = 1024
# PGD's step: 2.5 * epsilon / steps, so that its steps can cross the ball (Madry et al.).
PGD_STEP_FACTOR = 2.5


@validate_params(
    {
        "estimator": "no_validation",
        "X": "no_validation",
        "y": "no_validation",
        "epsilons": ["array-like"],
        "attacks": [list, tuple],
        "pgd_steps": [Interval(Integral, 1, None, closed="left")],
        "bounds": [None, tuple],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def robustness_report(estimator, X, y, *, epsilons=DEFAULT_EPSILONS, attacks=ATTACKS,
                      pgd_steps=10, bounds=None, random_state=None):
    """Score a fitted network under growing Gaussian noise and adversarial attacks.

    Each attack perturbs the input the network reads, in its own scale, by at
    most ``epsilon`` per entry (an L-infinity budget):

    - tables: the numeric columns *after sknn's own scaling*
      (``numeric_transform``: quantile-normal or standard, so epsilon is in
      standard deviations, roughly); categorical columns, missing values and
      missing-value indicators are *never* perturbed (sparse X, which sknn
      does not scale, is perturbed as given);
    - images: the pixels as given (``uint8`` pixels are read divided by 255,
      so epsilon is then a fraction of full intensity);
    - series: the values as given (for padded sequences, only the valid steps).

    Token ids cannot be perturbed continuously and are refused.

    Parameters
    ----------
    estimator : fitted sknn classifier or regressor, or Pipeline ending in one
    X : array-like, DataFrame or list of sequences
    y : array-like
        True targets of X.
    epsilons : array-like of float, default=(0.0, 0.01, 0.03, 0.1, 0.3)
        Budgets, each >= 0; the report has one row per budget.
    attacks : sequence of {'noise', 'fgsm', 'pgd'}, default=('noise', 'fgsm', 'pgd')
        'noise': Gaussian noise of standard deviation epsilon (not bounded
        by epsilon). 'fgsm': one step of epsilon along the sign of the loss
        gradient (Goodfellow et al. 2015; Captum's ``FGSM``). 'pgd':
        ``pgd_steps`` steps of ``2.5 * epsilon / pgd_steps``, each projected
        back into the epsilon ball (Madry et al. 2018; Captum's ``PGD``). The
        attacks raise the model's training loss (cross-entropy, or squared
        error on standardized targets) against the true y.
    pgd_steps : int, default=10
    bounds : (float, float) or None, default=None
        Clip every perturbed input to ``(low, high)``, e.g. ``(0, 16)`` for
        scikit-learn's digits; None: no clipping.
    random_state : int, RandomState instance or None, default=None
        Seeds the noise.

    Returns
    -------
    pandas.DataFrame
        One row per epsilon (index ``epsilon``), one column per attack, the
        estimator's score (accuracy, or R² for regressors, as
        ``estimator.score``) on the perturbed X. Its ``attrs`` say what was
        measured: ``score``, ``input_scale`` (where epsilon is measured),
        ``perturbed_features`` and ``unperturbed_features`` (tables),
        ``pgd_steps`` and ``bounds``.

    Raises
    ------
    ImportError
        When 'fgsm' or 'pgd' is asked for and Captum is not installed
        (``pip install "sknn[explain]"``).

    See Also
    --------
    RobustnessDisplay : Plots the report.

    Examples
    --------
    >>> import numpy as np
    >>> from sknn import MLPClassifier
    >>> from sknn.inspection import robustness_report
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 4))
    >>> y = (X[:, 0] + X[:, 1] > 0).astype(int)
    >>> clf = MLPClassifier((16,), ensemble_size=1, max_iter=50, n_threads=1,
    ...                     random_state=0).fit(X, y)
    >>> report = robustness_report(clf, X, y, epsilons=[0.0, 0.5], random_state=0)
    >>> list(report.columns)
    ['noise', 'fgsm', 'pgd']
    >>> bool(report.loc[0.0, "pgd"] == clf.score(X, y))
    True
    >>> bool(report.loc[0.5, "pgd"] < report.loc[0.0, "pgd"])
    True
    """
    function = "robustness_report"
    epsilons = _checked_epsilons(epsilons, function)
    attacks = _checked_attacks(attacks, function)
    if bounds is not None and not (len(bounds) == 2 and bounds[0] < bounds[1]):
        raise ValueError(f"{function}: bounds must be (low, high) with low < high; got "
                         f"{bounds!r}.")
    robust = import_captum(function, "robust") if {"fgsm", "pgd"} & set(attacks) else None
    model, transform, pipeline_names = explained_estimator(estimator, function)
    batch = encode(model, transform(X))
    if batch.kind == TOKENS:
        raise ValueError(
            f"{function}: {type(model).__name__} reads token ids, which cannot be "
            "perturbed by a small amount; noise and gradient attacks need a continuous "
            "input (numbers, series or images)."
        )
    y = np.asarray(y)
    y_encoded = model.task_.encode(y, type(model).__name__)
    network = SubstitutedNetwork(network_copy(model), [], has_fixed=batch.fixed is not None,
                                 head=False)
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    attack = _Attack(network, model.task_.make_criterion(), robust, pgd_steps, bounds,
                     check_random_state(random_state).randint(np.iinfo(np.int32).max))
    scores = {name: [] for name in attacks}
    with torch_threads(model.n_threads):
        for epsilon in epsilons:
            for name in attacks:
                predictions = attack.predictions(name, epsilon, batch, y_encoded,
                                                 model.task_)
                scores[name].append(_score(model, y, predictions))
    report = pd.DataFrame(scores, index=pd.Index(epsilons, name="epsilon"))
    report.attrs.update(_description(model, batch, pipeline_names, pgd_steps, bounds))
    return report


def _checked_epsilons(epsilons, function) -> list[float]:
    values = np.asarray(epsilons, dtype=np.float64) if np.ndim(epsilons) == 1 else None
    if values is None or not len(values) or not np.isfinite(values).all() or (
            values < 0).any():
        raise ValueError(
            f"{function}: epsilons must be a non-empty 1-D sequence of finite numbers "
            f">= 0; got {epsilons!r}."
        )
    return values.tolist()


def _checked_attacks(attacks, function) -> list[str]:
    attacks = list(attacks)
    if not attacks or len(set(attacks)) != len(attacks) or not set(attacks) <= set(ATTACKS):
        raise ValueError(
            f"{function}: attacks must be distinct names among {ATTACKS}; got {attacks!r}."
        )
    return attacks


def _score(model, y, predictions) -> float:
    """``estimator.score``'s metric: accuracy (classifiers) or R² (regressors)."""
    if is_classifier(model):
        return float(accuracy_score(y, predictions))
    return float(r2_score(y, predictions))


class _Attack:
    """Perturbed inputs and the predictions on them, a chunk of rows at a time."""

    def __init__(self, network, criterion, robust, pgd_steps, bounds, seed):
        self.network = network
        self.criterion = criterion
        self.pgd_steps = pgd_steps
        low, high = bounds if bounds is not None else (-np.inf, np.inf)
        self.low, self.high = float(low), float(high)
        self.seed = seed
        if robust is not None:
            self.fgsm = robust.FGSM(network, self.loss, lower_bound=self.low,
                                    upper_bound=self.high)
            self.pgd = robust.PGD(network, self.loss, lower_bound=self.low,
                                  upper_bound=self.high)

    def loss(self, outputs, target):
        """The training loss of each row (summed over outputs and labels)."""
        if target.is_floating_point():
            target = target.to(outputs.dtype)
        return self.criterion(outputs, target).reshape(len(outputs), -1).sum(dim=1)

    def predictions(self, name, epsilon, batch, y_encoded, task) -> np.ndarray:
        generator = torch.Generator().manual_seed(self.seed)
        outputs = []
        for start in range(0, len(batch), CHUNK_ROWS):
            rows = batch.rows(start, start + CHUNK_ROWS)
            values = self.perturbed(name, epsilon, rows, y_encoded[start:start + CHUNK_ROWS],
                                    generator)
            with torch.no_grad():
                outputs.append(self.network(values, *rows.fixed_args()))
        return task.predict(torch.cat(outputs))

    def perturbed(self, name, epsilon, rows, target, generator) -> torch.Tensor:
        if epsilon == 0:
            return rows.values
        mask = rows.perturbable
        if name == "noise":
            noise = torch.randn(rows.values.shape, generator=generator,
                                dtype=rows.values.dtype)
            return (rows.values + epsilon * noise * mask).clamp(self.low, self.high)
        extra = rows.fixed_args() or None
        with warnings.catch_warnings():
            # Captum notes each step that it makes the (detached) input require gradients.
            warnings.filterwarnings("ignore", message="Input Tensor .* require gradients")
            if name == "fgsm":
                return self.fgsm.perturb(rows.values, epsilon, target,
                                         additional_forward_args=extra, mask=mask)
            return self.pgd.perturb(rows.values, epsilon, PGD_STEP_FACTOR * epsilon /
                                    self.pgd_steps, self.pgd_steps, target,
                                    additional_forward_args=extra, mask=mask)


def _description(model, batch, pipeline_names, pgd_steps, bounds) -> dict:
    """What the report measured, for its ``attrs``."""
    description = {"score": "accuracy" if is_classifier(model) else "R²",
                   "pgd_steps": pgd_steps, "bounds": bounds,
                   "perturbed_features": None, "unperturbed_features": None}
    if batch.kind == TABLE:
        encoder = model.encoder_
        names = feature_names(model, pipeline_names)
        description["perturbed_features"] = [names[j] for j in encoder.numeric_index]
        description["unperturbed_features"] = [names[j] for j in encoder.categorical_index]
        scale = ("as given (sparse X is not scaled)" if encoder.kinds == ["sparse"] else
                 f"after sknn's scaling (numeric_transform={encoder.numeric_transform!r})")
        description["input_scale"] = (f"numeric columns {scale}; categorical columns, "
                                      "missing values and their indicators never perturbed")
    elif batch.kind == IMAGE:
        description["input_scale"] = "pixels as given (uint8 pixels divided by 255)"
    else:
        description["input_scale"] = "series values as given (valid steps only)"
    return description


class RobustnessDisplay:
    """Score against the perturbation budget, one curve per attack.

    Build it with :meth:`from_estimator`, or from a report of
    :func:`robustness_report` with the constructor and :meth:`plot`.

    Parameters
    ----------
    report : pandas.DataFrame
        A :func:`robustness_report`: rows epsilon, columns attacks.
    estimator_name : str, default=None
        Title of the plot.

    Attributes
    ----------
    lines_ : dict of str to matplotlib Line2D
        The curve of each attack.
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    See Also
    --------
    robustness_report : The scores behind the curves.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sknn import MLPClassifier
    >>> from sknn.inspection import RobustnessDisplay
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 4))
    >>> y = (X[:, 0] > 0).astype(int)
    >>> clf = MLPClassifier((16,), ensemble_size=1, max_iter=30, n_threads=1,
    ...                     random_state=0).fit(X, y)
    >>> display = RobustnessDisplay.from_estimator(clf, X, y, epsilons=[0, 0.1, 0.3],
    ...                                            random_state=0)
    >>> sorted(display.lines_)
    ['fgsm', 'noise', 'pgd']
    """

    def __init__(self, report, *, estimator_name=None):
        self.report = report
        self.estimator_name = estimator_name

    @classmethod
    def from_estimator(cls, estimator, X, y, *, epsilons=DEFAULT_EPSILONS, attacks=ATTACKS,
                       pgd_steps=10, bounds=None, random_state=None, ax=None, name=None):
        """Compute a :func:`robustness_report` and plot it.

        Parameters
        ----------
        estimator : fitted sknn classifier or regressor, or Pipeline ending in one
        X : array-like, DataFrame or list of sequences
        y : array-like
        epsilons, attacks, pgd_steps, bounds, random_state
            As for :func:`robustness_report`.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        name : str, default=None
            Title; the estimator's class name when None.

        Returns
        -------
        display : RobustnessDisplay
        """
        import_pyplot(cls.__name__)
        report = robustness_report(estimator, X, y, epsilons=epsilons, attacks=attacks,
                                   pgd_steps=pgd_steps, bounds=bounds,
                                   random_state=random_state)
        model_name = type(final_estimator(estimator)).__name__
        return cls(report, estimator_name=model_name).plot(ax=ax, name=name)

    def plot(self, ax=None, *, name=None, **line_kw):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        name : str, default=None
            Title; ``estimator_name`` when None.
        **line_kw : dict
            Keyword arguments of every ``ax.plot`` call.

        Returns
        -------
        display : RobustnessDisplay
            Itself, with ``ax_``, ``figure_`` and ``lines_`` set.
        """
        plt = import_pyplot(type(self).__name__)
        new_figure = ax is None
        if new_figure:
            _, ax = plt.subplots()
        epsilons = np.asarray(self.report.index, dtype=float)
        self.lines_ = {
            attack: ax.plot(epsilons, self.report[attack].to_numpy(),
                            **{"marker": "o", "label": attack, **line_kw})[0]
            for attack in self.report.columns
        }
        ax.set_xlabel("epsilon (L∞ budget; noise: standard deviation)")
        ax.set_ylabel(self.report.attrs.get("score", "score"))
        ax.set_title(name or self.estimator_name or "")
        ax.legend()
        self.ax_ = ax
        self.figure_ = ax.figure
        if new_figure:
            self.figure_.tight_layout()
        return self
