"""Which inputs a fitted network's prediction rests on: attributions through Captum."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from sklearn.base import is_classifier
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from sknn._core._process import torch_threads
from sknn._input._columns import is_dataframe, to_pandas
from sknn.inspection._attribution_methods import (
    as_array,
    integrated_gradients,
    occlusion,
    saliency,
    token_ids,
    user_layout,
)
from sknn.inspection._network_input import (
    SERIES,
    TABLE,
    TOKENS,
    SubstitutedNetwork,
    embedded_outputs,
    embedding_slots,
    encode,
    explained_estimator,
    feature_names,
    import_captum,
    mean_level_embeddings,
    network_copy,
)

METHODS = ("integrated_gradients", "saliency", "occlusion")


class FeatureAttributions:
    """Attributions of a fitted network's predictions, as :func:`feature_attributions` returns.

    Each entry of ``values`` says how much one input moved the explained
    output (``outputs``) away from its value at the baseline
    (``baseline_outputs``); positive values pushed it up.

    Parameters
    ----------
    values : ndarray
        See Attributes.
    kind : {'table', 'image', 'series', 'tokens'}
    method : str
    output : {'probability', 'prediction'}
    outputs, baseline_outputs : ndarray of shape (n_samples,)
    feature_names : ndarray of str, default=None
    target : ndarray of shape (n_samples,) or int, default=None
    convergence_delta : ndarray of shape (n_samples,), default=None
    inputs : ndarray, default=None
    index : pandas.Index, default=None
    estimator_name : str, default=None

    Attributes
    ----------
    values : ndarray
        Tables: ``(n_samples, n_features)``, one column per column of X
        (for a Pipeline, per column its last step reads), in the order of
        ``feature_names``. Images: ``(n_samples, n_channels, height, width)``
        and series: ``(n_samples, n_channels, n_timepoints)``, as the network
        reads them (``input_shape_``; steps beyond a shorter sequence's end
        are 0). Token ids: ``(n_samples, length)``, one score per token.
    feature_names : ndarray of str or None
        Tables: the column names (``x0``, ``x1``, ... for arrays).
    kind : {'table', 'image', 'series', 'tokens'}
    method : str
        The method that computed them.
    output : {'probability', 'prediction'}
        What was explained: the probability of the class ``target``
        (classifiers), or the prediction in the units of y (regressors).
    outputs : ndarray of shape (n_samples,)
        The explained output at each row.
    baseline_outputs : ndarray of shape (n_samples,)
        The explained output at each row's baseline.
    target : ndarray of shape (n_samples,), int or None
        Classifiers: the class (a label of ``classes_``) explained in each
        row. Regressors: the output index explained, None for one output.
    convergence_delta : ndarray of shape (n_samples,) or None
        Integrated gradients: ``values.sum() - (outputs - baseline_outputs)``
        per row, Captum's check of the integral (0 when exact).
    inputs : ndarray or None
        Images, series and token ids: the values explained, as the network
        reads them (same shape as ``values``); None for tables.
    index : pandas.Index or None
        The index of X, when X was a DataFrame.
    estimator_name : str or None

    See Also
    --------
    feature_attributions : Computes them.
    AttributionDisplay : Plots them.
    """

    def __init__(self, values, *, kind, method, output, outputs, baseline_outputs,
                 feature_names=None, target=None, convergence_delta=None, inputs=None,
                 index=None, estimator_name=None):
        self.values = values
        self.kind = kind
        self.method = method
        self.output = output
        self.outputs = outputs
        self.baseline_outputs = baseline_outputs
        self.feature_names = feature_names
        self.target = target
        self.convergence_delta = convergence_delta
        self.inputs = inputs
        self.index = index
        self.estimator_name = estimator_name

    def importances(self):
        """Global importance: the mean absolute attribution over the rows.

        Returns
        -------
        pandas.Series or ndarray
            Tables: a Series indexed by ``feature_names`` (sort it with
            ``.sort_values()``). Otherwise an array of shape ``values.shape[1:]``.
        """
        mean = np.abs(self.values).mean(axis=0)
        if self.kind != TABLE:
            return mean
        return pd.Series(mean, index=pd.Index(self.feature_names, name="feature"),
                         name="mean |attribution|")

    def to_frame(self) -> pd.DataFrame:
        """The attributions of a table as a DataFrame: one row per row of X.

        Returns
        -------
        pandas.DataFrame
            Columns ``feature_names``, the index of X (or a range).
        """
        if self.kind != TABLE:
            raise ValueError(
                f"FeatureAttributions.to_frame: only tables have one attribution per "
                f"column; these are of {self.kind} (values of shape {self.values.shape})."
            )
        return pd.DataFrame(self.values, columns=list(self.feature_names), index=self.index)

    def __len__(self) -> int:
        return len(self.values)

    def __repr__(self) -> str:
        return (f"FeatureAttributions(method={self.method!r}, kind={self.kind!r}, "
                f"output={self.output!r}, values of shape {self.values.shape})")


@validate_params(
    {
        "estimator": "no_validation",
        "X": "no_validation",
        "method": [StrOptions(set(METHODS))],
        "target": "no_validation",
        "baseline": "no_validation",
        "n_steps": [Interval(Integral, 1, None, closed="left")],
        "tol": [None, Interval(Real, 0, None, closed="neither")],
        "window": [None, Interval(Integral, 1, None, closed="left"), tuple],
    },
    prefer_skip_nested_validation=True,
)
def feature_attributions(estimator, X, *, method="integrated_gradients", target=None,
                         baseline=None, n_steps=64, tol=0.01, window=None):
    """Attribute a fitted network's predictions to its inputs, with Captum.

    Works on every fitted MLP, CNN, RNN and Transformer classifier and
    regressor, a distiller (its student) and a Pipeline ending in one (its
    earlier steps transform X first). Attributions are computed on the
    input the network reads, a continuous tensor, then mapped back:

    - tables: the numeric columns *after sknn's own scaling* (quantile-normal
      or standard, ``numeric_transform``) with their missing-value
      indicators, and each categorical column through the *output of its
      embedding* (category codes are integers, which gradients cannot move);
      the parts of each of the user's columns are summed, so ``values`` has
      one column per column of X;
    - images: one value per pixel and channel; series: one per step and
      channel; token ids (text): one per token, with ``'occlusion'`` only.

    Parameters
    ----------
    estimator : fitted sknn classifier or regressor, or Pipeline ending in one
    X : array-like, DataFrame, list of sequences or TokenArray
        The rows to explain, as ``estimator.predict`` takes them.
    method : {'integrated_gradients', 'saliency', 'occlusion'}, \
