"""Callbacks for the ``callbacks`` parameter of sknn's estimators."""

from sknn._checkpoint import Checkpoint

__all__ = ["Checkpoint"]
