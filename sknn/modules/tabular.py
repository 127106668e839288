"""Input layers for tables: categorical embeddings and numeric embeddings.

A tabular input row is one float tensor laid out as
``[numeric (n_numeric) | missing indicators (n_indicators) | category codes]``
so the training loop can slice a single tensor; :class:`TabularInput` splits
it, embeds each part and returns one flat feature vector.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


def embedding_dim(cardinality: int, max_dim: int = 32) -> int:
    """Width of a categorical embedding from its number of levels.

    The fast.ai rule of thumb ``1.6 * n ** 0.56``, capped at ``max_dim``.
    """
    return int(max(2, min(max_dim, round(1.6 * cardinality**0.56))))


class PeriodicEmbedding(nn.Module):
    """Periodic numeric embeddings followed by a linear layer and ReLU (PLR).

    Gorishniy et al. 2022, "On Embeddings for Numerical Features in Tabular
    Deep Learning": each feature ``x_j`` becomes ``[cos(2 pi c_j x_j),
    sin(2 pi c_j x_j)]`` with trainable frequencies ``c_j ~ N(0, sigma^2)``,
    then a per-feature linear map to ``d_embedding`` and a ReLU.

    Parameters
    ----------
    n_features : int
    n_frequencies : int, default=16
    sigma : float, default=0.1
    d_embedding : int, default=16
    """

    def __init__(self, n_features: int, n_frequencies: int = 16, sigma: float = 0.1,
                 d_embedding: int = 16) -> None:
        super().__init__()
        self.frequencies = nn.Parameter(torch.randn(n_features, n_frequencies) * sigma)
        bound = 1 / math.sqrt(2 * n_frequencies)
        self.weight = nn.Parameter(
            torch.empty(n_features, 2 * n_frequencies, d_embedding).uniform_(-bound, bound)
        )
        self.bias = nn.Parameter(torch.empty(n_features, d_embedding).uniform_(-bound, bound))
        self.out_features = n_features * d_embedding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        angles = 2 * math.pi * self.frequencies[None] * x[..., None]
        periodic = torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)
        embedded = torch.einsum("bfi,fio->bfo", periodic, self.weight) + self.bias
        return torch.relu(embedded).flatten(1)


class PiecewiseLinearEmbedding(nn.Module):
    """Piecewise-linear encoding on quantile bins, then linear + ReLU (Q-LR).

    Gorishniy et al. 2022: with bin edges ``b_0 < ... < b_T`` of feature ``j``
    (quantiles of the training data), component ``t`` of the encoding is 0
    below the bin, 1 above it and linear inside it.

    Parameters
    ----------
    edges : sequence of 1-D tensors
        Sorted bin edges of each feature (at least two per feature).
    d_embedding : int, default=16
    """

    def __init__(self, edges: Sequence[torch.Tensor], d_embedding: int = 16) -> None:
        super().__init__()
        n_bins = max(len(e) - 1 for e in edges)
        lefts = torch.full((len(edges), n_bins), math.inf)
        widths = torch.ones(len(edges), n_bins)
        for j, e in enumerate(edges):
            e = torch.as_tensor(e, dtype=torch.float32)
            k = len(e) - 1
            lefts[j, :k] = e[:-1]
            widths[j, :k] = (e[1:] - e[:-1]).clamp_min(1e-9)
        self.register_buffer("lefts", lefts)
        self.register_buffer("widths", widths)
        bound = 1 / math.sqrt(n_bins)
        self.weight = nn.Parameter(
            torch.empty(len(edges), n_bins, d_embedding).uniform_(-bound, bound)
        )
        self.bias = nn.Parameter(torch.empty(len(edges), d_embedding).uniform_(-bound, bound))
        self.out_features = len(edges) * d_embedding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # A value in bin t encodes 1 in every bin before t, its ratio in bin t and 0
        # after it, so its embedding is the sum of the rows of W before t plus the
        # ratio times row t: two row lookups per value rather than a product with the
        # whole, mostly 0 and 1, encoding (n_bins times fewer operations).
        if torch.onnx.is_in_onnx_export():  # ONNX has no searchsorted
            encoded = torch.einsum("bfi,fio->bfo", self.encode(x), self.weight)
            return torch.relu(encoded + self.bias).flatten(1)
        n_features, n_bins = self.lefts.shape
        # The last bin whose left edge is below the value: a value on an edge counts
        # as the full bin before it, and a bin of zero width (edges equal in float32)
        # as empty, as in the encoding.
        bins = torch.searchsorted(self.lefts, x.T.contiguous()).T
        bins = (bins - 1).clamp(0, n_bins - 1)  # up to the first edge: the first bin
        rows = bins + torch.arange(0, n_features * n_bins, n_bins, device=x.device)
        ratio = (x - self.lefts.flatten()[rows]) / self.widths.flatten()[rows]
        # Only the last bin extends beyond its right edge (padded bins have left=inf
        # and are never picked, so a shorter feature's last bin stops at 1).
        ratio = torch.where(bins == n_bins - 1, ratio, ratio.clamp_max(1))
        before = torch.cumsum(self.weight, dim=1) - self.weight  # rows before each bin
        table = torch.cat([before + self.bias[:, None], self.weight], dim=-1)
        looked_up = nn.functional.embedding(rows, table.flatten(0, 1))  # (batch, features, 2d)
        offset, slope = looked_up.chunk(2, dim=-1)
        embedded = torch.addcmul(offset, ratio[..., None], slope)
        return torch.relu(embedded).flatten(1)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The piecewise-linear encoding ``(batch, n_features, n_bins)`` of ``x``.

        ``forward`` equals ``relu(einsum('bfi,fio->bfo', encode(x), weight) + bias)``
        without forming it, up to float rounding, except at a value exactly on an
        edge of a bin narrower than float precision, and for NaN, which the product
        embeds as the bias alone and ``forward`` as NaN (sknn's encoder fills
        missing values before they get here).
        """
        ratio = (x[..., None] - self.lefts) / self.widths
        if ratio.shape[-1] == 1:
            return ratio  # one bin, both first and last: linear on both sides
        # First and last bins extend linearly beyond the training range.
        inner = ratio[..., 1:-1].clamp(0, 1)
        encoded = torch.cat([ratio[..., :1].clamp_max(1), inner,
                             ratio[..., -1:].clamp_min(0)], dim=-1)
        # Padded bins of features with fewer edges have left=inf: encode as 0.
        return torch.nan_to_num(encoded, nan=0.0, posinf=0.0, neginf=0.0)


