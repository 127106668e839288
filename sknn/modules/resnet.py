"""ResNet for tables (Gorishniy et al. 2021, "Revisiting Deep Learning Models for
Tabular Data"): an MLP with residual blocks, the paper's strongest simple baseline."""

from __future__ import annotations

import torch
from torch import nn

NORMALIZATIONS = ("batch", "layer")


def _norm(kind: str, width: int) -> nn.Module:
    return nn.BatchNorm1d(width) if kind == "batch" else nn.LayerNorm(width)


class TabularResNetBlock(nn.Module):
    """``x + Dropout(Linear(Dropout(ReLU(Linear(Norm(x))))))``.

    Parameters
    ----------
    width : int
        Width of the block's input and output.
    hidden : int
        Width inside the block.
    dropout_hidden : float
        Dropout after the inner ReLU.
    dropout_residual : float
        Dropout on the block's output before it is added.
    normalization : {'batch', 'layer'}

    Examples
    --------
    >>> import torch
    >>> block = TabularResNetBlock(8, 16, dropout_hidden=0.1, dropout_residual=0.0,
    ...                            normalization="layer")
    >>> block(torch.zeros(4, 8)).shape
    torch.Size([4, 8])
    """

    def __init__(self, width: int, hidden: int, *, dropout_hidden: float,
                 dropout_residual: float, normalization: str) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _norm(normalization, width), nn.Linear(width, hidden), nn.ReLU(),
            nn.Dropout(dropout_hidden), nn.Linear(hidden, width), nn.Dropout(dropout_residual),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class TabularResNet(nn.Module):
    """Linear stem, residual blocks, then normalization, ReLU and a linear head.

    Parameters
    ----------
    n_features : int
        Width of the input rows.
    n_outputs : int
    width : int, default=192
        Width of the residual stream.
    n_blocks : int, default=3
    hidden_factor : float, default=2.0
        Width inside a block, as a multiple of ``width``.
    dropout : float, default=0.25
        Dropout inside each block (after its ReLU).
    residual_dropout : float, default=0.0
        Dropout on each block's output.
    normalization : {'batch', 'layer'}, default='batch'

    Examples
    --------
    >>> import torch
    >>> net = TabularResNet(5, 3, width=16, n_blocks=2)
    >>> net(torch.zeros(4, 5)).shape
    torch.Size([4, 3])
    """

    def __init__(self, n_features: int, n_outputs: int, *, width: int = 192,
                 n_blocks: int = 3, hidden_factor: float = 2.0, dropout: float = 0.25,
                 residual_dropout: float = 0.0, normalization: str = "batch") -> None:
        super().__init__()
        hidden = max(1, round(hidden_factor * width))
        self.stem = nn.Linear(n_features, width)
        self.blocks = nn.Sequential(*[
            TabularResNetBlock(width, hidden, dropout_hidden=dropout,
                               dropout_residual=residual_dropout, normalization=normalization)
            for _ in range(n_blocks)])
        self.final = nn.Sequential(_norm(normalization, width), nn.ReLU())
        self.head = nn.Linear(width, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.final(self.blocks(self.stem(x))))
