"""Paths through the latent space: linear and spherical interpolation, between codes, images or labels.

Fernández et al. 2021 (eq. 5): z = l z1 + (1 - l) z2, l in [0, 1], an n-step path "like the frames
of a movie"; Klang & Carlberg (section 4.6) the same n-step path. Spherical interpolation (slerp,
Shoemake 1985; White 2016 for GAN latents) keeps a path between two codes of equal norm on the
sphere of that norm, where Gaussian codes concentrate; for codes of unequal norms ``slerp`` moves
the direction along the great circle and the norm linearly, which is not Shoemake's formula (see
``slerp``).

For a conditional generator, Fernández et al. observe that toggling the one-hot class vector gives
an abrupt change and suggest finer interpolation of the class vector: ``soft_label_generator``
rebuilds the generator so that it takes the one-hot (or any soft) label directly, which lets
``interpolate_labels`` move between classes continuously.
"""

import dataclasses

import keras
import numpy as np

from ganaug.latent.inversion import (
    check_codes,
    check_generator,
    check_images,
    check_labels,
    check_positive_integer,
    generate_images,
    latent_dim_of,
    invert_images,
    is_conditional,
)

METHODS = ("linear", "slerp")
_PARALLEL_TOLERANCE = 1e-6


def _check_num_steps(num_steps):
    return check_positive_integer(num_steps, "num_steps", minimum=2)


def interpolation_weights(num_steps):
    """Returns the ``num_steps`` weights t in [0, 1] of a path (0 and 1 included), float32."""
    return np.linspace(0.0, 1.0, _check_num_steps(num_steps), dtype=np.float64)


def slerp(start, end, weights):
    """Returns spherical interpolations between two codes at the given weights.

    The direction and the norm are interpolated apart: the unit vectors u0 = z0 / |z0| and
    u1 = z1 / |z1| follow the great circle, u(t) = sin((1 - t) W) / sin(W) u0 + sin(t W) / sin(W) u1
    with W the angle between them (Shoemake's slerp on the unit sphere), and the norm goes
    linearly, z(t) = ((1 - t) |z0| + t |z1|) u(t). For codes of equal norm this is exactly
    Shoemake's formula applied to z0 and z1 (White 2016); for unequal norms it is not: Shoemake's
    sin((1 - t) W) / sin(W) z0 + sin(t W) / sin(W) z1 gives another path, whose norm is not
    linear in t (e.g. 1.58 instead of 1.5 mid-way between orthogonal codes of norms 1 and 2). For (near-)parallel or
    anti-parallel codes, where sin(W) ~ 0 and the great circle is undefined, and for a zero code,
    falls back to linear interpolation.

    Args:
        start: float ``(latent_dim,)``.
        end: float ``(latent_dim,)``.
        weights: float ``(T,)`` values of t.

    Returns:
        float32 ``(T, latent_dim)``.
    """
    start = np.asarray(start, dtype=np.float64)
    end = np.asarray(end, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)[:, None]
    start_norm = np.linalg.norm(start)
    end_norm = np.linalg.norm(end)
    linear = (1.0 - weights) * start + weights * end
    if start_norm < _PARALLEL_TOLERANCE or end_norm < _PARALLEL_TOLERANCE:
        return linear.astype(np.float32)
    start_unit = start / start_norm
    end_unit = end / end_norm
    cosine = np.clip(np.dot(start_unit, end_unit), -1.0, 1.0)
    angle = np.arccos(cosine)
    sine = np.sin(angle)
    if sine < _PARALLEL_TOLERANCE:
        return linear.astype(np.float32)
    direction = (np.sin((1.0 - weights) * angle) * start_unit + np.sin(weights * angle) * end_unit) / sine
    norms = (1.0 - weights) * start_norm + weights * end_norm
    return (direction * norms).astype(np.float32)


