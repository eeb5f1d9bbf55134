"""Class inversion: keep an image's latent code, swap its class label.

Fernández et al. 2021, section 3.2.3: for a conditional DCGAN, given an image I with label l1 and
its code z (saved beforehand or found by reverse search), G(z, l2) shows the other class while
keeping the image's other features (Figs. 8-9). The same holds for an AC-GAN conditional
generator (Klang & Carlberg), which also takes ``[latent, label]``.
"""

import dataclasses

import numpy as np

from ganaug.latent.inversion import (
    check_codes,
    check_generator,
    check_images,
    check_labels,
    generate_images,
    latent_dim_of,
    invert_images,
    is_conditional,
)


@dataclasses.dataclass
class ClassInversion:
    """The result of a class inversion.

    Attributes:
        codes: float32 ``(N, latent_dim)``, the codes (shared by both renderings).
        labels: int32 ``(N,)``, the original labels.
        target_labels: int32 ``(N,)``, the swapped labels.
        reconstructions: float32 ``(N, H, W, C)``, ``G(codes, labels)``.
        inverted: float32 ``(N, H, W, C)``, ``G(codes, target_labels)``.
        errors: float32 ``(N,)`` inversion loss when the codes came from images, else None.
    """

    codes: np.ndarray
    labels: np.ndarray
    target_labels: np.ndarray
    reconstructions: np.ndarray
    inverted: np.ndarray
    errors: np.ndarray = None


def swapped_labels(labels, num_classes=2):
    """Returns the "other" class of each label: ``(label + 1) % num_classes``.

    With two classes (tumour / normal in Fernández et al.) this is the opposite class.

    Raises:
        ValueError: if ``num_classes < 2`` or a label is outside [0, num_classes).
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
        raise ValueError(f"`num_classes` must be an integer >= 2. Received: num_classes={num_classes!r}")
    labels = np.asarray(labels).astype(np.int32).reshape(-1)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"`labels` must lie in [0, {num_classes}). Received: labels in [{labels.min()}, {labels.max()}]"
        )
    return ((labels + 1) % num_classes).astype(np.int32)


def invert_class(
    generator,
    *,
    target_labels,
    images=None,
    labels=None,
    codes=None,
    encoder=None,
    inversion_options=None,
    batch_size=64,
):
    """Renders the same latent codes with other class labels (Fernández et al. 2021, section 3.2.3).

    Either ``codes`` are given (with their ``labels``), or ``images`` with their ``labels`` are first
    inverted (reverse search, optionally started from ``encoder`` codes).

    Args:
        generator: a conditional generator ``[latent, label]`` (cDCGAN or AC-GAN).
        target_labels: int ``(N,)`` or one int, the labels to render with.
        images: float32 ``(N, H, W, C)`` in [-1, 1], or None when ``codes`` are given.
        labels: int ``(N,)`` (or one int), the images' (or codes') original labels.
        codes: float32 ``(N, latent_dim)``, or None to invert ``images``.
        encoder: optional image -> code model whose codes start the reverse search.
        inversion_options: keyword arguments for ``invert_images``.
        batch_size: codes per forward pass.

    Returns:
        ``ClassInversion``: the same codes rendered with ``labels`` and with ``target_labels``.

    Raises:
        ValueError: for an unconditional generator, both or neither of ``images``/``codes``,
            missing labels or shapes that do not match.
    """
    check_generator(generator)
    if not is_conditional(generator):
        raise ValueError(
            "Class inversion needs a conditional generator ([latent, label]). "
            "Received: generator with 1 input"
        )
    if (images is None) == (codes is None):
        raise ValueError(
            "Pass exactly one of `images` and `codes`. "
            f"Received: images={'None' if images is None else 'array'}, codes={'None' if codes is None else 'array'}"
        )
    errors = None
    if codes is None:
        images = check_images(generator, images)
        labels = check_labels(generator, labels, len(images))
        options = dict(inversion_options or {})
        if encoder is not None:
            from ganaug.latent.encoder_training import encode

            options["initial_codes"] = encode(encoder, images, batch_size=batch_size)
        result = invert_images(generator, images, labels, **options)
        codes, errors = result.codes, result.errors
    else:
        codes = check_codes(codes, latent_dim_of(generator))
        labels = check_labels(generator, labels, len(codes))
    target_labels = check_labels(generator, target_labels, len(codes), name="target_labels")
    return ClassInversion(
        codes=codes,
        labels=labels,
        target_labels=target_labels,
        reconstructions=generate_images(generator, codes, labels, batch_size=batch_size),
        inverted=generate_images(generator, codes, target_labels, batch_size=batch_size),
        errors=errors,
    )
