"""Figures of the latent tools: targets vs reconstructions, interpolation strips and GIFs, edits.

Layouts after Fernández et al. 2021 (Fig. 7 targets vs recovered images, Figs. 8-9 class
inversion, Figs. 11-12 interpolations) and Saboo et al. (Fig. 2D edits along a direction). Built on
``ganaug.figures`` (``image_grid``, ``labelled_grid_figure``, ``save_gif``, ``save_png``).
"""

import numpy as np

from ganaug.figures import image_grid, labelled_grid_figure, save_gif


def reconstruction_figure(targets, reconstructions, *, errors=None, column_labels=None, title=None):
    """Returns a two-row Figure: targets on top, reconstructions below.

    Args:
        targets: ``(N, H, W, C)`` float in [-1, 1] or uint8.
        reconstructions: same shape.
        errors: optional ``(N,)`` numbers written under each column label (e.g. the RMSE or PSNR).
        column_labels: optional N labels (e.g. file names).
        title: figure title.

    Returns:
        ``matplotlib.figure.Figure``.

    Raises:
        ValueError: if the two batches differ in length or ``errors`` has the wrong length.
    """
    targets = np.asarray(targets)
    reconstructions = np.asarray(reconstructions)
    if targets.shape != reconstructions.shape:
        raise ValueError(
            f"`reconstructions` must have the shape of `targets` {targets.shape}. "
            f"Received: reconstructions.shape={reconstructions.shape}"
        )
    labels = list(column_labels) if column_labels is not None else [str(i) for i in range(len(targets))]
    if len(labels) != len(targets):
        raise ValueError(f"`column_labels` must have {len(targets)} entries. Received: {len(labels)}")
    if errors is not None:
        errors = np.asarray(errors).reshape(-1)
        if len(errors) != len(targets):
            raise ValueError(f"`errors` must have {len(targets)} entries. Received: errors.shape={errors.shape}")
        labels = [f"{label}\n{error:.3g}" for label, error in zip(labels, errors)]
    return labelled_grid_figure(
        [targets, reconstructions],
        row_labels=["target", "reconstruction"],
        column_labels=labels,
        title=title,
    )


def interpolation_strip(images, *, padding=2):
    """Returns one uint8 picture with the images of a path side by side (one row)."""
    images = np.asarray(images)
    return image_grid(images, num_columns=len(images), padding=padding)


def interpolation_figure(paths, *, row_labels=None, weights=None, title=None):
    """Returns a Figure with one interpolation path per row, columns labelled by t.

    Args:
        paths: ``(rows, num_steps, H, W, C)`` or ``(num_steps, H, W, C)`` for one path.
        row_labels: one label per row (e.g. ``"slerp a -> b"``).
        weights: the t value of each column; ``linspace(0, 1, num_steps)`` when None.
        title: figure title.

    Returns:
        ``matplotlib.figure.Figure``.
    """
    paths = np.asarray(paths)
    if paths.ndim == 4:
        paths = paths[None]
    if paths.ndim != 5:
        raise ValueError(
            f"`paths` must have shape (rows, num_steps, H, W, C). Received: paths.shape={paths.shape}"
        )
    if weights is None:
        weights = np.linspace(0.0, 1.0, paths.shape[1])
    return labelled_grid_figure(
        paths,
        row_labels=row_labels,
        column_labels=[f"t={w:.2f}" for w in weights],
        title=title,
    )


def class_inversion_figure(reconstructions, inverted, *, class_names=None, labels=None, target_labels=None, title=None):
    """Returns a two-row Figure: images with their own label above the same codes with the new label.

    Args:
        reconstructions: ``(N, H, W, C)``, ``G(z, label)``.
        inverted: ``(N, H, W, C)``, ``G(z, target_label)``.
        class_names: optional list mapping label index to name.
        labels: ``(N,)`` original labels (column labels), optional.
        target_labels: ``(N,)`` new labels, optional (written in the row label when all equal).
        title: figure title.

    Returns:
        ``matplotlib.figure.Figure``.
    """

    def name(label):
        return class_names[int(label)] if class_names is not None else str(int(label))

    column_labels = None
    if labels is not None and target_labels is not None:
        column_labels = [f"{name(a)} -> {name(b)}" for a, b in zip(labels, target_labels)]
    return labelled_grid_figure(
        [np.asarray(reconstructions), np.asarray(inverted)],
        row_labels=["original class", "inverted class"],
        column_labels=column_labels,
        title=title,
    )


