"""The classes an sknn file may hold: each registers itself where it is defined.

:func:`sknn.load` builds no class that is not listed here, so the persistence
code never imports the estimators, encoders or callbacks it rebuilds (they sit
above it in the layers); each of them says, with a decorator, that files may
hold it.
"""

from __future__ import annotations

from collections.abc import Callable

_ESTIMATORS: dict[str, type] = {}
_STATES: dict[str, type] = {}
_STATE_NAMES: dict[type, str] = {}
_DROPPED: dict[str, type] = {}


def storable_estimator(cls: type) -> type:
    """Class decorator: sknn files may hold this estimator, by its class name.

    Its constructor parameters and fitted attributes are stored as plain data
    and, on load, passed back to the class found here.
    """
    _ESTIMATORS[cls.__name__] = cls
    return cls


def storable_state(file_name: str) -> Callable[[type], type]:
    """Class decorator: sknn files may hold objects of this class, as plain data.

    Parameters
    ----------
    file_name : str
        The name files record for the class. It is fixed once files exist:
        it was the class's module path when the class was first saved, and
        it stays that when the class moves.
    """

    def register(cls: type) -> type:
        if _STATES.get(file_name, cls) is not cls:
            raise RuntimeError(f"two classes registered as {file_name!r}")
        _STATES[file_name] = cls
        _STATE_NAMES[cls] = file_name
        return cls

    return register


def dropped_from_files(file_name: str) -> Callable[[type], type]:
    """Class decorator: sknn files never hold this callback, which writes files.

    A callback that writes to a path (a checkpoint, a log) would write, on
    the disk of whoever loads a shared file, wherever its author chose.
    :func:`sknn.save` leaves such callbacks out, and :func:`sknn.load` drops
    them, with a warning, from files that hold them (files written before
    they were left out, or crafted).

    Parameters
    ----------
    file_name : str
        The name files recorded for the class when they held it.
    """

    def register(cls: type) -> type:
        _DROPPED[file_name] = cls
        return cls

    return register


def dropped_class(file_name) -> type | None:
    """The callback class a file names that loading drops (:func:`dropped_from_files`), or None."""
    return _DROPPED.get(file_name) if isinstance(file_name, str) else None


def estimator_class(name: str) -> type | None:
    """The registered estimator class a file names, or None."""
    return _ESTIMATORS.get(name)


def state_class(file_name: str) -> type | None:
    """The registered state class a file names, or None."""
    return _STATES.get(file_name)


def state_file_name(cls: type) -> str | None:
    """The name files record for ``cls``, or None when files may not hold it."""
    return _STATE_NAMES.get(cls)
