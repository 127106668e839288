"""The internal interface of a fitted sknn estimator, for the tools that take one.

Export, compression, inspection, save/load, distillation and the command line
reach a fitted network only through these functions, never through the
estimator's private methods (``tests/test_layout.py`` checks it):

- what the network reads: :func:`input_kind`, :func:`step_mask_channel`,
  :func:`example_input`, and X as it reads it, :func:`network_rows`;
- the fitted parts are public fitted attributes: ``net_`` (its
  ``module_``), ``task_``, ``device_`` and the input encoding (``encoder_``,
  ``input_shape_``, ...);
- rebuilding a saved network, :func:`rebuild_net`, and training on a task
  other than the one y implies, :func:`fit_on_task` (distillation);
- scikit-learn's check of the parameters, as ``fit`` runs it,
  :func:`validate_params`.
"""

from __future__ import annotations

import numpy as np
import torch

from sknn._training._plan import restoring_plan


def input_kind(model) -> str:
    """'table', 'series', 'tokens' or 'sequence': the kind of the model's input adapter."""
    return model._input.kind


def step_mask_channel(model) -> bool:
    """Whether the network reads a step-mask channel after the values (padded sequences)."""
    return model._input.step_mask_channel


def example_input(model) -> torch.Tensor:
    """Two rows of network input, for tracing an export."""
    return model._input.example_input(model)


def network_rows(model, X):
    """X checked and encoded the way ``predict`` does: the rows the network reads."""
    return model._encode_X(model._validate_X(X, reset=False), None, fit=False)


def checked_X(model, X):
    """X checked as ``predict`` checks it (columns, dtypes, shape), not encoded."""
    return model._validate_X(X, reset=False)


def rebuild_net(model, *, batch_size: int, max_epochs: int, validation: bool,
                device: torch.device, dtype: torch.dtype):
    """A new net for a fitted model's saved state: its module from the model's factory.

    The model holds its fitted input encoding and ``task_``; the module is
    sized from them, and the net is initialized in the model's process
    settings, ready for its saved weights.
    """
    plan = restoring_plan(model.get_params(deep=False), batch_size=batch_size,
                          max_epochs=max_epochs, validation=validation, device=device,
                          dtype=dtype, autocast_dtype=model._autocast_dtype())
    with model._torch_context(device, seed=0):
        return model._make_net(model.n_features_in_, model.task_, plan)


def fit_on_task(model, X, y: np.ndarray, sample_weight, task):
    """Fit ``model`` (parameters checked) on targets ``y`` encoded for ``task``."""
    model._validate_params()
    return model._fit(X, y, sample_weight, task=task)


def validate_params(model) -> None:
    """scikit-learn's check of the parameters against their constraints, as in fit."""
    model._validate_params()
