"""Argument checks shared by the model factories.

Every check returns the (normalised) value or raises an error whose message ends with
``Received: name=value``, in the style of ``keras.applications``.
"""

import math
import numbers

from ganaug._checks import check_bool  # noqa: F401  (re-exported: the factories call check.check_bool)

MIN_IMAGE_SIZE = 16
MAX_IMAGE_SIZE = 512

ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu", "swish", "tanh", "sigmoid", "linear")


def _received(name, value):
    return f"Received: {name}={value!r}"


def check_integer(value, name, *, minimum=None):
    """Returns ``value`` as an int; raises if it is not an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an integer. {_received(name, value)}")
    if minimum is not None and value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}. {_received(name, value)}")
    return int(value)


def check_image_size(value, name="image_size"):
    """Returns ``value`` if it is a power of two in [16, 512]; raises otherwise."""
    value = check_integer(value, name)
    if not MIN_IMAGE_SIZE <= value <= MAX_IMAGE_SIZE:
        raise ValueError(
            f"`{name}` must be between {MIN_IMAGE_SIZE} and {MAX_IMAGE_SIZE} pixels. "
            f"{_received(name, value)}"
        )
    if value & (value - 1):
        raise ValueError(
            f"`{name}` must be a power of two (16, 32, 64, ..., 512). {_received(name, value)}"
        )
    return value


def check_channels(value, name="channels"):
    """Returns ``value`` if it is 1 (grayscale) or 3 (RGB); raises otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value not in (1, 3):
        raise ValueError(f"`{name}` must be 1 or 3. {_received(name, value)}")
    return int(value)


def check_num_classes(value, name="num_classes"):
    """Returns ``value`` if it is an integer >= 2; raises otherwise."""
    return check_integer(value, name, minimum=2)


def check_rate(value, name):
    """Returns ``value`` as a float if it is a dropout rate in [0, 1); raises otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value < 1.0:
        raise ValueError(f"`{name}` must be a number in [0, 1). {_received(name, value)}")
    return float(value)


def check_non_negative(value, name):
    """Returns ``value`` as a float if it is a real number >= 0; raises otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0:
        raise ValueError(f"`{name}` must be a number >= 0. {_received(name, value)}")
    return float(value)


def check_choice(value, name, choices):
    """Returns ``value`` if it is one of ``choices``; raises otherwise."""
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {tuple(choices)}. {_received(name, value)}")
    return value


def check_activation(value, name):
    """Returns ``value`` if it names a supported activation; raises otherwise."""
    return check_choice(value, name, ACTIVATIONS)


def check_units(value, name):
    """Returns ``value`` as a tuple of positive ints (dense layer widths); raises otherwise."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"`{name}` must be a sequence of positive integers. {_received(name, value)}")
    units = tuple(value)
    if not units or any(
        isinstance(u, bool) or not isinstance(u, numbers.Integral) or u < 1 for u in units
    ):
        raise ValueError(f"`{name}` must be a non-empty sequence of positive integers. {_received(name, value)}")
    return tuple(int(u) for u in units)


def check_strides(value, name="strides"):
    """Returns ``value`` if it is 2 or 4 (the strides that keep power-of-two sizes); raises otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value not in (2, 4):
        raise ValueError(f"`{name}` must be 2 or 4. {_received(name, value)}")
    return int(value)


def block_layout(image_size, max_blocks, strides=2, min_base_size=4):
    """Returns ``(num_blocks, base_size)`` of a generator/discriminator at ``image_size``.

    The paper presets have ``max_blocks`` blocks at 256 px; smaller images get fewer blocks so that
    the smallest feature map is never below ``min_base_size``: with stride 2 that is
    ``min(max_blocks, log2(image_size) - 2)`` blocks, and ``base_size = image_size / 2**num_blocks``.
    """
    num_blocks = min(max_blocks, int(math.floor(math.log(image_size / min_base_size, strides) + 1e-9)))
    return num_blocks, image_size // strides**num_blocks
