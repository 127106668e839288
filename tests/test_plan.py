"""The training plan: every value a fit derives from parameters and data, resolved once."""

import dataclasses
import doctest

import numpy as np
import pytest
import torch

import sknn
from sknn._training import _plan
from sknn._training._plan import NEVER, AutoRules, BatchRule, EpochBudget, TrainingPlan

ESTIMATORS = [sknn.MLPClassifier, sknn.MLPRegressor, sknn.CNNClassifier, sknn.CNNRegressor,
              sknn.RNNClassifier, sknn.RNNRegressor, sknn.TransformerClassifier,
              sknn.TransformerRegressor, sknn.AutoencoderTransformer]


def test_the_plan_module_examples_run():
    assert doctest.testmod(_plan, raise_on_error=True).attempted > 0


def test_a_plan_is_frozen():
    plan = sknn.MLPClassifier()._training_plan(1_000)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.batch_size = 1


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda cls: cls.__name__)
def test_auto_rules_are_data_and_resolved_in_one_place(estimator):
    # No family resolves 'auto' in a method of its own: they declare AutoRules.
    assert isinstance(estimator()._auto_rules, AutoRules)
    for hook in ("_batch_size", "_max_epochs", "_patience", "_compute_dtype",
                 "_early_stopping_active"):
        assert not hasattr(estimator, hook), f"{estimator.__name__}.{hook}"


def _transformer_on_token_ids(estimator):
    estimator.input_kind_ = "tokens"  # as fitted on token ids: the 2,000-step budget
    return estimator


def test_the_plan_derives_batches_epochs_and_schedule_from_the_rows():
    plan = _transformer_on_token_ids(sknn.TransformerClassifier())._training_plan(
        1_001, validation=True)
    assert (plan.batch_size, plan.n_batches) == (100, 11)
    assert plan.max_epochs == plan.epochs == 182  # 2,000 steps / 11 batches
    assert plan.total_steps == plan.max_epochs * plan.n_batches
    assert plan.patience == 20 and plan.validation
    incremental = _transformer_on_token_ids(sknn.TransformerClassifier())._training_plan(
        1_001, incremental=True)
    assert incremental.epochs == 1 and incremental.max_epochs == 182


@pytest.mark.parametrize("params, validation, patience", [
    ({}, True, 20),                                      # a held-out score
    ({}, False, NEVER),                                  # the schedule ends training
    ({"learning_rate": "constant"}, False, 10),          # scikit-learn's 10
    ({"n_iter_no_change": 4}, False, 4),                 # as set
    ({"dp_epsilon": 1.0, "n_iter_no_change": 4}, False, NEVER),  # privacy: planned epochs
    ({"dp_epsilon": 1.0}, True, 20),                     # held-out data may stop it
])
def test_patience_is_resolved_with_the_training_features(params, validation, patience):
    plan = sknn.MLPClassifier(**params)._training_plan(500, validation=validation)
    assert plan.patience == patience
    assert plan.stops_when_converged == (patience != NEVER)


def test_the_transformer_waits_longer_on_the_training_loss():
    model = _transformer_on_token_ids(sknn.TransformerRegressor(learning_rate="constant"))
    assert model._training_plan(500).patience == 50


def test_rules_clip_batches_to_the_rows_and_bound_the_epochs():
    assert BatchRule(16, 64, divisor=10, equal_batches=True).rows(50) == 13  # 4 batches
    assert BatchRule(128, 1024, divisor=1000).rows(60) == 60
    budget = EpochBudget((10, 200), steps=2000, few_rows_cap=(900, 30))
    assert budget.epochs(n_train=899, batch_size=89) == 30
    assert budget.epochs(n_train=987, batch_size=98) == 182
    assert EpochBudget((8, 100), steps=800, full_batch_steps=True).epochs(36, 12) == 100


def test_fitted_models_tell_their_device_and_the_plan_is_what_they_trained_on():
    X, y = np.random.RandomState(0).rand(40, 3), np.arange(40) % 2
    model = sknn.MLPClassifier(max_iter=3, batch_size=16, random_state=0).fit(X, y)
    assert model.device == "auto" and model.device_ == torch.device("cpu")
    assert model.net_.batch_size == 16 and model.n_iter_ == 3
    schedule = dict(model.net_.callbacks_)["lr_schedule"]
    assert schedule.total_steps == 3 * 3  # 3 epochs of 3 batches (16, 16, 8 rows)


def test_a_saved_network_is_rebuilt_without_a_training_set():
    params = sknn.MLPClassifier().get_params()
    plan = _plan.restoring_plan(params, batch_size=64, max_epochs=7, validation=True,
                                device=torch.device("cpu"), dtype=torch.float32,
                                autocast_dtype=None)
    assert isinstance(plan, TrainingPlan)
    assert (plan.n_train, plan.batch_size, plan.max_epochs, plan.epochs) == (0, 64, 7, 0)
