"""`ganaug gradcam`: Grad-CAM overlays, a Fernández et al. 2021 Fig. 6 panel and predictions per image."""

import os


def register(subparsers):
    parser = subparsers.add_parser(
        "gradcam",
        help="Grad-CAM heatmaps of a classifier on a folder of images.",
        description="Compute Grad-CAM (or Grad-CAM++) heatmaps of a Keras classifier on every image "
        "of a folder (searched recursively) and write to OUT: one overlay PNG per image, panel.png "
        "(heatmap, image and overlays with two colormaps per image, the layout of Fernández et al. "
        "2021, Fig. 6) and predictions.csv (predicted class and score per image).",
    )
    parser.add_argument("--model", required=True, help="classifier saved as .keras")
    parser.add_argument("--images", required=True, help="folder of images (searched recursively)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--class-index",
        type=int,
        default=None,
        help="class to explain (default: each image's predicted class)",
    )
    parser.add_argument("--method", choices=("gradcam", "gradcam++"), default="gradcam")
    parser.add_argument("--layer", default=None, help="target layer name (default: found automatically)")
    parser.add_argument("--batch-size", type=int, default=32, help="images per pass (default 32)")
    parser.add_argument("--alpha", type=float, default=0.4, help="overlay opacity (default 0.4)")
    parser.add_argument("--panel-images", type=int, default=4, help="images in panel.png (default 4)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.set_defaults(func=run)


def _image_files(folder):
    from data_readers.image_reader import IMAGE_EXTENSIONS

    found = []
    for root, directories, files in os.walk(folder):
        directories[:] = sorted(d for d in directories if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
                found.append(os.path.join(root, name))
    return found


def run(args):
    import csv

    import keras
    import numpy as np

    import ganaug.models  # noqa: F401  (registers ganaug's custom layers for loading)
    from data_readers.image_reader import read_images
    from ganaug.explain import build_cam, evidence_panel_figure, save_overlays
    from ganaug.figures import save_figure

    if not os.path.isfile(args.model):
        raise FileNotFoundError(f"Model file not found: {args.model}")
    if not os.path.isdir(args.images):
        raise FileNotFoundError(f"Image folder not found: {args.images}")
    if args.panel_images < 1:
        raise ValueError(f"`--panel-images` must be >= 1. Received: panel_images={args.panel_images}")
    paths = _image_files(args.images)
    if not paths:
        raise ValueError(f"No image files in the folder. Received: images={args.images}")
    model = keras.models.load_model(args.model, compile=False)
    cam = build_cam(model, method=args.method, layer=args.layer)
    height, width, channels = cam.input_shape
    size = None if height is None or width is None else (height, width)
    images = read_images(paths, image_size=size, channels=channels)
    verbose = 0 if args.quiet else 1
    heatmaps, explained, _ = cam.compute(
        images, class_index=args.class_index, batch_size=args.batch_size, verbose=verbose
    )
    probabilities = np.asarray(model.predict(images, batch_size=args.batch_size, verbose=0))
    overlay_paths = save_overlays(
        os.path.join(args.out, "overlays"), paths, images, heatmaps, alpha=args.alpha
    )
    panel_count = min(args.panel_images, len(paths))
    figure = evidence_panel_figure(
        images[:panel_count],
        heatmaps[:panel_count],
        row_labels=[os.path.basename(path) for path in paths[:panel_count]],
        alpha=args.alpha,
        title=f"{args.method}: class {args.class_index if args.class_index is not None else 'predicted'}",
    )
    save_figure(figure, os.path.join(args.out, "panel.png"))
    csv_path = os.path.join(args.out, "predictions.csv")
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["path", "predicted_class", "score", "explained_class", "explained_score", "overlay"]
        )
        for path, row, target, overlay_path in zip(paths, probabilities, explained, overlay_paths):
            predicted = int(row.argmax())
            writer.writerow(
                [
                    os.path.relpath(path, args.images),
                    predicted,
                    f"{row[predicted]:.6f}",
                    int(target),
                    f"{row[target]:.6f}",
                    os.path.relpath(overlay_path, args.out),
                ]
            )
    if verbose:
        print(f"Wrote {len(paths)} overlays, panel.png and predictions.csv to {args.out}")
    return 0
