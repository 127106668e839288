"""Safe files: :func:`sknn.save`/:func:`sknn.load` and training checkpoints.

What a file may hold comes from :mod:`sknn._utils._registry`, filled by the
classes themselves; nothing here imports an estimator.
"""
