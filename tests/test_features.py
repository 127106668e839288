"""Training features: one object per fit option, composed in one documented order."""

import numpy as np
import pytest
import torch
from sklearn.base import is_classifier
from skorch.callbacks import Callback

import sknn
from sknn._training._feature import FEATURE_ORDER, TrainingFeature, in_feature_order

FAMILIES = [sknn.MLPClassifier, sknn.MLPRegressor, sknn.CNNClassifier, sknn.CNNRegressor,
            sknn.RNNClassifier, sknn.RNNRegressor, sknn.TransformerClassifier,
            sknn.TransformerRegressor, sknn.AutoencoderTransformer]
BEHAVIOUR_MIXINS = {"FineTuningMixin", "PrivateTrainingMixin", "AdversarialTrainingMixin",
                    "BagOfWordsMixin"}


@pytest.mark.parametrize("estimator", FAMILIES, ids=lambda cls: cls.__name__)
def test_estimators_hold_their_features_as_objects_not_mixins(estimator):
    names = {cls.__name__ for cls in estimator.__mro__}
    assert not names & BEHAVIOUR_MIXINS
    features = estimator()._features
    assert all(isinstance(feature, TrainingFeature) for feature in features)
    assert in_feature_order(features)
    # Every parameter a feature owns is one of the estimator's.
    params = set(estimator().get_params())
    assert {p for feature in features for p in feature.params} <= params


@pytest.mark.parametrize("estimator", FAMILIES, ids=lambda cls: cls.__name__)
def test_every_family_offers_gradient_clipping(estimator):
    assert "gradient_clipping" in {feature.name for feature in estimator()._features}
    assert "clip_grad_norm" in estimator._parameter_constraints


def _series(n=24, length=12):
    X = np.random.RandomState(0).rand(n, length)
    return X, (X[:, 0] > 0.5).astype(int)


class _StartingWeights(Callback):
    def on_train_begin(self, net, **kwargs):
        self.weights_ = _weights(net)


def _weights(net):
    return torch.cat([p.detach().flatten().double() for p in net.module_.parameters()])


def _one_sgd_step(estimator, **params):
    """The weights before and after one full-batch SGD step of rate 0.1."""
    X, y = _series()
    start = _StartingWeights()
    model = estimator(solver="sgd", alpha=0.0, batch_size=len(X), max_iter=1,
                      learning_rate_init=0.1, learning_rate="constant", random_state=0,
                      n_threads=1, callbacks=[start], **params)
    if estimator is sknn.AutoencoderTransformer:
        model.fit(X)
    else:
        model.fit(X, y if is_classifier(model) else X[:, 0])
    return start.weights_, _weights(model.net_)


@pytest.mark.parametrize("estimator", [sknn.MLPClassifier, sknn.CNNRegressor,
                                       sknn.TransformerClassifier, sknn.RNNRegressor,
                                       sknn.AutoencoderTransformer],
                         ids=lambda cls: cls.__name__)
def test_clip_grad_norm_bounds_the_step_of_every_family(estimator):
    start, free = _one_sgd_step(estimator, clip_grad_norm=None)
    start_again, clipped = _one_sgd_step(estimator, clip_grad_norm=1e-6)
    assert torch.equal(start, start_again)
    # Nesterov SGD's first step moves the weights by 1.9 x 0.1 x the clipped norm.
    assert torch.linalg.norm(clipped - start) <= 1.9 * 0.1 * 1e-6 * 1.01
    assert torch.linalg.norm(free - start) > 1e-4


@pytest.mark.parametrize("params, message", [
    ({"freeze_epochs": 3},
     "MLPClassifier: freeze_epochs=3 needs init_from (a fitted estimator whose layers to "
     "keep); a new network has no trained layers to freeze."),
    ({"dp_epsilon": 1.0, "adversarial_epsilon": 0.1},
     "MLPClassifier: dp_epsilon=1.0 does not combine with adversarial_epsilon=0.1: a row "
     "and its adversarial copy would count as two rows in the accounting. Use one of them."),
    ({"dp_epsilon": 1.0, "clip_grad_norm": 1.0},
     "MLPClassifier: clip_grad_norm=1.0 does not combine with dp_epsilon=1.0: DP-SGD clips "
     "each row's gradient (dp_max_grad_norm) instead."),
])
def test_combinations_are_refused_in_one_place_before_anything_is_fitted(params, message):
    X, y = _series()
    model = sknn.MLPClassifier(max_iter=1, **params)
    with pytest.raises(ValueError) as caught:
        model.fit(X, y)
    assert str(caught.value) == message
    assert not hasattr(model, "net_")


def test_privacy_and_layer_freezing_do_not_combine():
    X, y = _series()
    source = sknn.MLPClassifier(max_iter=1, random_state=0).fit(X, y)
    model = sknn.MLPClassifier(init_from=source, freeze_epochs=2, dp_epsilon=1.0)
    with pytest.raises(ValueError, match=r"^MLPClassifier: dp_epsilon=1\.0 does not combine "
                       r"with freeze_epochs=2; fine-tune the whole network "
                       r"\(freeze_epochs=0\)\.$"):
        model.fit(X, y)


def test_clip_grad_norm_only_steers_training():
    X, y = _series()
    model = sknn.MLPClassifier(max_iter=2, warm_start=True, random_state=0).fit(X, y)
    net = model.net_
    model.set_params(clip_grad_norm=0.5).fit(X, y)
    assert model.net_ is net and net.clip_grad_norm == 0.5  # the same network, continued
    assert model.n_iter_ == 4


def test_the_feature_order_is_the_documented_one():
    from sknn._training import _feature

    documented = _feature.__doc__
    assert FEATURE_ORDER == ("fine_tuning", "layer_freezing", "bag_of_words", "privacy",
                             "adversarial", "gradient_clipping")
    for hook in ("fit_context", "validate", "adopt_inputs", "configure", "build_module",
                 "callbacks", "prepare_net", "before_training", "after_training",
                 "set_fitted_attributes", "after_clone"):
        assert f"``{hook}``" in documented, hook


def test_estimators_pickled_before_clip_grad_norm_existed_still_work():
    import pickle

    X, y = _series()
    model = sknn.MLPClassifier(max_iter=1, random_state=0).fit(X, y)
    del model.__dict__["clip_grad_norm"]  # as pickled before the parameter was added
    revived = pickle.loads(pickle.dumps(model))
    assert revived.get_params()["clip_grad_norm"] is None
    revived.set_params(warm_start=True).fit(X, y)
    assert revived.n_iter_ == 2


def test_a_refused_combination_leaves_a_new_fit_unfitted_and_a_continued_one_as_it_was():
    X, y = _series()
    model = sknn.MLPClassifier(max_iter=1, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="does not combine"):
        model.set_params(dp_epsilon=1.0, adversarial_epsilon=0.1).fit(X[:, :3], y)
    assert not hasattr(model, "net_")  # a new fit failed: nothing fitted is left


def test_a_continued_network_keeps_freezing_without_its_source():
    X, y = _series()
    source = sknn.MLPClassifier(max_iter=1, random_state=0).fit(X, y)
    tuned = sknn.MLPClassifier(max_iter=2, init_from=source, freeze_epochs=1,
                               warm_start=True, random_state=0).fit(X, y)
    tuned.set_params(init_from=None).fit(X, y)  # continues; only a new network needs it
    assert tuned.n_iter_ == 4