default='integrated_gradients'
        'integrated_gradients': gradients integrated along the straight path
        from the baseline to the input (Sundararajan et al. 2017); a row's
        values sum to ``outputs - baseline_outputs`` up to
        ``convergence_delta``. 'saliency': gradient times (input - baseline)
        at the input, one backward pass (with the zero baselines of images
        and scaled numbers, gradient times input). 'occlusion': the drop of
        the output when inputs are set to the baseline: for tables one
        column at a time (with its indicator or embedding; Captum's
        ``FeatureAblation``), for images, series and tokens a sliding window
        (Captum's ``Occlusion``; an entry gets the mean drop of the windows
        covering it). Occlusion needs no gradient: use it for token ids, and
        where the network is not smooth.
    target : label, array-like of labels, int or None, default=None
        Classifiers: the class whose probability is explained, a label of
        ``classes_``, or one label per row; None: each row's predicted
        class (for multilabel y, its most probable label). Regressors: the
        index of the output explained, None when there is one output.
    baseline : data like X, or None, default=None
        The reference input, one row used for every row or as many rows as
        X, given like X (through the Pipeline's steps too). None: tables
        have every numeric column at 0 after sknn's scaling (the training
        median under 'quantile', the mean under 'standard'; 0 itself under
        'none' or for sparse X), not missing, and every categorical column
        at the mean embedding of its training levels; images and series are
        zeros, except series that the network standardizes itself (RNN,
        Transformers on sequences of different lengths), which sit at each
        channel's training mean; token ids are 0, the padding id (the token
        removed).
    n_steps : int, default=64
        Integration steps of 'integrated_gradients' (the trapezoidal rule
        on evenly spaced points of the path).
    tol : float or None, default=0.01
        'integrated_gradients': how closely each row's values must sum to
        ``outputs - baseline_outputs``. Rows whose ``|convergence_delta|``
        is above ``tol`` times that gap (a gap below 1% of the output's scale,
        a probability of 0.01 or 1% of y's standard deviation, counts as
        that much) are integrated again with twice the steps, up to
        ``64 * n_steps``: networks with sharp bends (ReLUs, piecewise-linear
        embeddings, saturated probabilities) need hundreds of steps on some
        rows. None: ``n_steps`` for every row.
    window : int, tuple of int or None, default=None
        'occlusion' on images, series and tokens: the size of the window
        along each spatial axis (every channel is occluded at once); None:
        one pixel, step or token.

    Returns
    -------
    FeatureAttributions
        ``values`` and ``feature_names``, with the explained ``outputs``,
        ``baseline_outputs`` and ``target`` (see :class:`FeatureAttributions`).
        Classifiers explain the probability of the class, regressors the
        prediction in the units of y (not the standardized scale the
        network is trained on).

    Raises
    ------
    ImportError
        When Captum is not installed (``pip install "sknn[explain]"``).

    See Also
    --------
    AttributionDisplay : Bar chart, heatmap or curve of the attributions.
    sklearn.inspection.permutation_importance : Model-agnostic global importance.

    Examples
    --------
    >>> import numpy as np
    >>> from sknn import MLPRegressor
    >>> from sknn.inspection import feature_attributions
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> y = 3 * X[:, 0] + 0.3 * X[:, 1]
    >>> reg = MLPRegressor((16,), ensemble_size=1, numeric_embedding=None, max_iter=100,
    ...                    n_threads=1, random_state=0).fit(X, y)
    >>> result = feature_attributions(reg, X[:20])
    >>> result.values.shape
    (20, 3)
    >>> result.importances().idxmax()
    'x0'
    >>> gap = result.outputs - result.baseline_outputs
    >>> bool(np.allclose(result.values.sum(axis=1), gap, rtol=0.01, atol=1e-3))
    True
    """
    function = "feature_attributions"
    attr = import_captum(function, "attr")
    model, transform, pipeline_names = explained_estimator(estimator, function)
    index = to_pandas(X).index if is_dataframe(X) else None
    batch = encode(model, transform(X))
    if batch.kind == TOKENS and method != "occlusion":
        raise ValueError(
            f"{function}: {type(model).__name__} reads token ids, integers that no "
            f"gradient can move; method={method!r} needs a continuous input. Use "
            "method='occlusion'."
        )
    network = network_copy(model)
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    slots = embedding_slots(network.network, model.encoder_) if batch.kind == TABLE else []
    with torch_threads(model.n_threads):
        reference = _reference(model, network, slots, batch, baseline, transform, function)
        inputs = (batch.values, *embedded_outputs(network, slots, batch))
        explained = SubstitutedNetwork(network, slots, has_fixed=batch.fixed is not None)
        with torch.no_grad():
            outputs = explained(*inputs, *batch.fixed_args())
            baseline_outputs = explained(*reference, *batch.fixed_args())
        rows, captum_target, target_info = _targets(model, outputs, target, function)
        outputs, baseline_outputs = _selected(outputs, rows), _selected(baseline_outputs, rows)
        method_run = {"integrated_gradients": integrated_gradients,
                      "saliency": saliency, "occlusion": occlusion}[method]
        attributions, delta = method_run(
            attr, explained, batch, inputs, reference, captum_target, slots=slots,
            n_steps=n_steps, window=window,
            allowed_delta=_allowed_delta(model, outputs - baseline_outputs, target_info, tol))
    values = user_layout(attributions, batch, slots, model, ablated=method == "occlusion")
    return FeatureAttributions(
        values, kind=batch.kind, method=method,
        output="probability" if is_classifier(model) else "prediction",
        outputs=outputs, baseline_outputs=baseline_outputs,
        feature_names=feature_names(model, pipeline_names) if batch.kind == TABLE else None,
        target=target_info, convergence_delta=delta,
        inputs=None if batch.kind == TABLE else (
            token_ids(batch) if batch.kind == TOKENS else as_array(batch, batch.values)),
        index=index, estimator_name=type(model).__name__,
    )


# -- baselines ---------------------------------------------------------------------
def _reference(model, network, slots, batch, baseline, transform, function) -> tuple:
    """The baseline inputs ``(values, *embedded)``, one per row of ``batch``."""
    n = len(batch)
    if baseline is None:
        values = torch.zeros_like(batch.values)
        mean = getattr(model, "input_mean_", None)
        if batch.kind == SERIES and mean is not None:
            values += torch.as_tensor(mean, dtype=values.dtype)[None, :, None]
        embedded = [m.expand(n, *m.shape) for m in mean_level_embeddings(network, slots, batch)]
        return (values, *embedded) if slots else (values,)
    reference = encode(model, transform(baseline))
    if len(reference) not in (1, n) or reference.values.shape[1:] != batch.values.shape[1:]:
        raise ValueError(
            f"{function}: baseline encodes to shape {tuple(reference.values.shape)} and X "
            f"to shape {tuple(batch.values.shape)}; give a baseline like X, one row or "
            "as many rows as X."
        )
    embedded = embedded_outputs(network, slots, reference)
    return tuple(t.expand(n, *t.shape[1:]) for t in (reference.values, *embedded))


# -- targets -----------------------------------------------------------------------
def _targets(model, outputs: torch.Tensor, target, function):
    """Row indices into the outputs, Captum's target, and the target to report."""
    n = len(outputs)
    if is_classifier(model):
        classes = model.classes_
        if target is None:
            columns = outputs.argmax(dim=1).numpy()
        else:
            columns = _class_columns(classes, target, n, function)
        return columns, torch.as_tensor(columns), classes[columns]
    if outputs.ndim == 1:
        if target not in (None, 0) or isinstance(target, bool):
            _bad_output_index(model, 1, target, function)
        return None, None, None
    n_outputs = outputs.shape[1]
    if not isinstance(target, Integral) or isinstance(target, bool) or not (
            0 <= target < n_outputs):
        _bad_output_index(model, n_outputs, target, function)
    return np.full(n, int(target)), int(target), int(target)


