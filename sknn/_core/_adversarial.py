"""Adversarial training: every minibatch is trained on its rows and on adversarial copies.

With ``adversarial_epsilon=eps``, each training step first perturbs the
batch's continuous inputs within an L-infinity ball of radius ``eps`` to raise
the loss (FGSM, Goodfellow et al. 2015, or PGD, Madry et al. 2018), with the
network of that step, then takes one gradient step on the clean rows and the
perturbed rows together: each half carries half of the loss.

The estimators say which inputs may move: all values of series and images;
the scaled numeric columns of a table (never the missing-value indicators or
the category codes that share its tensor, :class:`sknn.modules.tabular.TabularInput`);
the valid steps of masked sequences (never the validity channel). Token ids are
discrete and refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from sknn._training._feature import TrainingFeature
from sknn._training._parameters import constraints, owned_by

ADVERSARIAL_CONSTRAINTS = constraints(*owned_by("adversarial"))
# PGD: a random start in the ball, then this many signed-gradient steps that
# together span 2.5 epsilon (Madry et al.'s ratio), so that the search can
# cross the ball from side to side.
PGD_STEPS = 5
PGD_STEPS_SPAN = 2.5


def adversarial_examples(loss_of: Callable[[torch.Tensor], torch.Tensor], X: torch.Tensor,
                         epsilon: float, method: str = "pgd",
                         movable: torch.Tensor | None = None,
                         n_steps: int = PGD_STEPS) -> torch.Tensor:
    """Inputs within L-infinity distance ``epsilon`` of ``X`` that raise ``loss_of``.

    Parameters
    ----------
    loss_of : callable
        ``loss_of(inputs) -> scalar tensor``: the summed loss of the rows.
    X : torch.Tensor
        The clean inputs.
    epsilon : float
        Largest change of one value.
    method : {'pgd', 'fgsm'}, default='pgd'
        One signed-gradient step of ``epsilon`` (FGSM), or ``n_steps`` steps
        from a random start, each projected back into the ball (PGD).
    movable : torch.Tensor or None, default=None
        1 where a value may change, 0 where it stays (broadcast against X);
        None: every value may change.
    n_steps : int, default=PGD_STEPS
        PGD's steps.

    Returns
    -------
    torch.Tensor
        Detached, of X's shape.
    """
    movable = torch.ones_like(X) if movable is None else movable.to(X.dtype)
    if method == "fgsm":
        return (X + epsilon * _loss_gradient(loss_of, X).sign() * movable).detach()
    step = PGD_STEPS_SPAN * epsilon / n_steps
    delta = (torch.rand_like(X) * 2 - 1) * epsilon * movable
    for _ in range(n_steps):
        delta = delta + step * _loss_gradient(loss_of, X + delta).sign() * movable
        delta = delta.clamp(-epsilon, epsilon)
    return (X + delta).detach()


def _loss_gradient(loss_of, inputs: torch.Tensor) -> torch.Tensor:
    """The gradient of the loss with respect to the inputs only (no parameter's grad)."""
    inputs = inputs.detach().requires_grad_(True)
    with torch.enable_grad():
        (gradient,) = torch.autograd.grad(loss_of(inputs), inputs)
    return gradient


@dataclass
class AdversarialTraining:
    """What the net's training step perturbs, and how (see the module docstring).

    Parameters
    ----------
    epsilon : float
    method : {'pgd', 'fgsm'}
    n_continuous : int or None
        Tables: only the first ``n_continuous`` columns (the scaled numbers)
        move. None: every value of a row.
    step_mask_channel : bool
        Masked sequences: the last channel is 1 on valid steps; it stays, and
        only the valid steps of the other channels move.
    """

    epsilon: float
    method: str = "pgd"
    n_continuous: int | None = None
    step_mask_channel: bool = False

    def movable(self, X: torch.Tensor) -> torch.Tensor:
        """1 where a value of the batch ``X`` may change, 0 elsewhere."""
        movable = torch.ones_like(X)
        if self.n_continuous is not None:
            movable[:, self.n_continuous:] = 0
        if self.step_mask_channel:
            movable[:, :-1] *= X[:, -1:]
            movable[:, -1] = 0
        return movable

    def mixed_batch(self, net, X, y, weight):
        """The batch followed by its adversarial copy (the loss averages both halves).

        The copy is searched with the network in evaluation mode, so that
        dropout, augmentation and batch statistics do not change along the
        search (and an ensemble is attacked through its averaged prediction),
        on the net's own module (not a data-parallel wrapper, whose
        gradient sync belongs to the training step).
        """
        module = net.module_

        def loss_of(inputs):
            return net.row_losses(net.forward_pass(module, inputs), y).sum()

        training = module.training
        module.eval()
        try:
            X_adversarial = adversarial_examples(loss_of, X, self.epsilon, self.method,
                                                 self.movable(X))
        finally:
            module.train(training)
        twice = None if weight is None else torch.cat([weight, weight])
        return torch.cat([X, X_adversarial]), torch.cat([y, y]), twice


class Adversarial(TrainingFeature):
    """``adversarial_epsilon`` and ``adversarial_method``: training on adversarial copies.

    The estimator's input adapter (``_input.attack_inputs``) gives the keyword
    arguments of :class:`AdversarialTraining` that say which inputs move (or
    raises for discrete inputs).
    """

    name = "adversarial"
    params = ("adversarial_epsilon", "adversarial_method")

    def active(self, estimator) -> bool:
        return estimator.adversarial_epsilon is not None

    def prepare_net(self, estimator, net, fit_data, plan) -> None:
        net.adversarial = None if not self.active(estimator) else AdversarialTraining(
            float(estimator.adversarial_epsilon), estimator.adversarial_method,
            **estimator._input.attack_inputs(estimator))


ADVERSARIAL = Adversarial()
