"""sknn: scikit-learn neural-network estimators trained with PyTorch through skorch."""

from sknn._mlp import MLPClassifier, MLPRegressor

__version__ = "0.1.0"

__all__ = ["MLPClassifier", "MLPRegressor", "__version__"]
