"""Preprocessing and output layers that put a whole fitted model into one graph.

These modules re-implement, in exportable tensor operations (no
``searchsorted``, no ``erfinv``), what sknn's estimators do in NumPy around
the network: quantile-normal or standard scaling of numeric columns with
missing-value indicators (:class:`TabularPreprocess`), and the mapping of
network outputs to probabilities or to target units (:class:`OutputHead`).
ONNX and ``torch.export`` graphs built from them need nothing but the runtime.
"""

from __future__ import annotations

import torch
from torch import nn

# Coefficients of Acklam's rational approximation of the inverse normal CDF.
_A = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
      1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)
_B = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
      6.680131188771972e01, -1.328068155288572e01)
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
      -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00,
      3.754408661907416e00)
_P_LOW = 0.02425


def _polynomial(coefficients, x):
    result = torch.full_like(x, coefficients[0])
    for c in coefficients[1:]:
        result = result * x + c
    return result


def ndtri(p: torch.Tensor) -> torch.Tensor:
    """Inverse of the standard normal CDF for ``p`` in (0, 1), in exportable ops.

    Acklam's rational approximation: relative error below 1.2e-9, far below
    the float32 rounding of the network's inputs (onnxruntime has no float64
    ``Erf`` for a refinement step).

    Parameters
    ----------
    p : torch.Tensor
        Probabilities, strictly between 0 and 1.

    Returns
    -------
    torch.Tensor

    Examples
    --------
    >>> import torch
    >>> round(float(ndtri(torch.tensor([0.975], dtype=torch.float64))), 6)
    1.959964
    """
    tail = torch.minimum(p, 1 - p)
    q = torch.sqrt(-2 * torch.log(tail))
    tail_value = _polynomial(_C, q) / (_polynomial(_D, q) * q + 1)
    tail_value = torch.where(p < 0.5, tail_value, -tail_value)
    r = (p - 0.5) ** 2
    central = (p - 0.5) * _polynomial(_A, r) / (_polynomial(_B, r) * r + 1)
    return torch.where(tail < _P_LOW, tail_value, central)


