"""Reconstruction quality: how close G(z) (or G(E(x))) is to the image it should reproduce.

Fernández et al. 2021 (Fig. 7) and Klang & Carlberg (Fig. 18) judge reconstructions by eye; these
numbers make the comparison measurable (reverse search vs encoder, steps vs error).

Scale: images are the toolkit's float32 in [-1, 1], so the data range is 2. ``mse`` is on that
scale (multiply by 127.5**2 = 16256.25 for 8-bit units). ``psnr`` = 10 log10(2**2 / mse) and
``ssim`` (``tf.image.ssim`` with ``max_val=2``) are scale-free: they equal the values computed on
8-bit images with ``max_val=255`` (up to the rounding to integers).
"""

import numpy as np
import tensorflow as tf

DATA_RANGE = 2.0


def _check_pair(images, reconstructions):
    images = np.asarray(images, dtype=np.float32)
    reconstructions = np.asarray(reconstructions, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(f"`images` must have shape (N, H, W, C). Received: images.shape={images.shape}")
    if reconstructions.shape != images.shape:
        raise ValueError(
            f"`reconstructions` must have the shape of `images` {images.shape}. "
            f"Received: reconstructions.shape={reconstructions.shape}"
        )
    return images, reconstructions


def mse_per_image(images, reconstructions):
    """Returns the mean squared error of each image, float32 ``(N,)``, on the [-1, 1] scale."""
    images, reconstructions = _check_pair(images, reconstructions)
    return np.mean(np.square(images - reconstructions), axis=(1, 2, 3)).astype(np.float32)


def psnr_per_image(images, reconstructions):
    """Returns the peak signal-to-noise ratio (dB) of each image, data range 2 (inf if identical)."""
    images, reconstructions = _check_pair(images, reconstructions)
    return tf.image.psnr(images, reconstructions, max_val=DATA_RANGE).numpy().astype(np.float32)


def ssim_per_image(images, reconstructions):
    """Returns the structural similarity of each image (``tf.image.ssim``, data range 2), ``(N,)``.

    The Gaussian window is 11 pixels (Wang et al. 2004), shrunk to the image size for images
    smaller than 11 pixels.
    """
    images, reconstructions = _check_pair(images, reconstructions)
    filter_size = int(min(11, images.shape[1], images.shape[2]))
    return (
        tf.image.ssim(images, reconstructions, max_val=DATA_RANGE, filter_size=filter_size)
        .numpy()
        .astype(np.float32)
    )


def reconstruction_quality(images, reconstructions):
    """Returns MSE, PSNR and SSIM between images and their reconstructions, per image and mean.

    Args:
        images: float32 ``(N, H, W, C)`` targets in [-1, 1].
        reconstructions: float32 array of the same shape (e.g. ``InversionResult.reconstructions``).

    Returns:
        dict with ``"mse"``, ``"psnr"``, ``"ssim"`` (float32 ``(N,)`` arrays) and ``"mean_mse"``,
        ``"mean_psnr"``, ``"mean_ssim"`` (floats). See the module docstring for the scales. The mean
        PSNR is inf if any image is reproduced exactly.

    Raises:
        ValueError: if the arrays are not 4-D or their shapes differ.
    """
    mse = mse_per_image(images, reconstructions)
    psnr = psnr_per_image(images, reconstructions)
    ssim = ssim_per_image(images, reconstructions)
    return {
        "mse": mse,
        "psnr": psnr,
        "ssim": ssim,
        "mean_mse": float(np.mean(mse)),
        "mean_psnr": float(np.mean(psnr)),
        "mean_ssim": float(np.mean(ssim)),
    }
