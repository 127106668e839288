"""Checks of parameters that several estimator families take."""

from __future__ import annotations

from numbers import Integral


def positive_ints(estimator_name, name, value, default) -> tuple[int, ...]:
    """The parameter ``name``'s int or sequence of ints as a tuple (``default`` for None)."""
    if value is None:
        return default
    values = [value] if isinstance(value, Integral) else list(value)
    if not values or any(not isinstance(v, Integral) or v < 1 for v in values):
        raise ValueError(f"{estimator_name}: {name} must be a positive integer or a "
                         f"non-empty sequence of them; got {value!r}.")
    return tuple(int(v) for v in values)


def hidden_sizes(estimator) -> list[int]:
    """The estimator's ``hidden_layer_sizes`` as a list, checked to be positive ints."""
    sizes = estimator.hidden_layer_sizes
    sizes = [sizes] if isinstance(sizes, Integral) else list(sizes)
    if any(not isinstance(s, Integral) or s < 1 for s in sizes):
        raise ValueError(
            f"{type(estimator).__name__}: hidden_layer_sizes must be positive integers; "
            f"got {estimator.hidden_layer_sizes!r}."
        )
    return sizes
