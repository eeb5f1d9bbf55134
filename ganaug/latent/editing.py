"""Edits along a latent direction, and whether they do what the direction claims (a dose-response check).

Saboo et al. ("Towards disease-aware image editing of chest X-rays", Fig. 2D) move the W codes of
healthy X-rays along a cardiomegaly direction and show, by eye, that the heart grows while the
patient stays recognisable. Two things are claimed there and neither is measured: that the edit
confers the condition, and that it keeps the identity. ``direction_response`` measures both:

* **dose response**: a classifier trained on real images gives the probability of the target
  class of every edited image; a direction that encodes the condition raises it with the strength,
  monotonically, for most images (``fraction_monotone``);
* **identity drift**: pixel MSE and SSIM of every edited image to the original image (the real
  image when images were edited, else the unedited code's rendering) and to the unedited code's
  rendering (the drift due to the edit alone, without the inversion's error).

``edit_along`` renders the strips (one row per image, one column per strength) in z (any
generator) or in StyleGAN's W / W+ spaces; given images instead of codes, it first finds their
codes by reverse search (``invert_images`` / ``invert_images_w``).
"""

import dataclasses
import numbers

import keras
import numpy as np

from ganaug.latent.directions import LatentDirection, _unit
from ganaug.latent.inversion import check_positive_integer, generate_images, invert_images
from ganaug.latent.quality import mse_per_image, ssim_per_image
from ganaug.latent.w_inversion import (
    SPACES as W_SPACES,
    _as_w_plus,
    fixed_noise,
    invert_images_w,
    num_ws_of,
    synthesize,
    w_dim_of,
)
from ganaug.models import stylegan

SPACES = ("z", *W_SPACES)


def _is_stylegan(generator):
    try:
        stylegan.synthesis_of(generator)
    except (ValueError, AttributeError):
        return False
    return True


@dataclasses.dataclass
class EditStrip:
    """Images edited along a direction, one row per image, one column per strength.

    Attributes:
        images: float32 ``(N, S, H, W, C)`` in [-1, 1]: ``images[i, j]`` renders
            ``codes[i] + strengths[j] * v``.
        codes: float32 ``(N, S, *code_shape)``: the moved codes (z or W ``(latent_dim,)``, W+
            ``(num_ws, w_dim)``).
        strengths: float32 ``(S,)``, in the order given.
        space: ``"z"``, ``"w"`` or ``"w+"``.
        originals: float32 ``(N, H, W, C)``: the images that were edited (when ``edit_along`` got
            images), else the renderings of the unedited codes.
        reconstructions: float32 ``(N, H, W, C)``, the renderings of the unedited codes.
        labels: int32 ``(N,)`` labels of a conditional generator (kept through the edit), or None.
    """

    images: np.ndarray
    codes: np.ndarray
    strengths: np.ndarray
    space: str
    originals: np.ndarray
    reconstructions: np.ndarray
    labels: np.ndarray = None

    def flat_images(self):
        """Returns ``images`` as ``(N * S, H, W, C)``, image-major (as ``latent.edit`` orders codes)."""
        return self.images.reshape(-1, *self.images.shape[2:])


def _check_strengths(strengths):
    values = np.asarray(strengths, dtype=np.float64).reshape(-1)
    if values.size < 2 or not np.all(np.isfinite(values)):
        raise ValueError(f"`strengths` must hold at least 2 finite numbers. Received: strengths={strengths!r}")
    if len(np.unique(values)) != len(values):
        raise ValueError(f"`strengths` must be distinct. Received: strengths={strengths!r}")
    return values.astype(np.float32)


def _check_space(generator, space):
    if space not in SPACES:
        raise ValueError(f"`space` must be one of {SPACES}. Received: space={space!r}")
    if space != "z" and not _is_stylegan(generator):
        raise ValueError(
            f"space={space!r} needs a StyleGAN generator (build_stylegan_generator). Received: "
            f"generator={getattr(generator, 'name', type(generator).__name__)!r}"
        )