def interpolate_codes(start, end, *, num_steps=8, method="linear"):
    """Returns an n-step path from ``start`` to ``end`` (both endpoints included).

    Fernández et al. 2021, eq. 5 (``method="linear"``); ``"slerp"`` follows the great circle and
    keeps the norm of equal-norm endpoints.

    Args:
        start: float ``(latent_dim,)`` or a batch ``(N, latent_dim)``.
        end: same shape as ``start``.
        num_steps: number of codes on the path (>= 2).
        method: ``"linear"`` or ``"slerp"``.

    Returns:
        float32 ``(num_steps, latent_dim)`` for single codes, ``(N, num_steps, latent_dim)`` for
        batches; row 0 equals ``start`` and the last row equals ``end``.

    Raises:
        ValueError: for an unknown ``method``, ``num_steps < 2`` or endpoints of different shapes.
    """
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}. Received: method={method!r}")
    weights = interpolation_weights(num_steps)
    start = np.asarray(start, dtype=np.float32)
    end = np.asarray(end, dtype=np.float32)
    if start.shape != end.shape or start.ndim not in (1, 2):
        raise ValueError(
            "`start` and `end` must both have shape (latent_dim,) or (N, latent_dim). "
            f"Received: start.shape={start.shape}, end.shape={end.shape}"
        )
    if start.ndim == 2:
        return np.stack([interpolate_codes(s, e, num_steps=num_steps, method=method) for s, e in zip(start, end)])
    if method == "slerp":
        path = slerp(start, end, weights)
    else:
        path = ((1.0 - weights[:, None]) * start + weights[:, None] * end).astype(np.float32)
    path[0], path[-1] = start, end
    return path


def soft_label_generator(generator):
    """Returns a view of a conditional generator that takes a soft one-hot label instead of an int.

    The conditional generators of ``ganaug.models`` turn the integer label into a one-hot vector with
    a ``OneHot`` layer; the view is a Functional model ``[latent (N, latent_dim), soft_label (N, K)]
    -> images`` that starts at that layer's output, sharing the generator's layers and weights. A
    one-hot row gives exactly the generator's image for that class; rows in between give the
    class interpolation Fernández et al. 2021 (section 4.2) suggest.

    Args:
        generator: a conditional generator ``[latent, label]`` containing one ``OneHot`` layer
            applied to the label input.

    Returns:
        ``keras.Model`` with inputs ``[latent, soft_label]``.

    Raises:
        ValueError: if the generator is unconditional or has no (or several) one-hot layers fed by
            its label input.
    """
    check_generator(generator)
    if not is_conditional(generator):
        raise ValueError(
            "`generator` must be conditional ([latent, label]) to interpolate labels. "
            "Received: generator with 1 input"
        )
    label_input = generator.inputs[1]
    candidates = []
    for layer in generator.layers:
        if type(layer).__name__ != "OneHot":
            continue
        for node in layer._inbound_nodes:
            if any(tensor is label_input for tensor in node.input_tensors):
                candidates.extend(node.output_tensors)
    if len(candidates) != 1:
        raise ValueError(
            "`generator` must turn its label input into a one-hot vector with exactly one `OneHot` "
            "layer (as ganaug.models' conditional generators do) for a soft-label view. "
            f"Received: generator {generator.name!r} with {len(candidates)} such layers"
        )
    return keras.Model(
        inputs=[generator.inputs[0], candidates[0]],
        outputs=generator.outputs[0],
        name=f"{generator.name}_soft_label",
    )


