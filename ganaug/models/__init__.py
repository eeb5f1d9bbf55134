"""Keras model factories: DCGAN, conditional DCGAN, AC-GAN, encoder and classifier.

Every factory returns a Functional ``keras.Model``; see ``docs/architecture.md`` for the input and
output contract and ``ganaug.models.presets`` for the paper configurations.
"""

from ganaug.models.acgan import build_acgan
from ganaug.models.cdcgan import build_cdcgan_discriminator, build_cdcgan_generator
from ganaug.models.classifier import ARCHITECTURES, build_classifier, build_classifier_ensemble, build_dihedral_average
from ganaug.models.dcgan import build_dcgan_discriminator, build_dcgan_generator
from ganaug.models.encoder import build_encoder
from ganaug.models.layers import LabelFeatureMaps, OneHot, RepeatChannels
from ganaug.models.presets import PRESETS, get_preset
from ganaug.models.prior import LATENT_DISTRIBUTIONS, sample_latent
from ganaug.models.spec import GeneratorSpec
from ganaug.models.spade import (
    SPADE,
    InstanceNormalization,
    MaskOneHot,
    Reparameterise,
    build_multiscale_discriminator,
    build_spade_decoder,
    build_spade_encoder,
    build_spade_generator,
)
from ganaug.models.sngan import (
    ConditionalBatchNormalization,
    GlobalSumPooling2D,
    SpectralNormConv2D,
    SpectralNormDense,
    SpectralNormEmbedding,
    build_projection_discriminator,
    build_sngan_generator,
)
from ganaug.models.stylegan import (
    ConstantInput,
    EqualizedConv2D,
    EqualizedDense,
    MinibatchStdDev,
    ModulatedConv2D,
    NoiseInjection,
    PixelNorm,
    ProjectionLogit,
    ScaledLeakyReLU,
    Truncation,
    broadcast_w,
    build_stylegan_discriminator,
    build_stylegan_generator,
    build_stylegan_mapping,
    build_stylegan_synthesis,
    mapping_of,
    mix_styles,
    num_ws_for,
    random_crossover,
    set_noise_mode,
    set_truncation,
    synthesis_of,
    update_w_avg,
    w_avg_of,
)

__all__ = [
    "ARCHITECTURES",
    "build_acgan",
    "build_cdcgan_discriminator",
    "build_cdcgan_generator",
    "build_classifier",
    "build_classifier_ensemble",
    "build_dihedral_average",
    "build_encoder",
    "LATENT_DISTRIBUTIONS",
    "GeneratorSpec",
    "PRESETS",
    "LabelFeatureMaps",
    "OneHot",
    "RepeatChannels",
    "build_dcgan_discriminator",
    "build_dcgan_generator",
    "get_preset",
    "sample_latent",
    "ConditionalBatchNormalization",
    "GlobalSumPooling2D",
    "SpectralNormConv2D",
    "SpectralNormDense",
    "SpectralNormEmbedding",
    "build_projection_discriminator",
    "build_sngan_generator",
    "build_spade_decoder",
    "build_spade_encoder",
    "build_spade_generator",
    "build_multiscale_discriminator",
    "SPADE",
    "InstanceNormalization",
    "MaskOneHot",
    "Reparameterise",
    "ConstantInput",
    "EqualizedConv2D",
    "EqualizedDense",
    "MinibatchStdDev",
    "ModulatedConv2D",
    "NoiseInjection",
    "PixelNorm",
    "ProjectionLogit",
    "ScaledLeakyReLU",
    "Truncation",
    "broadcast_w",
    "build_stylegan_discriminator",
    "build_stylegan_generator",
    "build_stylegan_mapping",
    "build_stylegan_synthesis",
    "mapping_of",
    "mix_styles",
    "num_ws_for",
    "random_crossover",
    "set_noise_mode",
    "set_truncation",
    "synthesis_of",
    "update_w_avg",
    "w_avg_of",
]
