"""Differentially private training: DP-SGD (Abadi et al. 2016) through Opacus.

With ``dp_epsilon=eps``, every training step draws its batch by Poisson
sampling (each training row joins it independently, with probability
``1 / n_batches``, so batches hold ``batch_size`` rows on average), clips
each row's gradient to the L2 norm ``dp_max_grad_norm`` and adds Gaussian
noise, calibrated so that the planned training (all its epochs) spends at
most ``(eps, dp_delta)``. Opacus' Rényi-DP accountant then measures what the
steps actually taken spent (fewer when early stopping ends the fit):
``epsilon_``.

The pieces are Opacus' own, used around sknn's batch iterator rather than
through a DataLoader: per-sample gradients from :class:`GradSampleHooks`
(Opacus' grad samplers for linear, convolution, normalization and embedding
layers; its functorch path for layers with parameters of their own, such as
:class:`~sknn.modules.ensemble.EnsembleMLP`), clipping and noise from
:class:`DPOptimizer` around the net's optimizer, and :class:`RDPAccountant`.
Opacus' functorch path refuses layers with buffers (batch norm's running
statistics are not private); the buffers of sknn's piecewise-linear
embeddings are fixed bin edges, so a grad sampler here runs those layers
functionally with them. After fit, the hooks and every attribute Opacus put
on the parameters are gone: the estimator keeps a plain module and optimizer.
"""

from __future__ import annotations

import contextlib
import copy
import warnings
import weakref
from dataclasses import dataclass

import torch

from sknn._core._distributed import process_group
from sknn._training._feature import TrainingFeature
from sknn._training._parameters import constraints, owned_by
from sknn.modules.tabular import PiecewiseLinearEmbedding

DP_CONSTRAINTS = constraints(*owned_by("privacy"))
# dp_delta='auto': ten times below one over the number of training rows (a
# delta of 1/n would allow releasing one row outright).
AUTO_DELTA_FACTOR = 10
# Rényi orders of the accountant: Opacus' default has 99 fractional orders
# below 11, whose series cost seconds per budget in Python; these few set the
# same noise to within 0.3% on the budgets of benchmarks/privacy.py (a looser
# bound would still be a valid one).
RDP_ORDERS = [1.1, 1.25, 1.5, 1.75, *range(2, 64), 80, 96, 128, 192, 256]
# Layers whose buffers are constants of the network, not statistics of the batches.
CONSTANT_BUFFER_LAYERS = (PiecewiseLinearEmbedding,)
# What Opacus' hooks and optimizer leave on parameters and layers.
OPACUS_LAYER_ATTRIBUTES = ("activations", "max_batch_len")
OPACUS_PARAMETER_ATTRIBUTES = ("summed_grad",)


def _opacus(estimator_name: str):
    """The Opacus pieces sknn trains with (imported on first use)."""
    try:
        from opacus.accountants import RDPAccountant
        from opacus.accountants.utils import get_noise_multiplier
        from opacus.grad_sample import GradSampleHooks, register_grad_sampler
        from opacus.optimizers import DPOptimizer
    except ImportError as error:
        raise ImportError(
            f"{estimator_name}: dp_epsilon trains with Opacus, which is not installed; "
            'install it with pip install "sknn[privacy]".'
        ) from error
    register_grad_sampler(CONSTANT_BUFFER_LAYERS)(_constant_buffer_grad_sample)
    return GradSampleHooks, DPOptimizer, RDPAccountant, get_noise_multiplier


# Hook-free copies, on the meta device, of the layers the grad sampler runs functionally.
_FUNCTIONAL_COPIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _constant_buffer_grad_sample(layer, activations, backprops):
    """Per-sample gradients of a layer with constant buffers, for Opacus' hooks.

    Opacus' functorch path, with the buffers passed in: the layer runs on one
    sample at a time under :func:`torch.func.vmap`, and each sample's
    gradient is that of its output times the gradient reaching it.
    """
    functional = _FUNCTIONAL_COPIES[layer]
    params = {name: p.detach() for name, p in layer.named_parameters()}
    buffers = dict(layer.named_buffers())

    def weighted_output(params, x, backprop):
        output = torch.func.functional_call(functional, (params, buffers), (x[None],))
        return (output * backprop[None]).sum()

    per_sample = torch.func.vmap(torch.func.grad(weighted_output), in_dims=(None, 0, 0))
    with warnings.catch_warnings():
        # vmap hands searchsorted (piecewise-linear embeddings) a strided view of
        # the batch and torch warns about the copy it makes; nothing to act on.
        warnings.filterwarnings("ignore", message="torch.searchsorted", category=UserWarning)
        grads = per_sample(params, activations[0].to(backprops.dtype), backprops)
    return {p: grads[name] for name, p in layer.named_parameters() if p.requires_grad}


