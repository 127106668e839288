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

from sknn.modules.mlp import tracing


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
        if tracing():
            # The definition, for graphs (ONNX has no searchsorted, and the cached
            # search below reads its buffers' values, which tracing has not).
            encoded = torch.einsum("bfi,fio->bfo", self.encode(x), self.weight)
            return torch.relu(encoded + self.bias).flatten(1)
        # A value in bin t encodes 1 in every bin before t, its ratio in bin t and 0
        # after it, so its embedding is the sum of the rows of W before t plus the
        # ratio times row t: one lookup per value, of those two rows and of the
        # bin's left edge and inverse width, rather than a product with the whole,
        # mostly 0 and 1, encoding (n_bins times fewer operations).
        search = self._search_for(x)
        rows = search.slots(x) + search.first_slots  # (batch, features)
        looked_up = nn.functional.embedding(rows, self._slot_table(search.n_slots))
        d = self.weight.shape[-1]
        # Within the float range, so that a value beyond a saturated slot's edge
        # (inverse width 0) keeps ratio 0 there rather than inf * 0.
        finite = torch.finfo(x.dtype)
        left, inverse_width = looked_up[..., 2 * d], looked_up[..., 2 * d + 1]
        ratio = (x.clamp(finite.min, finite.max) - left) * inverse_width
        embedded = torch.addcmul(looked_up[..., :d], ratio[..., None], looked_up[..., d:2 * d])
        return torch.relu_(embedded).flatten(1)

    def _slot_table(self, n_slots: int) -> torch.Tensor:
        """Per slot of each feature: ``[bias + rows before, row, left edge, 1 / width]``.

        Slots are the bins, then for a feature with fewer bins than others a
        slot past its last edge, where its encoding stops at 1: the sum of
        all its rows, with no slope (the other padded bins are never looked up).
        """
        n_features, n_bins = self.lefts.shape
        real = torch.isfinite(self.lefts)
        rows = self.weight * real[..., None]
        padding = n_slots - n_bins
        rows = nn.functional.pad(rows, (0, 0, 0, padding))
        before = torch.cumsum(rows, dim=1) - rows + self.bias[:, None]
        lefts = nn.functional.pad(torch.where(real, self.lefts, 0.0), (0, padding))
        inverse_widths = nn.functional.pad(torch.where(real, 1 / self.widths, 0.0), (0, padding))
        table = torch.cat([before, rows, lefts[..., None].to(rows.dtype),
                           inverse_widths[..., None].to(rows.dtype)], dim=-1)
        return table.flatten(0, 1)

    def _search_for(self, x: torch.Tensor) -> _SlotSearch:
        """The slot search for inputs like ``x``, built once per buffers, device and dtype.

        Rebuilt when the buffers are replaced or changed in place through
        autograd's view of them (``load_state_dict``, ``.to()``); not after a
        change through ``.data``, which no version counter sees.
        """
        key = (x.dtype, x.device, self.lefts.data_ptr(), self.widths.data_ptr(),
               _version(self.lefts), _version(self.widths))
        cached = self.__dict__.get("_search")
        if cached is None or cached[0] != key:
            with torch.inference_mode(False), torch.no_grad():
                dtype = torch.promote_types(x.dtype, self.lefts.dtype)
                cached = (key, _SlotSearch(self.lefts, self.widths, dtype))
            self.__dict__["_search"] = cached
        return cached[1]

    def __getstate__(self):
        # The search is rebuilt on first use, for the device and dtype of the day.
        return {name: value for name, value in self.__dict__.items() if name != "_search"}

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


def _version(tensor: torch.Tensor) -> int | None:
    """The tensor's version counter (bumped by in-place changes); None if untracked."""
    try:
        return tensor._version
    except RuntimeError:  # an inference tensor
        return None


class _SlotSearch:
    """The slot of each value among a feature's edges, by a guide table.

    ``slots(x)`` equals ``searchsorted(edges, x.T).T - 1`` clipped to the
    slots (the last edge below each value), exactly, at a fifth of its cost on
    CPU: ``torch.searchsorted`` mispredicts a branch at each halving. Each
    feature's range of edges is cut into ``4 * n_slots`` equal cells; a value's
    cell, computed by the same float operations as each edge's, gives the
    number of edges in cells before it, all below the value (rounding keeps
    order), and at most ``n_checks`` edges share its cell, compared one by one.
    If edges crowd into a few cells (``n_checks`` above ``MAX_CHECKS``), it
    falls back to ``torch.searchsorted``.
    """

    MAX_CHECKS = 8

    def __init__(self, lefts: torch.Tensor, widths: torch.Tensor, dtype: torch.dtype) -> None:
        n_features, n_bins = lefts.shape
        real = torch.isfinite(lefts)
        n_real = real.sum(dim=1)
        short = n_real < n_bins
        # A slot past the last edge of features with fewer bins (see _slot_table).
        self.n_slots = n_bins + 1 if bool(short.any()) else n_bins
        last = (n_real - 1)[:, None]
        right_edges = lefts.gather(1, last) + widths.gather(1, last)
        edges = torch.full((n_features, self.n_slots + 1), math.inf, dtype=dtype,
                           device=lefts.device)  # one column of +inf at least, a sentinel
        edges[:, :n_bins] = lefts
        edges.scatter_(1, n_real[:, None], torch.where(
            short[:, None], right_edges, math.inf).to(dtype))
        self.edges = edges.flatten()
        self.first_edges = torch.arange(n_features, device=lefts.device)[:, None] * edges.shape[1]
        self.first_slots = torch.arange(n_features, device=lefts.device) * self.n_slots
        self.dtype = dtype
        self.n_cells = 4 * self.n_slots
        finite = torch.isfinite(edges)
        self.low = edges[:, :1]
        high = torch.where(finite, edges, -math.inf).amax(dim=1, keepdim=True)
        self.scale = self.n_cells / (high - self.low)
        cells = self._cells(edges)
        counts = torch.zeros(n_features, self.n_cells, dtype=torch.long, device=lefts.device)
        counts.scatter_add_(1, cells, finite.long())
        self.n_checks = int(counts.max())
        self.guide = (torch.cumsum(counts, dim=1) - counts).flatten()
        self.first_cells = torch.arange(n_features, device=lefts.device)[:, None] * self.n_cells
        self.searched_edges = edges[:, :self.n_slots].contiguous()

    def _cells(self, values: torch.Tensor) -> torch.Tensor:
        """The cell of each value of ``(n_features, n)`` (monotone in the value)."""
        position = (values - self.low) * self.scale
        # Out of place: vmap (Opacus' per-sample gradients) batches no in-place clamp.
        position = position.nan_to_num(0.0, posinf=self.n_cells - 1, neginf=0.0)
        return position.clamp(0, self.n_cells - 1).long()

    def slots(self, x: torch.Tensor) -> torch.Tensor:
        """The slot of each value of ``x`` ``(batch, n_features)``, as ``(batch, n_features)``."""
        values = x.T.to(self.dtype).contiguous()
        if self.n_checks > self.MAX_CHECKS:
            below = torch.searchsorted(self.searched_edges, values)
        else:
            # Edges in cells before the value's are below it; those in its cell, at
            # most n_checks, are counted one by one (the +inf sentinel stops it).
            below = self.guide[self._cells(values) + self.first_cells]
            for _ in range(self.n_checks):
                below += self.edges[below + self.first_edges] < values
        return (below - 1).clamp(0, self.n_slots - 1).T


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
