"""Plain PyTorch modules behind sknn's estimators.

Nothing here imports scikit-learn: each class is an ordinary typed
:class:`torch.nn.Module` that can be used on its own.
"""

from sknn.modules.mlp import MLP, make_activation

__all__ = ["MLP", "make_activation"]
