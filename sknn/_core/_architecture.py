"""A family's architecture: one object that its estimators hold, not a class they inherit.

An :class:`Architecture` builds the family's network from the fitted input
encoding and the task, names the input adapter that reads X, the training
features the family offers (:mod:`sknn._training._feature`) and its 'auto'
rules (:mod:`sknn._training._plan`). The family's classifier and regressor
hold the same instance as ``_architecture``;
:class:`~sknn._core._base.BaseNeuralEstimator` asks it, and every method takes
the estimator whose parameters and fitted attributes it reads.
"""

from __future__ import annotations

from sknn._training._plan import AutoRules


class Architecture:
    """The network of an estimator family and how it reads X.

    Subclasses set the class attributes and implement :meth:`build_module`;
    the other methods have the common behaviour.

    Attributes
    ----------
    family : str
        'MLP', 'CNN', ...: fine-tuning starts only from a model of the same family.
    input : InputAdapter or None
        The adapter that reads X (:mod:`sknn._input`), or None where
        :meth:`input_for` chooses by the kind of X seen in fit.
    accepts : tuple of InputAdapter
        Every adapter the family may use (their scikit-learn input tags).
    features : tuple of TrainingFeature
        The fit options the family offers, in ``FEATURE_ORDER``.
    auto_rules : AutoRules
        The family's 'auto' rules.
    training_only_params : frozenset of str
        Family parameters that only steer training (each fit reads them afresh).
    family_defaults, family_constraints, family_docs
        Shared parameters (:mod:`sknn._training._parameters`) the family
        defaults, constrains or documents its own way.
    params_before_added : dict
        Parameters added after model files were written, with the value that
        does what those files' models did (:func:`sknn.load` fills them in).
    """

    family: str = ""
    input = None
    accepts: tuple = ()
    features: tuple = ()
    auto_rules: AutoRules = AutoRules()
    training_only_params: frozenset = frozenset()
    family_defaults: dict = {}
    family_constraints: frozenset = frozenset()
    family_docs: frozenset = frozenset()
    params_before_added: dict = {}

    def input_for(self, estimator):
        """The input adapter of ``estimator`` (fitted or being fitted)."""
        return self.input

    def build_module(self, estimator, n_features: int, task):
        """The network for ``estimator``'s fitted input encoding and ``task``."""
        raise NotImplementedError

    def auto_rules_for_fit(self, estimator) -> AutoRules:
        """The 'auto' rules for the data just encoded (budgets that depend on the input)."""
        return self.auto_rules

    def validate_X(self, estimator, X, reset: bool):
        """X checked and converted by the input adapter (``reset``: in fit)."""
        return self.input_for(estimator).validate(estimator, X, reset)

    def encode_X(self, estimator, X, sample_weight, fit: bool):
        """Validated X as the rows the network reads; in fit, the encoding is learned."""
        return self.input_for(estimator).encode(estimator, X, sample_weight, fit)

    def adopt_inputs(self, estimator, source, X, encoded):
        """Fine-tuning: take over ``source``'s fitted input preprocessing; X encoded by it."""
        return self.input_for(estimator).adopt(estimator, source, X, encoded)

    def autocast_dtype(self, estimator):
        """The dtype of mixed-precision forward passes; None: the weights' own."""
        return None

    def tags(self, tags):
        """scikit-learn's tags of an estimator, with those of the inputs it accepts."""
        for adapter in self.accepts:
            for key, value in adapter.input_tags.items():
                setattr(tags.input_tags, key, value)
        return tags
