"""The shared parameters, declared once: name, default, constraint, docstring entry, owner.

Every parameter that several estimator families take is one :class:`Param`
in :data:`PARAMETERS`. The families' ``_parameter_constraints`` take their
entries with :func:`constraints`, their docstrings with
:func:`sknn._core._docs.param_docs`, and ``tests/test_parameters.py`` checks
that every explicit ``__init__`` (scikit-learn requires them) has the table's
default, constraint and docstring entry, or declares where it differs
(its architecture's ``family_defaults``, ``family_constraints``, ``family_docs``).

Parameters whose default is chosen per family (the learning rate, the batch
size, the epochs) have ``default=PER_FAMILY`` and are documented by each
family.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import Interval, StrOptions

SOLVER_NAMES = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "warmup_cosine", "onecycle")
ADVERSARIAL_METHODS = ("pgd", "fgsm")
NUMERIC_TRANSFORMS = ("quantile", "standard", "none")
NUMERIC_EMBEDDINGS = ("periodic", "piecewise_linear")
# The default of a parameter that each family chooses (and documents) itself.
PER_FAMILY = object()


@dataclass(frozen=True)
class Param:
    """One shared parameter.

    Attributes
    ----------
    name : str
    default : object
        The ``__init__`` default (``PER_FAMILY``: each family's own).
    constraint : list
        scikit-learn's ``_parameter_constraints`` entry.
    owner : str
        What reads it: 'optimizer', 'stopping', 'run', 'classification' or
        the training feature's name (:mod:`sknn._training._feature`).
    doc : str or None
        The numpydoc entry (None: each family documents it).
    """

    name: str
    default: object
    constraint: list
    owner: str
    doc: str | None = None


_TABLE = [
    Param("learning_rate_init", PER_FAMILY, [Interval(Real, 0, None, closed="neither")],
          owner="optimizer"),
    Param("learning_rate", PER_FAMILY, [StrOptions(set(SCHEDULES))], owner="optimizer"),
    Param("batch_size", "auto", [StrOptions({"auto"}), Interval(Integral, 1, None,
                                                                 closed="left")],
          owner="optimizer"),
    Param("max_iter", PER_FAMILY, [Interval(Integral, 1, None, closed="left")],
          owner="optimizer"),
    Param("class_weight", None, [None, dict, StrOptions({"balanced"})],
          owner="classification"),
    # Documented by their owners' shared docstring sections (the tabular input's
    # per family; FINE_TUNING_PARAMS_DOC; BAG_OF_WORDS_PARAMS_DOC).
    Param("categorical_features", "from_dtype",
          [StrOptions({"from_dtype"}), "array-like", None], owner="tabular input"),
    Param("numeric_transform", "quantile", [StrOptions(set(NUMERIC_TRANSFORMS))],
          owner="tabular input"),
    Param("numeric_embedding", "auto", [StrOptions({"auto", *NUMERIC_EMBEDDINGS}), None],
          owner="tabular input"),
    Param("freeze_epochs", 0, [Interval(Integral, 0, None, closed="left")],
          owner="layer_freezing"),
    Param("trainable_layers", 1, [Interval(Integral, 1, None, closed="left")],
          owner="layer_freezing"),
    Param("bag_of_words", True, ["boolean"], owner="bag_of_words"),
    Param("bag_of_words_C", "auto",
          [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
          owner="bag_of_words"),
    Param("alpha", 1e-4,
          [Interval(Real, 0, None, closed="left")],
          owner="optimizer", doc="""
    alpha : float, default=1e-4
        Weight decay (L2 penalty; decoupled from the gradient for 'adamw')."""),
    Param("solver", 'adam',
          [StrOptions(set(SOLVER_NAMES))],
          owner="optimizer", doc="""
    solver : {'adam', 'adamw', 'sgd'}, default='adam'
        Optimizer; 'sgd' uses Nesterov momentum 0.9."""),
    Param("early_stopping", 'auto',
          ["boolean", StrOptions({"auto"})],
          owner="stopping", doc="""
    early_stopping : bool or 'auto', default='auto'
        Hold out ``validation_fraction`` of the training data (stratified for
        classifiers), stop when its loss (log-loss for classifiers, squared
        error for regressors) has not decreased by ``tol`` for
        ``n_iter_no_change`` epochs, and restore the weights of the epoch with
        the lowest one.
        'auto' enables it when there are more than 1,000 samples. Without it,
        training stops when the training loss stalls the same way."""),
    Param("validation_fraction", 0.1,
          [Interval(Real, 0, 1, closed="neither")],
          owner="stopping", doc="""
    validation_fraction : float in (0, 1), default=0.1
        Share of the training data held out for early stopping."""),
    Param("n_iter_no_change", 'auto',
          [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
          owner="stopping", doc="""
    n_iter_no_change : int or 'auto', default='auto'
        Epochs without improvement before stopping. 'auto': 20 when early
        stopping monitors held-out data (the best epoch is restored, so waiting
        costs only time), 10 when it monitors the training loss."""),
    Param("tol", 1e-4,
          [Interval(Real, 0, None, closed="left")],
          owner="stopping", doc="""
    tol : float, default=1e-4
        Minimum improvement that resets the ``n_iter_no_change`` count."""),
    Param("random_state", None,
          ["random_state"],
          owner="run", doc="""
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialization, dropout, shuffling and the validation
        split. The same int gives bit-identical models on the CPU; the global
        torch and numpy random states are left untouched."""),
    Param("device", 'auto',
          [str, torch.device],
          owner="run", doc="""
    device : str or torch.device, default='auto'
        'auto' (the first GPU when CUDA is available, else the CPU), 'cpu',
        'cuda' or 'cuda:N'."""),
    Param("n_threads", None,
          [None, Interval(Integral, 1, None, closed="left")],
          owner="run", doc="""
    n_threads : int or None, default=None
        Torch CPU threads during fit and predict (restored afterwards). None
        follows ``OMP_NUM_THREADS`` when set (joblib's workers set it to
        ``cpu_count // n_jobs``), else torch's default, less the cores other
        processes keep busy, for every fit and prediction (torch's waiting
        threads spin, and beside a busy process two threads on two cores ran
        short fits 5-35x slower than one). The load is read from ``/proc/stat``
        since the previous reading, at no cost (about 30 µs); a fit of at least
        100,000 rows in all whose last reading is over 2 s old waits 0.1 s for
        a fresh one."""),
    Param("verbose", 0,
          ["verbose"],
          owner="run", doc="""
    verbose : int, default=0
        0 is silent; 1 shows a progress bar per epoch (tqdm, notebook-aware)
        with the training loss and validation score; 2 or more prints
        skorch's per-epoch table."""),
    Param("warm_start", False,
          ["boolean"],
          owner="run", doc="""
    warm_start : bool, default=False
        Let a new ``fit`` continue from the current weights (and optimizer
        state), with the current ``learning_rate``, ``learning_rate_init``
        and ``alpha``; a schedule restarts over its epochs. A network
        continues only under the parameters it was built with: after
        ``set_params`` changes one that shapes the network or its input
        encoding (the architecture, dropout, ``dtype``, the column encoding,
        ...), ``fit`` trains a new network, with a warning, as with
        ``warm_start=False``, so that the model is always the one its
        parameters describe (``partial_fit`` refuses such a change)."""),
    Param("callbacks", None,
          [None, list],
          owner="run", doc="""
    callbacks : list of skorch callbacks or (name, callback) pairs, default=None
        Extra skorch callbacks for the net (checkpointing, logging, ...)."""),
    Param("dtype", 'auto',
          [StrOptions({"auto", "float32", "float64"})],
          owner="run", doc="""
    dtype : {'auto', 'float32', 'float64'}, default='auto'
        Floating-point type of the weights and of the data on the device.
        'auto' trains small float64 inputs (at most 10,000 values) on the CPU
        in float64, as exactly as scikit-learn (integer sample weights then
        equal repeated rows to about 1e-15, against about 1e-5 in float32, so
        scikit-learn's sample-weight checks pass), and everything else in
        float32, the fast type on CPUs and GPUs. The CNNs and Transformers
        train in float32 under 'auto' whatever the size: float64 convolutions
        have no oneDNN kernels and took 3.8x as long per step on iris, float64
        attention 1.3-2x as long per fit on small tables (benchmarks/RESULTS.md,
        "Small data"); ask for 'float64' where exactness matters more."""),
    Param("adversarial_epsilon", None,
          [None, Interval(Real, 0, None, closed="neither")],
          owner="adversarial", doc="""
    adversarial_epsilon : float or None, default=None
        Adversarial training (Goodfellow et al. 2015, Madry et al. 2018):
        every training batch is trained together with a copy perturbed, with
        the network of that step, to raise the loss, each value moved by at
        most ``adversarial_epsilon``; the clean and the perturbed rows carry
        half of the loss each. In the units of the network's input: the
        scaled numeric columns of a table (after ``numeric_transform``;
        category codes and missing-value indicators never move), the values
        of series and images (``uint8`` pixels after division by 255). A fit
        takes about 5 times the CPU time of a plain one with 'pgd', 2 times
        with 'fgsm' (benchmarks/RESULTS.md). None: no adversarial copies."""),
    Param("adversarial_method", 'pgd',
          [StrOptions(set(ADVERSARIAL_METHODS))],
          owner="adversarial", doc="""
    adversarial_method : {'pgd', 'fgsm'}, default='pgd'
        How the copies are searched (with the network in evaluation mode):
        projected gradient ascent, 5 signed-gradient steps of half
        ``adversarial_epsilon`` from a random start in the ball ('pgd'), or
        one signed-gradient step of ``adversarial_epsilon`` ('fgsm': cheaper,
        weaker against a PGD attack)."""),
    Param("dp_epsilon", None,
          [None, Interval(Real, 0, None, closed="neither")],
          owner="privacy", doc="""
    dp_epsilon : float or None, default=None
        Differentially private training: DP-SGD (Abadi et al. 2016) through
        Opacus (``pip install "sknn[privacy]"``). Each step's batch is a
        Poisson sample (every training row joins it independently, so that
        batches hold ``batch_size`` rows on average), each row's gradient is
        clipped to ``dp_max_grad_norm`` and Gaussian noise is added,
        calibrated so that the planned ``max_iter`` epochs spend at most
        ``(dp_epsilon, dp_delta)``; ``epsilon_`` is what the fit spent
        (Opacus' Rényi-DP accountant). Without held-out data the planned
        epochs all run: stopping on the training loss would let the private
        rows decide outside the accounting. The guarantee covers the
        network's training: what ``fit`` learns from X besides (the tabular
        scaling, categories and bins, the target standardization) is not
        private, and rows held out for early stopping are not trained on but
        choose the epoch kept. Refused with warm_start, partial_fit,
        freeze_epochs, unequal sample or class weights, adversarial training
        and batch norm (CNNs: use ``normalization='layer'``). Three
        parameters rather than one dict, so that each is validated and
        searched like any other. None: ordinary training."""),
    Param("dp_delta", 'auto',
          [StrOptions({"auto"}), Interval(Real, 0, 1, closed="neither")],
          owner="privacy", doc="""
    dp_delta : float in (0, 1) or 'auto', default='auto'
        The delta of the guarantee; 'auto' is ``1 / (10 * n_train)``. It must
        stay below ``1 / n_train``."""),
    Param("dp_max_grad_norm", 1.0,
          [Interval(Real, 0, None, closed="neither")],
          owner="privacy", doc="""
    dp_max_grad_norm : float, default=1.0
        Bound on the L2 norm of each row's gradient in DP-SGD (the noise is
        proportional to it)."""),
    Param("clip_grad_norm", None,
          [None, Interval(Real, 0, None, closed="neither")],
          owner="gradient_clipping", doc="""
    clip_grad_norm : float or None, default=None
        Clip the global gradient norm to this value before each step
        (gradient clipping, against exploding gradients); None: no clipping.
        Not with ``dp_epsilon`` (where a family offers it): DP-SGD clips each
        row's gradient (``dp_max_grad_norm``)."""),
]
PARAMETERS: dict[str, Param] = {param.name: param for param in _TABLE}


def constraints(*names: str) -> dict:
    """The ``_parameter_constraints`` entries of the shared parameters ``names``.

    Examples
    --------
    >>> sorted(constraints("tol", "dp_epsilon"))
    ['dp_epsilon', 'tol']
    """
    return {name: PARAMETERS[name].constraint for name in names}


def owned_by(*owners: str) -> tuple[str, ...]:
    """The names of the shared parameters that ``owners`` own, in table order.

    Examples
    --------
    >>> owned_by("privacy")
    ('dp_epsilon', 'dp_delta', 'dp_max_grad_norm')
    """
    return tuple(param.name for param in _TABLE if param.owner in owners)
