"""StyleGAN2's W and W+ spaces: map codes there, render them, and find the codes of images.

Saboo et al. edit chest X-rays in the W space of a StyleGAN: an image is represented by the w the
mapping network would produce (one ``(w_dim,)`` vector for every layer of the synthesis network),
or, more expressively, by W+ (one w per layer, ``(num_ws, w_dim)``, Abdal et al. 2019). W is far
better behaved than z (the mapping network has already "unwarped" the prior), so reverse search
and linear edits work better there.

* ``latents_to_w``: ``mapping(z [, y])``, optionally truncated towards ``w_avg``.
* ``synthesize``: images of W ``(N, w_dim)`` or W+ ``(N, num_ws, w_dim)`` codes.
* ``invert_images_w``: reverse search in W or W+ starting at ``w_avg`` (Karras et al. 2020's
  projector starts there too), by the batched Adam search of ``invert_images`` on a view of the
  synthesis network (no new optimiser code: every W or W+ code is one row of the search).
* ``class_w_averages``: a conditional generator's mean w of every class. The tracked ``w_avg``
  of a conditional generator averages over the classes of the training fakes (weighted by how
  often each class was drawn); the mean of the class means weighs every class alike, a start of
  the reverse search that favours none of them.

Per-layer noise: with ``noise_mode="random"`` the same code gives another image at every call, so
searches, encoders and edits render with the noise layers switched to ``"const"`` (a fixed noise
map per layer, stored in the model) for the duration of the call; the generator's own modes are
restored afterwards (``fixed_noise``). Simplified with respect to the official projector: no
LPIPS (VGG16) distance (no ImageNet weights offline: the pixel RMSE or L1 of ``invert_images``),
the noise maps are held fixed rather than optimised with their regulariser, and no noise is added
to w during the search.
"""

import contextlib
import dataclasses

import keras
import numpy as np

from ganaug.latent.inversion import (
    check_codes,
    check_images,
    check_labels,
    check_positive_integer,
    invert_images,
)
from ganaug.models import stylegan
from ganaug.models.prior import sample_latent, validate_distribution
from ganaug.models.spec import GeneratorSpec

SPACES = ("w", "w+")


def _check_stylegan(generator):
    if not isinstance(generator, keras.Model):
        raise TypeError(f"`generator` must be a keras.Model. Received: generator={type(generator).__name__}")
    try:
        return stylegan.mapping_of(generator), stylegan.synthesis_of(generator), stylegan.w_avg_of(generator)
    except ValueError:
        raise ValueError(
            "`generator` must be a StyleGAN generator (build_stylegan_generator: layers 'mapping', 'truncation', "
            f"'synthesis'). Received: generator={generator.name!r}"
        ) from None


def _noise_layers(model):
    seen = set()
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, stylegan.NoiseInjection) and id(layer) not in seen:
            seen.add(id(layer))
            yield layer


@contextlib.contextmanager
def fixed_noise(generator, noise_mode="const"):
    """Within the block, every noise layer of ``generator`` uses ``noise_mode``; each layer's own mode comes back after.

    Args:
        generator: a StyleGAN generator (or its synthesis network).
        noise_mode: ``"const"`` (the fixed noise maps stored in the model) or ``"none"``;
            ``"random"`` is accepted and changes nothing.

    Raises:
        ValueError: for an unknown ``noise_mode``.
    """
    if noise_mode not in stylegan.NOISE_MODES:
        raise ValueError(f"`noise_mode` must be one of {stylegan.NOISE_MODES}. Received: noise_mode={noise_mode!r}")
    layers = list(_noise_layers(generator))
    modes = [layer.noise_mode for layer in layers]
    try:
        for layer in layers:
            layer.noise_mode = noise_mode
        yield generator
    finally:
        for layer, mode in zip(layers, modes):
            layer.noise_mode = mode


def num_ws_of(generator):
    """Returns the number of W+ rows of a StyleGAN generator (``2 log2(image_size) - 2``)."""
    return int(_check_stylegan(generator)[1].inputs[0].shape[1])


def w_dim_of(generator):
    """Returns the length of w of a StyleGAN generator."""
    return int(_check_stylegan(generator)[1].inputs[0].shape[2])


def latents_to_w(generator, latents, labels=None, *, truncation_psi=1.0, batch_size=64):
    """Returns ``w = mapping(z [, y])`` (truncated: ``w_avg + psi (w - w_avg)``), float32 ``(N, w_dim)``.

    Args:
        generator: a StyleGAN generator.
        latents: float ``(N, latent_dim)`` codes z.
        labels: int ``(N,)`` (or one int) for a conditional generator, else None.
        truncation_psi: 1 = no truncation, 0 = ``w_avg`` for every code.
        batch_size: codes per forward pass.

    Raises:
        ValueError: for a generator that is not a StyleGAN one, codes or labels of the wrong shape.
    """
    mapping, _, w_avg = _check_stylegan(generator)
    latents = check_codes(latents, int(mapping.inputs[0].shape[-1]), name="latents")
    labels = check_labels(generator, labels, len(latents))
    batch_size = check_positive_integer(batch_size, "batch_size")
    parts = []
    for start in range(0, len(latents), batch_size):
        inputs = latents[start : start + batch_size]
        if labels is not None:
            inputs = [inputs, labels[start : start + batch_size]]
        parts.append(keras.ops.convert_to_numpy(mapping(inputs, training=False)))
    w = np.concatenate(parts) if parts else np.zeros((0, w_avg.shape[0]), np.float32)
    return (w_avg + float(truncation_psi) * (w - w_avg)).astype(np.float32)