def _code_shape(generator, space):
    from ganaug.latent.inversion import latent_dim_of

    if space == "z":
        return (latent_dim_of(generator),)
    if space == "w":
        return (w_dim_of(generator),)
    return (num_ws_of(generator), w_dim_of(generator))


def _direction_for(generator, space, direction, code_shape):
    """Returns the unit step as an array of ``code_shape`` (a W direction moves every W+ row)."""
    vector = direction.vector if isinstance(direction, LatentDirection) else direction
    vector = np.asarray(vector, dtype=np.float32).reshape(-1)
    size = int(np.prod(code_shape))
    if vector.size == size:
        return _unit(vector, "direction").reshape(code_shape)
    if space == "w+" and vector.size == code_shape[1]:
        # A W direction applied to W+ codes: the same unit step on every row (a W edit).
        return np.tile(_unit(vector, "direction")[None], (code_shape[0], 1))
    expected = f"{size}" + (f" (flattened W+) or {code_shape[1]} (W)" if space == "w+" else "")
    raise ValueError(
        f"`direction` must have length {expected} for space={space!r}. Received: direction of length {vector.size}"
    )


def _render(generator, space, codes, labels, batch_size):
    if space == "z":
        if _is_stylegan(generator):
            with fixed_noise(generator, "const"):
                return generate_images(generator, codes, labels, batch_size=batch_size)
        return generate_images(generator, codes, labels, batch_size=batch_size)
    return synthesize(generator, codes, batch_size=batch_size)


def _invert(generator, space, images, labels, *, steps, learning_rate, batch_size, seed, verbose):
    if space == "z":
        if _is_stylegan(generator):
            with fixed_noise(generator, "const"):
                result = invert_images(generator, images, labels, steps=steps, learning_rate=learning_rate,
                                       batch_size=batch_size, seed=seed, verbose=verbose)
        else:
            result = invert_images(generator, images, labels, steps=steps, learning_rate=learning_rate,
                                   batch_size=batch_size, seed=seed, verbose=verbose)
        return result.codes
    return invert_images_w(generator, images, space=space, steps=steps, learning_rate=learning_rate,
                           batch_size=batch_size, verbose=verbose).codes


