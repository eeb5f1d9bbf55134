"""Argument checks shared by the readers: one place for "a positive int", "a bool", "an index".

Every check returns the normalised value or raises with the argument's name and the value
received, in the toolkit's ``Received: name=value`` form.
"""

import numpy as np


def is_int(value):
    """Returns whether ``value`` is a Python or numpy integer (``bool`` excluded)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_positive_int(value, name, *, allow_none=False):
    """Returns ``value`` as an int > 0 (or None when ``allow_none``).

    Raises:
        ValueError: for anything else, naming ``name`` and the value.
    """
    if value is None and allow_none:
        return None
    if not is_int(value) or value <= 0:
        suffix = " or None" if allow_none else ""
        raise ValueError(f"`{name}` must be a positive int{suffix}. Received: {name}={value!r}")
    return int(value)


def check_int_in_range(value, name, *, low, high, high_name=None):
    """Returns ``value`` as an int in ``[low, high)``.

    Raises:
        ValueError: for a non-int or an int outside the range; ``high_name`` describes the bound.
    """
    if not is_int(value) or not low <= value < high:
        bound = f"{high_name}={high}" if high_name else str(high)
        raise ValueError(f"`{name}` must be an int in [{low}, {bound}). Received: {name}={value!r}")
    return int(value)


def check_non_negative_int(value, name):
    """Returns ``value`` as an int >= 0.

    Raises:
        ValueError: for a negative or non-int value.
    """
    if not is_int(value) or value < 0:
        raise ValueError(f"`{name}` must be an int >= 0. Received: {name}={value!r}")
    return int(value)


def check_bool(value, name):
    """Returns ``value`` as a bool; the one bool check of the readers and of ``ganaug``.

    Raises:
        TypeError: for anything but ``bool`` / ``numpy.bool_`` (``0``, ``1``, ``"yes"``, None...).
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be True or False. Received: {name}={value!r}")
    return bool(value)
