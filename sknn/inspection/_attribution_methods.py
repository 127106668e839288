"""The Captum methods behind :func:`~sknn.inspection.feature_attributions`, and the
way back from the network's input to the user's columns."""

from __future__ import annotations

from numbers import Integral

import numpy as np
import torch
from torch import nn

from sknn.inspection._network_input import TABLE, TOKENS, NetworkInput

# Network evaluations in one Captum call (rows times integration steps or
# perturbations): bounds the memory an explanation takes.
MAX_EVALUATIONS = 8192
# Integrated gradients double their steps at most this many times (n_steps * 64).
MAX_REFINEMENTS = 6
# Evenly spaced steps: the gradient along the path jumps at every bend of the
# network, where Gauss-Legendre nodes (Captum's default) converge far more slowly.
QUADRATURE = "riemann_trapezoid"


# -- methods -----------------------------------------------------------------------
def _chunks(n: int, size: int):
    size = max(1, size)
    return [(start, min(start + size, n)) for start in range(0, n, size)]


def _row_slice(tensors, start, stop):
    return tuple(t[start:stop] for t in tensors)


def _target_slice(target, start, stop):
    return target[start:stop] if isinstance(target, torch.Tensor) else target


def integrated_gradients(attr, explained, batch, inputs, reference, target, *, n_steps,
                          allowed_delta, **_):
    """Integrated gradients, integrated again with twice the steps where they miss the gap.

    The gradient along the path jumps wherever a ReLU or a piecewise-linear
    embedding switches, so rows of sharp networks need many more steps than
    smooth ones; only the rows whose ``|convergence delta|`` is above
    ``allowed_delta`` pay for them (up to ``MAX_REFINEMENTS`` doublings).
    """
    method = attr.IntegratedGradients(explained)
    rows = torch.arange(len(batch))
    values = deltas = None
    for refinement in range(MAX_REFINEMENTS + 1):
        steps = n_steps * 2 ** refinement
        parts, part_deltas = [], []
        for start, stop in _chunks(len(rows), MAX_EVALUATIONS // steps):
            chosen = rows[start:stop]
            part, delta = method.attribute(
                _take(inputs, chosen), baselines=_take(reference, chosen),
                target=_target_rows(target, chosen),
                additional_forward_args=_take(batch.fixed_args(), chosen) or None,
                n_steps=steps, method=QUADRATURE, return_convergence_delta=True,
            )
            parts.append(part)
            part_deltas.append(delta.detach())
        part, delta = _joined(parts), torch.cat(part_deltas).double()
        if values is None:
            values, deltas = [v.clone() for v in part], delta
        else:
            for whole, new in zip(values, part):
                whole[rows] = new
            deltas[rows] = delta
        if allowed_delta is None:
            break
        rows = rows[delta.abs() > allowed_delta[rows]]
        if not len(rows):
            break
    return tuple(values), deltas.numpy()


def _take(tensors, rows):
    return tuple(t[rows] for t in tensors)


def _target_rows(target, rows):
    return target[rows] if isinstance(target, torch.Tensor) else target


class _FromBaseline(nn.Module):
    """``explained(baseline + difference)``: gradient x input is then gradient x difference."""

    def __init__(self, explained: nn.Module, n_inputs: int) -> None:
        super().__init__()
        self.explained = explained
        self.n_inputs = n_inputs

    def forward(self, *args):
        k = self.n_inputs
        differences, references, rest = args[:k], args[k:2 * k], args[2 * k:]
        return self.explained(*(r + d for d, r in zip(differences, references)), *rest)


def saliency(attr, explained, batch, inputs, reference, target, **_):
    """Gradient times (input - baseline), at the input (Captum's InputXGradient)."""
    method = attr.InputXGradient(_FromBaseline(explained, len(inputs)))
    differences = tuple((x - r).requires_grad_() for x, r in zip(inputs, reference))
    parts = []
    for start, stop in _chunks(len(batch), MAX_EVALUATIONS):
        parts.append(method.attribute(
            _row_slice(differences, start, stop), target=_target_slice(target, start, stop),
            additional_forward_args=(*_row_slice(reference, start, stop),
                                     *_row_slice(batch.fixed_args(), start, stop)),
        ))
    return _joined(parts), None


def occlusion(attr, explained, batch, inputs, reference, target, *, slots, window, **_):
    """The output's drop when a table's column, or a window of steps or pixels, is set
    to the baseline (Captum's FeatureAblation for tables, Occlusion otherwise)."""
    if batch.kind == TABLE:
        method, options = attr.FeatureAblation(explained), {
            "feature_mask": _column_masks(batch, inputs, slots)}
        n_perturbations = len({*batch.columns, *(c for slot in slots for c in slot.columns)})
    else:
        method = attr.Occlusion(explained)
        shape = _window(batch, window)
        options = {"sliding_window_shapes": shape}
        n_perturbations = int(np.prod(batch.values.shape[2:]))
    parts = []
    size = max(1, MAX_EVALUATIONS // max(n_perturbations, 1))
    for start, stop in _chunks(len(batch), size):
        parts.append(method.attribute(
            _row_slice(inputs, start, stop), baselines=_row_slice(reference, start, stop),
            target=_target_slice(target, start, stop),
            additional_forward_args=_row_slice(batch.fixed_args(), start, stop) or None,
            perturbations_per_eval=max(1, min(n_perturbations,
                                              MAX_EVALUATIONS // (stop - start))),
            **options,
        ))
    return _joined(parts), None


def _window(batch: NetworkInput, window) -> tuple[int, ...]:
    """Captum's sliding window: every channel, ``window`` along each spatial axis."""
    spatial = batch.values.shape[2:]
    sizes = (1,) * len(spatial) if window is None else (
        (window,) * len(spatial) if isinstance(window, Integral) else tuple(window))
    if len(sizes) != len(spatial) or not all(
            isinstance(s, Integral) and 1 <= s <= n for s, n in zip(sizes, spatial)):
        raise ValueError(
            f"feature_attributions: window must be a positive int or a tuple of "
            f"{len(spatial)} of them, none larger than the input's {tuple(spatial)}; got "
            f"{window!r}."
        )
    return (batch.values.shape[1], *(int(s) for s in sizes))


def _column_masks(batch: NetworkInput, inputs, slots) -> tuple[torch.Tensor, ...]:
    """One ablation group per user column: its numeric value, indicator or embedding."""
    masks = [torch.as_tensor(batch.columns, dtype=torch.long)[None]]
    for embedded, slot in zip(inputs[1:], slots):
        columns = torch.as_tensor(slot.columns, dtype=torch.long)
        if embedded.ndim == 2:  # one column's embedding
            masks.append(columns.expand(1, embedded.shape[1]))
        else:  # (n, n_columns, width): a column per row of the output
            masks.append(columns[None, :, None].expand(1, *embedded.shape[1:]))
    return tuple(masks)


def _joined(parts) -> tuple[torch.Tensor, ...]:
    if isinstance(parts[0], torch.Tensor):
        parts = [(p,) for p in parts]
    return tuple(torch.cat([p[i] for p in parts]).detach() for i in range(len(parts[0])))


# -- back to the user's layout -----------------------------------------------------
def user_layout(attributions, batch, slots, model, ablated: bool) -> np.ndarray:
    """Tables: one value per user column; others: the values' own layout."""
    if batch.kind != TABLE:
        return as_array(batch, attributions[0])
    n, n_columns = len(batch), model.n_features_in_
    sums = np.zeros((n, n_columns))
    sizes = np.zeros(n_columns)
    plain = attributions[0].double().numpy()
    np.add.at(sums.T, batch.columns, plain.T)
    np.add.at(sizes, batch.columns, 1)
    for slot, embedded in zip(slots, attributions[1:]):
        embedded = embedded.double().numpy()
        per_column = embedded[:, None] if embedded.ndim == 2 else embedded
        sums[:, slot.columns] += per_column.sum(axis=-1)
        sizes[slot.columns] += per_column.shape[-1]
    # An ablated group's every entry holds the group's drop: one value per column.
    return sums / np.maximum(sizes, 1) if ablated else sums


def as_array(batch: NetworkInput, values: torch.Tensor) -> np.ndarray:
    """float64 values in the user's layout: token ids lose their one channel."""
    values = values.detach().double().numpy()
    return values[:, 0] if batch.kind == TOKENS else values


def token_ids(batch: NetworkInput) -> np.ndarray:
    """The ids of a batch of token sequences, ``(n, length)``."""
    return batch.values[:, 0].numpy().astype(np.int64)
