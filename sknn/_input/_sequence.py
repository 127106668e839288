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
:class:`MaskedSequenceInput`, :class:`TokenInput`) reach the network as one array
``(n_samples, n_channels + 1, length)``: right-padded with zeros, and a last
channel that is 1 on the valid steps.
"""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np
import torch
from sklearn.utils.validation import validate_data

from sknn._input._adapter import InputAdapter
from sknn._input._text import TokenArray

SERIES_LAYOUT = "(n_samples, n_channels, n_timepoints)"
IMAGE_LAYOUT = "(n_samples, n_channels, height, width)"


def shape_of(X) -> tuple | None:
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


def check_input_shape(input_shape, estimator_name: str) -> None:
    if input_shape is None:
        return
    if (not 1 <= len(input_shape) <= 3
            or not all(isinstance(s, Integral) and s >= 1 for s in input_shape)):
        raise ValueError(
            f"{estimator_name}: input_shape must be (n_timepoints,), (height, width) or "
            f"(n_channels, height, width) of positive integers; got {input_shape!r}."
        )


class ArrayInput(InputAdapter):
    """Fixed-shape series and images, read as they are (see the module docstring).

    The estimator needs an ``input_shape`` parameter; the fitted per-sample
    shape is kept in its ``input_shape_``, and its module is built from it.
    """

    kind = "series"
    input_tags = {"sparse": False, "three_d_array": True}

    def validate(self, estimator, X, reset: bool):
        name = type(estimator).__name__
        check_input_shape(estimator.input_shape, name)
        shape = shape_of(X)
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
            _check_sample_shape(estimator, sample_shape(shape, estimator.input_shape, name),
                                shape)
        try:
            X = validate_data(estimator, X, reset=reset, allow_nd=True, dtype="numeric")
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

    def encode(self, estimator, X, sample_weight, fit: bool):
        name = type(estimator).__name__
        per_sample = sample_shape(X.shape, estimator.input_shape, name)
        if min(per_sample) < 1:
            raise ValueError(
                f"{name}: every sample needs at least one channel and one value along "
                f"each axis; got X of shape {X.shape}, read as samples of shape "
                f"{per_sample}."
            )
        if fit:
            estimator.input_shape_ = per_sample
        else:
            _check_sample_shape(estimator, per_sample, X.shape)
        if X.dtype == np.uint8:
            X = X.astype(np.float32) / np.float32(255)
        return X.reshape(len(X), *per_sample)

    def layout(self, estimator) -> str:
        return describe(estimator.input_shape_)

    def example_input(self, estimator) -> torch.Tensor:
        return torch.zeros(2, *estimator.input_shape_, dtype=estimator.net_.module_dtype())


def _check_sample_shape(estimator, per_sample: tuple[int, ...], shape: tuple) -> None:
    """Refuse data of another kind or channel count than at fit."""
    fitted = estimator.input_shape_
    if len(per_sample) != len(fitted) or per_sample[0] != fitted[0]:
        raise ValueError(
            f"{type(estimator).__name__} was fitted on {describe(fitted)} (samples of "
            f"shape {fitted}); got X of shape {tuple(shape)}, read as "
            f"{describe(per_sample)} (samples of shape {per_sample})."
        )


ARRAY_INPUT = ArrayInput()


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


def resolve_input_kind(estimator, X, reset: bool, auto) -> str:
    """The estimator's ``input_kind``, 'auto' resolved by ``auto(X)``; kept in ``input_kind_``."""
    if not reset:
        return estimator.input_kind_
    kind = estimator.input_kind
    estimator.input_kind_ = auto(X) if kind == "auto" else kind
    return estimator.input_kind_


def auto_sequence_kind(X) -> str:
    """input_kind='auto' for the RNN: token ids for a TokenArray, else series."""
    return "tokens" if isinstance(X, TokenArray) else "series"


