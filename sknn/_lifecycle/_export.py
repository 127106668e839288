"""Export fitted sknn estimators to ONNX and ``torch.export``.

The exported graph is the whole prediction path after column decoding:
numeric scaling and missing-value indicators (tabular estimators), the
network, and the head (softmax/sigmoid for classifiers, the inverse target
standardization for regressors). What stays outside is what needs Python
objects rather than numbers: turning DataFrame columns of strings, categories
and datetimes into numbers, which :func:`prepare_input` does.
"""

from __future__ import annotations

import copy
import io
import os
import warnings
from numbers import Integral

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from sknn._core import _fitted as fitted
from sknn._core._task import ClassificationTask
from sknn._input._columns import column_of, is_numeric_array
from sknn.modules.preprocessing import InferenceModel, OutputHead, TabularPreprocess

# Opsets the exporter and onnxruntime both handle for every sknn layer.
OPSETS = (14, 20)


def check_fitted_network(estimator, function: str):
    """Refuse anything but a fitted sknn estimator, naming ``function``."""
    from sknn._core._base import BaseNeuralEstimator

    if not isinstance(estimator, BaseNeuralEstimator):
        raise TypeError(
            f"{function} expects a fitted sknn estimator (MLPClassifier, MLPRegressor, "
            f"CNNClassifier, ...); got {type(estimator).__name__}. For a Pipeline, pass "
            "its last step."
        )
    try:
        check_is_fitted(estimator)
    except NotFittedError as error:
        raise NotFittedError(
            f"{function}: this {type(estimator).__name__} instance is not fitted yet; "
            "call fit before exporting or compressing it."
        ) from error


def prepare_input(estimator, X) -> np.ndarray:
    """The numeric matrix an exported graph of ``estimator`` reads for X.

    For an MLP fitted on a numeric array this is X itself (as float64): the
    scaling and missing-value handling are in the graph. For a DataFrame it is
    ``[numeric columns | category codes]``: the numeric (boolean, datetime as
    days) columns first, in the fit-time order, then one column of integer
    codes per categorical column. For a CNN it is X reshaped to
    ``(n_samples, *input_shape_)`` (``uint8`` pixels divided by 255).

    Parameters
    ----------
    estimator : fitted sknn estimator
    X : array-like, sparse matrix or DataFrame
        Data as the estimator's ``predict`` takes it.

    Returns
    -------
    ndarray
        float64 for tabular estimators, the network's dtype otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from sknn import MLPClassifier
    >>> from sknn.export import prepare_input
    >>> X = pd.DataFrame({"color": ["red", "blue"] * 10, "size": np.arange(20.0)})
    >>> y = np.arange(20) % 2
    >>> clf = MLPClassifier((8,), ensemble_size=1, max_iter=5, n_threads=1).fit(X, y)
    >>> prepare_input(clf, X.head(2))
    array([[0., 1.],
           [1., 0.]])
    """
    check_fitted_network(estimator, "prepare_input")
    encoder = getattr(estimator, "encoder_", None)
    if encoder is None:
        encoded = fitted.network_rows(estimator, X)
        dtype = estimator.net_.module_dtype()
        return np.asarray(encoded, dtype=torch.empty((), dtype=dtype).numpy().dtype)
    X = fitted.checked_X(estimator, X)
    if sp.issparse(X):
        X = X.toarray()
    if encoder.kinds == ["sparse"]:
        return np.asarray(X, dtype=np.float64)
    return _numeric_and_codes(encoder, X)


def _numeric_and_codes(encoder, X) -> np.ndarray:
    """``[numeric values | category codes]`` of validated dense X (the encoder's steps
    before scaling; a TabularEncoder method would be the better home)."""
    table = encoder.as_table(X)
    if not is_numeric_array(X):
        encoder.check_kinds(table)
    numeric = encoder.numeric_columns(table).stacked()
    codes = [category.encode(column_of(table, j)) for j, category in
             zip(encoder.categorical_index, encoder.categories)]
    return np.column_stack([numeric, *codes]).astype(np.float64, copy=False)