def edit_along(
    generator,
    direction,
    *,
    codes=None,
    images=None,
    originals=None,
    labels=None,
    strengths=(-2.0, -1.0, 0.0, 1.0, 2.0),
    space="z",
    inversion_steps=200,
    learning_rate=0.05,
    batch_size=64,
    seed=0,
    verbose=0,
):
    """Moves codes (or the codes of images) along a unit direction and renders a strip per image.

    Saboo et al. (Fig. 2D): the codes of real images translated along a disease direction,
    ``code + s v`` for every strength ``s`` (``v`` normalised here). Pass ``codes`` (z, W or W+)
    or ``images``; images are first inverted by reverse search in ``space`` (``invert_images`` in
    z, ``invert_images_w`` from ``w_avg`` in W / W+, ``inversion_steps`` Adam steps) and kept as
    ``originals`` for the identity-drift figures of ``direction_response``. The generator is run
    in inference mode with its noise held constant (StyleGAN), so the same code renders the same
    image in every column; its weights are not changed.

    Args:
        generator: the generator (any family for ``space="z"``, a StyleGAN one for W / W+).
        direction: ``LatentDirection`` or a vector: length ``latent_dim`` (z), ``w_dim`` (W), or
            for W+ either ``num_ws * w_dim`` (a flattened W+ direction) or ``w_dim`` (a W
            direction, moving every row alike).
        codes: float32 codes ``(N, latent_dim)`` / ``(N, w_dim)`` / ``(N, num_ws, w_dim)``; W
            codes are accepted for ``space="w+"`` (repeated to every row).
        images: float32 ``(N, H, W, C)`` in [-1, 1] (instead of ``codes``).
        originals: with ``codes``, the images the codes were found from (float32 ``(N, H, W, C)``),
            kept as the strip's ``originals``; None: the unedited codes' renderings.
        labels: int ``(N,)`` labels of a conditional generator (``space="z"``), kept through the edit.
        strengths: at least 2 distinct finite strengths, in latent units along the unit vector.
        space: ``"z"``, ``"w"`` or ``"w+"``.
        inversion_steps: reverse-search steps for ``images`` (>= 0).
        learning_rate: Adam step size of the reverse search.
        batch_size: codes per forward pass.
        seed: seed of the reverse search (z).
        verbose: 0 silent, 1 progress bar of the reverse search.

    Returns:
        ``EditStrip`` (images ``(N, S, H, W, C)``, codes, strengths, space, originals,
        reconstructions, labels).

    Raises:
        ValueError: for both or neither of ``codes`` / ``images``, an unknown ``space`` (or W / W+
            with a generator that is not a StyleGAN one), fewer than 2 or repeated strengths, a
            direction or codes of the wrong length.
    """
    if (codes is None) == (images is None):
        raise ValueError(
            "Pass exactly one of `codes` and `images`. Received: "
            f"codes={'None' if codes is None else 'an array'}, images={'None' if images is None else 'an array'}"
        )
    _check_space(generator, space)
    strengths = _check_strengths(strengths)
    batch_size = check_positive_integer(batch_size, "batch_size")
    if isinstance(inversion_steps, bool) or not isinstance(inversion_steps, numbers.Integral) or inversion_steps < 0:
        raise ValueError(f"`inversion_steps` must be an integer >= 0. Received: inversion_steps={inversion_steps!r}")
    code_shape = _code_shape(generator, space)
    step = _direction_for(generator, space, direction, code_shape)
    if labels is not None:
        labels = np.asarray(labels, dtype=np.int32).reshape(-1)
    if originals is not None and images is not None:
        raise ValueError("`originals` go with `codes`; with `images` the images are the originals. Received: both")
    if images is not None:
        originals = np.asarray(images, dtype=np.float32)
        codes = _invert(generator, space, originals, labels, steps=int(inversion_steps), learning_rate=learning_rate,
                        batch_size=batch_size, seed=seed, verbose=verbose)
    codes = np.asarray(codes, dtype=np.float32)
    if space == "w+":
        codes, _ = _as_w_plus(generator, codes)
    elif codes.ndim != 2 or codes.shape[1:] != code_shape:
        raise ValueError(
            f"`codes` must have shape (N, {code_shape[0]}) for space={space!r}. Received: codes.shape={codes.shape}"
        )
    if not np.all(np.isfinite(codes)):
        raise ValueError("`codes` must be finite. Received: codes with NaN or inf values")
    count = len(codes)
    if labels is not None and len(labels) != count:
        raise ValueError(f"`labels` must have one label per code ({count}). Received: labels.shape={labels.shape}")
    moved = codes[:, None] + strengths.reshape(1, -1, *([1] * len(code_shape))) * step[None, None]
    flat = moved.reshape(count * len(strengths), *code_shape)
    flat_labels = None if labels is None else np.repeat(labels, len(strengths))
    rendered = _render(generator, space, flat, flat_labels, batch_size)
    reconstructions = _render(generator, space, codes, labels, batch_size)
    if originals is not None:
        originals = np.asarray(originals, dtype=np.float32)
        if originals.shape != reconstructions.shape:
            raise ValueError(
                f"`originals` must have one image per code, shape {reconstructions.shape}. "
                f"Received: originals.shape={originals.shape}"
            )
    return EditStrip(
        images=rendered.reshape(count, len(strengths), *rendered.shape[1:]),
        codes=moved.astype(np.float32),
        strengths=strengths,
        space=space,
        originals=reconstructions if originals is None else originals,
        reconstructions=reconstructions,
        labels=labels,
    )


