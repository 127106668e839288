"""Documentation the estimator families share: keyed entries in one place.

A family's docstring takes the parameter entries it shares by name with
:func:`param_docs`, and the fitted attributes every estimator has from
:func:`fitted_attributes_doc`. An unknown name raises at import, so an entry that
was renamed or removed breaks the build loudly instead of leaving a hole, and no
family imports another's docstrings.
"""

from __future__ import annotations

from collections.abc import Sequence

from sknn._training._parameters import PARAMETERS

_ENTRIES = {name: param.doc for name, param in PARAMETERS.items() if param.doc is not None}


def param_docs(names: Sequence[str]) -> str:
    """The numpydoc entries of the shared parameters ``names``, in that order."""
    missing = [name for name in names if name not in _ENTRIES]
    if missing:
        raise KeyError(f"sknn._training._parameters documents no shared parameter "
                       f"{missing}; add it there (it documents {sorted(_ENTRIES)})")
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