def class_w_averages(generator, *, samples_per_class=2000, latent_distribution="normal", seed=0, batch_size=256):
    """Returns the mean w of every class of a conditional StyleGAN generator, float32 ``(num_classes, w_dim)``.

    Row ``c`` is the mean of ``mapping(z, c)`` over ``samples_per_class`` prior draws of z (the
    same draws for every class, so that rows differ by the class alone). Their mean,
    ``class_w_averages(g).mean(axis=0)``, is a start for ``invert_images_w(initial_codes=...)``
    that weighs every class alike (the tracked ``w_avg`` weighs them by how often each was drawn
    in training); their differences are the generator's own class directions in W.

    Args:
        generator: a conditional StyleGAN generator (``build_stylegan_generator(num_classes=...)``).
        samples_per_class: prior draws of z per class (>= 1).
        latent_distribution: the generator's prior.
        seed: seed of the draws of z.
        batch_size: codes per forward pass.

    Raises:
        ValueError: for a generator that is not a conditional StyleGAN one, or bad counts.
    """
    mapping, _, _ = _check_stylegan(generator)
    num_classes = GeneratorSpec.of(generator).num_classes
    if num_classes is None:
        raise ValueError(
            "`generator` must be a conditional StyleGAN generator (a mapping with a label input). "
            f"Received: generator={generator.name!r} (unconditional)"
        )
    samples_per_class = check_positive_integer(samples_per_class, "samples_per_class")
    validate_distribution(latent_distribution)
    latents = sample_latent(samples_per_class, int(mapping.inputs[0].shape[-1]), distribution=latent_distribution,
                            seed=seed)
    means = [latents_to_w(generator, latents, np.full((samples_per_class,), c, np.int32),
                          batch_size=batch_size).mean(axis=0) for c in range(num_classes)]
    return np.stack(means).astype(np.float32)


def _as_w_plus(generator, codes, name="codes"):
    """Returns codes as W+ ``(N, num_ws, w_dim)`` float32 and whether they were W."""
    num_ws, w_dim = num_ws_of(generator), w_dim_of(generator)
    codes = np.asarray(codes, dtype=np.float32)
    if codes.ndim == 2 and codes.shape[1] == w_dim:
        return np.repeat(codes[:, None, :], num_ws, axis=1), True
    if codes.ndim == 3 and codes.shape[1:] == (num_ws, w_dim):
        if not np.all(np.isfinite(codes)):
            raise ValueError(f"`{name}` must be finite. Received: {name} with NaN or inf values")
        return codes, False
    raise ValueError(
        f"`{name}` must be W codes (N, {w_dim}) or W+ codes (N, {num_ws}, {w_dim}). Received: {name}.shape={codes.shape}"
    )


def synthesize(generator, codes, *, noise_mode="const", batch_size=64):
    """Returns the images of W codes ``(N, w_dim)`` or W+ codes ``(N, num_ws, w_dim)``, float32 in [-1, 1].

    Args:
        generator: a StyleGAN generator.
        codes: W or W+ codes (W is W+ with identical rows).
        noise_mode: the noise used while rendering (default ``"const"``: the same code always
            gives the same image; ``"random"`` draws new noise).
        batch_size: codes per forward pass.

    Raises:
        ValueError: for codes of the wrong shape or a generator that is not a StyleGAN one.
    """
    _, synthesis, _ = _check_stylegan(generator)
    ws, _ = _as_w_plus(generator, codes)
    batch_size = check_positive_integer(batch_size, "batch_size")
    with fixed_noise(generator, noise_mode):
        parts = [
            np.asarray(keras.ops.convert_to_numpy(synthesis(ws[start : start + batch_size], training=False)), np.float32)
            for start in range(0, len(ws), batch_size)
        ]
    if not parts:
        return np.zeros((0, *synthesis.outputs[0].shape[1:]), np.float32)
    return np.concatenate(parts)


def search_view(generator, space):
    """Returns a ``code -> image`` model over the synthesis network's layers (same weights).

    ``space="w"``: input ``(N, w_dim)``, repeated to every layer; ``"w+"``: input ``(N, num_ws *
    w_dim)``, reshaped to W+ (flat, so that ``invert_images`` can search it as rows).
    """
    if space not in SPACES:
        raise ValueError(f"`space` must be one of {SPACES}. Received: space={space!r}")
    _, synthesis, _ = _check_stylegan(generator)
    num_ws, w_dim = num_ws_of(generator), w_dim_of(generator)
    if space == "w":
        code = keras.Input(shape=(w_dim,), name="w")
        ws = keras.layers.RepeatVector(num_ws, name="broadcast_w")(code)
    else:
        code = keras.Input(shape=(num_ws * w_dim,), name="w_plus")
        ws = keras.layers.Reshape((num_ws, w_dim), name="unflatten_w_plus")(code)
    return keras.Model(code, synthesis(ws), name=f"{space.replace('+', '_plus')}_synthesis")


