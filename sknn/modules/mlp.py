"""Multilayer perceptron module."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "identity": nn.Identity,
    "logistic": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "selu": nn.SELU,
}

ACTIVATION_NAMES = tuple(_ACTIVATIONS)


class PredictionInPlaceReLU(nn.ReLU):
    """ReLU that overwrites its input when no gradient is recorded.

    While autograd records, it returns a new tensor: hooks that wrap a layer's
    output (Opacus' per-sample gradients) forbid changing it in place. As with
    ``nn.ReLU(inplace=True)``, a forward hook on the linear layer before it that
    keeps that layer's output must keep a copy (``output.clone()``).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x) if torch.is_grad_enabled() else torch.relu_(x)


def tracing() -> bool:
    """Whether a module is being traced into a graph (ONNX, ``torch.export``, compile).

    Graphs need operations whose shapes and branches do not depend on values.

    Examples
    --------
    >>> tracing()
    False
    """
    return (torch.onnx.is_in_onnx_export() or torch.compiler.is_exporting()
            or torch.compiler.is_compiling())


def make_activation(name: str, inplace: bool = False) -> nn.Module:
    """Return a fresh activation module from its name.

    Parameters
    ----------
    name : str
        One of ``ACTIVATION_NAMES`` ('identity', 'logistic', 'tanh', 'relu',
        'leaky_relu', 'gelu', 'silu', 'selu').
    inplace : bool, default=False
        For ReLU: overwrite the input when no gradient is recorded (prediction,
        validation), for an activation right after a linear layer, whose output
        nothing else reads. Saves writing a new tensor of the layer's size.

    Returns
    -------
    torch.nn.Module

    Examples
    --------
    >>> make_activation("relu", inplace=True)
    PredictionInPlaceReLU()
    """
    if inplace and name == "relu":
        return PredictionInPlaceReLU()
    try:
        return _ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(
            f"Unknown activation {name!r}; expected one of {ACTIVATION_NAMES}."
        ) from None


class MLP(nn.Module):
    """Fully connected network: ``[Linear -> activation -> dropout] * k -> Linear``.

    Parameters
    ----------
    n_inputs : int
        Number of input features.
    n_outputs : int
        Number of outputs (logits for classification, values for regression).
    hidden_layer_sizes : sequence of int
        Width of each hidden layer; empty for a linear model.
    activation : str, default='relu'
        Name of the activation after each hidden layer.
    dropout : float, default=0.0
        Dropout probability after each hidden activation.

    Examples
    --------
    >>> import torch
    >>> from sknn.modules import MLP
    >>> net = MLP(4, 3, hidden_layer_sizes=(16, 16))
    >>> net(torch.zeros(2, 4)).shape
    torch.Size([2, 3])
    """

    def __init__(
        self,
        n_inputs: int,
        n_outputs: int,
        hidden_layer_sizes: Sequence[int] = (100,),
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_inputs
        for size in hidden_layer_sizes:
            layers.append(nn.Linear(width, size))
            layers.append(make_activation(activation, inplace=True))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = size
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))
