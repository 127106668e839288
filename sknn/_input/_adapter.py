"""Input adapters: what a network reads, and how an estimator's X becomes it.

One adapter per input kind: a table (:class:`~sknn._input._tabular.TableInput`),
fixed-shape series and images (:class:`~sknn._input._sequence.ArrayInput`),
sequences of different lengths (:class:`~sknn._input._sequence.MaskedSequenceInput`)
and token ids (:class:`~sknn._input._sequence.TokenInput`). An estimator picks
its adapter from the kind of X it was fitted on and holds it as ``_input``;
fine-tuning, export, attributions and adversarial training ask the adapter
instead of testing which estimator class they were given.

Adapters keep no state: what they learn in ``fit`` (the tabular encoder, the
per-sample shape, a standardization, a vocabulary size) is stored on the
estimator as fitted attributes, so estimators pickle, clone and save as before.
"""

from __future__ import annotations

import torch


class InputAdapter:
    """Validation, encoding and the network-input layout of one input kind.

    Every method takes the estimator whose parameters and fitted attributes
    it reads (and, in fit, sets).

    Attributes
    ----------
    kind : str
        'table', 'series' (fixed-shape series and images), 'masked sequence'
        or 'tokens'.
    step_mask_channel : bool
        Whether the network's input carries a last channel that is 1 on the
        valid steps of each sequence.
    input_tags : dict
        scikit-learn input tags an estimator reading this kind sets
        (:func:`accept_inputs`).
    """

    kind: str = ""
    step_mask_channel: bool = False
    input_tags: dict = {}

    def validate(self, estimator, X, reset: bool):
        """X checked and converted for :meth:`encode` (``reset``: at fit)."""
        raise NotImplementedError

    def encode(self, estimator, X, sample_weight, fit: bool):
        """Validated X as the network's input; in fit, learn the preprocessing first."""
        raise NotImplementedError

    def adopt(self, estimator, source, X, encoded):
        """Take over ``source``'s fitted preprocessing (fine-tuning); X encoded by it."""
        return encoded  # nothing learned from the data: the encoding stays

    def layout(self, estimator) -> str:
        """Words for what the fitted network reads: 'a table of 8 columns', ..."""
        raise NotImplementedError

    def example_input(self, estimator) -> torch.Tensor:
        """Two rows of what the fitted estimator's exported graph reads (for tracing)."""
        raise NotImplementedError

    def attack_inputs(self, estimator) -> dict:
        """Which inputs adversarial training may move (``AdversarialTraining`` keywords)."""
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def accept_inputs(tags, *adapters: InputAdapter):
    """``tags`` with the input tags of each adapter an estimator may hold set."""
    for adapter in adapters:
        for key, value in adapter.input_tags.items():
            setattr(tags.input_tags, key, value)
    return tags
