"""Shrink fitted sknn estimators: magnitude pruning and int8 dynamic quantization."""

from sknn._lifecycle._compression import parameter_counts, prune, quantize

__all__ = ["parameter_counts", "prune", "quantize"]