def inference_model(estimator) -> InferenceModel:
    """A copy of the fitted model as one PyTorch module, from numbers to predictions.

    ``inference_model(est)(torch.as_tensor(prepare_input(est, X)))`` equals
    ``est.predict_proba(X)`` for classifiers and ``est.predict(X)`` for
    regressors (a Transformer fitted with ``autocast='bfloat16'`` predicts in
    bfloat16, the copy in full precision: they differ by about 1e-3).

    Parameters
    ----------
    estimator : fitted sknn estimator

    Returns
    -------
    sknn.modules.preprocessing.InferenceModel
        In evaluation mode, on the CPU.

    Examples
    --------
    >>> import torch
    >>> from sklearn.datasets import load_iris
    >>> from sknn import MLPClassifier
    >>> from sknn.export import inference_model, prepare_input
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier((16,), max_iter=20, n_threads=1, random_state=0).fit(X, y)
    >>> model = inference_model(clf)
    >>> with torch.no_grad():
    ...     proba = model(torch.as_tensor(prepare_input(clf, X))).numpy()
    >>> bool(abs(proba - clf.predict_proba(X)).max() < 1e-6)
    True
    """
    check_fitted_network(estimator, "inference_model")
    network = copy.deepcopy(estimator.net_.module_).cpu().eval()
    if _is_quantized(network):
        raise ValueError(
            f"inference_model: this {type(estimator).__name__} has int8 dynamically "
            "quantized layers (sknn.compression.quantize), which ONNX and torch.export "
            "do not support; export the float model and quantize in the runtime."
        )
    task = estimator.task_
    if isinstance(task, ClassificationTask):
        head = OutputHead("sigmoid" if task.multilabel else "softmax")
    else:
        head = OutputHead("destandardize", torch.as_tensor(task.mean, dtype=torch.float64),
                          torch.as_tensor(task.scale, dtype=torch.float64),
                          flatten=task.one_dimensional)
    encoder = getattr(estimator, "encoder_", None)
    preprocess = None
    if encoder is not None and encoder.kinds != ["sparse"]:
        scaler = encoder.scaler
        preprocess = TabularPreprocess(
            encoder.n_numeric, scaler.kind,
            quantiles=_float64(scaler.quantiles), references=_float64(scaler.references),
            mean=_float64(scaler.mean), scale=_float64(scaler.scale),
            indicator_index=list(encoder.indicator_index),
        ).double()
    return InferenceModel(network, head, preprocess,
                          dtype=estimator.net_.module_dtype()).eval()


def _float64(values):
    return None if values is None else torch.as_tensor(np.asarray(values, dtype=np.float64))


def _is_quantized(module: torch.nn.Module) -> bool:
    return any(type(m).__module__.startswith("torch.ao.nn.quantized")
               for m in module.modules())


def _check_fixed_length(estimator, function: str) -> None:
    """Refuse Transformers whose attention is masked by the padding of each sequence."""
    if getattr(estimator, "padding_mask_", False):
        what = ("token ids" if estimator.input_kind_ == "tokens"
                else "sequences of different lengths")
        raise ValueError(
            f"{function}: this {type(estimator).__name__} was fitted on {what}; its "
            "attention is masked by each sequence's padding, which the exported graph "
            "(traced at one sequence length) does not support. Export is available for "
            "Transformers fitted on tables or fixed-length series; predict with sknn "
            "for these."
        )


def _example_input(estimator) -> torch.Tensor:
    """Two rows of what the exported graph reads, from the estimator's input adapter."""
    return fitted.example_input(estimator)


class _Float32Network(torch.nn.Module):
    """A float64 network run in float32, float64 in and out."""

    def __init__(self, model: InferenceModel) -> None:
        super().__init__()
        self.model = model.float()
        self.model.dtype = torch.float32  # the cast InferenceModel applies to its input

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.float()).double()


def _runnable_in_onnxruntime(model: torch.nn.Module) -> torch.nn.Module:
    """``model``, or a float32 copy where onnxruntime lacks float64 kernels.

    onnxruntime has no float64 Conv, LSTM or GRU; sknn trains tiny inputs in
    float64 (``dtype='auto'``), so such networks are exported in float32 behind
    float64 casts: the graph's input and output types stay those of
    :func:`prepare_input` and the estimator, within 1e-5 of its predictions.
    """
    float64 = any(p.dtype == torch.float64 for p in model.parameters())
    lacking = (torch.nn.modules.conv._ConvNd, torch.nn.RNNBase)
    if float64 and any(isinstance(m, lacking) for m in model.modules()):
        return _Float32Network(model)
    return model


def _output_name(estimator) -> str:
    return "probabilities" if isinstance(estimator.task_, ClassificationTask) else "predictions"


