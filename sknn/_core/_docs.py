"""Documentation the estimator families share: keyed entries in one place.

A family's docstring takes the parameter entries it shares by name with
:func:`param_docs`, and the fitted attributes every estimator has from
:func:`fitted_attributes_doc`. An unknown name raises at import, so an entry that
was renamed or removed breaks the build loudly instead of leaving a hole, and no
family imports another's docstrings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_SHARED_PARAMETERS = """
    alpha : float, default=1e-4
        Weight decay (L2 penalty; decoupled from the gradient for 'adamw').
    solver : {'adam', 'adamw', 'sgd'}, default='adam'
        Optimizer; 'sgd' uses Nesterov momentum 0.9.
    early_stopping : bool or 'auto', default='auto'
        Hold out ``validation_fraction`` of the training data (stratified for
        classifiers), stop when its loss (log-loss for classifiers, squared
        error for regressors) has not decreased by ``tol`` for
        ``n_iter_no_change`` epochs, and restore the weights of the epoch with
        the lowest one.
        'auto' enables it when there are more than 1,000 samples. Without it,
        training stops when the training loss stalls the same way.
    validation_fraction : float in (0, 1), default=0.1
        Share of the training data held out for early stopping.
    n_iter_no_change : int or 'auto', default='auto'
        Epochs without improvement before stopping. 'auto': 20 when early
        stopping monitors held-out data (the best epoch is restored, so waiting
        costs only time), 10 when it monitors the training loss.
    tol : float, default=1e-4
        Minimum improvement that resets the ``n_iter_no_change`` count.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialization, dropout, shuffling and the validation
        split. The same int gives bit-identical models on the CPU; the global
        torch and numpy random states are left untouched.
    device : str or torch.device, default='auto'
        'auto' (the first GPU when CUDA is available, else the CPU), 'cpu',
        'cuda' or 'cuda:N'.
    n_threads : int or None, default=None
        Torch CPU threads during fit and predict (restored afterwards). None
        follows ``OMP_NUM_THREADS`` when set (joblib's workers set it to
        ``cpu_count // n_jobs``), else torch's default, less the cores other
        processes keep busy, for every fit and prediction (torch's waiting
        threads spin, and beside a busy process two threads on two cores ran
        short fits 5-35x slower than one). The load is read from ``/proc/stat``
        since the previous reading, at no cost (about 30 µs); a fit of at least
        100,000 rows in all whose last reading is over 2 s old waits 0.1 s for
        a fresh one.
    verbose : int, default=0
        0 is silent; 1 shows a progress bar per epoch (tqdm, notebook-aware)
        with the training loss and validation score; 2 or more prints
        skorch's per-epoch table.
    warm_start : bool, default=False
        Let a new ``fit`` continue from the current weights (and optimizer
        state), with the current ``learning_rate``, ``learning_rate_init``
        and ``alpha``; a schedule restarts over its epochs. A network
        continues only under the parameters it was built with: after
        ``set_params`` changes one that shapes the network or its input
        encoding (the architecture, dropout, ``dtype``, the column encoding,
        ...), ``fit`` trains a new network, with a warning, as with
        ``warm_start=False``, so that the model is always the one its
        parameters describe (``partial_fit`` refuses such a change).
    callbacks : list of skorch callbacks or (name, callback) pairs, default=None
        Extra skorch callbacks for the net (checkpointing, logging, ...).
    dtype : {'auto', 'float32', 'float64'}, default='auto'
        Floating-point type of the weights and of the data on the device.
        'auto' trains small float64 inputs (at most 10,000 values) on the CPU
        in float64, as exactly as scikit-learn (integer sample weights then
        equal repeated rows to about 1e-15, against about 1e-5 in float32, so
        scikit-learn's sample-weight checks pass), and everything else in
        float32, the fast type on CPUs and GPUs. The CNNs train in float32
        under 'auto' whatever the size: float64 convolutions have no oneDNN
        kernels and took 3.8x as long per step on iris (benchmarks/RESULTS.md,
        "Small data"); ask for 'float64' where exactness matters more.
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
        with 'fgsm' (benchmarks/RESULTS.md). None: no adversarial copies.
    adversarial_method : {'pgd', 'fgsm'}, default='pgd'
        How the copies are searched (with the network in evaluation mode):
        projected gradient ascent, 5 signed-gradient steps of half
        ``adversarial_epsilon`` from a random start in the ball ('pgd'), or
        one signed-gradient step of ``adversarial_epsilon`` ('fgsm': cheaper,
        weaker against a PGD attack).
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
        searched like any other. None: ordinary training.
    dp_delta : float in (0, 1) or 'auto', default='auto'
        The delta of the guarantee; 'auto' is ``1 / (10 * n_train)``. It must
        stay below ``1 / n_train``.
    dp_max_grad_norm : float, default=1.0
        Bound on the L2 norm of each row's gradient in DP-SGD (the noise is
        proportional to it).
    clip_grad_norm : float or None, default=None
        Clip the global gradient norm to this value before each step
        (gradient clipping, against exploding gradients); None: no clipping.
        Not with ``dp_epsilon``, whose DP-SGD clips each row's gradient
        (``dp_max_grad_norm``)."""

_ENTRIES = {entry.split(" : ")[0].strip(): entry
            for entry in re.split(r"\n(?=    \w+ : )", _SHARED_PARAMETERS) if entry.strip()}


def param_docs(names: Sequence[str]) -> str:
    """The numpydoc entries of the shared parameters ``names``, in that order."""
    missing = [name for name in names if name not in _ENTRIES]
    if missing:
        raise KeyError(f"sknn._core._docs has no shared entry for {missing}; add it there "
                       f"(it has {sorted(_ENTRIES)})")
    return "".join("\n" + _ENTRIES[name].strip("\n") for name in names)


DP_ATTRIBUTES_DOC = """
    epsilon_ : float or None
        The privacy budget the fit spent (at most ``dp_epsilon``, less when
        early stopping ended it); None without ``dp_epsilon``."""


_FITTED_ATTRIBUTES = """
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is the PyTorch module.
    device_ : torch.device
        Where the network is: the ``device`` parameter resolved ('auto' to a
        GPU or the CPU), or where ``sknn.load`` placed it.
    n_features_in_ : int
        {n_features_in}
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when X was a DataFrame with string column names.
    n_outputs_ : int
        Width of the network's output layer.
    n_iter_ : int
        Epochs trained (accumulated over ``warm_start`` fits and ``partial_fit``).
    loss_curve_ : list of float
        Mean training loss of each epoch.
    validation_scores_ : list of float or None
        Validation score of each epoch, when early stopping held out data.
    best_validation_score_ : float or None
        Validation score of the restored epoch (the one with the lowest
        validation loss).
    best_loss_ : float or None
        Lowest training loss, when early stopping is off."""


def fitted_attributes_doc(n_features_in: str) -> str:
    """The fitted attributes every estimator has; ``n_features_in``: what it counts."""
    return _FITTED_ATTRIBUTES.format(n_features_in=n_features_in)
