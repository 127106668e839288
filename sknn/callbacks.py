"""Callbacks for the ``callbacks`` parameter of sknn's estimators."""

from sknn._io._checkpoint import Checkpoint

__all__ = ["Checkpoint"]
