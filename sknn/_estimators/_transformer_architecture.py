"""What the Transformer estimators share: their defaults, input kinds and module factory."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from sknn._core._adversarial import ADVERSARIAL, ADVERSARIAL_CONSTRAINTS
from sknn._core._architecture import Architecture
from sknn._input._bag_of_words import (
    BAG_OF_WORDS,
    BAG_OF_WORDS_CONSTRAINTS,
    bag_of_words_module,
)
from sknn._input._sequence import (
    ARRAY_INPUT,
    MASKED_SEQUENCE_INPUT,
    SERIES_LAYOUT,
    TOKEN_INPUT,
    resolve_input_kind,
    sample_shape,
    sequence_items,
    sequence_lengths,
    shape_of,
)
from sknn._input._tabular import (
    TABLE_INPUT,
    TABULAR_CONSTRAINTS,
    numeric_embedding_layer,
)
from sknn._input._text import TokenArray
from sknn._lifecycle._finetune import FINE_TUNING, FINE_TUNING_CONSTRAINTS, LAYER_FREEZING
from sknn._training._feature import GRADIENT_CLIPPING, GRADIENT_CLIPPING_CONSTRAINTS
from sknn._training._plan import AutoRules, BatchRule, EpochBudget, PatienceRule
from sknn.modules.transformer import (
    POOLINGS,
    POSITIONAL_ENCODINGS,
    STEMS,
    FeatureTokenizer,
    PatchTokenizer,
    SequenceTokenizer,
    Transformer,
)

INPUT_KINDS = ("auto", "table", "series", "tokens")

# patch_size='auto': series are cut into at most this many tokens (attention is
# quadratic in the number of tokens).
AUTO_MAX_PATCHES = 64
# Fixed-length series (after the convolutional stem): at most this many tokens.
# On GunPoint (150 steps), patches of 5 beat patches of 3 (benchmarks/RESULTS.md).
AUTO_MAX_SERIES_PATCHES = 32
# batch_size='auto': a tenth of the training set, between these bounds (256 is the
# paper's batch size for Adult and California).
AUTO_BATCH_BOUNDS = (16, 256)
# max_iter='auto': enough epochs for this many minibatch steps, between these bounds.
AUTO_STEPS = 2000
# Tables: the cost of a step grows with the number of tokens (columns and [CLS]),
# so the budget is this many token-steps instead, and at least AUTO_TABLE_MIN_STEPS
# steps: 10 epochs on Adult (15 tokens), 20 on California (9 tokens). 17,000
# token-steps with a 1,000-step floor (10 and 33 epochs) scored no better on
# California over 3 seeds (RMSE 0.4542 against 0.4532) at 1.65 times the epochs
# (benchmarks/RESULTS.md, "The Transformer on California"), and 40,000 with a
# 2,000-step floor (24 and 76 epochs) no better than that; the floor keeps wide
# tables (many tokens a step) from few steps.
AUTO_TABLE_TOKEN_STEPS = 10_000
AUTO_TABLE_MIN_STEPS = 1_150
AUTO_EPOCH_BOUNDS = (10, 200)
# Tables of fewer training rows than any table of the suite the budget above was
# chosen on (the fewest: banknote's 987, its 1,097 less the 10% that early stopping
# holds out): at most this many epochs. The step budget overfit them and took
# seconds (iris 200 epochs, diabetes 105: R^2 0.05 against 0.29 at 30, 5 seeds;
# benchmarks/RESULTS.md, "Small data"). A threshold, as scikit-learn's
# HistGradientBoosting switches early stopping on at 10,000 rows.
AUTO_SMALL_TABLE_ROWS = 900
AUTO_SMALL_TABLE_MAX_EPOCHS = 30
# Fixed-length series: a higher bound, so that small training sets get their 2,000
# steps (GunPoint's 50 series, 4 minibatches: 500 epochs; 200 stopped it at 0.976
# against 0.983 over 5 seeds, RESULTS.md).
AUTO_SERIES_MAX_EPOCHS = 500
# n_iter_no_change='auto' without held-out data: a decaying learning-rate schedule,
# not a noisy stall of the training loss, ends training (annealing to its end raised
# GunPoint from 0.975 to 0.981 over 5 seeds, never lower on a seed; patience 10
# stopped fits at 33-83 of 200 epochs, at 0.70). A constant rate: this patience.
AUTO_PATIENCE_TRAINING_LOSS = 50
# n_blocks='auto': the FT-Transformer paper's depth for tables and token ids, one
# block for fixed-length numeric series, where three overfit the small UCR training
# sets (GunPoint 0.877 against 0.976 over 5 seeds; benchmarks/RESULTS.md).
AUTO_BLOCKS = 3
AUTO_SERIES_BLOCKS = 1
# attention_dropout='auto': none on tables, where it forces torch's unfused
# attention (the fused CPU kernel takes no dropout: 22% of an epoch on Adult) and
# 3 seeds scored as well without it; the paper's 0.2 on series and token ids.
AUTO_TABLE_ATTENTION_DROPOUT = 0.0
AUTO_ATTENTION_DROPOUT = 0.2

_TRANSFORMER_CONSTRAINTS = {
    "n_blocks": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
    "d_token": [Interval(Integral, 1, None, closed="left")],
    "n_heads": [Interval(Integral, 1, None, closed="left")],
    "d_ffn_factor": [Interval(Real, 0, None, closed="neither")],
    "attention_dropout": [StrOptions({"auto"}), Interval(Real, 0, 1, closed="left")],
    "ffn_dropout": [Interval(Real, 0, 1, closed="left")],
    "residual_dropout": [Interval(Real, 0, 1, closed="left")],
    "pooling": [StrOptions({"auto", *POOLINGS})],
    "patch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
    "positional_encoding": [StrOptions({"auto", *POSITIONAL_ENCODINGS})],
    "stem": [StrOptions(set(STEMS))],
    "max_tokens": [Interval(Integral, 1, None, closed="left")],
    "autocast": [None, StrOptions({"bfloat16"})],
    "input_shape": [None, tuple, list],
    "input_kind": [StrOptions(set(INPUT_KINDS))],
    "max_iter": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
    **TABULAR_CONSTRAINTS,
    **BAG_OF_WORDS_CONSTRAINTS,
    **FINE_TUNING_CONSTRAINTS,
    **ADVERSARIAL_CONSTRAINTS,
    **GRADIENT_CLIPPING_CONSTRAINTS,
}


def _without_trailing_padding(X: np.ndarray) -> np.ndarray:
    """Masked sequences cut after the last step that is valid in any of them."""
    return X[:, :, :max(1, int(sequence_lengths(X[:, -1] != 0).max()))]


# dtype='auto' trains in float32: attention and the feed-forward layers took
# 1.3-2x as long per fit in float64 on 200-row tables, and scored the same
# (benchmarks/RESULTS.md, "Small data").
TRANSFORMER_RULES = AutoRules(
    batch=BatchRule(*AUTO_BATCH_BOUNDS, divisor=10),
    epochs=EpochBudget(AUTO_EPOCH_BOUNDS, steps=AUTO_STEPS),
    patience=PatienceRule(training_loss=AUTO_PATIENCE_TRAINING_LOSS),
    float64_max_values=0)


class TransformerArchitecture(Architecture):
    """Input handling and module factory shared by the Transformer estimators.

    Four input adapters, picked by the kind of X seen in ``fit`` (kept in
    ``input_kind_`` and ``padding_mask_``): tables (2-D X: arrays, sparse
    matrices, DataFrames) through :class:`~sknn._input._tabular.TableInput`;
    fixed-length series (3-D X, or 2-D X with ``input_shape=(n_timepoints,)``)
    as they are, through :class:`~sknn._input._sequence.ArrayInput`; lists of
    sequences of different lengths and token ids padded and masked, as for the
    RNN (:class:`~sknn._input._sequence.MaskedSequenceInput`,
    :class:`~sknn._input._sequence.TokenInput`; ``padding_mask_`` is True).
    """

    family = "Transformer"
    accepts = (ARRAY_INPUT, TABLE_INPUT)
    features = (FINE_TUNING, LAYER_FREEZING, BAG_OF_WORDS, ADVERSARIAL, GRADIENT_CLIPPING)
    auto_rules = TRANSFORMER_RULES
    # Read afresh by each fit and predict: the precision of the passes (the
    # weights stay float32) and the limit on a sample's tokens.
    training_only_params = frozenset({"autocast", "max_tokens"})
    family_constraints = frozenset({"max_iter"})  # also 'auto'
    family_defaults = {"alpha": 1e-5, "solver": "adamw"}  # the FT-Transformer paper's
    family_docs = frozenset({"alpha", "solver", "n_iter_no_change"})

    def input_for(self, estimator):
        """The input adapter of the kind of X seen in fit."""
        return _adapter(estimator)

    def validate_X(self, estimator, X, reset: bool):
        kind = resolve_input_kind(estimator, X, reset, partial(_auto_input_kind, estimator))
        if kind == "table":
            return TABLE_INPUT.validate(estimator, X, reset)
        name = type(estimator).__name__
        ragged = sequence_items(X) is not None
        if reset:
            estimator.padding_mask_ = kind == "tokens" or ragged
        elif ragged and not estimator.padding_mask_:
            raise ValueError(
                f"{name} was fitted on fixed-length series (one array of shape "
                f"{(len(X), *estimator.input_shape_)} or the like); got a list of sequences of "
                "different lengths. Fit on a list of sequences (then the padding is "
                "masked) to predict on them, or pad them to one length yourself."
            )
        if estimator.padding_mask_:
            if estimator.input_shape is not None:
                raise ValueError(
                    f"{name}: input_shape={tuple(estimator.input_shape)} reads 2-D X as "
                    f"fixed-length series; it does not apply to "
                    f"{'token ids' if kind == 'tokens' else 'sequences of different lengths'}"
                    ". Leave input_shape=None."
                )
            return _without_trailing_padding(_adapter(estimator).validate(estimator, X, reset))
        _check_series_shape(estimator, X)
        return ARRAY_INPUT.validate(estimator, X, reset)

    def encode_X(self, estimator, X, sample_weight, fit: bool):
        X = _adapter(estimator).encode(estimator, X, sample_weight, fit)
        if estimator.input_kind_ == "table":
            return X
        if _masked(estimator):
            lengths = sequence_lengths(X[:, -1] != 0)
        else:
            lengths = np.full(len(X), X.shape[-1])
        _check_length(estimator, lengths, fit)
        return X

    def adopt_inputs(self, estimator, source, X, encoded):
        if estimator.input_kind_ == "table":
            return _adapter(estimator).adopt(estimator, source, X, encoded)
        source_masked = getattr(source, "padding_mask_", False)
        if _masked(estimator) != source_masked:
            words = {True: "sequences of different lengths or token ids (padding masks)",
                     False: "fixed-length series"}
            raise ValueError(
                f"{type(estimator).__name__}: init_from was fitted on {words[source_masked]}; "
                f"got {words[_masked(estimator)]}. Fine-tuning needs the same kind of input."
            )
        if _masked(estimator):
            _adapter(estimator).adopt(estimator, source, X, encoded)
            _check_positions(estimator, estimator.input_shape_[1], source.net_.module_.tokenizer)
        return encoded

    def build_module(self, estimator, n_features, task):
        name = type(estimator).__name__
        if estimator.d_token % estimator.n_heads:
            raise ValueError(
                f"{name}: n_heads must divide d_token; got d_token={estimator.d_token} and "
                f"n_heads={estimator.n_heads}."
            )
        if estimator.input_kind_ == "table":
            encoder = estimator.encoder_
            tokenizer = FeatureTokenizer(
                encoder.n_numeric, encoder.n_indicators, encoder.cardinalities,
                estimator.d_token, numeric_embedding_layer(encoder, estimator.d_token),
            )
        elif _masked(estimator):
            tokens = estimator.input_kind_ == "tokens"
            patch_size, n_timepoints = _sequence_geometry(estimator)
            tokenizer = SequenceTokenizer(
                estimator.input_shape_[0], n_timepoints, estimator.d_token, patch_size,
                _positional_encoding(estimator),
                vocabulary_size=estimator.vocabulary_size_ if tokens else None,
                input_mean=None if tokens else torch.as_tensor(estimator.input_mean_),
                input_scale=None if tokens else torch.as_tensor(estimator.input_scale_),
            )
        else:
            n_channels, n_timepoints = estimator.input_shape_
            tokenizer = PatchTokenizer(n_channels, n_timepoints, estimator.d_token,
                                       _patch_size(estimator, n_timepoints),
                                       _positional_encoding(estimator), stem=estimator.stem)
        return Transformer(
            tokenizer, estimator.d_token, task.n_outputs, n_blocks=_n_blocks(estimator),
            n_heads=estimator.n_heads,
            d_ffn=max(1, round(estimator.d_ffn_factor * estimator.d_token)),
            attention_dropout=_attention_dropout(estimator), ffn_dropout=estimator.ffn_dropout,
            residual_dropout=estimator.residual_dropout, pooling=_pooling(estimator),
            bag=bag_of_words_module(estimator, task),
        )

    def auto_rules_for_fit(self, estimator) -> AutoRules:
        """Epoch budgets by input: longer for fixed-length series; for tables, a
        budget of token-steps and a cap on small tables."""
        if _fixed_series(estimator):
            epochs = EpochBudget((AUTO_EPOCH_BOUNDS[0], AUTO_SERIES_MAX_EPOCHS), steps=AUTO_STEPS)
        elif estimator.input_kind_ == "table":
            encoder = estimator.encoder_
            n_tokens = (encoder.n_numeric + encoder.n_indicators
                        + len(encoder.cardinalities) + 1)
            epochs = EpochBudget(
                AUTO_EPOCH_BOUNDS,
                steps=max(AUTO_TABLE_MIN_STEPS, -(-AUTO_TABLE_TOKEN_STEPS // n_tokens)),
                few_rows_cap=(AUTO_SMALL_TABLE_ROWS, AUTO_SMALL_TABLE_MAX_EPOCHS))
        else:
            return self.auto_rules
        return replace(self.auto_rules, epochs=epochs)

    def autocast_dtype(self, estimator) -> torch.dtype | None:
        return None if estimator.autocast is None else getattr(torch, estimator.autocast)

    def tags(self, tags):
        tags = super().tags(tags)
        tags.input_tags.sparse = True  # tables: sparse X is densified per minibatch
        return tags


def _auto_input_kind(estimator, X) -> str:
    if isinstance(X, TokenArray):
        return "tokens"
    shape = shape_of(X)
    if (sequence_items(X) is not None or estimator.input_shape is not None
            or (shape is not None and len(shape) >= 3)):
        return "series"
    return "table"


def _masked(estimator) -> bool:
    return getattr(estimator, "padding_mask_", False)


def _check_series_shape(estimator, X) -> None:
    """Refuse images and anything else that is not series or a table."""
    name = type(estimator).__name__
    shape = shape_of(X)
    if shape is None or len(shape) < 2:
        return
    per_sample = (sample_shape(shape, estimator.input_shape, name)
                  if len(shape) <= 4 else None)
    if per_sample is None or len(per_sample) != 2:
        raise ValueError(
            f"{name} reads tables (2-D X) and time series {SERIES_LAYOUT}; got "
            f"X of shape {shape}"
            + ("" if per_sample is None else f", read as images of shape {per_sample}")
            + ". Give series as 3-D X or 2-D X with input_shape=(n_timepoints,); "
            "for images use CNNClassifier or CNNRegressor."
        )


def _sequence_geometry(estimator) -> tuple[int, int]:
    """``(patch_size, n_timepoints)`` of the series tokenizer.

    Fine-tuning on masked sequences keeps init_from's patches and positions
    (its training length), whatever the length of the new data.
    """
    source = estimator.init_from
    if source is not None and _masked(estimator) and getattr(source, "padding_mask_", False):
        return source.net_.module_.tokenizer.patch_size, source.input_shape_[1]
    n_timepoints = estimator.input_shape_[1]
    return _patch_size(estimator, n_timepoints), n_timepoints


def _positional_encoding(estimator) -> str:
    """'auto' resolved: sequences of different lengths and texts may be longer at
    predict than any training one, which learned positions cannot take."""
    if estimator.positional_encoding != "auto":
        return estimator.positional_encoding
    return "sinusoidal" if _masked(estimator) else "learned"


def _check_length(estimator, lengths: np.ndarray, fit: bool) -> None:
    """Refuse sequences that make more than ``max_tokens`` tokens, or beyond the
    learned positions at predict."""
    longest = int(np.argmax(lengths))
    n_steps = int(lengths[longest])
    patch_size = (_sequence_geometry(estimator)[0] if fit
                  else estimator.net_.module_.tokenizer.patch_size)
    n_tokens = -(-n_steps // patch_size)
    if n_tokens > estimator.max_tokens:
        texts = " (texts: TextSequencer(max_length=...))" if (
            estimator.input_kind_ == "tokens") else ""
        raise ValueError(
            f"{type(estimator).__name__}: sample {longest} has {n_steps} steps, which make "
            f"{n_tokens} tokens of patch_size={patch_size}, more than max_tokens="
            f"{estimator.max_tokens} (attention costs grow with the square of the number "
            f"of tokens). Use a larger patch_size (at least "
            f"{-(-n_steps // estimator.max_tokens)}), cut the sequences{texts}, or raise "
            "max_tokens."
        )
    if not fit:
        _check_positions(estimator, n_steps, estimator.net_.module_.tokenizer)


def _check_positions(estimator, n_timepoints: int, tokenizer) -> None:
    """Refuse series with more patches than ``tokenizer``'s learned positional encodings."""
    n_tokens = -(-int(n_timepoints) // tokenizer.patch_size)
    if tokenizer.positions is None or n_tokens <= tokenizer.n_positions:
        return
    name = type(estimator).__name__
    if not _masked(estimator):
        raise ValueError(
            f"{name} was fitted on series of {estimator.input_shape_[1]} "
            f"time steps ({tokenizer.n_positions} tokens); got {n_timepoints} time "
            f"steps ({n_tokens} tokens), more than its learned positions. Use "
            "positional_encoding='sinusoidal' to predict on longer series."
        )
    raise ValueError(
        f"{name}: a sequence of {n_timepoints} steps makes {n_tokens} tokens of "
        f"patch_size={tokenizer.patch_size}, more than the {tokenizer.n_positions} "
        "learned positions (from the longest training sequence). Use "
        "positional_encoding='sinusoidal' to take longer sequences, or cut them"
        + (" (TextSequencer(max_length=...))." if estimator.input_kind_ == "tokens" else ".")
    )


def _patch_size(estimator, n_timepoints: int) -> int:
    """``patch_size``, 'auto' resolved for training sequences of ``n_timepoints`` steps."""
    if estimator.patch_size == "auto":
        max_patches = AUTO_MAX_SERIES_PATCHES if _fixed_series(estimator) else AUTO_MAX_PATCHES
        return -(-n_timepoints // max_patches)
    return estimator.patch_size


def _pooling(estimator) -> str:
    """'auto' resolved: the mean for fixed-length series, [CLS] otherwise."""
    if estimator.pooling != "auto":
        return estimator.pooling
    return "mean" if _fixed_series(estimator) else "cls"


def _attention_dropout(estimator) -> float:
    if estimator.attention_dropout != "auto":
        return estimator.attention_dropout
    if estimator.input_kind_ == "table":
        return AUTO_TABLE_ATTENTION_DROPOUT
    return AUTO_ATTENTION_DROPOUT


def _n_blocks(estimator) -> int:
    if estimator.n_blocks != "auto":
        return estimator.n_blocks
    return AUTO_SERIES_BLOCKS if _fixed_series(estimator) else AUTO_BLOCKS


def _fixed_series(estimator) -> bool:
    """Numeric series of one length (3-D X), where the series defaults apply."""
    return estimator.input_kind_ == "series" and not _masked(estimator)


def _adapter(estimator):
    """The input adapter of the kind of X seen in fit."""
    if estimator.input_kind_ == "table":
        return TABLE_INPUT
    if estimator.input_kind_ == "tokens":
        return TOKEN_INPUT
    return MASKED_SEQUENCE_INPUT if _masked(estimator) else ARRAY_INPUT


TRANSFORMER_ARCHITECTURE = TransformerArchitecture()