def edit_figure(edited, strengths, *, row_labels=None, title=None):
    """Returns a Figure of edits along a direction: one row per code, one column per strength.

    Args:
        edited: ``(N * len(strengths), H, W, C)`` code-major images (as ``directions.edit`` orders
            codes) or ``(N, len(strengths), H, W, C)``.
        strengths: the strengths (column labels).
        row_labels: one label per code.
        title: figure title.

    Returns:
        ``matplotlib.figure.Figure``.
    """
    edited = np.asarray(edited)
    strengths = list(strengths)
    if edited.ndim == 4:
        if len(edited) % len(strengths):
            raise ValueError(
                f"`edited` must hold N * {len(strengths)} images. Received: edited.shape={edited.shape}"
            )
        edited = edited.reshape(-1, len(strengths), *edited.shape[1:])
    return labelled_grid_figure(
        edited, row_labels=row_labels, column_labels=[f"{s:+g}" for s in strengths], title=title
    )


def save_interpolation_gif(path, images, *, duration_ms=120, bounce=True):
    """Writes an animated GIF of an interpolation path and returns the path.

    Args:
        path: the ``.gif`` file to write.
        images: ``(num_steps, H, W, C)`` float in [-1, 1] or uint8.
        duration_ms: time per frame.
        bounce: also play the path backwards (start -> end -> start) so the loop is seamless.

    Returns:
        ``path``.
    """
    images = np.asarray(images)
    if bounce and len(images) > 2:
        images = np.concatenate([images, images[-2:0:-1]])
    return save_gif(path, images, duration_ms=duration_ms)


def response_figure(response, *, class_name=None, title=None):
    """Returns a two-panel Figure of a ``DirectionResponse``: the dose-response curve and the identity drift.

    Left: the classifier's target-class probability against the strength, one thin line per
    image (solid where the image responds monotonically, dotted where not) and the mean in black.
    Right: mean SSIM to the original image and to the unedited code's rendering, and mean pixel
    MSE (right axis), against the strength.

    Args:
        response: a ``ganaug.latent.editing.DirectionResponse``.
        class_name: the target class's name for the axis label (default its index).
        title: figure title (default: the fraction of monotone images).

    Returns:
        ``matplotlib.figure.Figure``.
    """
    from matplotlib.figure import Figure

    strengths = np.asarray(response.strengths)
    name = class_name if class_name is not None else f"class {response.target_class}"
    figure = Figure(figsize=(9.0, 3.6))
    left, right = figure.subplots(1, 2)
    for row, monotone in zip(response.probabilities, response.monotone):
        left.plot(strengths, row, color="tab:blue" if monotone else "tab:red", alpha=0.35, linewidth=0.8,
                  linestyle="-" if monotone else ":")
    left.plot(strengths, response.probabilities.mean(axis=0), color="black", linewidth=2.0, marker="o", label="mean")
    left.set_xlabel("strength (latent units along the unit direction)")
    left.set_ylabel(f"P({name})")
    left.set_ylim(-0.02, 1.02)
    left.legend(loc="best", fontsize=8, title="blue: monotone, red: not", title_fontsize=7)
    right.plot(strengths, response.ssim.mean(axis=0), color="tab:green", marker="o", label="SSIM to original")
    right.plot(strengths, response.ssim_to_reconstruction.mean(axis=0), color="tab:green", linestyle="--",
               marker=".", label="SSIM to unedited rendering")
    right.set_xlabel("strength")
    right.set_ylabel("SSIM")
    right.set_ylim(-0.05, 1.05)
    twin = right.twinx()
    twin.plot(strengths, response.mse.mean(axis=0), color="tab:purple", marker="s", label="MSE to original")
    twin.set_ylabel("pixel MSE ([-1, 1] scale)")
    lines = right.get_lines() + twin.get_lines()
    right.legend(lines, [line.get_label() for line in lines], loc="lower center", fontsize=7)
    right.set_title("identity drift", fontsize=9)
    left.set_title(f"dose response: {response.fraction_monotone:.0%} of {len(response.probabilities)} monotone",
                   fontsize=9)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure
