"""Convolutional networks for time series (1-D) and images (2-D).

Every network reads ``(batch, n_channels, *spatial)`` with one spatial axis
(series) or two (images), ends in global average pooling and a linear layer,
so any length or image size goes through. Convolutions pad to keep the size
('same'), so even a series shorter than a kernel works: it is zero-padded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

SERIES_AUGMENTATIONS = ("jitter", "scale", "shift")
IMAGE_AUGMENTATIONS = ("shift", "flip")


def _conv(spatial_dims: int, n_in: int, n_out: int, kernel_size: int,
          stride: int = 1) -> nn.Module:
    conv = nn.Conv1d if spatial_dims == 1 else nn.Conv2d
    if stride == 1 and kernel_size % 2 == 0:
        # 'same' padding for an even kernel: one more zero after than before
        # (explicit, as torch's padding='same' would copy the input and warn).
        before = (kernel_size - 1) // 2
        pad = (nn.ConstantPad1d if spatial_dims == 1 else nn.ConstantPad2d)(
            (before, before + 1) * spatial_dims, 0.0)
        return nn.Sequential(pad, conv(n_in, n_out, kernel_size, bias=False))
    return conv(n_in, n_out, kernel_size, stride=stride, padding=kernel_size // 2, bias=False)


class _SingleValueSafe:
    """Batch norm that also trains on a batch holding one value per channel.

    Such a batch (one sample of length 1, or a last minibatch of one sample
    that pooling shrank to one position) has no variance, and torch refuses
    it; it is normalized with the running statistics instead.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and x.numel() == x.shape[1]:
            return nn.functional.batch_norm(x, self.running_mean, self.running_var,
                                            self.weight, self.bias, False, 0.0, self.eps)
        return super().forward(x)


class _BatchNorm1d(_SingleValueSafe, nn.BatchNorm1d):
    pass


class _BatchNorm2d(_SingleValueSafe, nn.BatchNorm2d):
    pass


def _batch_norm(spatial_dims: int, n_features: int) -> nn.Module:
    return (_BatchNorm1d if spatial_dims == 1 else _BatchNorm2d)(n_features)


def use_layer_norm(module: nn.Module) -> nn.Module:
    """Replace every batch norm in ``module`` by a per-sample norm, in place.

    Each :class:`~torch.nn.BatchNorm1d`/``2d`` becomes ``GroupNorm(1, C)``:
    normalization over each sample's channels and positions, so a sample's
    output no longer depends on the other samples of its batch (weighted rows
    then train exactly as repeated ones).

    Parameters
    ----------
    module : nn.Module

    Returns
    -------
    nn.Module
        ``module`` itself.

    Examples
    --------
    >>> net = use_layer_norm(ResNet(1, 2, n_filters=(4,)))
    >>> any(isinstance(m, nn.BatchNorm1d) for m in net.modules())
    False
    """
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm1d | nn.BatchNorm2d):
            setattr(module, name, nn.GroupNorm(1, child.num_features))
        else:
            use_layer_norm(child)
    return module


def _check_spatial_dims(spatial_dims: int) -> None:
    if spatial_dims not in (1, 2):
        raise ValueError(f"spatial_dims must be 1 (series) or 2 (images); got {spatial_dims}.")


class ConvBlock(nn.Sequential):
    """Convolution ('same' padding, or strided), batch norm, ReLU.

    Parameters
    ----------
    n_in, n_out : int
        Input and output channels.
    kernel_size : int
    spatial_dims : {1, 2}, default=1
    stride : int, default=1
    activation : bool, default=True
        End with a ReLU.

    Examples
    --------
    >>> import torch
    >>> ConvBlock(3, 8, kernel_size=5)(torch.zeros(2, 3, 40)).shape
    torch.Size([2, 8, 40])
    """

    def __init__(self, n_in: int, n_out: int, kernel_size: int, spatial_dims: int = 1,
                 stride: int = 1, activation: bool = True) -> None:
        _check_spatial_dims(spatial_dims)
        super().__init__(_conv(spatial_dims, n_in, n_out, kernel_size, stride),
                         _batch_norm(spatial_dims, n_out),
                         *([nn.ReLU()] if activation else []))


