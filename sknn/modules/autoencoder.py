"""Autoencoder: an MLP encoder and a mirrored MLP decoder, with optional input corruption."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from sknn.modules.mlp import MLP

CORRUPTIONS = ("gaussian", "masking")


class InputCorruption(nn.Module):
    """Noise on the input during training only (denoising autoencoders).

    Parameters
    ----------
    noise : float, default=0.0
        'gaussian': standard deviation of the added noise; 'masking':
        probability of setting each input to zero. 0 disables it.
    kind : {'gaussian', 'masking'}, default='gaussian'

    Examples
    --------
    >>> import torch
    >>> corrupt = InputCorruption(0.5, "masking")
    >>> bool((corrupt.eval()(torch.ones(3, 4)) == 1).all())
    True
    """

    def __init__(self, noise: float = 0.0, kind: str = "gaussian") -> None:
        super().__init__()
        if kind not in CORRUPTIONS:
            raise ValueError(f"kind must be one of {CORRUPTIONS}; got {kind!r}.")
        self.noise = noise
        self.kind = kind

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.noise == 0:
            return x
        if self.kind == "gaussian":
            return x + self.noise * torch.randn_like(x)
        return x * (torch.rand_like(x) >= self.noise).to(x.dtype)


class Autoencoder(nn.Module):
    """``decoder(encoder(corrupt(x)))`` with MLP encoder and decoder.

    The encoder maps ``n_inputs`` through ``hidden_layer_sizes`` to a linear
    code of ``n_components``; the decoder mirrors it (the hidden sizes in
    reverse) back to ``n_inputs``.

    Parameters
    ----------
    n_inputs, n_components : int
    hidden_layer_sizes : sequence of int, default=(64,)
    activation : str, default='relu'
    dropout : float, default=0.0
    noise : float, default=0.0
        Input corruption during training (see :class:`InputCorruption`).
    noise_kind : {'gaussian', 'masking'}, default='gaussian'

    Examples
    --------
    >>> import torch
    >>> net = Autoencoder(6, 2, (16,))
    >>> net.encode(torch.zeros(3, 6)).shape, net(torch.zeros(3, 6)).shape
    (torch.Size([3, 2]), torch.Size([3, 6]))
    """

    def __init__(self, n_inputs: int, n_components: int,
                 hidden_layer_sizes: Sequence[int] = (64,), activation: str = "relu",
                 dropout: float = 0.0, noise: float = 0.0,
                 noise_kind: str = "gaussian") -> None:
        super().__init__()
        self.corrupt = InputCorruption(noise, noise_kind)
        self.encoder = MLP(n_inputs, n_components, tuple(hidden_layer_sizes), activation,
                           dropout)
        self.decoder = MLP(n_components, n_inputs, tuple(hidden_layer_sizes)[::-1],
                           activation, dropout)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code of ``x`` (no corruption)."""
        return self.encoder(x)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """The reconstruction from a code."""
        return self.decoder(code)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(self.corrupt(x)))
