"""Training features: one object per fit option, composed by the estimator's fit.

Fine-tuning, layer freezing, the bag-of-words branch, differential privacy,
adversarial training and gradient clipping are each a :class:`TrainingFeature`:
an object that declares the parameters it owns, which features it needs or
cannot combine with, and its hooks on the fit. An estimator family lists its
features in ``_features``, in the order of :data:`FEATURE_ORDER`; the fit
(:class:`~sknn._core._base.BaseNeuralEstimator`) calls each hook of each
feature in that order, at these points:

1. ``fit_context``: around the whole fit (privacy silences an Opacus warning);
2. ``validate``: a new fit, before X is encoded (fine-tuning checks ``init_from``);
3. ``adopt_inputs``: a new fit, after X is encoded (fine-tuning takes over
   ``init_from``'s input preprocessing);
4. ``configure``: the training plan, once resolved (privacy never stops on
   the training loss);
5. ``build_module`` and ``callbacks``: a new network (fine-tuning loads
   ``init_from``'s weights; layer freezing adds its callback);
6. ``before_training``: a new network, before gradient descent (the
   bag-of-words branch is fitted in closed form);
7. ``prepare_net``: every fit and ``partial_fit`` call, active or not (each
   feature sets or clears what the net's training step runs for it), then
   ``after_training``: a new network that did not diverge;
8. ``set_fitted_attributes``: after training (privacy's ``epsilon_``).

``after_clone`` runs when :func:`sklearn.base.clone` copies the estimator
(fine-tuning keeps ``init_from``, a fitted starting point, as it is).

Which features are switched on together is checked in one place,
:func:`check_combination`, before anything is fitted.
"""

from __future__ import annotations

import contextlib

from sknn._training._parameters import constraints

# The documented order in which a fit runs the features' hooks.
FEATURE_ORDER = ("fine_tuning", "layer_freezing", "bag_of_words", "privacy", "adversarial",
                 "gradient_clipping")


class TrainingFeature:
    """One fit option: the parameters it owns, its requirements and its hooks.

    Subclasses set the class attributes and override the hooks they need;
    every hook is a no-op here.

    Attributes
    ----------
    name : str
        The feature's name in :data:`FEATURE_ORDER`.
    params : tuple of str
        The estimator parameters it owns.
    training_only : bool
        Whether its parameters only steer training (each fit reads them
        afresh) rather than shape the network.
    needs : dict
        ``{feature name: reason}``: features that must be on when this one is.
    excludes : dict
        ``{feature name: reason}``: features that cannot be on with this one.
    """

    name: str = ""
    params: tuple[str, ...] = ()
    training_only: bool = True
    needs: dict[str, str] = {}
    excludes: dict[str, str] = {}

    def active(self, estimator) -> bool:
        """Whether the estimator's parameters switch the feature on."""
        return False

    def setting(self, estimator) -> str:
        """The parameter that switches it on, as errors name it: ``'dp_epsilon=1.0'``."""
        first = self.params[0]
        return f"{first}={getattr(estimator, first)!r}"

    # -- hooks, in the order a fit calls them ------------------------------------
    def fit_context(self, estimator):
        return contextlib.nullcontext()

    def validate(self, estimator) -> None:
        """A new fit, before X is encoded."""

    def adopt_inputs(self, estimator, X, encoded):
        """A new fit: X as the network will read it, after the estimator encoded it."""
        return encoded

    def configure(self, estimator, plan):
        """The training plan as this feature needs it."""
        return plan

    def build_module(self, estimator, module, task):
        """A new network's module."""
        return module

    def callbacks(self, estimator, module) -> list:
        """``(name, callback)`` pairs a new net runs after the user's callbacks."""
        return []

    def prepare_net(self, estimator, net, fit_data, plan) -> None:
        """Every fit and partial_fit call: set (or clear) what the training step runs."""

    def before_training(self, estimator, net, fit_data, task) -> None:
        """A new network, before gradient descent."""

    def after_training(self, estimator, net, fit_data, task) -> None:
        """A new network that did not diverge, after gradient descent."""

    def set_fitted_attributes(self, estimator, net) -> None:
        """After training: the feature's fitted attributes."""

    def after_clone(self, estimator, cloned) -> None:
        """:func:`sklearn.base.clone` made ``cloned`` from ``estimator``'s parameters."""


def check_combination(estimator, features, new_network: bool = True) -> None:
    """Refuse features switched on without those they need or with those they exclude.

    What a feature needs is checked for a new network only (a continued one
    keeps what it was built from). Raises ``ValueError`` naming the estimator,
    both settings and the reason.
    """
    on = {feature.name: feature for feature in features if feature.active(estimator)}
    name = type(estimator).__name__
    for feature in on.values():
        for needed, reason in (feature.needs.items() if new_network else ()):
            if needed not in on:
                raise ValueError(f"{name}: {feature.setting(estimator)} {reason}")
        for excluded, reason in feature.excludes.items():
            if excluded in on:
                raise ValueError(f"{name}: {feature.setting(estimator)} does not combine "
                                 f"with {on[excluded].setting(estimator)}{reason}")


def in_feature_order(features) -> bool:
    """Whether ``features`` are listed in :data:`FEATURE_ORDER`."""
    positions = [FEATURE_ORDER.index(feature.name) for feature in features]
    return positions == sorted(positions) and len(set(positions)) == len(positions)


GRADIENT_CLIPPING_CONSTRAINTS = constraints("clip_grad_norm")


class GradientClipping(TrainingFeature):
    """``clip_grad_norm``: the global gradient norm is clipped before each step.

    Examples
    --------
    >>> from sknn import MLPClassifier
    >>> GradientClipping().active(MLPClassifier(clip_grad_norm=1.0))
    True
    """

    name = "gradient_clipping"
    params = ("clip_grad_norm",)
    excludes = {"privacy": ": DP-SGD clips each row's gradient (dp_max_grad_norm) instead."}

    def active(self, estimator) -> bool:
        return estimator.clip_grad_norm is not None

    def prepare_net(self, estimator, net, fit_data, plan) -> None:
        net.clip_grad_norm = estimator.clip_grad_norm


GRADIENT_CLIPPING = GradientClipping()
