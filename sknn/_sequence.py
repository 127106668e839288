"""Input convention of sknn's sequence and image estimators (CNN, and later RNN, Transformer).

One layout for every such estimator:

- time series: 3-D ``(n_samples, n_channels, n_timepoints)`` (aeon/sktime);
- images: 4-D ``(n_samples, n_channels, height, width)``;
- 2-D ``(n_samples, n_features)``: one channel of length ``n_features``, or
  reshaped by the ``input_shape`` parameter: ``(n_timepoints,)`` a series,
  ``(height, width)`` a grayscale image, ``(n_channels, height, width)`` an
  image. ``input_shape`` reshapes 3-D and 4-D X the same way, so
  ``(n_samples, height, width)`` grayscale images need ``input_shape=(h, w)``.

``uint8`` arrays are pixels: divided by 255 at fit and predict. The per-sample
shape the network reads, ``(n_channels, *spatial)``, is kept in
``input_shape_``; ``n_features_in_`` stays scikit-learn's ``X.shape[1]``.
"""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np
from sklearn.utils.validation import validate_data

SERIES_LAYOUT = "(n_samples, n_channels, n_timepoints)"
IMAGE_LAYOUT = "(n_samples, n_channels, height, width)"


def _shape_of(X) -> tuple | None:
    """Shape of array-like X without converting it (None when it has none)."""
    shape = getattr(X, "shape", None)
    if shape is not None:
        return tuple(shape)
    if not isinstance(X, list | tuple):
        return None  # other array-likes: validate_data converts and explains
    try:
        return np.shape(X)
    except ValueError:  # ragged nested lists
        return None


def sample_shape(shape: tuple, input_shape, estimator_name: str) -> tuple[int, ...]:
    """Per-sample shape ``(n_channels, *spatial)`` that X of ``shape`` is read as.

    Parameters
    ----------
    shape : tuple of int
        Shape of X, at least 2-D.
    input_shape : tuple of int or None
        The estimator's ``input_shape`` parameter.
    estimator_name : str

    Returns
    -------
    tuple of int
        ``(n_channels, n_timepoints)`` or ``(n_channels, height, width)``.
    """
    per_sample = tuple(int(s) for s in shape[1:])
    if input_shape is not None:
        target = tuple(int(s) for s in input_shape)
        if math.prod(target) != math.prod(per_sample):
            raise ValueError(
                f"{estimator_name}: cannot read X of shape {tuple(shape)} as samples of "
                f"input_shape={tuple(input_shape)}: each sample has "
                f"{math.prod(per_sample)} values, input_shape needs {math.prod(target)}."
            )
        return (1, *target) if len(target) < 3 else target
    if len(shape) == 2:
        return (1, per_sample[0])
    if len(shape) in (3, 4):
        return per_sample
    raise ValueError(
        f"{estimator_name} expects 2-D X (n_samples, n_features), time series "
        f"{SERIES_LAYOUT} or images {IMAGE_LAYOUT}; got {len(shape)}-D X of shape "
        f"{tuple(shape)}."
    )


def describe(per_sample: tuple[int, ...]) -> str:
    """Words for a per-sample shape: 'series of 3 channels' or 'images of 1 channel'."""
    kind = "series" if len(per_sample) == 2 else "images"
    plural = "s" if per_sample[0] != 1 else ""
    return f"{kind} of {per_sample[0]} channel{plural}"


def _check_input_shape(input_shape, estimator_name: str) -> None:
    if input_shape is None:
        return
    if (not 1 <= len(input_shape) <= 3
            or not all(isinstance(s, Integral) and s >= 1 for s in input_shape)):
        raise ValueError(
            f"{estimator_name}: input_shape must be (n_timepoints,), (height, width) or "
            f"(n_channels, height, width) of positive integers; got {input_shape!r}."
        )


class SequenceInputMixin:
    """Estimator side of the sequence/image input convention (see the module docstring).

    Estimators mixing this in need an ``input_shape`` parameter and set the
    fitted ``input_shape_``; their modules are built from it.
    """

    def _validate_X(self, X, reset: bool):
        name = type(self).__name__
        _check_input_shape(self.input_shape, name)
        shape = _shape_of(X)
        if shape is not None and len(shape) < 2:
            raise ValueError(
                f"{name} expects 2-D X (n_samples, n_features), time series "
                f"{SERIES_LAYOUT} or images {IMAGE_LAYOUT}; got {len(shape)}-D X of shape "
                f"{shape}. Reshape your data either using array.reshape(-1, 1) if your "
                "data has a single feature or array.reshape(1, -1) if it contains a "
                "single sample."
            )
        if shape is not None and not reset:
            # Before scikit-learn's feature-count check, which would speak of features.
            self._check_sample_shape(sample_shape(shape, self.input_shape, name), shape)
        try:
            X = validate_data(self, X, reset=reset, allow_nd=True, dtype="numeric")
        except (ValueError, TypeError) as error:
            message = str(error)
            if message.startswith(name) or "features, but" in message:
                raise
            head, _, rest = message.partition("\n")
            where = "" if shape is None else f" (X of shape {shape})"
            raise type(error)(f"{name}: {head}{where}" + (f"\n{rest}" if rest else "")
                              ) from error
        if X.dtype.kind not in "biuf":
            raise TypeError(f"{name}: X has unsupported dtype {X.dtype} (shape {X.shape}).")
        return X

    def _encode_X(self, X, sample_weight, fit: bool):
        name = type(self).__name__
        per_sample = sample_shape(X.shape, self.input_shape, name)
        if min(per_sample) < 1:
            raise ValueError(
                f"{name}: every sample needs at least one channel and one value along "
                f"each axis; got X of shape {X.shape}, read as samples of shape "
                f"{per_sample}."
            )
        if fit:
            self.input_shape_ = per_sample
        else:
            self._check_sample_shape(per_sample, X.shape)
        if X.dtype == np.uint8:
            X = X.astype(np.float32) / np.float32(255)
        return X.reshape(len(X), *per_sample)

    def _check_sample_shape(self, per_sample: tuple[int, ...], shape: tuple) -> None:
        """Refuse data of another kind or channel count than at fit."""
        fitted = self.input_shape_
        if len(per_sample) != len(fitted) or per_sample[0] != fitted[0]:
            raise ValueError(
                f"{type(self).__name__} was fitted on {describe(fitted)} (samples of "
                f"shape {fitted}); got X of shape {tuple(shape)}, read as "
                f"{describe(per_sample)} (samples of shape {per_sample})."
            )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.three_d_array = True
        return tags
