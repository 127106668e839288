"""Input convention of sknn's sequence and image estimators (CNN, RNN, Transformer).

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

Sequences of different lengths and token ids (RNN and Transformer,
:class:`MaskedSequenceMixin`) reach the network as one array
``(n_samples, n_channels + 1, length)``: right-padded with zeros, and a last
channel that is 1 on the valid steps.
"""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np
from sklearn.utils.validation import validate_data

from sknn._input._text import TokenArray

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


def sequence_items(X) -> list | None:
    """The sequences of X when it is a collection of separate arrays of different lengths.

    A list, tuple or 1-D object array whose items are arrays (or lists) of
    unequal lengths; None for anything that is one array (validate_data's job).
    """
    if isinstance(X, np.ndarray):
        if X.dtype != object or X.ndim != 1:
            return None
    elif not isinstance(X, list | tuple):
        return None
    items = list(X)
    if not items or not all(isinstance(x, np.ndarray | list | tuple) for x in items):
        return None
    lengths = {np.shape(x)[-1] if np.ndim(x) else None for x in items}
    return items if len(lengths) > 1 or isinstance(X, np.ndarray) else None


def pad_sequences(items: list, name: str, tokens: bool) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad sequences ``(n_channels, length_i)`` (or ``(length_i,)``) with zeros.

    Returns the padded ``(n_samples, n_channels, max_length)`` array and the lengths.
    """
    arrays = []
    for i, item in enumerate(items):
        array = np.asarray(item)
        if array.ndim == 1:
            array = array[None, :]
        if array.ndim != 2:
            raise ValueError(
                f"{name} expects each sequence as a 2-D array (n_channels, length) or a "
                f"1-D array (length,); sequence {i} has shape {array.shape}."
            )
        if array.dtype.kind not in "biuf":
            raise TypeError(f"{name}: sequence {i} has dtype {array.dtype}; expected "
                            "numbers.")
        arrays.append(array)
    channels = [a.shape[0] for a in arrays]
    if len(set(channels)) > 1:
        other = next(i for i, c in enumerate(channels) if c != channels[0])
        raise ValueError(
            f"{name}: every sequence needs the same number of channels; sequence 0 has "
            f"{channels[0]}, sequence {other} has {channels[other]}."
        )
    lengths = np.array([a.shape[1] for a in arrays])
    if not tokens and (lengths == 0).any():
        raise ValueError(
            f"{name}: sequence {int(np.argmin(lengths))} is empty (length 0); every "
            "sequence needs at least one time step."
        )
    dtype = np.result_type(*{a.dtype for a in arrays})
    padded = np.zeros((len(arrays), channels[0], max(1, lengths.max())), dtype=dtype)
    for i, array in enumerate(arrays):
        padded[i, :, :array.shape[1]] = array
    return padded, lengths


def sequence_lengths(nonzero: np.ndarray) -> np.ndarray:
    """Steps up to the last True of each row of ``nonzero (n_samples, length)`` (0: none)."""
    return np.where(nonzero.any(axis=1),
                    nonzero.shape[1] - np.argmax(nonzero[:, ::-1], axis=1), 0)


class MaskedSequenceMixin(SequenceInputMixin):
    """Sequences of different lengths and token ids, padded and masked (RNN, Transformer).

    X reaches the net as one array ``(n_samples, n_channels + 1, length)``:
    the sequences right-padded with zeros and a last channel that is 1 on
    valid steps, so variable-length data trains through the same tensor
    minibatches as everything else. Token ids (``input_kind='tokens'``, or a
    :class:`~sknn._input._text.TokenArray` under 'auto') are one channel of
    non-negative integers, 0 being padding. Estimators mixing this in have an
    ``input_kind`` parameter and define ``_auto_input_kind(X)``; they set
    ``input_kind_``, ``input_shape_`` and either ``vocabulary_size_`` (token
    ids) or the per-channel standardization ``input_mean_``, ``input_scale_``.
    """

    def _auto_input_kind(self, X) -> str:
        return "tokens" if isinstance(X, TokenArray) else "series"

    def _input_kind(self, X, reset: bool) -> str:
        if not reset:
            return self.input_kind_
        if self.input_kind == "auto":
            self.input_kind_ = self._auto_input_kind(X)
        else:
            self.input_kind_ = self.input_kind
        return self.input_kind_

    def _masked_sequences(self, X, reset: bool) -> np.ndarray:
        """Validated X as ``(n_samples, n_channels + 1, length)``, validity channel last."""
        name = type(self).__name__
        tokens = self.input_kind_ == "tokens"
        shape = _shape_of(X)
        lengths = None
        items = sequence_items(X)
        if items is not None:
            X, lengths = pad_sequences(items, name, tokens=tokens)
        elif tokens and shape is not None and len(shape) == 2:
            X = np.asarray(X)[:, None, :]  # one channel of ids; any length
        X = SequenceInputMixin._validate_X(self, X, reset)
        X = X.reshape(len(X), *sample_shape(X.shape, None, name))
        if X.shape[2] == 0:
            raise ValueError(f"{name}: sequences of length 0 cannot be read; got X of "
                             f"shape {X.shape}.")
        if X.shape[1] == 0:
            raise ValueError(f"{name}: sequences need at least one channel; got X of "
                             f"shape {X.shape}.")
        if tokens:
            X, lengths = self._check_tokens(X, reset)
        elif X.dtype == np.uint8:
            X = X.astype(np.float32) / np.float32(255)
        elif X.dtype.kind != "f":
            X = X.astype(np.float64)
        steps = np.arange(X.shape[2])
        mask = steps[None, :] < (X.shape[2] if lengths is None else lengths[:, None])
        mask = np.broadcast_to(mask, (len(X), X.shape[2]))
        return np.concatenate([X, mask[:, None].astype(X.dtype)], axis=1)

    def _check_tokens(self, X, reset: bool):
        """Token ids as float32 and the length of each sequence (up to its last id)."""
        name = type(self).__name__
        if X.shape[1] != 1:
            raise ValueError(f"{name}: token ids come as one sequence per sample; got X "
                             f"of shape {X.shape} ({X.shape[1]} channels).")
        if X.dtype.kind not in "iu":
            raise TypeError(f"{name}: token ids must be integers; got X of dtype "
                            f"{X.dtype}.")
        low, high = int(X.min()), int(X.max())
        if low < 0:
            raise ValueError(f"{name}: token ids must be non-negative (0 is padding); "
                             f"got {low}.")
        if not reset and high >= self.vocabulary_size_:
            raise ValueError(
                f"{name}: token id {high} is outside the vocabulary seen in fit (ids 0 "
                f"to {self.vocabulary_size_ - 1}); map unknown tokens to the unknown "
                "id (TextSequencer does)."
            )
        return X.astype(np.float32), sequence_lengths(X[:, 0] != 0)

    def _fit_sequence_inputs(self, X, sample_weight) -> None:
        """Learn ``input_shape_`` and the vocabulary size or standardization from masked X."""
        values, mask = X[:, :-1], X[:, -1:]
        self.input_shape_ = (values.shape[1], values.shape[2])
        if self.input_kind_ == "tokens":
            self.vocabulary_size_ = max(int(values.max()) + 1, 2)
            return
        # Per-channel standardization over the valid steps, with the sample weights.
        weights = mask.astype(np.float64) * np.asarray(sample_weight)[:, None, None]
        total = weights.sum(axis=(0, 2))
        mean = (values * weights).sum(axis=(0, 2)) / total
        variance = (((values - mean[None, :, None]) ** 2) * weights).sum(axis=(0, 2)) / total
        scale = np.sqrt(variance)
        self.input_mean_ = mean
        self.input_scale_ = np.where(scale > 1e-12 * (1 + np.abs(mean)), scale, 1.0)

    def _adopt_sequence_inputs(self, source) -> None:
        """Take over ``source``'s standardization or vocabulary size (fine-tuning)."""
        if self.input_kind_ == "series":
            self.input_mean_, self.input_scale_ = source.input_mean_, source.input_scale_
        elif self.vocabulary_size_ > source.vocabulary_size_:
            raise ValueError(
                f"{type(self).__name__}: X holds token id {self.vocabulary_size_ - 1}, "
                f"outside init_from's vocabulary (ids 0 to {source.vocabulary_size_ - 1}); "
                "encode the texts with the TextSequencer init_from was trained on."
            )
        else:
            self.vocabulary_size_ = source.vocabulary_size_
