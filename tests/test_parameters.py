"""Shared parameters are declared once, and every explicit ``__init__`` matches the table."""

import inspect

import pytest

import sknn
from sknn._core._base import SOLVERS
from sknn._training._parameters import (
    PARAMETERS,
    PER_FAMILY,
    SOLVER_NAMES,
    constraints,
    owned_by,
)

ESTIMATORS = [sknn.MLPClassifier, sknn.MLPRegressor, sknn.CNNClassifier, sknn.CNNRegressor,
              sknn.RNNClassifier, sknn.RNNRegressor, sknn.TransformerClassifier,
              sknn.TransformerRegressor, sknn.AutoencoderTransformer]


def _signature(estimator) -> dict:
    return {name: p.default for name, p in inspect.signature(estimator.__init__).parameters.items()
            if name != "self"}


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda cls: cls.__name__)
def test_every_init_matches_the_table_of_shared_parameters(estimator):
    architecture = estimator._architecture
    family_defaults = architecture.family_defaults
    family_docs = architecture.family_docs
    family_constraints = architecture.family_constraints
    for name, default in _signature(estimator).items():
        assert name in estimator._parameter_constraints, f"{name} has no constraint"
        if name not in PARAMETERS:
            continue
        shared = PARAMETERS[name]
        if name not in family_constraints:
            assert estimator._parameter_constraints[name] is shared.constraint, name
        if shared.default is not PER_FAMILY:
            assert default == family_defaults.get(name, shared.default), name
        if shared.doc is not None and name not in family_docs:
            assert shared.doc.strip() in estimator.__doc__, f"{name}'s docstring entry"


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda cls: cls.__name__)
def test_a_family_names_each_shared_parameter_it_takes_differently(estimator):
    # What a family declares as its own default or docstring is a shared parameter
    # it takes; nothing else hides there.
    signature = _signature(estimator)
    architecture = estimator._architecture
    declared = (set(architecture.family_defaults) | set(architecture.family_docs)
                | set(architecture.family_constraints))
    assert declared <= set(signature) & set(PARAMETERS)


def test_training_features_take_their_constraints_from_the_table():
    from sknn._core._adversarial import ADVERSARIAL_CONSTRAINTS
    from sknn._core._privacy import DP_CONSTRAINTS
    from sknn._training._feature import GRADIENT_CLIPPING_CONSTRAINTS

    assert DP_CONSTRAINTS == constraints("dp_epsilon", "dp_delta", "dp_max_grad_norm")
    assert ADVERSARIAL_CONSTRAINTS == constraints(*owned_by("adversarial"))
    assert GRADIENT_CLIPPING_CONSTRAINTS == constraints("clip_grad_norm")
    assert set(SOLVERS) == set(SOLVER_NAMES)


def test_every_documented_default_is_the_declared_default():
    import ast

    for param in PARAMETERS.values():
        if param.doc is None:
            continue
        header = param.doc.strip().splitlines()[0]
        assert header.startswith(f"{param.name} : "), header
        assert ast.literal_eval(header.split("default=")[1]) == param.default, param.name
