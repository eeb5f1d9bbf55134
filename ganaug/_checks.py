"""Argument checks shared by the library's functions (the model factories have ``models._validation``).

Every check returns the normalised value or raises (``ValueError``; ``TypeError`` from ``check_bool``) with a message
ending with
``Received: name=value`` (in the style of ``keras.applications``).
"""

import numbers

from data_readers.checks import check_bool  # noqa: F401  (the one bool check, shared with the readers)


def check_int(value, name, minimum=1):
    """Returns ``value`` as an int if it is an integer (not a bool) >= ``minimum``, else raises ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}")
    return int(value)


def check_number(value, name, minimum=0.0, maximum=None):
    """Returns ``value`` as a float if it is a real number (not a bool) in [``minimum``, ``maximum``]
    (no upper bound when ``maximum`` is None), else raises ValueError."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Real) or value < minimum
            or maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum:.3g}]"
        raise ValueError(f"`{name}` must be a number {bound}. Received: {name}={value!r}")
    return float(value)