def _class_columns(classes, target, n, function) -> np.ndarray | None:
    """The column of ``classes`` of each row's target label."""
    position = {label: j for j, label in enumerate(classes.tolist())}
    labels = np.asarray(target, dtype=object)
    if labels.ndim == 0:
        labels = np.repeat(labels[None], n)
    columns = ([position.get(label) for label in labels.tolist()]
               if labels.ndim == 1 and len(labels) == n else [None])
    if None in columns:
        raise ValueError(
            f"{function}: target must be one of classes_ {classes.tolist()}, or one of "
            f"them per row of X ({n} rows); got {target!r}."
        )
    return np.asarray(columns, dtype=np.int64)


def _bad_output_index(model, n_outputs, target, function):
    raise ValueError(
        f"{function}: {type(model).__name__} predicts {n_outputs} output(s); target "
        f"must be an output index from 0 to {n_outputs - 1}"
        + (" or None" if n_outputs == 1 else "") + f"; got {target!r}."
    )


def _allowed_delta(model, gaps: np.ndarray, target_info, tol) -> torch.Tensor | None:
    """The convergence delta each row may keep: ``tol`` of its gap, of at least 1% of
    the output's scale (a probability of 0.01, or 1% of y's standard deviation)."""
    if tol is None:
        return None
    scale = 1.0 if is_classifier(model) else float(model.task_.scale[target_info or 0])
    return torch.as_tensor(tol * np.maximum(np.abs(gaps), 0.01 * scale))


def _selected(outputs: torch.Tensor, rows) -> np.ndarray:
    if rows is None:
        return outputs.double().numpy()
    return outputs[torch.arange(len(outputs)), torch.as_tensor(rows)].double().numpy()


