"""The parameters a fitted network was built with, and whether they still describe it.

A network is built from the estimator's parameters: its architecture
(``_build_module``) and the input encoding learned in the same fit.
``warm_start`` and ``partial_fit`` continue that network, and
:func:`sknn.save` writes the parameters for :func:`sknn.load` to rebuild it:
both need the current parameters to be the ones it was built with.

Which parameters shape the network is derived, not listed: every parameter
does, except those a class declares in ``_training_only_params`` (the
optimizer, the schedule, stopping, the device, ...: parameters that each
``fit`` reads afresh, none of them built into the network). A new parameter
thus counts as shaping the network until declared otherwise, the safe side
to err on: a warm start then trains a new network rather than one its
parameters do not describe.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pandas as pd
import torch

# Compared item by item: == gives arrays for the NumPy and pandas ones (a
# categorical_features=df.columns[...], say), which no bool() can judge.
_SEQUENCES = (list, tuple, np.ndarray, pd.Index, pd.Series)
# The estimator's attribute that holds the record.
NETWORK_PARAMS_RECORD = "_network_params_"


def training_only_params(estimator) -> frozenset[str]:
    """Parameters that only steer training, as the classes of ``estimator`` and its
    training features declare them."""
    features = getattr(estimator, "_features", ())
    architecture = getattr(estimator, "_architecture", None)
    return frozenset().union(
        *(vars(cls).get("_training_only_params", ()) for cls in type(estimator).__mro__),
        getattr(architecture, "training_only_params", ()),
        *(feature.params for feature in features if feature.training_only))


def network_params(estimator) -> dict:
    """Copies of the parameters that shape ``estimator``'s network and input encoding."""
    skip = training_only_params(estimator)
    return {name: copy.deepcopy(value)
            for name, value in estimator.get_params(deep=False).items() if name not in skip}


def record_network_params(estimator) -> None:
    """Remember the parameters a network is being built with (in fit and in sknn.load)."""
    setattr(estimator, NETWORK_PARAMS_RECORD, network_params(estimator))


def changed_network_params(estimator) -> list[tuple[str, object, object]]:
    """``(name, value built with, value now)`` of each network parameter changed since.

    Empty when nothing changed, or when no record exists (an estimator
    pickled by an sknn that kept none: it continues, as it did then).
    """
    built = getattr(estimator, NETWORK_PARAMS_RECORD, None)
    if built is None:
        return []
    return [(name, built[name], value) for name, value in network_params(estimator).items()
            if name in built and not _same(built[name], value)]


def _same(old, new) -> bool:
    """Equal values; a list and a tuple (or array) of equal items are the same."""
    if isinstance(old, _SEQUENCES) or isinstance(new, _SEQUENCES):
        return (isinstance(old, _SEQUENCES) and isinstance(new, _SEQUENCES)
                and len(old) == len(new) and all(map(_same, old, new)))
    try:
        return bool(old == new)
    except (TypeError, ValueError):
        return old is new


def describe_changes(changes) -> str:
    """'hidden_layer_sizes changed from (10,) to (20,)', joined by '; '."""
    return "; ".join(f"{name} changed from {old!r} to {new!r}" for name, old, new in changes)


def continues_network(estimator, incremental: bool) -> bool:
    """Whether this ``fit`` (``warm_start``) or ``partial_fit`` continues the fitted network.

    A network cannot continue under parameters it was not built with. A
    ``partial_fit`` (one step of an ongoing training) refuses such a change
    with a ValueError before anything changes. A ``fit`` with ``warm_start``
    trains a new network, with a warning, as ``warm_start=False`` would: a
    fit always leaves the model its parameters describe, so that
    ``get_params``, ``clone`` and :func:`sknn.save` stay true to it.
    Rather than a ValueError: warm_start reuses the previous solution where
    there is one to reuse (scikit-learn's MLP re-initializes whenever it has
    no coefficients to reuse), and loops that fit one estimator over
    parameter values, warm_start's documented use, then keep working.
    """
    if not hasattr(estimator, "net_") or not (incremental or estimator.warm_start):
        return False
    changes = changed_network_params(estimator)
    if not changes:
        return True
    name = type(estimator).__name__
    if incremental:
        raise ValueError(
            f"{name}.partial_fit: {describe_changes(changes)} since the network was "
            "built; partial_fit continues that network, which was not built for the "
            "new value. Call fit with warm_start=False to train a new network, or set "
            "the old value back."
        )
    warnings.warn(
        f"{name}: warm_start cannot continue the fitted network ({describe_changes(changes)} "
        "since it was built); fitting a new network.",
        UserWarning, stacklevel=5,
    )
    return False


def check_rebuilds(estimator, caller: str = "sknn.save") -> None:
    """Refuse when ``estimator``'s parameters would not rebuild its fitted network.

    A file stores the parameters and the weights; loading builds the network
    from the parameters and copies the weights in. Parameters changed after
    the fit (``set_params`` without a new fit) would load another network,
    or none.
    """
    if "net_" not in vars(estimator):
        return
    name = type(estimator).__name__
    changes = changed_network_params(estimator)
    if changes:
        raise ValueError(
            f"{caller}: {name}'s parameters no longer describe its fitted network "
            f"({describe_changes(changes)} since it was built); a file of them would "
            "rebuild another network. Set the old value back, or fit again, before saving."
        )
    difference = _structure_difference(estimator)
    if difference:
        raise ValueError(
            f"{caller}: {name}'s parameters build a network that does not match its "
            f"fitted weights ({difference}); a file of them could not be loaded. Fit "
            "again before saving."
        )


def _structure_difference(estimator) -> str | None:
    """How the network the parameters build differs from the fitted one (keys, shapes)."""
    # On the meta device: shapes without memory, however large the network
    # (torch warns that copying weights onto meta tensors is a no-op: only the
    # shapes matter here).
    with torch.device("meta"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*to a meta parameter.*",
                                category=UserWarning)
        rebuilt = estimator._build_module(estimator.n_features_in_, estimator.task_)
    expected, fitted = _shapes(rebuilt), _shapes(estimator.net_.module_)
    if fitted.keys() - expected.keys():
        return (f"the weights hold {sorted(fitted.keys() - expected.keys())}, which "
                "the rebuilt network lacks")
    if expected.keys() - fitted.keys():
        return (f"the rebuilt network needs {sorted(expected.keys() - fitted.keys())}, "
                "which the weights lack")
    for key, shape in fitted.items():
        if expected[key] != shape:
            return f"{key} has shape {shape} in the weights, {expected[key]} rebuilt"
    return None


def _shapes(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {key: tuple(value.shape) for key, value in module.state_dict().items()
            if isinstance(value, torch.Tensor)}