class ResidualBlock(nn.Module):
    """Convolution blocks with a shortcut (Wang et al. 2017; He et al. 2016).

    ``len(kernel_sizes)`` convolutions with batch norm (ReLU after all but the
    last), added to the input (through a 1x1 convolution and batch norm when
    the width or stride changes), then ReLU.

    Parameters
    ----------
    n_in, n_out : int
    kernel_sizes : sequence of int, default=(8, 5, 3)
    spatial_dims : {1, 2}, default=1
    stride : int, default=1
        Stride of the first convolution (downsampling for images).

    Examples
    --------
    >>> import torch
    >>> ResidualBlock(1, 16)(torch.zeros(2, 1, 50)).shape
    torch.Size([2, 16, 50])
    """

    def __init__(self, n_in: int, n_out: int, kernel_sizes: Sequence[int] = (8, 5, 3),
                 spatial_dims: int = 1, stride: int = 1) -> None:
        super().__init__()
        _check_spatial_dims(spatial_dims)
        layers: list[nn.Module] = []
        width = n_in
        for i, kernel_size in enumerate(kernel_sizes):
            layers.append(ConvBlock(width, n_out, kernel_size, spatial_dims,
                                    stride=stride if i == 0 else 1,
                                    activation=i < len(kernel_sizes) - 1))
            width = n_out
        self.body = nn.Sequential(*layers)
        self.shortcut = (
            nn.Identity() if n_in == n_out and stride == 1
            else nn.Sequential(_conv(spatial_dims, n_in, n_out, 1, stride),
                               _batch_norm(spatial_dims, n_out))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


class GlobalPoolNet(nn.Module):
    """A convolutional body, global average pooling, dropout and a linear head.

    The base of :class:`ResNet`, :class:`FCN` and :class:`PlainCNN`.

    Parameters
    ----------
    body : nn.Module
        Maps ``(batch, n_channels, *spatial)`` to ``(batch, n_features, *spatial')``.
    n_features : int
        Channels out of ``body``.
    n_outputs : int
    dropout : float, default=0.0
        Dropout before the linear head.
    augment : nn.Module or None, default=None
        Applied to the input before ``body`` (augmentations act in training only).

    Examples
    --------
    >>> import torch
    >>> net = GlobalPoolNet(nn.Conv1d(2, 4, 3), n_features=4, n_outputs=3)
    >>> net(torch.zeros(5, 2, 10)).shape
    torch.Size([5, 3])
    """

    def __init__(self, body: nn.Module, n_features: int, n_outputs: int,
                 dropout: float = 0.0, augment: nn.Module | None = None) -> None:
        super().__init__()
        self.augment = augment
        self.body = body
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.head = nn.Linear(n_features, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.augment is not None:
            x = self.augment(x)
        features = self.body(x).flatten(2).mean(dim=2)
        return self.head(self.dropout(features))


class ResNet(GlobalPoolNet):
    """Residual network for series (Wang et al. 2017) or small images.

    One :class:`ResidualBlock` per entry of ``n_filters``. The series default
    is Wang et al.'s: three blocks of 64, 128 and 128 filters with kernels 8,
    5 and 3. For images, blocks after the first halve the resolution (stride 2)
    while the image is at least 8 pixels wide.

    Parameters
    ----------
    n_channels, n_outputs : int
    n_filters : sequence of int, default=(64, 128, 128)
    kernel_sizes : sequence of int, default=(8, 5, 3)
        Kernels of the convolutions inside each block.
    spatial_dims : {1, 2}, default=1
    spatial_size : int or None, default=None
        Smallest spatial size of the input (images: decides the downsampling).
    dropout : float, default=0.0
    augment : nn.Module or None, default=None

    Examples
    --------
    >>> import torch
    >>> ResNet(1, 2, n_filters=(8, 16))(torch.zeros(4, 1, 30)).shape
    torch.Size([4, 2])
    >>> net = ResNet(1, 10, (8, 16), kernel_sizes=(3, 3), spatial_dims=2, spatial_size=28)
    >>> net(torch.zeros(4, 1, 28, 28)).shape
    torch.Size([4, 10])
    """

    def __init__(self, n_channels: int, n_outputs: int,
                 n_filters: Sequence[int] = (64, 128, 128),
                 kernel_sizes: Sequence[int] = (8, 5, 3), spatial_dims: int = 1,
                 spatial_size: int | None = None, dropout: float = 0.0,
                 augment: nn.Module | None = None) -> None:
        blocks = []
        width, size = n_channels, spatial_size
        for i, n_out in enumerate(n_filters):
            stride = 2 if spatial_dims == 2 and i > 0 and size is not None and size >= 8 else 1
            blocks.append(ResidualBlock(width, n_out, kernel_sizes, spatial_dims, stride))
            width = n_out
            size = None if size is None else math.ceil(size / stride)
        super().__init__(nn.Sequential(*blocks), width, n_outputs, dropout, augment)


class FCN(GlobalPoolNet):
    """Fully convolutional network (Wang et al. 2017).

    One :class:`ConvBlock` (convolution, batch norm, ReLU) per entry of
    ``n_filters`` with the matching kernel size; the default is the paper's
    128, 256 and 128 filters with kernels 8, 5 and 3.

    Parameters
    ----------
    n_channels, n_outputs : int
    n_filters : sequence of int, default=(128, 256, 128)
    kernel_sizes : sequence of int, default=(8, 5, 3)
        One per layer (cycled when shorter than ``n_filters``).
    spatial_dims : {1, 2}, default=1
    dropout : float, default=0.0
    augment : nn.Module or None, default=None
    pool : bool, default=False
        Follow each layer by 2x max pooling (rounding up).

    Examples
    --------
    >>> import torch
    >>> FCN(3, 4, n_filters=(8, 8))(torch.zeros(2, 3, 20)).shape
    torch.Size([2, 4])
    """

    def __init__(self, n_channels: int, n_outputs: int,
                 n_filters: Sequence[int] = (128, 256, 128),
                 kernel_sizes: Sequence[int] = (8, 5, 3), spatial_dims: int = 1,
                 dropout: float = 0.0, augment: nn.Module | None = None,
                 pool: bool = False) -> None:
        _check_spatial_dims(spatial_dims)
        max_pool = nn.MaxPool1d if spatial_dims == 1 else nn.MaxPool2d
        layers: list[nn.Module] = []
        width = n_channels
        for i, n_out in enumerate(n_filters):
            kernel_size = kernel_sizes[i % len(kernel_sizes)]
            layers.append(ConvBlock(width, n_out, kernel_size, spatial_dims))
            if pool:
                layers.append(max_pool(2, ceil_mode=True))
            width = n_out
        super().__init__(nn.Sequential(*layers), width, n_outputs, dropout, augment)


class PlainCNN(FCN):
    """A stack of convolution blocks, each followed by 2x max pooling (an :class:`FCN`).

    Pooling rounds up (``ceil_mode``), so any length of at least one goes
    through.

    Parameters
    ----------
    n_channels, n_outputs : int
    n_filters : sequence of int, default=(32, 64, 128)
    kernel_sizes : sequence of int, default=(5,)
        One per layer (cycled when shorter than ``n_filters``).
    spatial_dims : {1, 2}, default=1
    dropout : float, default=0.0
    augment : nn.Module or None, default=None

    Examples
    --------
    >>> import torch
    >>> PlainCNN(1, 3, n_filters=(4, 8))(torch.zeros(2, 1, 3)).shape
    torch.Size([2, 3])
    """

    def __init__(self, n_channels: int, n_outputs: int,
                 n_filters: Sequence[int] = (32, 64, 128),
                 kernel_sizes: Sequence[int] = (5,), spatial_dims: int = 1,
                 dropout: float = 0.0, augment: nn.Module | None = None) -> None:
        super().__init__(n_channels, n_outputs, n_filters, kernel_sizes, spatial_dims,
                         dropout, augment, pool=True)


class SeriesAugment(nn.Module):
    """Random perturbations of a batch of series, in training mode only.

    Parameters
    ----------
    kinds : sequence of {'jitter', 'scale', 'shift'}
        'jitter' adds Gaussian noise of ``jitter`` times each series' standard
        deviation; 'scale' multiplies each series by ``exp(N(0, scale^2))``;
        'shift' rolls each series in time by up to ``shift`` of its length,
        padding with the edge value.
    jitter, scale, shift : float, default=0.03, 0.1, 0.1

    Examples
    --------
    >>> import torch
    >>> aug = SeriesAugment(("jitter", "shift"))
    >>> aug.train()(torch.zeros(2, 1, 50)).shape
    torch.Size([2, 1, 50])
    """

    def __init__(self, kinds: Sequence[str] = SERIES_AUGMENTATIONS, jitter: float = 0.03,
                 scale: float = 0.1, shift: float = 0.1) -> None:
        super().__init__()
        unknown = set(kinds) - set(SERIES_AUGMENTATIONS)
        if unknown:
            raise ValueError(f"Unknown series augmentations {sorted(unknown)}; expected "
                             f"some of {SERIES_AUGMENTATIONS}.")
        self.kinds = tuple(kinds)
        self.jitter, self.scale, self.shift = jitter, scale, shift

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        n = x.shape[0]
        if "scale" in self.kinds:
            x = x * torch.exp(self.scale * torch.randn(n, 1, 1, device=x.device,
                                                       dtype=x.dtype))
        if "jitter" in self.kinds:
            std = x.std(dim=2, keepdim=True) if x.shape[2] > 1 else torch.ones_like(x)
            x = x + self.jitter * std * torch.randn_like(x)
        if "shift" in self.kinds:
            x = _random_shift(x, (int(self.shift * x.shape[2]),))
        return x


class ImageAugment(nn.Module):
    """Random shifts (pad and crop) and horizontal flips of images, in training only.

    Parameters
    ----------
    kinds : sequence of {'shift', 'flip'}
        'shift' translates each image by up to ``shift`` of its height and
        width, padding with the border values; 'flip' mirrors half of the
        images left to right.
    shift : float, default=0.1

    Examples
    --------
    >>> import torch
    >>> ImageAugment(("shift", "flip")).train()(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 1, 28, 28])
    """

    def __init__(self, kinds: Sequence[str] = ("shift",), shift: float = 0.1) -> None:
        super().__init__()
        unknown = set(kinds) - set(IMAGE_AUGMENTATIONS)
        if unknown:
            raise ValueError(f"Unknown image augmentations {sorted(unknown)}; expected "
                             f"some of {IMAGE_AUGMENTATIONS}.")
        self.kinds = tuple(kinds)
        self.shift = shift

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        if "flip" in self.kinds:
            flip = torch.rand(x.shape[0], device=x.device) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        if "shift" in self.kinds:
            x = _random_shift(x, (int(self.shift * x.shape[2]), int(self.shift * x.shape[3])))
        return x


def _random_shift(x: torch.Tensor, max_shifts: Sequence[int]) -> torch.Tensor:
    """Translate each sample along the trailing axes by up to ``max_shifts`` (edge-padded)."""
    n = x.shape[0]
    for axis, max_shift in zip(range(2, x.ndim), max_shifts):
        if max_shift < 1:
            continue
        length = x.shape[axis]
        offsets = torch.randint(-max_shift, max_shift + 1, (n,), device=x.device)
        positions = torch.arange(length, device=x.device)[None, :] - offsets[:, None]
        positions = positions.clamp(0, length - 1)  # (n, length)
        shape = [n] + [1] * (x.ndim - 1)
        shape[axis] = length
        index = positions.reshape(shape).expand_as(x)
        x = torch.gather(x, axis, index)
    return x