def to_onnx(estimator, path=None, *, opset_version=17) -> bytes:
    """Export a fitted sknn estimator to ONNX.

    The graph has one input, ``X``: the matrix :func:`prepare_input` returns
    (for numeric arrays, X itself as float64; NaN marks missing values), with
    any number of rows. Its one output is ``probabilities`` for classifiers
    (``predict_proba``) or ``predictions`` for regressors (``predict``),
    matching the estimator to within 1e-5 under onnxruntime. Included in the
    graph: numeric scaling (quantile-normal or standard), missing-value
    indicators, numeric and categorical embeddings, the network (ensemble
    members averaged), softmax/sigmoid, and the inverse target
    standardization. Not included: reading DataFrame columns of strings,
    categories and datetimes (use :func:`prepare_input`, or the estimator's
    ``encoder_``), and mapping probabilities to labels (``classes_[argmax]``).

    RNN estimators export for fixed-length sequences (the graph runs every
    step; its input is the values plus the all-ones step mask that
    :func:`prepare_input` appends); variable-length lists need sknn itself.
    Transformers fitted on token ids or sequences of different lengths (whose
    attention is masked by the padding) are refused with a ValueError.
    Convolutional and recurrent networks trained in float64 run in float32
    inside the graph, as onnxruntime has no float64 kernels for them.

    Parameters
    ----------
    estimator : fitted sknn estimator
        MLP or CNN, classifier or regressor (not one quantized by
        :func:`sknn.compression.quantize`).
    path : str or path-like, default=None
        Where to write the model, if anywhere.
    opset_version : int, default=17
        ONNX opset, from 14 to 20.

    Returns
    -------
    bytes
        The serialized ONNX model (what onnxruntime's ``InferenceSession``
        takes).

    Examples
    --------
    >>> import onnxruntime as ort  # doctest: +SKIP
    >>> from sklearn.datasets import load_iris
    >>> from sknn import MLPClassifier
    >>> from sknn.export import to_onnx
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier((16,), max_iter=20, n_threads=1, random_state=0).fit(X, y)
    >>> session = ort.InferenceSession(to_onnx(clf))  # doctest: +SKIP
    >>> session.run(None, {"X": X[:2]})[0].shape  # doctest: +SKIP
    (2, 3)
    """
    if (not isinstance(opset_version, Integral) or isinstance(opset_version, bool)
            or not OPSETS[0] <= opset_version <= OPSETS[1]):
        raise ValueError(
            f"to_onnx: opset_version must be an integer from {OPSETS[0]} to {OPSETS[1]}; "
            f"got {opset_version!r}."
        )
    check_fitted_network(estimator, "to_onnx")
    _check_fixed_length(estimator, "to_onnx")
    model = _runnable_in_onnxruntime(inference_model(estimator))
    example = _example_input(estimator)
    buffer = io.BytesIO()
    output = _output_name(estimator)
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript-based exporter: no onnxscript dependency, and fast. Its
        # deprecation and tracing notes are about the exporter, not the model.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(
            model, (example,), buffer, dynamo=False, input_names=["X"],
            output_names=[output], opset_version=int(opset_version),
            dynamic_axes={"X": {0: "n_samples"}, output: {0: "n_samples"}},
        )
    data = buffer.getvalue()
    if path is not None:
        with open(os.fspath(path), "wb") as file:
            file.write(data)
    return data


def to_torch_export(estimator, path=None) -> torch.export.ExportedProgram:
    """Export a fitted sknn estimator with :func:`torch.export.export`.

    Same input and output as :func:`to_onnx`, any number of rows. The result
    runs in PyTorch without sknn (``program.module()(X)``); saved to ``path``
    it loads with :func:`torch.export.load` and can be compiled ahead of time
    (AOTInductor) for serving without Python. (TorchScript is deprecated in
    PyTorch 2.13, so sknn offers ``torch.export`` instead.)

    Parameters
    ----------
    estimator : fitted sknn estimator
    path : str or path-like, default=None
        Where to save the program (``.pt2``), if anywhere.

    Returns
    -------
    torch.export.ExportedProgram

    Examples
    --------
    >>> import torch
    >>> from sklearn.datasets import load_diabetes
    >>> from sknn import MLPRegressor
    >>> from sknn.export import to_torch_export
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = MLPRegressor((16,), max_iter=5, n_threads=1, random_state=0).fit(X, y)
    >>> program = to_torch_export(reg)
    >>> program.module()(torch.as_tensor(X[:3])).shape
    torch.Size([3])
    """
    check_fitted_network(estimator, "to_torch_export")
    _check_fixed_length(estimator, "to_torch_export")
    model = inference_model(estimator)
    example = _example_input(estimator)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore", UserWarning)
        program = torch.export.export(
            model, (example,), dynamic_shapes=({0: torch.export.Dim("n_samples")},))
        if path is not None:
            torch.export.save(program, os.fspath(path))
    return program
