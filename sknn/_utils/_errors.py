"""Error helpers shared by every layer: messages that name the estimator."""

from __future__ import annotations

import contextlib

import torch


@contextlib.contextmanager
def errors_naming(estimator_name: str):
    """Make sure a ValueError or TypeError raised inside names the estimator.

    Errors of scikit-learn's validation helpers (and of models an estimator
    wraps) do not always say whose input they refuse; prefix the name there.
    """
    try:
        yield
    except (ValueError, TypeError) as error:
        if estimator_name in str(error):
            raise
        message = f"{estimator_name}: {error}"
        try:
            renamed = type(error)(message)
        except Exception:  # an exception type that takes other arguments
            renamed = (ValueError if isinstance(error, ValueError) else TypeError)(message)
        raise renamed from error


def finite_outputs(outputs: torch.Tensor, estimator_name: str) -> torch.Tensor:
    """``outputs`` of the network at prediction, refused when some are not finite.

    Finite X far outside the range of the training data can overflow the
    network; its predictions would then be NaN or infinite.
    """
    finite = torch.isfinite(outputs).reshape(len(outputs), -1).all(dim=1)
    if not finite.all():
        raise ValueError(
            f"{estimator_name}: the network overflowed on {int((~finite).sum())} of "
            f"{len(outputs)} rows of X (its outputs are not finite). X probably holds "
            "values far outside the range of the training data; check it for extreme "
            "values and scale it as the training data."
        )
    return outputs