class TabularPreprocess(nn.Module):
    """Scale numeric columns, add missing indicators, pass category codes through.

    Input rows are ``[raw numeric values (NaN = missing) | category codes]``;
    output rows are the layout :class:`~sknn.modules.TabularInput` reads:
    ``[scaled numeric (missing -> 0) | missing indicators | category codes]``.
    Runs in the dtype of its buffers (float64 for exactness).

    Parameters
    ----------
    n_numeric : int
        Leading numeric columns; the rest are category codes.
    kind : {'quantile', 'standard', 'none'}
        'quantile': map each column through its quantiles to ranks (the average
        of forward and backward interpolation, as scikit-learn's
        ``QuantileTransformer``), clip to ``[clip, 1 - clip]`` and apply the
        inverse normal CDF. 'standard': ``(x - mean) / scale``.
    quantiles : tensor of shape (n_quantiles, n_numeric) or None
        Quantiles of each column (all NaN for a column never observed).
    references : tensor of shape (n_quantiles,) or None
        The ranks of ``quantiles``.
    mean, scale : tensor of shape (n_numeric,) or None
    indicator_index : sequence of int
        Numeric columns that get a 0/1 missing indicator.
    clip : float, default=1e-7

    Examples
    --------
    >>> import torch
    >>> layer = TabularPreprocess(1, "standard", mean=torch.tensor([1.0]),
    ...                           scale=torch.tensor([2.0]), indicator_index=[0])
    >>> layer(torch.tensor([[3.0, 4.0], [float("nan"), 5.0]]))
    tensor([[1., 0., 4.],
            [0., 1., 5.]])
    """

    def __init__(self, n_numeric: int, kind: str,
                 quantiles: torch.Tensor | None = None,
                 references: torch.Tensor | None = None,
                 mean: torch.Tensor | None = None, scale: torch.Tensor | None = None,
                 indicator_index: list[int] | tuple[int, ...] = (),
                 clip: float = 1e-7) -> None:
        super().__init__()
        if kind not in ("quantile", "standard", "none"):
            raise ValueError(f"kind must be 'quantile', 'standard' or 'none'; got {kind!r}.")
        self.n_numeric = n_numeric
        self.kind = kind
        self.clip = clip
        self.register_buffer("indicator_index", torch.as_tensor(list(indicator_index),
                                                                dtype=torch.int64))
        if kind == "quantile":
            quantiles = torch.as_tensor(quantiles)
            unobserved = torch.isnan(quantiles).all(dim=0)
            quantiles = torch.nan_to_num(quantiles, nan=0.0)
            references = torch.as_tensor(references, dtype=quantiles.dtype)
            lefts = quantiles[:-1].T  # (n_numeric, n_segments)
            widths = (quantiles[1:] - quantiles[:-1]).T
            self.register_buffer("lefts", lefts)
            self.register_buffer("widths", torch.where(widths > 0, widths, 1.0))
            self.register_buffer("flat", widths <= 0)
            self.register_buffer("steps", (references[1:] - references[:-1])[None, :])
            self.register_buffer("start", references[:1])
            self.register_buffer("unobserved", unobserved)
        elif kind == "standard":
            self.register_buffer("mean", torch.as_tensor(mean))
            self.register_buffer("scale", torch.as_tensor(scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        numeric = x[:, :self.n_numeric]
        missing = torch.isnan(numeric)
        if self.kind == "quantile":
            scaled = self._quantile_normal(numeric)
            scaled = torch.where(self.unobserved, torch.zeros_like(scaled), scaled)
        elif self.kind == "standard":
            scaled = (numeric - self.mean) / self.scale
        else:
            scaled = numeric
        scaled = torch.where(missing, torch.zeros_like(scaled), scaled)
        indicators = missing[:, self.indicator_index].to(x.dtype)
        return torch.cat([scaled, indicators, x[:, self.n_numeric:]], dim=1)

    def _quantile_normal(self, numeric: torch.Tensor) -> torch.Tensor:
        value = numeric[..., None]  # (batch, n_numeric, 1)
        ramp = ((value - self.lefts) / self.widths).clamp(0, 1)
        # Zero-width segments (repeated quantiles) are steps: at the repeated
        # value, forward interpolation has passed them and backward has not.
        forward = torch.where(self.flat, (value >= self.lefts).to(value.dtype), ramp)
        backward = torch.where(self.flat, (value > self.lefts).to(value.dtype), ramp)
        ranks = self.start + 0.5 * ((forward + backward) * self.steps).sum(dim=-1)
        return ndtri(ranks.clamp(self.clip, 1 - self.clip))


class OutputHead(nn.Module):
    """Map network outputs to what an estimator returns.

    Parameters
    ----------
    kind : {'softmax', 'sigmoid', 'destandardize'}
        Class probabilities (single-label or multilabel), or regression values
        ``outputs * scale + mean`` computed in the dtype of ``mean``.
    mean, scale : tensor of shape (n_outputs,) or None
        The target standardization, for 'destandardize'.
    flatten : bool, default=False
        Return shape ``(batch,)`` (one-dimensional regression targets).

    Examples
    --------
    >>> import torch
    >>> head = OutputHead("destandardize", torch.tensor([10.0]), torch.tensor([2.0]),
    ...                   flatten=True)
    >>> head(torch.tensor([[1.0], [-1.0]]))
    tensor([12.,  8.])
    """

    def __init__(self, kind: str, mean: torch.Tensor | None = None,
                 scale: torch.Tensor | None = None, flatten: bool = False) -> None:
        super().__init__()
        if kind not in ("softmax", "sigmoid", "destandardize"):
            raise ValueError(
                f"kind must be 'softmax', 'sigmoid' or 'destandardize'; got {kind!r}.")
        self.kind = kind
        self.flatten = flatten
        if kind == "destandardize":
            self.register_buffer("mean", torch.as_tensor(mean))
            self.register_buffer("scale", torch.as_tensor(scale))

    def forward(self, outputs: torch.Tensor) -> torch.Tensor:
        if self.kind == "softmax":
            return torch.softmax(outputs, dim=1)
        if self.kind == "sigmoid":
            return torch.sigmoid(outputs)
        values = outputs.to(self.mean.dtype) * self.scale + self.mean
        return values.reshape(-1) if self.flatten else values


class InferenceModel(nn.Module):
    """``head(network(preprocess(x).to(dtype)))``: a fitted model as one module.

    Parameters
    ----------
    network : nn.Module
        The trained network (in evaluation mode).
    head : nn.Module
        Maps its outputs to probabilities or values (:class:`OutputHead`).
    preprocess : nn.Module or None, default=None
        Applied to the input first (:class:`TabularPreprocess`).
    dtype : torch.dtype or None, default=None
        Cast between ``preprocess`` and ``network``.

    Examples
    --------
    >>> import torch
    >>> model = InferenceModel(nn.Linear(3, 2), OutputHead("softmax")).eval()
    >>> model(torch.zeros(4, 3)).sum(dim=1)
    tensor([1., 1., 1., 1.], grad_fn=<SumBackward1>)
    """

    def __init__(self, network: nn.Module, head: nn.Module,
                 preprocess: nn.Module | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.preprocess = preprocess
        self.network = network
        self.head = head
        self.dtype = dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.preprocess is not None:
            x = self.preprocess(x)
        if self.dtype is not None:
            x = x.to(self.dtype)
        return self.head(self.network(x))