@dataclasses.dataclass
class DirectionResponse:
    """How a classifier's target-class probability and the identity change along a direction.

    Attributes:
        strengths: float32 ``(S,)``, sorted ascending (columns of every array below).
        target_class: the class index whose probability is measured.
        probabilities: float32 ``(N, S)``, the classifier's probability of ``target_class``.
        monotone: bool ``(N,)``: the probability never falls by more than ``tolerance`` from one
            strength to the next and ends more than ``tolerance`` higher than it starts.
        fraction_monotone: the fraction of images with ``monotone`` true.
        rise: float32 ``(N,)``, probability at the largest strength minus at the smallest.
        spearman: float32 ``(N,)``, the Spearman rank correlation of strength and probability per
            image (NaN where the probability is constant).
        mse: float32 ``(N, S)``, pixel MSE ([-1, 1] scale) of each edited image to the original.
        ssim: float32 ``(N, S)``, SSIM of each edited image to the original.
        mse_to_reconstruction: float32 ``(N, S)``, MSE to the unedited code's rendering.
        ssim_to_reconstruction: float32 ``(N, S)``, SSIM to the unedited code's rendering.
        tolerance: the largest fall still counted as monotone.
        original_probabilities: float32 ``(N,)``, the target-class probability of the originals.
    """

    strengths: np.ndarray
    target_class: int
    probabilities: np.ndarray
    monotone: np.ndarray
    fraction_monotone: float
    rise: np.ndarray
    spearman: np.ndarray
    mse: np.ndarray
    ssim: np.ndarray
    mse_to_reconstruction: np.ndarray
    ssim_to_reconstruction: np.ndarray
    tolerance: float
    original_probabilities: np.ndarray

    def up_to(self, max_strength):
        """Returns the response over the strengths ``<= max_strength`` only, with its verdict recomputed.

        The check of a range fixed in advance that is shorter than the one the strip was rendered
        over (e.g. from the source class to the target class's mean, where the full strip also
        goes beyond it): the same images, the same probabilities and the same rule (and
        ``tolerance``) as ``direction_response``, on the first columns only.

        Args:
            max_strength: the largest strength kept; at least two strengths must remain.

        Returns:
            ``DirectionResponse``.

        Raises:
            ValueError: if fewer than two strengths are ``<= max_strength``.
        """
        keep = self.strengths <= np.float32(max_strength)
        if int(keep.sum()) < 2:
            raise ValueError(
                f"`max_strength` must keep at least two strengths. Received: max_strength={max_strength!r} "
                f"with strengths {self.strengths.tolist()}"
            )
        probabilities = self.probabilities[:, keep]
        monotone, rise = _monotone_rise(probabilities, self.tolerance)
        return dataclasses.replace(
            self,
            strengths=self.strengths[keep],
            probabilities=probabilities,
            monotone=monotone,
            fraction_monotone=float(np.mean(monotone)) if len(monotone) else float("nan"),
            rise=rise.astype(np.float32),
            spearman=_spearman(self.strengths[keep], probabilities),
            mse=self.mse[:, keep],
            ssim=self.ssim[:, keep],
            mse_to_reconstruction=self.mse_to_reconstruction[:, keep],
            ssim_to_reconstruction=self.ssim_to_reconstruction[:, keep],
        )

    def specificity(self, control):
        """Returns how often the edit beats the same images' edit along a control direction.

        A move along a direction with no class in it (e.g. between two random halves of the source
        class) can also raise the target-class probability: an edited rendering drifts towards the
        classes near the source, and with a small ``tolerance`` such a drift counts as monotone.
        Each image's rise here is therefore compared with its own rise along ``control``, which
        must be the same images at the same strengths.

        Args:
            control: the ``DirectionResponse`` of the same images along the control direction.

        Returns:
            dict: ``fraction_rise_above_control`` (the rise here is larger than along the control),
            ``fraction_monotone_and_above_control`` (that, and monotone here), ``median_rise`` and
            ``median_control_rise``.

        Raises:
            TypeError: if ``control`` is not a ``DirectionResponse``.
            ValueError: if it does not hold the same number of images and strengths.
        """
        if not isinstance(control, DirectionResponse):
            raise TypeError(f"`control` must be a DirectionResponse. Received: control={type(control).__name__}")
        if control.probabilities.shape != self.probabilities.shape or not np.allclose(control.strengths, self.strengths):
            raise ValueError(
                "`control` must score the same images at the same strengths. Received: control with probabilities "
                f"{control.probabilities.shape} at {control.strengths.tolist()}, this response "
                f"{self.probabilities.shape} at {self.strengths.tolist()}"
            )
        rise, control_rise = self.rise.astype(np.float64), control.rise.astype(np.float64)
        above = rise > control_rise
        return {
            "fraction_rise_above_control": float(np.mean(above)),
            "fraction_monotone_and_above_control": float(np.mean(above & self.monotone)),
            "median_rise": float(np.median(rise)),
            "median_control_rise": float(np.median(control_rise)),
        }

    def summary(self):
        """Returns the means per strength and the per-image verdict as a JSON-ready dict."""

        def listed(values):
            return [float(v) for v in values]

        return {
            "target_class": int(self.target_class),
            "num_images": int(len(self.probabilities)),
            "strengths": listed(self.strengths),
            "mean_probability": listed(self.probabilities.mean(axis=0)),
            "median_probability": listed(np.median(self.probabilities, axis=0)),
            "fraction_monotone": float(self.fraction_monotone),
            "tolerance": float(self.tolerance),
            "mean_rise": float(self.rise.mean()),
            "fraction_rising": float(np.mean(self.rise > 0)),
            "median_spearman": float(np.nanmedian(self.spearman)) if np.any(np.isfinite(self.spearman)) else None,
            "mean_original_probability": float(self.original_probabilities.mean()),
            "mean_mse": listed(self.mse.mean(axis=0)),
            "mean_ssim": listed(self.ssim.mean(axis=0)),
            "mean_mse_to_reconstruction": listed(self.mse_to_reconstruction.mean(axis=0)),
            "mean_ssim_to_reconstruction": listed(self.ssim_to_reconstruction.mean(axis=0)),
        }


