"""Pictures of image batches: grids, labelled grids, strips, animated GIFs and curves.

Every function takes images the toolkit's way (float32 in [-1, 1], NHWC) or as uint8 and returns
or writes uint8 RGB pictures. Used by training (sample grids), the latent tools (reconstructions,
interpolation strips), Grad-CAM figures and the report.
"""

import os

import numpy as np


def images_to_uint8(images):
    """Returns ``images`` as uint8 RGB, NHWC with 3 channels.

    Args:
        images: array ``(N, H, W, C)`` (or ``(H, W, C)``), float in [-1, 1] or uint8; C is 1 or 3.

    Returns:
        uint8 array ``(N, H, W, 3)``.

    Raises:
        ValueError: if the array is not 3-D or 4-D or has a channel count other than 1 or 3.
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            "`images` must have shape (N, H, W, C) with C in (1, 3). "
            f"Received: images.shape={images.shape}"
        )
    if images.dtype != np.uint8:
        images = np.clip(np.rint((images.astype(np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    return images


def image_grid(images, *, num_columns=None, padding=2, pad_value=255):
    """Returns one uint8 picture with the images tiled row by row.

    Args:
        images: ``(N, H, W, C)`` float in [-1, 1] or uint8.
        num_columns: images per row; ``ceil(sqrt(N))`` when None.
        padding: pixels between images.
        pad_value: grey level of the padding and of empty cells.

    Returns:
        uint8 array ``(rows * (H + padding) + padding, columns * (W + padding) + padding, 3)``.
    """
    images = images_to_uint8(images)
    count, height, width, _ = images.shape
    if count == 0:
        raise ValueError("`images` is empty. Received: images.shape=(0, ...)")
    if num_columns is None:
        num_columns = int(np.ceil(np.sqrt(count)))
    if num_columns < 1:
        raise ValueError(f"`num_columns` must be >= 1. Received: num_columns={num_columns}")
    num_rows = int(np.ceil(count / num_columns))
    grid = np.full(
        (num_rows * (height + padding) + padding, num_columns * (width + padding) + padding, 3),
        pad_value,
        dtype=np.uint8,
    )
    for index in range(count):
        row, column = divmod(index, num_columns)
        top = padding + row * (height + padding)
        left = padding + column * (width + padding)
        grid[top : top + height, left : left + width] = images[index]
    return grid


def save_png(path, picture):
    """Writes a uint8 RGB (or float [-1, 1]) picture to ``path`` as PNG and returns the path."""
    import cv2

    picture = images_to_uint8(picture)[0]
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    if not cv2.imwrite(os.fspath(path), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR)):
        raise ValueError(f"Could not write the image (unsupported extension?): {path}")
    return path


def save_image_grid(path, images, *, num_columns=None, padding=2):
    """Writes ``image_grid(images)`` to ``path`` (PNG) and returns the path."""
    return save_png(path, image_grid(images, num_columns=num_columns, padding=padding))


def labelled_grid_figure(images, *, row_labels=None, column_labels=None, title=None, cell_inches=1.2):
    """Returns a matplotlib Figure with images laid out as a grid and labelled rows/columns.

    Args:
        images: ``(rows, columns, H, W, C)`` array, or a list of rows of images; float in
            [-1, 1] or uint8.
        row_labels: one label per row (written on the left), or None.
        column_labels: one label per column (written on top), or None.
        title: the figure title.
        cell_inches: size of one cell.

    Returns:
        ``matplotlib.figure.Figure``; save it with ``fig.savefig(path)``.
    """
    from matplotlib.figure import Figure

    rows = [images_to_uint8(np.asarray(row)) for row in images]
    num_rows = len(rows)
    num_columns = max(len(row) for row in rows)
    if row_labels is not None and len(row_labels) != num_rows:
        raise ValueError(
            f"`row_labels` must have one label per row ({num_rows}). Received: {len(row_labels)} labels"
        )
    if column_labels is not None and len(column_labels) != num_columns:
        raise ValueError(
            "`column_labels` must have one label per column "
            f"({num_columns}). Received: {len(column_labels)} labels"
        )
    figure = Figure(figsize=(cell_inches * num_columns + 1.0, cell_inches * num_rows + 0.6))
    axes = figure.subplots(num_rows, num_columns, squeeze=False)
    for r, row in enumerate(rows):
        for c in range(num_columns):
            axis = axes[r, c]
            axis.set_xticks([])
            axis.set_yticks([])
            for spine in axis.spines.values():
                spine.set_visible(False)
            if c < len(row):
                axis.imshow(row[c])
            if c == 0 and row_labels is not None:
                axis.set_ylabel(str(row_labels[r]), fontsize=8, rotation=0, ha="right", va="center")
            if r == 0 and column_labels is not None:
                axis.set_title(str(column_labels[c]), fontsize=8)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


def save_figure(figure, path, *, dpi=100):
    """Saves a matplotlib Figure to ``path`` (creating folders) and returns the path."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    figure.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


def save_gif(path, frames, *, duration_ms=120, loop=0):
    """Writes an animated GIF of ``frames`` (``(N, H, W, C)``, [-1, 1] or uint8) and returns the path.

    Uses Pillow, which matplotlib already depends on.
    """
    from PIL import Image

    frames = images_to_uint8(frames)
    if len(frames) == 0:
        raise ValueError("`frames` is empty. Received: frames.shape=(0, ...)")
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    pictures = [Image.fromarray(frame) for frame in frames]
    pictures[0].save(
        path, save_all=True, append_images=pictures[1:], duration=duration_ms, loop=loop
    )
    return path


def loss_curves_figure(history, *, title="Training losses", smoothing=0.0):
    """Returns a Figure plotting each series of ``history`` against its step.

    Args:
        history: dict ``name -> list of values`` (one per logged step); a ``"step"`` key, if
            present, gives the x axis.
        title: the figure title.
        smoothing: exponential moving-average factor in [0, 1) applied for display.

    Returns:
        ``matplotlib.figure.Figure``.
    """
    from matplotlib.figure import Figure

    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"`smoothing` must be in [0, 1). Received: smoothing={smoothing}")
    steps = history.get("step")
    figure = Figure(figsize=(7, 3.5))
    axis = figure.subplots()
    for name, values in history.items():
        if name == "step" or not len(values):
            continue
        values = np.asarray(values, dtype=np.float64)
        if smoothing:
            smoothed = np.empty_like(values)
            running = values[0]
            for i, value in enumerate(values):
                running = smoothing * running + (1 - smoothing) * value
                smoothed[i] = running
            values = smoothed
        x = np.asarray(steps[: len(values)]) if steps is not None else np.arange(len(values))
        axis.plot(x, values, label=name, linewidth=1.2)
    axis.set_xlabel("step")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure
