"""Fine-tuning: start a new estimator from a fitted estimator's network.

Two training features (:mod:`sknn._training._feature`) give an architecture's
estimators three parameters: :class:`FineTuning`, ``init_from`` (a fitted
estimator of the same architecture whose weights and input preprocessing the
new fit starts from; its output layer is replaced when the outputs differ),
and :class:`LayerFreezing`, ``freeze_epochs`` and ``trainable_layers`` (train
only the last layers for the first epochs). Each architecture class names
itself in ``_family``; the fitted input preprocessing is taken over from the
source by the estimator's input adapter (``_input.adopt``), or by
``_adopt_inputs`` where a family checks more.
"""

from __future__ import annotations

import re

import numpy as np
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback
from torch import nn

from sknn._core._base import BaseNeuralEstimator
from sknn._core._net import ConvergenceMonitor
from sknn._core._task import ClassificationTask
from sknn._training._feature import TrainingFeature
from sknn._training._parameters import constraints, owned_by
from sknn.modules.cnn import ConvBlock, ResidualBlock
from sknn.modules.tabular import TabularInput
from sknn.modules.transformer import (
    FeatureTokenizer,
    PatchTokenizer,
    SequenceTokenizer,
    TransformerBlock,
)

FINE_TUNING_CONSTRAINTS = {
    "init_from": [None, BaseNeuralEstimator],
    **constraints(*owned_by("layer_freezing")),
}

# Modules that count as one layer when freezing, whatever they hold inside.
COMPOSITE_LAYERS = (TabularInput, FeatureTokenizer, PatchTokenizer, SequenceTokenizer,
                    ConvBlock, ResidualBlock, TransformerBlock)

FINE_TUNING_PARAMS_DOC = """
    init_from : fitted {family} estimator or None, default=None
        Start from this fitted estimator's network instead of random weights
        (fine-tuning, transfer learning): a fitted {family}Classifier or
        {family}Regressor with the same architecture parameters, fitted on
        {layout}.
        {inputs}
        Its output layer is kept when the outputs match (the same classes, or
        as many regression targets) and newly initialized otherwise, so a
        network pretrained on other classes, or on a regression task, starts
        the new one. ``init_from`` itself is not changed, and
        :func:`~sklearn.base.clone` keeps it as it is (a starting point, not a
        sub-estimator to refit). With ``warm_start``, fits after the first
        continue from the current weights.
    freeze_epochs : int, default=0
        With ``init_from``: train only the last ``trainable_layers`` layers
        during the first ``freeze_epochs`` epochs, then the whole network. A
        stall of the monitored score (as for early stopping) ends this phase
        early; ``freeze_epochs >= max_iter`` trains the last layers only
        (linear probing with ``trainable_layers=1``).
    trainable_layers : int, default=1
        Layers, counted from the output, that train while the others are
        frozen: 1 is the output layer alone. Every hidden linear layer,
        convolution or residual block, recurrent layer and Transformer block
        counts as one layer, as do the input embeddings or tokenizer."""


class FineTuning(TrainingFeature):
    """``init_from``: a new network starts from a fitted estimator's (module docstring).

    The family's input adapter (``_input.adopt``, or the estimator's
    ``_adopt_inputs`` where a family checks more) takes over the source's
    fitted input preprocessing, and the new module starts from its weights.
    ``clone`` keeps ``init_from`` as it is: a fitted starting point, not a
    sub-estimator to refit.
    """

    name = "fine_tuning"
    # Where a new network starts; warm starts continue from the current weights.
    params = ("init_from",)

    def active(self, estimator) -> bool:
        return estimator.init_from is not None

    def setting(self, estimator) -> str:
        return "init_from"

    def validate(self, estimator) -> None:
        source, name = estimator.init_from, type(estimator).__name__
        if source is None:
            return
        if source is estimator:
            raise ValueError(
                f"{name}: init_from is this estimator itself; use warm_start=True to "
                "continue training it."
            )
        if getattr(source, "_family", None) != estimator._family:
            raise ValueError(
                f"{name}: init_from must be a fitted {estimator._family} estimator (the same "
                f"network); got a {type(source).__name__}."
            )
        try:
            check_is_fitted(source)
        except NotFittedError as error:
            raise NotFittedError(
                f"{name}: init_from (a {type(source).__name__}) is not fitted; fit it "
                "first: fine-tuning starts from its trained network."
            ) from error

    def adopt_inputs(self, estimator, X, encoded):
        source = estimator.init_from
        if source is None:
            return encoded
        layout, source_layout = input_layout(estimator), input_layout(source)
        if layout != source_layout:
            raise ValueError(
                f"{type(estimator).__name__}: init_from was fitted on {source_layout}; got "
                f"{layout}. Fine-tuning needs inputs of the same layout."
            )
        return estimator._adopt_inputs(source, X, encoded)

    def build_module(self, estimator, module, task):
        source = estimator.init_from
        if source is not None:
            # float64 while loading, so that a float64 source loses nothing.
            load_pretrained(module.to(torch.float64), source.net_.module_,
                            replace_head=not same_outputs(source.task_, task),
                            estimator_name=type(estimator).__name__)
        return module

    def after_clone(self, estimator, cloned) -> None:
        cloned.init_from = estimator.init_from


class LayerFreezing(TrainingFeature):
    """``freeze_epochs`` and ``trainable_layers``: only the last layers train at first."""

    name = "layer_freezing"
    params = ("freeze_epochs", "trainable_layers")
    needs = {"fine_tuning": "needs init_from (a fitted estimator whose layers to keep); a "
                            "new network has no trained layers to freeze."}

    def active(self, estimator) -> bool:
        return estimator.freeze_epochs > 0

    def callbacks(self, estimator, module) -> list:
        if estimator.init_from is None or not self.active(estimator):
            return []
        frozen = _frozen_parameters(estimator, module)
        return [("freeze_layers", FreezeLayers(frozen, estimator.freeze_epochs))]


def _frozen_parameters(estimator, module) -> list[str]:
    layers = layer_groups(module)
    if estimator.trainable_layers >= len(layers):
        raise ValueError(
            f"{type(estimator).__name__}: trainable_layers={estimator.trainable_layers} "
            f"leaves nothing to freeze: this network has {len(layers)} layers. Use at most "
            f"{len(layers) - 1}, or freeze_epochs=0."
        )
    return [name for layer in layers[:-estimator.trainable_layers] for name in layer]


FINE_TUNING = FineTuning()
LAYER_FREEZING = LayerFreezing()


def input_layout(estimator) -> str:
    """Words for what a fitted estimator's network reads: 'a table of 8 columns', ..."""
    return estimator._input.layout(estimator)


def same_outputs(source_task, task) -> bool:
    """Whether ``source_task``'s output layer means what ``task``'s will."""
    if isinstance(source_task, ClassificationTask) != isinstance(task, ClassificationTask):
        return False
    if isinstance(task, ClassificationTask):
        return (source_task.multilabel == task.multilabel
                and np.array_equal(source_task.classes, task.classes))
    return source_task.n_outputs == task.n_outputs


def _is_head(name: str) -> bool:
    """True for the output layer's parameters: ``head``, ``head_weight``, ``1.head.bias``."""
    return any(part.startswith("head") for part in name.split("."))


def load_pretrained(module: nn.Module, source: nn.Module, replace_head: bool,
                    estimator_name: str) -> None:
    """Copy ``source``'s weights and buffers into ``module`` (the head too unless replaced)."""
    source_state, state = source.state_dict(), module.state_dict()
    hint = (f"Give {estimator_name} the architecture parameters init_from was fitted "
            "with (for the same class, clone(init_from).set_params(init_from=init_from) "
            "copies them).")
    if set(source_state) != set(state):
        only_source = sorted(set(source_state) - set(state))[:3]
        only_here = sorted(set(state) - set(source_state))[:3]
        raise ValueError(
            f"{estimator_name}: init_from's network has other layers than this "
            f"estimator's (only in init_from: {only_source}; only here: {only_here}). "
            + hint
        )
    for key, value in state.items():
        if replace_head and _is_head(key):
            continue
        if source_state[key].shape != value.shape:
            raise ValueError(
                f"{estimator_name}: init_from's network does not match this estimator's "
                f"architecture: {key!r} has shape {tuple(source_state[key].shape)} in "
                f"init_from and {tuple(value.shape)} here. " + hint
            )
        state[key] = source_state[key]
    module.load_state_dict(state)


def layer_groups(module: nn.Module) -> list[list[str]]:
    """Parameter names of each layer of ``module``, from input to output, the head last.

    A layer is a module of ``COMPOSITE_LAYERS`` (a block, tokenizer or
    tabular input), one layer of a recurrent module, any other module with
    parameters of its own (linear, convolution, normalization), or a loose
    parameter (an ensemble's adapter, a [CLS] token). Everything named
    ``head*`` is the output layer.
    """
    layers: list[list[str]] = []
    head: list[str] = []

    def visit(prefix: str, child: nn.Module) -> None:
        if _is_head(prefix):
            head.extend(prefix + name for name, _ in child.named_parameters())
            return
        if isinstance(child, COMPOSITE_LAYERS):
            layers.append([prefix + name for name, _ in child.named_parameters()])
            return
        if isinstance(child, nn.RNNBase):
            layers.extend(_recurrent_layers(prefix, child))
            return
        own = [prefix + name for name, _ in child.named_parameters(recurse=False)]
        head.extend(name for name in own if _is_head(name))
        own = [name for name in own if not _is_head(name)]
        if next(child.children(), None) is None:
            layers.extend([own] if own else [])  # a linear, convolution or norm layer
            return
        layers.extend([name] for name in own)  # loose parameters: adapter, [CLS] token
        for name, grandchild in child.named_children():
            visit(f"{prefix}{name}.", grandchild)

    visit("", module)
    return layers + ([head] if head else [])


def _recurrent_layers(prefix: str, rnn: nn.RNNBase) -> list[list[str]]:
    """Parameter names of each stacked layer (both directions) of an LSTM/GRU/RNN."""
    by_layer: dict[int, list[str]] = {}
    for name, _ in rnn.named_parameters():
        index = int(re.search(r"_l(\d+)", name).group(1))
        by_layer.setdefault(index, []).append(prefix + name)
    return [by_layer[i] for i in sorted(by_layer)]


# Not skorch's Freezer and Unfreezer: they unfreeze at a fixed epoch only; this
# phase also ends when the score stalls, and its state is saved with the model.
class FreezeLayers(Callback):
    """Keep the named parameters fixed for the first ``epochs`` epochs of training.

    The phase also ends when the convergence monitor finds the score stalled
    (training then goes on with every layer, the stall count reset), unless
    it lasts all of ``net.max_epochs``. Frozen
    parameters get no gradient, so the optimizer leaves them (and their
    weight decay) alone.

    Parameters
    ----------
    names : list of str
        Names of the parameters (``module.named_parameters()``) to freeze.
    epochs : int
    """

    def __init__(self, names, epochs):
        self.names = names
        self.epochs = epochs

    def initialize(self):
        self.epochs_done_ = 0
        self.frozen_ = []
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        if self.epochs_done_ >= self.epochs:
            return
        parameters = dict(net.module_.named_parameters())
        self.frozen_ = [name for name in self.names if parameters[name].requires_grad]
        for name in self.frozen_:
            parameters[name].requires_grad_(False)

    def on_epoch_end(self, net, **kwargs):
        if self.epochs_done_ >= self.epochs:
            return
        self.epochs_done_ += 1
        # A stall ends the frozen phase, unless it is all of training (linear probing).
        stalled = net.stop_training_ and not net.diverged_ and self.epochs < net.max_epochs
        if self.epochs_done_ >= self.epochs or stalled:
            self.epochs_done_ = self.epochs
            self._unfreeze(net)
            if stalled:
                net.stop_training_ = False
                for _, callback in net.callbacks_:
                    if isinstance(callback, ConvergenceMonitor):
                        callback.stalled_epochs_ = 0

    def on_train_end(self, net, X=None, y=None, **kwargs):
        self._unfreeze(net)  # never leave a fitted model frozen between fits

    def _unfreeze(self, net):
        parameters = dict(net.module_.named_parameters())
        for name in self.frozen_:
            parameters[name].requires_grad_(True)
        self.frozen_ = []
