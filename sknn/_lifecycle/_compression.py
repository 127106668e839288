"""Compression of fitted sknn estimators: magnitude pruning and int8 quantization."""

from __future__ import annotations

import copy
import warnings
from numbers import Real

import torch
from torch import nn

from sknn._core._process import torch_threads
from sknn._lifecycle._export import check_fitted_network

SCOPES = ("global", "layer")


def _weights(module: nn.Module) -> list[torch.Tensor]:
    """Weight matrices and kernels: linear, convolution, numeric-embedding and ensemble
    head weights (not biases, category embeddings, normalization or adapters)."""
    return [parameter for m in module.modules() if not isinstance(m, nn.Embedding)
            for name, parameter in m.named_parameters(recurse=False)
            if name.endswith("weight") and parameter.ndim >= 2]


def prune(estimator, sparsity=0.5, *, scope="global"):
    """Zero the smallest-magnitude weights of a fitted estimator's network.

    Magnitude pruning of the weight matrices and kernels: linear and
    convolution layers, numeric embeddings, ensemble output layers (biases,
    category embeddings, normalization layers and the ensemble's sign adapters
    are kept). The zeros
    are plain zeros in the weights: the result predicts, pickles and exports
    as any sknn estimator. Pruned networks store as much as dense ones; the
    gain is for sparse storage or runtimes, and as a regularizer. A further
    ``warm_start`` fit lets the pruned weights grow back.

    Parameters
    ----------
    estimator : fitted sknn estimator
        Left unchanged: the pruned model is a copy.
    sparsity : float in [0, 1), default=0.5
        Share of those weights set to zero.
    scope : {'global', 'layer'}, default='global'
        'global': one magnitude threshold over all layers (layers with larger
        weights keep more); 'layer': ``sparsity`` of every layer.

    Returns
    -------
    estimator
        A fitted copy with pruned weights.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sknn import MLPClassifier
    >>> from sknn.compression import parameter_counts, prune
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier((32,), max_iter=30, n_threads=1, random_state=0).fit(X, y)
    >>> pruned = prune(clf, sparsity=0.8, scope="layer")
    >>> counts = parameter_counts(pruned)
    >>> bool(counts["nonzero"] < 0.5 * counts["total"])
    True
    """
    if (not isinstance(sparsity, Real) or isinstance(sparsity, bool)
            or not 0 <= sparsity < 1):
        raise ValueError(f"prune: sparsity must be a float in [0, 1); got {sparsity!r}.")
    if scope not in SCOPES:
        raise ValueError(f"prune: scope must be 'global' or 'layer'; got {scope!r}.")
    check_fitted_network(estimator, "prune")
    pruned = copy.deepcopy(estimator)
    weights = _weights(pruned.net_.module_)
    if not weights:
        raise ValueError(f"prune: this {type(estimator).__name__}'s network has no "
                         "weight matrices to prune.")
    with torch.no_grad():
        if scope == "global":
            magnitudes = torch.cat([w.detach().abs().flatten() for w in weights])
            threshold = _threshold(magnitudes, sparsity)
            for w in weights:
                w.masked_fill_(w.abs() <= threshold, 0.0)
        else:
            for w in weights:
                w.masked_fill_(w.abs() <= _threshold(w.detach().abs().flatten(), sparsity),
                               0.0)
    return pruned


def _threshold(magnitudes: torch.Tensor, sparsity: float) -> float:
    """Largest magnitude among the ``sparsity`` smallest (-1 when none is pruned)."""
    k = int(sparsity * magnitudes.numel())
    if k == 0:
        return -1.0
    return float(magnitudes.kthvalue(k).values)


def quantize(estimator):
    """Int8 dynamic quantization of the hidden linear layers of a fitted estimator.

    :func:`torch.ao.quantization.quantize_dynamic`: weights are stored as int8
    and activations quantized on the fly, which shrinks the model about four
    times and speeds up CPU prediction of wide layers. The output layer
    (``head``) stays in float32 for exact probabilities; convolutions are not
    dynamically quantizable and stay as they are. The result predicts on the
    CPU, in float32, and pickles; it cannot be exported to ONNX (quantize in
    the runtime instead), and further training starts a new fit.

    Parameters
    ----------
    estimator : fitted sknn estimator
        Left unchanged: the quantized model is a copy.

    Returns
    -------
    estimator
        A fitted copy whose network has quantized linear layers.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sknn import MLPClassifier
    >>> from sknn.compression import quantize
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier((32, 32), max_iter=30, n_threads=1, random_state=0).fit(X, y)
    >>> small = quantize(clf)
    >>> bool((small.predict(X) == clf.predict(X)).mean() > 0.9)
    True
    """
    check_fitted_network(estimator, "quantize")
    quantized = copy.deepcopy(estimator)
    net = quantized.net_
    module = net.module_.cpu().float().eval()
    names = {name for name, m in module.named_modules()
             if isinstance(m, nn.Linear) and not name.endswith("head")}
    if not names:
        raise ValueError(
            f"quantize: this {type(estimator).__name__}'s network has no hidden linear "
            "layers to quantize (dynamic quantization covers nn.Linear only)."
        )
    with warnings.catch_warnings(), torch_threads(1):
        # torch.ao.quantization announces its move to torchao; the API works as is.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        net.module_ = torch.ao.quantization.quantize_dynamic(
            module, {name: torch.ao.quantization.default_dynamic_qconfig for name in names},
            dtype=torch.qint8)
    net.device = "cpu"
    # A fresh optimizer: the old one holds the float weights and their moments.
    net.initialize_optimizer()
    return quantized


def parameter_counts(estimator) -> dict:
    """Total and nonzero parameter counts of a fitted estimator's network.

    Quantized layers count their int8 weights and float biases.

    Parameters
    ----------
    estimator : fitted sknn estimator

    Returns
    -------
    dict
        ``{"total": int, "nonzero": int}``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sknn import MLPClassifier
    >>> from sknn.compression import parameter_counts
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier((8,), ensemble_size=1, numeric_embedding=None,
    ...                     max_iter=5, n_threads=1).fit(X, y)
    >>> parameter_counts(clf)["total"]  # 4*8 + 8 + 8*3 + 3
    67
    """
    check_fitted_network(estimator, "parameter_counts")
    tensors = list(estimator.net_.module_.parameters())
    for m in estimator.net_.module_.modules():
        if isinstance(m, torch.ao.nn.quantized.dynamic.Linear):
            tensors += [m.weight().int_repr(), *([] if m.bias() is None else [m.bias()])]
    return {"total": sum(t.numel() for t in tensors),
            "nonzero": sum(int(torch.count_nonzero(t)) for t in tensors)}
