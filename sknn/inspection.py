"""Tools to look inside fitted sknn estimators: plots of their training."""

from sknn._training_curve import TrainingCurveDisplay

__all__ = ["TrainingCurveDisplay"]