def _quietly(function, **kwargs):
    """Opacus' RDP accountant warns when its smallest or largest order is the best:
    a looser, still valid bound; nothing the user can act on."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Optimal order is the")
        return function(**kwargs)


@dataclass
class DPSGD:
    """The privacy budget of a fit and the estimator it is for.

    Parameters
    ----------
    epsilon : float
        Target epsilon of the whole planned training.
    delta : float
    max_grad_norm : float
        Bound on the L2 norm of each row's gradient.
    estimator_name : str
        Named in errors.
    n_batches : int
        Batches an epoch (the training plan's): each row is in each batch with
        probability ``1 / n_batches``.
    """

    epsilon: float
    delta: float
    max_grad_norm: float
    estimator_name: str
    n_batches: int

    def start(self, net, n_train: int, epochs: int, done_epochs: int = 0) -> PrivateSteps:
        """Attach DP-SGD to ``net`` for ``epochs`` epochs on ``n_train`` rows.

        ``done_epochs``: epochs of this fit a Checkpoint restored after a
        crash; the noise is that of the whole fit, and their steps count.
        """
        hooks, dp_optimizer, accountant, noise_for = _opacus(self.estimator_name)
        n_batches = self.n_batches
        sample_rate = 1 / n_batches
        epochs += done_epochs
        steps = epochs * n_batches
        try:
            noise_multiplier = _quietly(
                noise_for, target_epsilon=self.epsilon, target_delta=self.delta,
                sample_rate=sample_rate, steps=steps, accountant="rdp", alphas=RDP_ORDERS)
        except ValueError as error:  # Opacus: "The privacy budget is too low."
            raise ValueError(
                f"{self.estimator_name}: dp_epsilon={self.epsilon} cannot be met by "
                f"{steps} steps of DP-SGD ({n_batches} per epoch for {epochs} epochs): "
                "the noise would have to exceed 1e6 times dp_max_grad_norm. Raise "
                "dp_epsilon, or train fewer epochs (max_iter) on larger batches."
            ) from error
        optimizer = dp_optimizer(
            net.optimizer_, noise_multiplier=noise_multiplier,
            max_grad_norm=self.max_grad_norm, expected_batch_size=n_train * sample_rate)
        spent = accountant()
        if done_epochs:
            spent.history = [(noise_multiplier, sample_rate, done_epochs * n_batches)]
        return PrivateSteps(net.module_, optimizer, hooks, spent, sample_rate, n_batches,
                            net.generator, self.delta)


class PrivateSteps:
    """DP-SGD attached to a net's module and optimizer for one ``fit_loop``.

    ``optimizer`` (a DPOptimizer around the net's own) takes the steps;
    :meth:`batches` draws them; :meth:`close` detaches everything and
    returns the epsilon spent.
    """

    def __init__(self, module, optimizer, hooks, accountant, sample_rate, n_batches,
                 generator, delta):
        self.module = module
        self.optimizer = optimizer
        self.accountant = accountant
        self.sample_rate = sample_rate
        self.n_batches = n_batches
        self.generator = generator
        self.delta = delta
        for layer in module.modules():
            if isinstance(layer, CONSTANT_BUFFER_LAYERS):
                _FUNCTIONAL_COPIES[layer] = copy.deepcopy(layer).to("meta")
        self.hooks = hooks(module, strict=False)  # buffers: checked by the estimator
        optimizer.attach_step_hook(accountant.get_optimizer_hook_fn(sample_rate))

    def batches(self, data) -> PoissonBatches:
        return PoissonBatches(data, self.sample_rate, self.n_batches, self.generator)

    def noise_step(self, device) -> dict:
        """The step of an empty Poisson batch: noise only, as Opacus takes it."""
        self.optimizer.zero_grad(set_to_none=True)
        for p in self.optimizer.params:
            p.grad_sample = p.new_zeros((0, *p.shape))
        self.optimizer.step()
        return {"loss": torch.zeros((), device=device), "y_pred": None}

    def close(self) -> float:
        """Detach Opacus from the module; the epsilon the steps taken spent."""
        self.hooks.cleanup()
        for p in self.module.parameters():
            for name in OPACUS_PARAMETER_ATTRIBUTES:
                if hasattr(p, name):
                    delattr(p, name)
        for layer in self.module.modules():
            _FUNCTIONAL_COPIES.pop(layer, None)
            for name in OPACUS_LAYER_ATTRIBUTES:
                if name in vars(layer):
                    delattr(layer, name)
        return float(_quietly(self.accountant.get_epsilon, delta=self.delta,
                              alphas=RDP_ORDERS))


class PoissonBatches:
    """``n_batches`` batches per epoch, each row in each with probability ``sample_rate``.

    DP-SGD's privacy amplification by subsampling holds for this sampling, not
    for shuffled batches of a fixed size; a batch may be empty.
    """

    def __init__(self, data, sample_rate: float, n_batches: int,
                 generator: torch.Generator | None):
        self.data = data
        self.sample_rate = sample_rate
        self.n_batches = n_batches
        self.generator = generator

    def __len__(self) -> int:
        return self.n_batches

    def __iter__(self):
        for _ in range(self.n_batches):
            chosen = torch.rand(len(self.data), generator=self.generator) < self.sample_rate
            yield self.data.take(torch.nonzero(chosen).squeeze(1).to(self.data.device))


class Privacy(TrainingFeature):
    """``dp_epsilon``, ``dp_delta`` and ``dp_max_grad_norm``: training by DP-SGD.

    A private fit trains the planned epochs unless held-out data stops it:
    stopping on the training loss would let the private rows decide, outside
    the accounting.
    """

    name = "privacy"
    params = ("dp_epsilon", "dp_delta", "dp_max_grad_norm")
    excludes = {
        "layer_freezing": "; fine-tune the whole network (freeze_epochs=0).",
        "adversarial": ": a row and its adversarial copy would count as two rows in the "
                       "accounting. Use one of them.",
    }

    def active(self, estimator) -> bool:
        return estimator.dp_epsilon is not None

    @contextlib.contextmanager
    def fit_context(self, estimator):
        if not self.active(estimator):
            yield
            return
        with warnings.catch_warnings():
            # Opacus' backward hook on the first layer, whose input needs no gradient.
            warnings.filterwarnings("ignore", message="Full backward hook is firing")
            yield

    def configure(self, estimator, plan):
        if not self.active(estimator):
            return plan
        return plan.never_stopping_on_training_loss()  # no decision taken on private rows

    def prepare_net(self, estimator, net, fit_data, plan) -> None:
        net.privacy = self._dp_sgd(estimator, net, fit_data, plan) if self.active(
            estimator) else None

    def set_fitted_attributes(self, estimator, net) -> None:
        estimator.epsilon_ = net.epsilon_ if self.active(estimator) else None

    def _dp_sgd(self, estimator, net, fit_data, plan) -> DPSGD:
        """The budget of this fit, after refusing what DP-SGD cannot account for."""
        name = type(estimator).__name__
        _opacus(name)
        n_train = plan.n_train
        _refuse_private(estimator, plan.incremental, fit_data, n_train, net.module_)
        delta = (1 / (AUTO_DELTA_FACTOR * n_train) if estimator.dp_delta == "auto"
                 else float(estimator.dp_delta))
        if delta >= 1 / n_train:
            raise ValueError(
                f"{name}: dp_delta={estimator.dp_delta} is not below 1/n_train = "
                f"{1 / n_train:.3g} ({n_train} training rows): a delta that large allows "
                "releasing a row outright. Use dp_delta='auto' or a smaller value."
            )
        return DPSGD(float(estimator.dp_epsilon), delta, float(estimator.dp_max_grad_norm),
                     name, n_batches=plan.n_batches)


def _refuse_private(estimator, incremental, fit_data, n_train, module) -> None:
    name = f"{type(estimator).__name__}: dp_epsilon={estimator.dp_epsilon!r}"
    if incremental or estimator.warm_start:
        raise ValueError(
            f"{name} spends its budget over one fit; warm_start and partial_fit would "
            "train more than the budget accounts for. Fit once with warm_start=False."
        )
    if fit_data.train.weight is not None:
        raise ValueError(
            f"{name} needs equal row weights; got sample_weight or class_weight that "
            "differ between rows (clipping bounds each row's gradient, whatever its "
            "weight). Fit without them."
        )
    if process_group() is not None:
        raise ValueError(
            f"{name} trains in one process; this fit runs in a torch.distributed group "
            "(DDP), whose batches would not be Poisson samples."
        )
    if isinstance(estimator.batch_size, int) and estimator.batch_size > n_train:
        raise ValueError(
            f"{name}: batch_size={estimator.batch_size} is larger than the {n_train} "
            "training rows, but Poisson sampling draws each row with probability "
            "batch_size / n_train. Use batch_size <= n_train."
        )
    batch_norm = next((layer for layer in module.modules()
                       if isinstance(layer, torch.nn.modules.batchnorm._BatchNorm)), None)
    if batch_norm is not None:
        raise ValueError(
            f"{name} needs per-sample layers; the network has batch norm "
            f"({type(batch_norm).__name__}), which mixes the rows of a batch. Use "
            "normalization='layer'."
        )


PRIVACY = Privacy()