def _monotone_rise(probabilities, tolerance):
    """Per image (row): never falls by more than ``tolerance`` and ends more than it above its start."""
    rise = probabilities[:, -1] - probabilities[:, 0]
    return np.all(np.diff(probabilities, axis=1) >= -tolerance, axis=1) & (rise > tolerance), rise


def _class_probabilities(classifier, images, batch_size):
    parts = [
        np.asarray(keras.ops.convert_to_numpy(classifier(images[start : start + batch_size], training=False)))
        for start in range(0, len(images), batch_size)
    ]
    probabilities = np.concatenate(parts).astype(np.float64)
    if probabilities.ndim != 2:
        raise ValueError(
            "`classifier` must return class probabilities (N, num_classes). "
            f"Received: output shape {probabilities.shape}"
        )
    return probabilities


def _spearman(strengths, probabilities):
    ranks_x = np.argsort(np.argsort(strengths)).astype(np.float64)
    result = np.full(len(probabilities), np.nan, np.float32)
    for i, row in enumerate(probabilities):
        # Average ranks for ties (saturated probabilities tie often).
        order = np.argsort(row, kind="stable")
        ranks_y = np.empty(len(row))
        sorted_row = row[order]
        start = 0
        while start < len(row):
            end = start
            while end + 1 < len(row) and sorted_row[end + 1] == sorted_row[start]:
                end += 1
            ranks_y[order[start : end + 1]] = (start + end) / 2.0
            start = end + 1
        if np.std(ranks_y) > 0:
            result[i] = np.corrcoef(ranks_x, ranks_y)[0, 1]
    return result


