"""Keras model factories: DCGAN, conditional DCGAN, AC-GAN, encoder and classifier.

Every factory returns a Functional ``keras.Model``; see ``docs/architecture.md`` for the input and
output contract and ``ganaug.models.presets`` for the paper configurations.
"""

from ganaug.models.acgan import build_acgan
from ganaug.models.cdcgan import build_cdcgan_discriminator, build_cdcgan_generator
from ganaug.models.classifier import ARCHITECTURES, build_classifier
from ganaug.models.dcgan import build_dcgan_discriminator, build_dcgan_generator
from ganaug.models.encoder import build_encoder
from ganaug.models.layers import LabelFeatureMaps, OneHot, RepeatChannels
from ganaug.models.presets import PRESETS, get_preset
from ganaug.models.prior import LATENT_DISTRIBUTIONS, sample_latent

__all__ = [
    "ARCHITECTURES",
    "build_acgan",
    "build_cdcgan_discriminator",
    "build_cdcgan_generator",
    "build_classifier",
    "build_encoder",
    "LATENT_DISTRIBUTIONS",
    "PRESETS",
    "LabelFeatureMaps",
    "OneHot",
    "RepeatChannels",
    "build_dcgan_discriminator",
    "build_dcgan_generator",
    "get_preset",
    "sample_latent",
]
