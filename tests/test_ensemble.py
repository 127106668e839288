"""Batched ensembles: members' spread as an uncertainty estimate (predict(return_std=True))."""

import numpy as np
import pytest
import torch

from sknn import MLPRegressor
from sknn.modules import EnsembleMLP

# Standard scaling and no numeric embedding: the quantile transform would clip
# points beyond the training range to its edge.
FAST = {"hidden_layer_sizes": (64, 64), "max_iter": 100, "n_threads": 1, "random_state": 0,
        "numeric_transform": "standard", "numeric_embedding": None}


@pytest.fixture(scope="module")
def wave():
    rng = np.random.RandomState(0)
    X = rng.uniform(-2, 2, (300, 1))
    return X, np.sin(2 * X[:, 0]) + 0.1 * rng.randn(300)


def test_std_is_positive_and_grows_away_from_the_training_data(wave):
    X, y = wave
    model = MLPRegressor(ensemble_size=8, **FAST).fit(X, y)
    inside = np.linspace(-1.5, 1.5, 7)[:, None]
    outside = np.array([[-6.0], [-4.0], [4.0], [6.0]])
    mean, std = model.predict(np.vstack([inside, outside]), return_std=True)
    assert mean.shape == std.shape == (11,)
    np.testing.assert_allclose(mean, model.predict(np.vstack([inside, outside])))
    assert np.all(std > 0)
    assert std[7:].min() > 5 * std[:7].max()
    # In target units: scaling y scales the spread.
    scaled = MLPRegressor(ensemble_size=8, **FAST).fit(X, 10 * y)
    np.testing.assert_allclose(scaled.predict(inside, return_std=True)[1], 10 * std[:7],
                               rtol=1e-4)
    # The module goes back to averaging its members.
    ensemble = next(m for m in model.net_.module_.modules() if isinstance(m, EnsembleMLP))
    assert ensemble.return_members is False


def test_std_for_multi_output_and_members_averaged(wave):
    X, y = wave
    Y = np.column_stack([y, -y])
    model = MLPRegressor(ensemble_size=4, **{**FAST, "max_iter": 10}).fit(X, Y)
    mean, std = model.predict(X[:5], return_std=True)
    assert mean.shape == std.shape == (5, 2)
    module = EnsembleMLP(3, 2, (8,), n_members=4).eval()
    x = torch.randn(5, 3)
    module.return_members = True
    members = module(x)
    module.return_members = False
    assert members.shape == (5, 4, 2)
    torch.testing.assert_close(module(x), members.mean(dim=1))


def test_return_std_without_an_ensemble_is_a_clear_error(wave):
    X, y = wave
    model = MLPRegressor(ensemble_size=1, **{**FAST, "max_iter": 5}).fit(X, y)
    with pytest.raises(ValueError, match=r"MLPRegressor: predict\(X, return_std=True\) needs "
                                         r"the members of an ensemble \(ensemble_size > 1\); "
                                         r"this model was fitted with ensemble_size=1"):
        model.predict(X, return_std=True)
    assert model.predict(X).shape == (300,)