def direction_response(classifier, strip, *, target_class, tolerance=1e-3, batch_size=64):
    """Measures the target-class probability and the identity drift of edited images against strength.

    A dose-response check of an edit along a direction (Saboo et al. show edits by eye only): a
    classifier trained on *real* images scores every image of ``strip``; an image responds
    monotonically when its target-class probability never falls (by more than ``tolerance``)
    from one strength to the next and ends more than ``tolerance`` above where it started (a
    probability stuck at 0 or 1 does not count as a rise). Identity drift is the pixel
    MSE and SSIM (``ganaug.latent.quality``) of every edited image to the original image and to
    the unedited code's rendering.

    Args:
        classifier: a ``keras.Model`` mapping images in [-1, 1] to class probabilities
            ``(N, num_classes)`` (e.g. ``ganaug.models.build_classifier`` trained with
            ``ganaug.training.train_classifier`` on real images).
        strip: an ``EditStrip`` from ``edit_along``.
        target_class: the index of the class the direction points to (``0 <= target_class <
            num_classes``).
        tolerance: the largest fall of the probability between neighbouring strengths still
            counted as monotone, and the smallest overall rise counted as one (>= 0; absorbs
            float noise of saturated softmax outputs).
        batch_size: images per forward pass.

    Returns:
        ``DirectionResponse`` (strengths sorted ascending; ``summary()`` for a dict).

    Raises:
        TypeError: if ``classifier`` is not a keras.Model or ``strip`` not an ``EditStrip``.
        ValueError: for a ``target_class`` outside the classifier's classes, a negative
            ``tolerance`` or images the classifier does not take.
    """
    if not isinstance(classifier, keras.Model):
        raise TypeError(f"`classifier` must be a keras.Model. Received: classifier={type(classifier).__name__}")
    if not isinstance(strip, EditStrip):
        raise TypeError(f"`strip` must be an EditStrip (from edit_along). Received: strip={type(strip).__name__}")
    batch_size = check_positive_integer(batch_size, "batch_size")
    tolerance = float(tolerance)
    if not np.isfinite(tolerance) or tolerance < 0:
        raise ValueError(f"`tolerance` must be a finite number >= 0. Received: tolerance={tolerance!r}")
    num_classes = int(classifier.outputs[0].shape[-1])
    integral = isinstance(target_class, numbers.Integral) and not isinstance(target_class, bool)
    if not integral or not 0 <= target_class < num_classes:
        raise ValueError(
            f"`target_class` must be a class index in [0, {num_classes - 1}]. Received: target_class={target_class!r}"
        )
    expected = tuple(classifier.inputs[0].shape[1:])
    if tuple(strip.images.shape[2:]) != expected:
        raise ValueError(
            f"The strip's images {tuple(strip.images.shape[2:])} do not match the classifier's input {expected}. "
            f"Received: strip.images.shape={strip.images.shape}"
        )
    order = np.argsort(strip.strengths, kind="stable")
    strengths = strip.strengths[order]
    images = strip.images[:, order]
    count, steps = images.shape[:2]
    flat = images.reshape(count * steps, *images.shape[2:])
    probabilities = _class_probabilities(classifier, flat, batch_size)[:, target_class].reshape(count, steps)
    original_probabilities = _class_probabilities(classifier, strip.originals, batch_size)[:, target_class]
    monotone, rise = _monotone_rise(probabilities, tolerance)

    def per_strength(metric, references):
        repeated = np.repeat(references, steps, axis=0)
        return metric(repeated, flat).reshape(count, steps)

    return DirectionResponse(
        strengths=strengths.astype(np.float32),
        target_class=int(target_class),
        probabilities=probabilities.astype(np.float32),
        monotone=monotone,
        fraction_monotone=float(np.mean(monotone)) if count else float("nan"),
        rise=rise.astype(np.float32),
        spearman=_spearman(strengths, probabilities),
        mse=per_strength(mse_per_image, strip.originals),
        ssim=per_strength(ssim_per_image, strip.originals),
        mse_to_reconstruction=per_strength(mse_per_image, strip.reconstructions),
        ssim_to_reconstruction=per_strength(ssim_per_image, strip.reconstructions),
        tolerance=tolerance,
        original_probabilities=original_probabilities.astype(np.float32),
    )
