"""The ``sknn`` command line (``sknn`` and ``python -m sknn`` run :func:`main`)."""

from sknn._cli._main import main

__all__ = ["main"]