def interpolate_labels(generator, codes, start_label, end_label, *, num_steps=8, batch_size=64):
    """Returns the images of fixed codes while the class moves from ``start_label`` to ``end_label``.

    The soft label is ``(1 - t) onehot(start_label) + t onehot(end_label)`` fed through
    ``soft_label_generator(generator)``; t = 0 and t = 1 reproduce ``G(z, start_label)`` and
    ``G(z, end_label)`` exactly.

    Args:
        generator: a conditional generator with a ``OneHot`` label layer.
        codes: float ``(latent_dim,)`` or ``(N, latent_dim)``.
        start_label: int class index at t = 0.
        end_label: int class index at t = 1.
        num_steps: images per path (>= 2).
        batch_size: codes per forward pass.

    Returns:
        dict with ``"images"``: float32 ``(num_steps, H, W, C)`` for one code or
        ``(N, num_steps, H, W, C)`` for N codes, and ``"soft_labels"``: float32 ``(num_steps, K)``.

    Raises:
        ValueError: for labels outside [0, K), bad codes or a generator without a soft-label view.
    """
    view = soft_label_generator(generator)
    num_classes = int(view.inputs[1].shape[-1])
    for name, value in (("start_label", start_label), ("end_label", end_label)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < num_classes:
            raise ValueError(f"`{name}` must be a class index in [0, {num_classes}). Received: {name}={value!r}")
    single = np.ndim(codes) == 1
    codes = check_codes(np.atleast_2d(np.asarray(codes, dtype=np.float32)), latent_dim_of(generator))
    batch_size = check_positive_integer(batch_size, "batch_size")
    weights = interpolation_weights(num_steps).astype(np.float32)[:, None]
    eye = np.eye(num_classes, dtype=np.float32)
    soft_labels = (1.0 - weights) * eye[start_label] + weights * eye[end_label]
    all_codes = np.repeat(codes, len(weights), axis=0)
    all_labels = np.tile(soft_labels, (len(codes), 1))
    images = []
    for start in range(0, len(all_codes), batch_size):
        batch = [all_codes[start : start + batch_size], all_labels[start : start + batch_size]]
        images.append(keras.ops.convert_to_numpy(view(batch, training=False)))
    images = np.concatenate(images).reshape(len(codes), len(weights), *images[0].shape[1:])
    return {"images": images[0] if single else images, "soft_labels": soft_labels}


@dataclasses.dataclass
class ImageInterpolation:
    """A path between two images.

    Attributes:
        codes: float32 ``(num_steps, latent_dim)``, the path (row 0 is the start image's code).
        images: float32 ``(num_steps, H, W, C)``, its images.
        endpoint_errors: float32 ``(2,)``, the inversion loss of the start and end image
            (None when an encoder gave the codes without refinement).
        soft_labels: float32 ``(num_steps, K)`` for a conditional path between two classes, else None.
    """

    codes: np.ndarray
    images: np.ndarray
    endpoint_errors: np.ndarray = None
    soft_labels: np.ndarray = None


def interpolate_images(
    generator,
    start_image,
    end_image,
    *,
    labels=None,
    num_steps=8,
    method="linear",
    encoder=None,
    inversion_options=None,
    batch_size=64,
):
    """Returns the path between two images: both are inverted, then their codes are interpolated.

    Fernández et al. 2021, section 3.2.4: "given two images, the initial and the final, ... a
    sequence of intermediate images". For a conditional generator with two different labels the
    class moves along the path too (soft one-hot, see ``soft_label_generator``).

    Args:
        generator: the generator.
        start_image: float32 ``(H, W, C)`` in [-1, 1].
        end_image: float32 ``(H, W, C)``.
        labels: ``(start_label, end_label)`` for a conditional generator, else None.
        num_steps: images on the path (>= 2).
        method: ``"linear"`` or ``"slerp"``.
        encoder: optional image -> code model; its codes start the reverse search (or are used as
            they are when ``inversion_options={"steps": 0}``).
        inversion_options: keyword arguments for ``invert_images`` (``steps``, ``restarts``,
            ``latent_distribution``, ``seed``, ``verbose``...).
        batch_size: codes per forward pass.

    Returns:
        ``ImageInterpolation``.

    Raises:
        ValueError: for images that do not fit the generator, missing labels or bad options.
    """
    check_generator(generator)
    images = check_images(generator, np.stack([np.asarray(start_image), np.asarray(end_image)]))
    if is_conditional(generator):
        if labels is None or len(labels) != 2:
            raise ValueError(
                "A conditional generator needs `labels=(start_label, end_label)`. "
                f"Received: labels={labels!r}"
            )
        labels = check_labels(generator, np.asarray(labels), 2)
    else:
        labels = check_labels(generator, labels, 2)
    options = dict(inversion_options or {})
    if encoder is not None:
        from ganaug.latent.encoder_training import encode

        options["initial_codes"] = encode(encoder, images, batch_size=batch_size)
    result = invert_images(generator, images, labels, **options)
    path = interpolate_codes(result.codes[0], result.codes[1], num_steps=num_steps, method=method)
    if labels is None or labels[0] == labels[1]:
        path_labels = None if labels is None else np.full((len(path),), labels[0], np.int32)
        path_images = generate_images(generator, path, path_labels, batch_size=batch_size)
        soft_labels = None
    else:
        view = soft_label_generator(generator)
        num_classes = int(view.inputs[1].shape[-1])
        weights = interpolation_weights(num_steps).astype(np.float32)[:, None]
        eye = np.eye(num_classes, dtype=np.float32)
        soft_labels = (1.0 - weights) * eye[labels[0]] + weights * eye[labels[1]]
        path_images = keras.ops.convert_to_numpy(view([path, soft_labels], training=False))
    return ImageInterpolation(
        codes=path, images=path_images.astype(np.float32), endpoint_errors=result.errors, soft_labels=soft_labels
    )
