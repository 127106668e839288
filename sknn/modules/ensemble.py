"""Parameter-efficient ensemble of MLPs (TabM-mini, Gorishniy et al. 2024)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from sknn.modules.mlp import make_activation, tracing

AVERAGES = ("softmax", "sigmoid", "mean")


class EnsembleMLP(nn.Module):
    """``k`` MLPs that share their hidden layers, trained together as one.

    Each member multiplies the input by its own vector of random signs (a
    rank-one adapter, as TabM-mini) before the shared hidden layers and has
    its own output layer. In training mode the output is
    ``(batch, k, n_outputs)`` so every member gets its own loss; in
    evaluation mode the members are averaged: probabilities for
    ``average='softmax'``/``'sigmoid'`` (returned as logits of the mean
    probability), values for ``'mean'``. Setting ``return_members = True``
    returns the members' outputs in evaluation mode too (for their spread).

    Parameters
    ----------
    n_inputs, n_outputs : int
    hidden_layer_sizes : sequence of int
    activation : str, default='relu'
    dropout : float, default=0.0
    n_members : int, default=8
    average : {'softmax', 'sigmoid', 'mean'}, default='mean'

    Examples
    --------
    >>> import torch
    >>> net = EnsembleMLP(4, 3, (16,), n_members=8, average="softmax")
    >>> net.train()(torch.zeros(2, 4)).shape
    torch.Size([2, 8, 3])
    >>> net.eval()(torch.zeros(2, 4)).shape
    torch.Size([2, 3])
    """

    def __init__(self, n_inputs: int, n_outputs: int,
                 hidden_layer_sizes: Sequence[int] = (256, 256),
                 activation: str = "relu", dropout: float = 0.0, n_members: int = 8,
                 average: str = "mean") -> None:
        super().__init__()
        if average not in AVERAGES:
            raise ValueError(f"average must be one of {AVERAGES}; got {average!r}.")
        self.average = average
        self.return_members = False
        signs = torch.randint(0, 2, (n_members, n_inputs)) * 2.0 - 1.0
        self.adapter = nn.Parameter(signs)
        layers: list[nn.Module] = []
        width = n_inputs
        for size in hidden_layer_sizes:
            layers += [nn.Linear(width, size), make_activation(activation, inplace=True)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = size
        self.body = nn.Sequential(*layers)
        bound = width ** -0.5
        self.head_weight = nn.Parameter(
            torch.empty(n_members, width, n_outputs).uniform_(-bound, bound))
        self.head_bias = nn.Parameter(torch.empty(n_members, n_outputs).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Each member's output layer, batched over members on a (k, batch, width)
        # hidden layer.
        members = torch.baddbmm(self.head_bias[:, None], self.members_hidden(x),
                                self.head_weight).transpose(0, 1)
        if self.training or self.return_members:
            return members
        return self.combine(members)

    def members_hidden(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden layer of every member, ``(k, batch, width)``."""
        first = self.body[0] if len(self.body) else None
        if (isinstance(first, nn.Linear) and not torch.is_grad_enabled()
                and not tracing() and len(x) >= first.out_features
                and not _hooked(self.body, first)):
            # Without gradients (prediction, validation), fold each member's adapter
            # into its copy of the first layer's weights and multiply the shared
            # input by all of them in one batched product: scaling the input first
            # writes k copies of it, as much memory traffic as the product itself
            # (a default model of a 50-column table predicted 1.2x faster folded).
            # The folded weights cost k x out x in products, so only batches of at
            # least ``out`` rows fold (a wide sparse input predicted one row 18x
            # slower folded). Autograd (training, Opacus' per-sample gradients,
            # Captum), hooks on the layers and traced graphs (no branch on the
            # batch size) see them called as usual.
            weights = first.weight[None] * self.adapter[:, None, :]  # (k, out, in)
            hidden = torch.baddbmm(first.bias[None, None], x.expand(len(weights), *x.shape),
                                   weights.transpose(1, 2))
            return self.body[1:](hidden)
        return self.body(x[:, None, :] * self.adapter).transpose(0, 1)

    def combine(self, members: torch.Tensor) -> torch.Tensor:
        """Average ``(batch, k, n_outputs)`` member outputs over ``k``."""
        if self.average == "softmax":
            log_probs = torch.log_softmax(members, dim=-1)
            return torch.logsumexp(log_probs, dim=1) - torch.log(
                torch.tensor(float(members.shape[1]), dtype=members.dtype))
        if self.average == "sigmoid":
            probability = torch.sigmoid(members).mean(dim=1)
            eps = torch.finfo(members.dtype).eps
            return torch.logit(probability, eps=eps)
        return members.mean(dim=1)


def _hooked(*modules: nn.Module) -> bool:
    """Whether forward hooks, the modules' own or global ones, would see these calls."""
    return bool(nn.modules.module._global_forward_hooks
                or nn.modules.module._global_forward_pre_hooks
                or any(m._forward_hooks or m._forward_pre_hooks for m in modules))