class TabularInput(nn.Module):
    """Split a tabular row, embed numeric and categorical parts, concatenate.

    Parameters
    ----------
    n_numeric : int
        Leading numeric columns (already scaled; embedded when
        ``numeric_embedding`` is given).
    n_indicators : int
        Missing-value indicator columns after them, passed through.
    cardinalities : sequence of int
        Number of embedding rows of each categorical column (codes follow the
        indicators, stored as floats).
    numeric_embedding : nn.Module or None
        Maps ``(batch, n_numeric)`` to ``(batch, numeric_embedding.out_features)``.
    max_embedding_dim : int, default=32

    Examples
    --------
    >>> import torch
    >>> layer = TabularInput(n_numeric=2, n_indicators=1, cardinalities=[5])
    >>> layer(torch.tensor([[0.1, -1.0, 0.0, 3.0]])).shape[1] == layer.out_features
    True
    """

    def __init__(self, n_numeric: int, n_indicators: int, cardinalities: Sequence[int],
                 numeric_embedding: nn.Module | None = None,
                 max_embedding_dim: int = 32) -> None:
        super().__init__()
        self.n_numeric = n_numeric
        self.n_plain = n_numeric + n_indicators
        self.numeric_embedding = numeric_embedding
        self.embeddings = nn.ModuleList(
            nn.Embedding(n, embedding_dim(n, max_embedding_dim)) for n in cardinalities
        )
        numeric_width = n_numeric if numeric_embedding is None else (
            numeric_embedding.out_features
        )
        self.out_features = (numeric_width + n_indicators
                             + sum(e.embedding_dim for e in self.embeddings))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        numeric = x[:, :self.n_numeric]
        if self.numeric_embedding is not None:
            numeric = self.numeric_embedding(numeric)
        parts = [numeric, x[:, self.n_numeric:self.n_plain]]
        if len(self.embeddings):
            codes = x[:, self.n_plain:].long()
            parts += [emb(codes[:, j]) for j, emb in enumerate(self.embeddings)]
        return torch.cat(parts, dim=1)