class MaskedSequenceInput(InputAdapter):
    """Numeric sequences of different lengths, padded and masked (RNN, Transformer).

    X reaches the net as one array ``(n_samples, n_channels + 1, length)``:
    the sequences right-padded with zeros and a last channel that is 1 on
    valid steps, so variable-length data trains through the same tensor
    minibatches as everything else. In fit, the estimator gets
    ``input_shape_`` and the per-channel standardization ``input_mean_``,
    ``input_scale_`` (over the valid steps, with the sample weights).
    """

    kind = "masked sequence"
    step_mask_channel = True
    input_tags = ArrayInput.input_tags
    tokens = False

    def validate(self, estimator, X, reset: bool) -> np.ndarray:
        """Validated X as ``(n_samples, n_channels + 1, length)``, validity channel last."""
        name = type(estimator).__name__
        shape = shape_of(X)
        lengths = None
        items = sequence_items(X)
        if items is not None:
            X, lengths = pad_sequences(items, name, tokens=self.tokens)
        elif self.tokens and shape is not None and len(shape) == 2:
            X = np.asarray(X)[:, None, :]  # one channel of ids; any length
        X = ARRAY_INPUT.validate(estimator, X, reset)
        X = X.reshape(len(X), *sample_shape(X.shape, None, name))
        if X.shape[2] == 0:
            raise ValueError(f"{name}: sequences of length 0 cannot be read; got X of "
                             f"shape {X.shape}.")
        if X.shape[1] == 0:
            raise ValueError(f"{name}: sequences need at least one channel; got X of "
                             f"shape {X.shape}.")
        X, lengths = self._values(estimator, X, lengths, reset)
        steps = np.arange(X.shape[2])
        mask = steps[None, :] < (X.shape[2] if lengths is None else lengths[:, None])
        mask = np.broadcast_to(mask, (len(X), X.shape[2]))
        return np.concatenate([X, mask[:, None].astype(X.dtype)], axis=1)

    def _values(self, estimator, X, lengths, reset: bool):
        """The values as floats, and the lengths (None: all full)."""
        if X.dtype == np.uint8:
            return X.astype(np.float32) / np.float32(255), lengths
        if X.dtype.kind != "f":
            return X.astype(np.float64), lengths
        return X, lengths

    def encode(self, estimator, X, sample_weight, fit: bool):
        if fit:
            values, mask = X[:, :-1], X[:, -1:]
            estimator.input_shape_ = (values.shape[1], values.shape[2])
            self._fit_values(estimator, values, mask, sample_weight)
        return X

    def _fit_values(self, estimator, values, mask, sample_weight) -> None:
        # Per-channel standardization over the valid steps, with the sample weights.
        weights = mask.astype(np.float64) * np.asarray(sample_weight)[:, None, None]
        total = weights.sum(axis=(0, 2))
        mean = (values * weights).sum(axis=(0, 2)) / total
        variance = (((values - mean[None, :, None]) ** 2) * weights).sum(axis=(0, 2)) / total
        scale = np.sqrt(variance)
        estimator.input_mean_ = mean
        estimator.input_scale_ = np.where(scale > 1e-12 * (1 + np.abs(mean)), scale, 1.0)

    def adopt(self, estimator, source, X, encoded):
        """Take over ``source``'s standardization (fine-tuning)."""
        estimator.input_mean_, estimator.input_scale_ = source.input_mean_, source.input_scale_
        return encoded

    def layout(self, estimator) -> str:
        return describe(estimator.input_shape_)

    def example_input(self, estimator) -> torch.Tensor:
        # Values plus the all-ones step mask of full-length sequences: the graph
        # is traced through the unpacked path (see sknn.export.to_onnx).
        channels, length = estimator.input_shape_
        return torch.ones(2, channels + 1, length, dtype=estimator.net_.module_dtype())

    def attack_inputs(self, estimator) -> dict:
        return {"step_mask_channel": True}  # the values move, the step mask does not


class TokenInput(MaskedSequenceInput):
    """Token ids: one channel of non-negative integers, 0 being padding, masked.

    ``input_kind='tokens'``, or a :class:`~sknn._input._text.TokenArray` under
    'auto'. In fit, the estimator gets ``input_shape_`` and ``vocabulary_size_``.
    """

    kind = "tokens"
    tokens = True

    def _values(self, estimator, X, lengths, reset: bool):
        """Token ids as float32 and the length of each sequence (up to its last id)."""
        name = type(estimator).__name__
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
        if not reset and high >= estimator.vocabulary_size_:
            raise ValueError(
                f"{name}: token id {high} is outside the vocabulary seen in fit (ids 0 "
                f"to {estimator.vocabulary_size_ - 1}); map unknown tokens to the unknown "
                "id (TextSequencer does)."
            )
        return X.astype(np.float32), sequence_lengths(X[:, 0] != 0)

    def _fit_values(self, estimator, values, mask, sample_weight) -> None:
        estimator.vocabulary_size_ = max(int(values.max()) + 1, 2)

    def adopt(self, estimator, source, X, encoded):
        """Keep ``source``'s vocabulary size; refuse ids outside it (fine-tuning)."""
        if estimator.vocabulary_size_ > source.vocabulary_size_:
            raise ValueError(
                f"{type(estimator).__name__}: X holds token id "
                f"{estimator.vocabulary_size_ - 1}, outside init_from's vocabulary (ids 0 "
                f"to {source.vocabulary_size_ - 1}); encode the texts with the "
                "TextSequencer init_from was trained on."
            )
        estimator.vocabulary_size_ = source.vocabulary_size_
        return encoded

    def layout(self, estimator) -> str:
        return "token ids"

    def attack_inputs(self, estimator) -> dict:
        # Token ids are discrete: there is no small change of an id to train against.
        raise ValueError(
            f"{type(estimator).__name__}: adversarial_epsilon="
            f"{estimator.adversarial_epsilon!r} perturbs continuous inputs, but X holds "
            "token ids (input_kind_='tokens'), which are discrete. Use "
            "adversarial_epsilon=None for text."
        )


MASKED_SEQUENCE_INPUT = MaskedSequenceInput()
TOKEN_INPUT = TokenInput()
