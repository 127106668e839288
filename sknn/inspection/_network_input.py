"""The network's input, as explanations and attacks see it.

Both read a fitted estimator's network on its *encoded* input, the tensor the
network itself reads, split in two: the continuous part that gradients and
perturbations act on (``values``) and what stays as it is (``fixed``: the
category codes of a table, the step mask of padded sequences). Category codes
are integers, so a table's categorical columns enter explanations through
their embeddings' outputs instead (:class:`EmbeddingSlot`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import is_classifier, is_regressor
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted
from torch import nn

from sknn._core import _fitted as fitted
from sknn._core._base import BaseNeuralEstimator
from sknn._estimators._distill import DistilledClassifier, DistilledRegressor
from sknn._lifecycle._export import inference_model, prepare_input
from sknn.modules.preprocessing import InferenceModel
from sknn.modules.tabular import TabularInput
from sknn.modules.transformer import FeatureTokenizer

TABLE, IMAGE, SERIES, TOKENS = "table", "image", "series", "tokens"


def import_captum(function: str, part: str):
    """``captum.<part>`` ('attr' or 'robust'), or an ImportError saying how to get it."""
    try:
        return importlib.import_module(f"captum.{part}")
    except ImportError as error:
        raise ImportError(
            f"{function} needs Captum, an optional dependency of sknn; install it with: "
            'pip install "sknn[explain]"'
        ) from error


def explained_estimator(estimator, function: str):
    """The fitted sknn estimator behind ``estimator``, and how X reaches it.

    A Pipeline's earlier steps transform X first; a distiller stands for its
    student. Returns ``(model, transform, feature_names)``: ``transform(X)``
    is X as the model receives it, and the names are those of the Pipeline's
    transformed columns (None without a Pipeline, or when a step has none).
    """
    model = estimator[-1] if isinstance(estimator, Pipeline) else estimator
    if isinstance(model, DistilledClassifier | DistilledRegressor):
        _check_fitted(model, function)
        model = model.student_
    if not (isinstance(model, BaseNeuralEstimator)
            and (is_classifier(model) or is_regressor(model))):
        raise TypeError(
            f"{function} expects a fitted sknn classifier or regressor (MLP, CNN, RNN or "
            "Transformer), or a Pipeline ending in one; got "
            f"{type(model).__name__}."
        )
    _check_fitted(model, function)
    if not isinstance(estimator, Pipeline):
        return model, _unchanged, None
    preprocessing = estimator[:-1]
    try:
        names = np.asarray(preprocessing.get_feature_names_out(), dtype=object)
    except (AttributeError, TypeError, ValueError):
        names = None  # a step without feature names
    return model, preprocessing.transform, names


def _unchanged(X):
    return X


def _check_fitted(model, function: str) -> None:
    try:
        check_is_fitted(model)
    except NotFittedError as error:
        raise NotFittedError(
            f"{function}: this {type(model).__name__} instance is not fitted yet; call "
            "fit before explaining or attacking it."
        ) from error


def input_kind(model) -> str:
    """'table', 'image', 'series' or 'tokens': what the network reads (its input adapter's
    kind, with images told apart from series, and masked sequences read as series)."""
    kind = fitted.input_kind(model)
    if kind in (TABLE, TOKENS):
        return kind
    return IMAGE if len(model.input_shape_) == 3 else SERIES


def _masked(model) -> bool:
    """Whether the network reads a step-mask channel after the values (padded sequences)."""
    return fitted.step_mask_channel(model)


@dataclass
class NetworkInput:
    """A batch of the network's input: ``network(assemble(values, fixed))``.

    Attributes
    ----------
    kind : {'table', 'image', 'series', 'tokens'}
    values : torch.Tensor
        Tables: ``[numeric columns after sknn's scaling | missing indicators]``;
        images and series: the samples as the network reads them (values
        channels only for padded sequences); tokens: the ids, as floats.
    fixed : torch.Tensor or None
        Tables: the category codes; padded sequences: the step mask.
    columns : ndarray of int or None
        Tables: the user's column of each column of ``values``.
    perturbable : torch.Tensor
        0/1 mask over ``values``: what an attack may change (scaled numeric
        cells that are not missing; valid steps of sequences; every pixel).
    """

    kind: str
    values: torch.Tensor
    fixed: torch.Tensor | None
    columns: np.ndarray | None = None
    perturbable: torch.Tensor | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.values)

    def fixed_args(self) -> tuple:
        """The fixed part as extra arguments of the network's forward (none if none)."""
        return () if self.fixed is None else (self.fixed,)

    def rows(self, start: int, stop: int) -> NetworkInput:
        """The rows ``start:stop``."""
        return NetworkInput(self.kind, self.values[start:stop],
                            None if self.fixed is None else self.fixed[start:stop],
                            self.columns, self.perturbable[start:stop])


def assemble(values: torch.Tensor, fixed: torch.Tensor | None) -> torch.Tensor:
    """The network's input from its continuous part and its fixed part."""
    return values if fixed is None else torch.cat([values, fixed], dim=1)


def encode(model, X) -> NetworkInput:
    """X encoded the way ``model.predict`` encodes it, split for explanations and attacks."""
    kind = input_kind(model)
    encoded = fitted.network_rows(model, X)
    if sp.issparse(encoded):
        encoded = encoded.toarray()
    tensor = torch.as_tensor(np.asarray(encoded), dtype=model.net_.module_dtype())
    if kind == TABLE:
        return _table_input(model, X, tensor)
    if _masked(model):
        values, mask = tensor[:, :-1], tensor[:, -1:]
        return NetworkInput(kind, values, mask, perturbable=mask.expand_as(values).clone())
    return NetworkInput(kind, tensor, None, perturbable=torch.ones_like(tensor))


def _table_input(model, X, tensor) -> NetworkInput:
    encoder = model.encoder_
    n_numeric, n_plain = encoder.n_numeric, encoder.n_numeric + encoder.n_indicators
    numeric_columns = np.asarray(encoder.numeric_index, dtype=int)
    columns = np.concatenate([numeric_columns,
                              numeric_columns[np.asarray(encoder.indicator_index, dtype=int)]])
    # Missing cells stay missing under attack: their scaled value is an imputed 0.
    raw = prepare_input(model, X)[:, :n_numeric]
    perturbable = torch.zeros(len(tensor), n_plain, dtype=tensor.dtype)
    perturbable[:, :n_numeric] = torch.as_tensor(~np.isnan(raw), dtype=tensor.dtype)
    fixed = tensor[:, n_plain:] if encoder.categorical_index else None
    return NetworkInput(TABLE, tensor[:, :n_plain], fixed, columns, perturbable)


def feature_names(model, pipeline_names) -> np.ndarray:
    """Names of the columns the estimator reads (``x0``, ``x1``, ... without any)."""
    if pipeline_names is not None and len(pipeline_names) == model.n_features_in_:
        return pipeline_names
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        return np.asarray(names, dtype=object)
    return np.asarray([f"x{j}" for j in range(model.n_features_in_)], dtype=object)


def network_copy(model) -> InferenceModel:
    """A CPU copy of the network with its output head (probabilities, or y's units)."""
    full = inference_model(model)
    return InferenceModel(full.network, full.head, None, dtype=full.dtype).eval()


@dataclass
class EmbeddingSlot:
    """A categorical embedding layer whose output stands in for category codes.

    ``output`` of the layer is ``(n, width)`` for one column (an MLP's
    :class:`~sknn.modules.TabularInput`) or ``(n, n_columns, width)`` for
    several (a Transformer's :class:`~sknn.modules.FeatureTokenizer`).
    """

    layer: nn.Module
    columns: np.ndarray  # the user's columns of the output, in order
    categories: list  # their fitted _CategoricalColumn


def embedding_slots(network: nn.Module, encoder) -> list[EmbeddingSlot]:
    """The categorical embedding layers of a tabular network, with their columns."""
    columns = np.asarray(encoder.categorical_index, dtype=int)
    slots = []
    for module in network.modules():
        if isinstance(module, TabularInput):
            slots += [EmbeddingSlot(layer, columns[j:j + 1], encoder.categories[j:j + 1])
                      for j, layer in enumerate(module.embeddings)]
        elif isinstance(module, FeatureTokenizer) and module.category_embedding is not None:
            slots.append(EmbeddingSlot(module.category_embedding, columns,
                                       list(encoder.categories)))
    return slots


class SubstitutedNetwork(nn.Module):
    """``head(network(...))`` read from continuous tensors only (what Captum differentiates).

    ``forward(values, *embedded, fixed)``: ``embedded`` replace the outputs of
    the ``slots``' embedding layers (so category codes in ``fixed`` choose
    nothing); ``fixed`` is passed only when the input has a fixed part.
    With ``head=False`` the raw network outputs (logits, standardized
    values) come out instead.
    """

    def __init__(self, model: InferenceModel, slots: list[EmbeddingSlot],
                 has_fixed: bool, head: bool = True) -> None:
        super().__init__()
        self.model = model if head else _WithoutHead(model)
        self.layers = [slot.layer for slot in slots]
        self.has_fixed = has_fixed

    def forward(self, values, *rest):
        fixed = rest[-1] if self.has_fixed else None
        embedded = rest[:-1] if self.has_fixed else rest
        handles = [layer.register_forward_hook(_returning(output))
                   for layer, output in zip(self.layers, embedded)]
        try:
            return self.model(assemble(values, fixed))
        finally:
            for handle in handles:
                handle.remove()


class _WithoutHead(nn.Module):
    def __init__(self, model: InferenceModel) -> None:
        super().__init__()
        self.network = model.network
        self.dtype = model.dtype

    def forward(self, x):
        return self.network(x.to(self.dtype))


def _returning(output):
    return lambda module, inputs, original: output


def embedded_outputs(network: nn.Module, slots, batch: NetworkInput) -> list[torch.Tensor]:
    """The outputs of the slots' layers when the network reads ``batch``."""
    captured = {}
    handles = [slot.layer.register_forward_hook(_capturing(captured, i))
               for i, slot in enumerate(slots)]
    try:
        with torch.no_grad():
            network(assemble(batch.values, batch.fixed))
    finally:
        for handle in handles:
            handle.remove()
    return [captured[i] for i in range(len(slots))]


def _capturing(store: dict, key: int):
    def hook(module, inputs, output):
        store[key] = output.detach()
    return hook


def mean_level_embeddings(network: nn.Module, slots, template: NetworkInput
                          ) -> list[torch.Tensor]:
    """Each categorical column's embedding averaged over its training levels.

    Found by running the network on one row per level (codes 0 to the
    number of levels - 1; the code of rare and unseen levels for a column
    that has no level of its own), so no layer's internals are repeated here.
    """
    if not slots:
        return []
    n_levels = [max(len(category.levels), 1) for slot in slots for category in slot.categories]
    rows = max(n_levels, default=1)
    codes = torch.stack([torch.arange(rows).clamp(max=n - 1) for n in n_levels], dim=1)
    probe = NetworkInput(TABLE, template.values[:1].new_zeros(rows, template.values.shape[1]),
                         codes.to(template.fixed.dtype), template.columns)
    means, k = [], 0
    for output in embedded_outputs(network, slots, probe):
        per_column = output[:, None] if output.ndim == 2 else output
        columns = [per_column[:n_levels[k + c], c].mean(dim=0)
                   for c in range(per_column.shape[1])]
        k += per_column.shape[1]
        mean = torch.stack(columns)
        means.append(mean[0] if output.ndim == 2 else mean)
    return means