@dataclasses.dataclass
class WInversionResult:
    """What ``invert_images_w`` found.

    Attributes:
        codes: float32 W ``(N, w_dim)`` or W+ ``(N, num_ws, w_dim)`` codes, the best of each image.
        space: ``"w"`` or ``"w+"``.
        errors: float32 ``(N,)``, the loss of each best code (on the [-1, 1] scale).
        reconstructions: float32 ``(N, H, W, C)``, the images of ``codes`` (``noise_mode`` noise).
        loss_history: float32 ``(steps,)``, the loss averaged over images at each step (before
            that step's update); ``loss_history[0]`` is the loss at the start (``w_avg``).
        loss: ``"rmse"`` or ``"l1"``.
        noise_mode: the noise the search rendered with.
    """

    codes: np.ndarray
    space: str
    errors: np.ndarray
    reconstructions: np.ndarray
    loss_history: np.ndarray
    loss: str = "rmse"
    noise_mode: str = "const"


def invert_images_w(
    generator,
    images,
    *,
    space="w",
    steps=500,
    learning_rate=0.05,
    loss="rmse",
    initial_codes=None,
    noise_mode="const",
    batch_size=64,
    verbose=1,
):
    """Finds W or W+ codes whose images reproduce ``images`` (reverse search from ``w_avg``).

    Adam on the code minimises the RMSE (or L1) between the synthesis network's image and the
    target (Fernández et al. 2021's reverse search, in StyleGAN's W space as Karras et al. 2020
    project images, and in W+ as Abdal et al. 2019). Every code starts at the generator's
    ``w_avg`` (all rows, for W+) unless ``initial_codes`` are given (e.g. an encoder's W codes);
    the generator's weights are not changed (it runs with ``training=False``, gradients are taken
    with respect to the codes only).

    Args:
        generator: a StyleGAN generator (``build_stylegan_generator``).
        images: float32 ``(N, H, W, C)`` targets in [-1, 1].
        space: ``"w"`` (one w for every layer) or ``"w+"`` (one w per layer).
        steps: Adam steps (>= 0).
        learning_rate: Adam step size on the code.
        loss: ``"rmse"`` or ``"l1"``.
        initial_codes: None (start at ``w_avg``), or W codes ``(N, w_dim)`` (for W+ repeated to
            every row) or, for ``space="w+"``, W+ codes ``(N, num_ws, w_dim)``.
        noise_mode: the noise during the search (``"const"``: fixed maps; ``"none"``).
        batch_size: images per batch.
        verbose: 0 silent, 1 progress bar, 2 one line per batch.

    Returns:
        ``WInversionResult`` (codes, space, errors, reconstructions, loss_history, loss, noise_mode).

    Raises:
        ValueError: for a generator that is not a StyleGAN one, an unknown ``space``, ``loss`` or
            ``noise_mode``, ``noise_mode="random"`` (the search needs a deterministic image),
            images or initial codes of the wrong shape.
    """
    _, _, w_avg = _check_stylegan(generator)
    images = check_images(generator, images)
    if noise_mode == "random":
        raise ValueError(
            "The search needs the same image for the same code: use noise_mode='const' or 'none'. "
            "Received: noise_mode='random'"
        )
    view = search_view(generator, space)
    num_ws, w_dim = num_ws_of(generator), w_dim_of(generator)
    if initial_codes is None:
        starts = np.tile(w_avg[None], (len(images), 1))
        starts_plus = np.repeat(starts[:, None], num_ws, axis=1)
    else:
        starts_plus, was_w = _as_w_plus(generator, initial_codes, name="initial_codes")
        if len(starts_plus) != len(images):
            raise ValueError(
                f"`initial_codes` must have one code per image ({len(images)}). "
                f"Received: initial_codes.shape={np.shape(initial_codes)}"
            )
        if space == "w" and not was_w:
            raise ValueError(
                f"space='w' starts from W codes (N, {w_dim}). Received: initial_codes.shape={np.shape(initial_codes)}"
            )
        starts = starts_plus[:, 0]
    flat_starts = starts if space == "w" else starts_plus.reshape(len(images), num_ws * w_dim)
    with fixed_noise(generator, noise_mode):
        result = invert_images(
            view, images, steps=steps, learning_rate=learning_rate, loss=loss, restarts=1,
            latent_distribution="normal", clip_to_prior=False, initial_codes=flat_starts,
            batch_size=batch_size, verbose=verbose,
        )
    codes = result.codes if space == "w" else result.codes.reshape(len(images), num_ws, w_dim)
    return WInversionResult(
        codes=codes.astype(np.float32),
        space=space,
        errors=result.errors,
        reconstructions=result.reconstructions,
        loss_history=result.loss_history,
        loss=loss,
        noise_mode=noise_mode,
    )
