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


class NonFiniteOutputError(ValueError):
    """The network's outputs are not finite on some rows of X.

    ``inputs_finite`` says whether those rows are finite as the network reads
    them (None when not checked): if they are, the network itself overflowed,
    most likely because of its weights.
    """

    def __init__(self, message: str, inputs_finite: bool | None = None):
        super().__init__(message)
        self.inputs_finite = inputs_finite


def finite_outputs(outputs: torch.Tensor, estimator_name: str,
                   inputs=None) -> torch.Tensor:
    """``outputs`` of the network at prediction, refused when some are not finite.

    Finite X far outside the range of the training data can overflow the
    network (in its dtype it may become infinite); so can damaged or edited
    weights on ordinary X. ``inputs``, the rows as the network reads them (a
    tensor; anything else is not checked), tell the two apart.
    """
    finite = torch.isfinite(outputs).reshape(len(outputs), -1).all(dim=1)
    if finite.all():
        return outputs
    where = f"{int((~finite).sum())} of {len(outputs)} rows of X"
    inputs_finite = None
    if isinstance(inputs, torch.Tensor) and len(inputs) == len(outputs):
        inputs_finite = bool(torch.isfinite(inputs[~finite.to(inputs.device)]).all())
    if inputs_finite:
        raise NonFiniteOutputError(
            f"{estimator_name}: the network's outputs are not finite on {where}, though "
            "these rows are finite as the network reads them: its weights are the likely "
            "cause (a damaged or edited model); re-fit it, or load an intact copy of its "
            "file. (X far outside the range of the training data can overflow it too.)",
            inputs_finite,
        )
    raise NonFiniteOutputError(
        f"{estimator_name}: the network overflowed on {where} (its outputs are not "
        "finite). X probably holds values far outside the range of the training data; "
        "check it for extreme values and scale it as the training data.",
        inputs_finite,
    )
