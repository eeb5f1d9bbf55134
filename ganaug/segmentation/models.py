"""Segmentation networks (SHI-GAN, Falahkheirkhah et al., section 2.6).

The paper's segmenter (its reference 35) combines U-Net and ResNet: three down-sampling blocks
(a convolution, a residual block, pooling; twice the feature maps each), a bridge block, three
up-sampling blocks (bilinear up-sampling in place of pooling) and a final convolution to one map
per class, trained with softmax cross-entropy. ``"unet_small"`` is that layout with a settable
width; batch norm after each convolution (assumed; the paper does not say), momentum 0.9 so that
its moving averages settle within the few hundred steps of a CPU run (SPEC.md section 6).
"""

import keras

from ganaug.models import _validation as check

SEGMENTATION_ARCHITECTURES = ("unet_small",)


def _residual_block(x, filters, name):
    h = keras.layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv_a")(x)
    h = keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_bn_a")(h)
    h = keras.layers.ReLU(name=f"{name}_relu_a")(h)
    h = keras.layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv_b")(h)
    h = keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_bn_b")(h)
    return keras.layers.ReLU(name=f"{name}_relu_out")(keras.layers.Add(name=f"{name}_add")([x, h]))


def _unit(x, filters, name):
    x = keras.layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    x = keras.layers.ReLU(name=f"{name}_relu")(x)
    return _residual_block(x, filters, f"{name}_res")


def build_segmentation_model(architecture="unet_small", num_labels=5, image_size=64, *, channels=3, filters=16,
                             depth=3, name=None):
    """Builds a segmentation network ``image (N, S, S, C) in [-1, 1] -> logits (N, S, S, num_labels)``.

    Args:
        architecture: ``"unet_small"`` (the paper's U-Net/ResNet layout).
        num_labels: classes of the label map (>= 2).
        image_size: side of the square images, divisible by ``2**depth``.
        channels: 1 or 3.
        filters: feature maps of the first block (doubling per down-sampling block).
        depth: down-sampling blocks (the paper: 3).
        name: model name (default: the architecture).

    Returns:
        A Functional ``keras.Model`` returning float32 logits.

    Raises:
        ValueError, TypeError: for a bad argument (naming it).
    """
    if architecture not in SEGMENTATION_ARCHITECTURES:
        raise ValueError(f"`architecture` must be one of {SEGMENTATION_ARCHITECTURES}. Received: architecture={architecture!r}")
    num_labels = check.check_integer(num_labels, "num_labels", minimum=2)
    image_size = check.check_integer(image_size, "image_size", minimum=4)
    channels = check.check_channels(channels)
    filters = check.check_integer(filters, "filters", minimum=1)
    depth = check.check_integer(depth, "depth", minimum=1)
    if image_size % 2**depth:
        raise ValueError(f"`image_size` must be divisible by 2**depth = {2**depth}. Received: image_size={image_size}")
    image = keras.Input((image_size, image_size, channels), name="image")
    x, skips = image, []
    for level in range(depth):
        x = _unit(x, filters * 2**level, f"down_{level}")
        skips.append(x)
        x = keras.layers.MaxPooling2D(2, name=f"down_{level}_pool")(x)
    x = _unit(x, filters * 2**depth, "bridge")
    for level in reversed(range(depth)):
        x = keras.layers.UpSampling2D(2, interpolation="bilinear", name=f"up_{level}_upsample")(x)
        x = keras.layers.Concatenate(name=f"up_{level}_skip")([x, skips[level]])
        x = _unit(x, filters * 2**level, f"up_{level}")
    logits = keras.layers.Conv2D(num_labels, 1, dtype="float32", name="logits")(x)
    return keras.Model(image, logits, name=name or architecture)
