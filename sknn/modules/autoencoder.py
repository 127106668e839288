"""Autoencoders: MLP or convolutional encoder and mirrored decoder, with optional corruption."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from sknn.modules.cnn import ConvBlock
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


class ConvAutoencoder(nn.Module):
    """Convolutional autoencoder for series or images, reading and returning flat rows.

    Each row holds one sample of ``input_shape`` ``(n_channels, n_timepoints)``
    or ``(n_channels, height, width)``, flattened in C order. The encoder is
    one stride-2 :class:`~sknn.modules.ConvBlock` per entry of ``n_filters``
    (each halves the length or the height and width, rounding up), then a
    linear layer to a code of ``n_components``; the decoder mirrors it: a
    linear layer and ReLU back to the last feature maps, then per block a
    nearest-neighbour upsampling to the size before that block and a
    convolution block, and a final 1x1 convolution back to ``n_channels``.

    Parameters
    ----------
    input_shape : sequence of int
        ``(n_channels, n_timepoints)`` or ``(n_channels, height, width)``.
    n_components : int
    n_filters : sequence of int, default=(16, 32)
    kernel_size : int, default=3
    dropout : float, default=0.0
        Dropout on the flattened feature maps before the code.
    noise : float, default=0.0
        Input corruption during training (see :class:`InputCorruption`).
    noise_kind : {'gaussian', 'masking'}, default='gaussian'

    Examples
    --------
    >>> import torch
    >>> net = ConvAutoencoder((1, 8, 8), n_components=4)
    >>> net.encode(torch.zeros(3, 64)).shape, net(torch.zeros(3, 64)).shape
    (torch.Size([3, 4]), torch.Size([3, 64]))
    >>> ConvAutoencoder((2, 30), 3, n_filters=(8,), kernel_size=5)(torch.zeros(5, 60)).shape
    torch.Size([5, 60])
    """

    def __init__(self, input_shape: Sequence[int], n_components: int,
                 n_filters: Sequence[int] = (16, 32), kernel_size: int = 3,
                 dropout: float = 0.0, noise: float = 0.0,
                 noise_kind: str = "gaussian") -> None:
        super().__init__()
        n_channels, *spatial = (int(s) for s in input_shape)
        dims = len(spatial)
        if dims not in (1, 2):
            raise ValueError("input_shape must be (n_channels, n_timepoints) or (n_channels, "
                             f"height, width); got {tuple(input_shape)}.")
        self.input_shape = (n_channels, *spatial)
        self.corrupt = InputCorruption(noise, noise_kind)
        sizes = [tuple(spatial)]  # spatial size before each block, then the code maps'
        blocks, width = [], n_channels
        for n_out in n_filters:
            blocks.append(ConvBlock(width, n_out, kernel_size, dims, stride=2))
            sizes.append(tuple((s - 1) // 2 + 1 if kernel_size % 2 else s // 2 + 1
                               for s in sizes[-1]))
            width = n_out
        self.encoder = nn.Sequential(*blocks)
        self.code_shape = (width, *sizes[-1])
        n_features = math.prod(self.code_shape)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.to_code = nn.Linear(n_features, n_components)
        self.from_code = nn.Sequential(nn.Linear(n_components, n_features), nn.ReLU())
        layers = []
        widths = [*n_filters[:-1][::-1], n_filters[0]]
        for size, n_out in zip(sizes[-2::-1], widths):
            layers += [nn.Upsample(size=size), ConvBlock(width, n_out, kernel_size, dims)]
            width = n_out
        conv = nn.Conv1d if dims == 1 else nn.Conv2d
        layers.append(conv(width, n_channels, 1))
        self.decoder = nn.Sequential(*layers)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code of flat rows ``x`` (no corruption)."""
        maps = self.encoder(x.reshape(len(x), *self.input_shape))
        return self.to_code(self.dropout(maps.flatten(1)))

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """Flat reconstructions from codes."""
        maps = self.from_code(code).reshape(len(code), *self.code_shape)
        return self.decoder(maps).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(self.corrupt(x)))
