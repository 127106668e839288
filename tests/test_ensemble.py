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


@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_members_without_gradients_equal_the_members_with_them(dropout):
    # Without autograd the members' adapters are folded into the first layer's
    # weights; with it (training, Opacus, Captum) the layer is called as usual.
    torch.manual_seed(0)
    net = EnsembleMLP(12, 3, (16, 8), n_members=4, dropout=dropout).eval()
    x = torch.randn(50, 12)
    with torch.no_grad():
        folded = net(x)
    called = net(x)
    assert called.requires_grad
    torch.testing.assert_close(folded, called.detach())
    net.return_members = True
    with torch.inference_mode():
        assert net(x).shape == (50, 4, 3)


def test_a_hook_on_the_first_layer_sees_it_called_without_gradients():
    torch.manual_seed(0)
    net = EnsembleMLP(6, 2, (8,), n_members=3).eval()
    seen = []
    handle = net.body[0].register_forward_hook(lambda layer, inputs, output: seen.append(
        inputs[0].shape))
    with torch.no_grad():
        net(torch.randn(5, 6))
    handle.remove()
    assert seen == [(5, 3, 6)]  # the rows scaled by each member's adapter


def test_an_ensemble_without_hidden_layers_predicts_without_gradients():
    net = EnsembleMLP(4, 2, (), n_members=3).eval()
    x = torch.randn(7, 4)
    with torch.no_grad():
        torch.testing.assert_close(net(x), net.combine(
            torch.einsum("bki,kio->bko", x[:, None] * net.adapter, net.head_weight)
            + net.head_bias))


def test_only_batches_of_at_least_the_first_layers_width_fold_the_adapters():
    # Folding costs k x out x in products whatever the batch: one row of a wide
    # sparse input predicted 18x slower folded.
    torch.manual_seed(0)
    net = EnsembleMLP(40, 2, (16,), n_members=3).eval()
    first, calls = net.body[0], []
    forward = first.forward
    first.forward = lambda x: calls.append(len(x)) or forward(x)
    with torch.no_grad():
        net(torch.randn(1, 40))
        net(torch.randn(16, 40))
    assert calls == [1]


def test_hooks_on_the_body_see_it_called_without_gradients():
    net = EnsembleMLP(6, 2, (8, 8), n_members=3).eval()
    seen = []
    handle = net.body.register_forward_hook(lambda *_: seen.append("body"))
    with torch.no_grad():
        net(torch.randn(20, 6))
    handle.remove()
    assert seen == ["body"]
