"""Tools to look inside fitted sknn estimators: plots of their training."""

from sknn.inspection._training_curve import TrainingCurveDisplay

__all__ = ["TrainingCurveDisplay"]
