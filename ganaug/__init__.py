"""ganaug: GAN-based augmentation and latent-space editing of medical images.

Importing ``ganaug`` is cheap: subpackages (``ganaug.models``, ``ganaug.training``, ...) import
TensorFlow when they are imported themselves.
"""

from ganaug._backend import check_backend as _check_backend

_check_backend()

__version__ = "0.1.0"

__all__ = ["__version__"]
