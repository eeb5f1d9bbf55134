"""Tiny seeded GAN models and data shared by the training tests (not a test module)."""

import numpy as np

from ganaug.models import build_dcgan_discriminator, build_dcgan_generator

IMAGE_SIZE = 16
LATENT_DIM = 8


def tiny_generator(batch_norm=True):
    return build_dcgan_generator(
        image_size=IMAGE_SIZE, latent_dim=LATENT_DIM, generator_filters=8, kernel_size=3,
        generator_batch_norm=batch_norm, seed=1,
    )


def tiny_discriminator(batch_norm="all_but_first"):
    return build_dcgan_discriminator(
        image_size=IMAGE_SIZE, discriminator_filters=4, kernel_size=3,
        discriminator_batch_norm=batch_norm, seed=2,
    )


def tiny_images(count=32, seed=0):
    """Smooth blobs in [-1, 1]: a learnable toy distribution."""
    rng = np.random.default_rng(seed)
    grid = np.linspace(-1, 1, IMAGE_SIZE)
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    centres = rng.uniform(-0.4, 0.4, (count, 2))
    radius = rng.uniform(0.3, 0.6, (count, 1, 1))
    distance = np.sqrt((yy - centres[:, :1, None]) ** 2 + (xx - centres[:, 1:, None]) ** 2)
    blob = (distance < radius).astype(np.float32) * 1.6 - 0.8
    colour = np.array([0.9, 0.2, 0.5], np.float32)
    return (blob[..., None] * colour).astype(np.float32)


def weights_of(model):
    return [np.array(w) for w in model.get_weights()]
