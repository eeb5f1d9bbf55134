"""`ganaug invert`: latent reverse search of image files on a run's generator.

Also holds the argument helpers ``ganaug edit`` shares (loading a run, expanding image arguments,
turning class names into labels, running the inversion with the common flags).
"""

import os


def register(subparsers):
    parser = subparsers.add_parser(
        "invert",
        help="Find the latent codes of images (reverse search, optionally started by the encoder).",
        description="Invert image files on the generator of a run (Fernández et al. 2021 reverse "
        "search; --encoder starts it from the run's encoder.keras, Klang & Carlberg). Writes to OUT: "
        "codes.npy (N, latent_dim), reconstructions.png (targets above reconstructions), errors.csv "
        "(per image: loss, MSE, PSNR, SSIM) and inversion.json (options and means).",
    )
    parser.add_argument("--images", nargs="+", required=True, help="image files and/or folders (searched recursively)")
    add_inversion_arguments(parser)
    parser.set_defaults(func=run)


def add_inversion_arguments(parser):
    """Adds the flags every latent command shares: run, output folder, labels and search options."""
    parser.add_argument("--run", required=True, help="run directory with config.json and generator.keras")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--labels", nargs="+", default=None,
        help="class names or indices for a conditional run: one per image or one for all "
        "(default: each image's parent folder name)",
    )
    parser.add_argument(
        "--steps", type=int, default=500, help="reverse-search steps (default 500; 0 with --encoder: encoder only)"
    )
    parser.add_argument("--restarts", type=int, default=1, help="random restarts per image (default 1)")
    parser.add_argument("--learning-rate", type=float, default=0.05, help="Adam step size on z (default 0.05)")
    parser.add_argument("--loss", choices=("rmse", "l1"), default="rmse", help="search loss (default rmse)")
    parser.add_argument("--encoder", action="store_true", help="start the search from the run's encoder.keras codes")
    parser.add_argument("--batch-size", type=int, default=64, help="images per batch (default 64)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random restarts (default 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def image_paths(items):
    """Returns the image files named by ``items`` (files, or folders searched recursively, sorted).

    Raises:
        FileNotFoundError: for a path that does not exist.
        ValueError: if no image file is found.
    """
    from data_readers.image_reader import IMAGE_EXTENSIONS

    paths = []
    for item in items:
        if os.path.isdir(item):
            for root, directories, files in os.walk(item):
                directories[:] = sorted(d for d in directories if not d.startswith("."))
                paths.extend(
                    os.path.join(root, name)
                    for name in sorted(files)
                    if not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS
                )
        elif os.path.isfile(item):
            paths.append(item)
        else:
            raise FileNotFoundError(f"Image file or folder not found: {item}")
    if not paths:
        raise ValueError(f"No image files found. Received: images={list(items)}")
    return paths


def load_run(run_dir, *, with_encoder=False):
    """Returns ``(config, generator, encoder_or_None)`` of a run directory."""
    from ganaug.runs import load_run_model, read_config

    config = read_config(run_dir)
    generator = load_run_model(run_dir, "generator")
    encoder = load_run_model(run_dir, "encoder") if with_encoder else None
    return config, generator, encoder


def label_indices(values, paths, config, *, conditional, name="labels"):
    """Returns int32 labels for ``paths`` (None for an unconditional run).

    ``values`` are class names or indices (one per path, or one for all); None takes each file's
    parent folder name, which must be one of the run's ``class_names``.
    """
    import numpy as np

    if not conditional:
        if values:
            raise ValueError(f"The run's generator is unconditional; drop --{name}. Received: {name}={values}")
        return None
    class_names = list(config.get("class_names") or [])
    num_classes = int(config.get("num_classes") or len(class_names))

    def index(value):
        if value in class_names:
            return class_names.index(value)
        if str(value).lstrip("-").isdigit() and 0 <= int(value) < num_classes:
            return int(value)
        raise ValueError(f"Unknown class (known: {class_names}). Received: {name}={value!r}")

    if values is None:
        values = [os.path.basename(os.path.dirname(os.path.abspath(path))) for path in paths]
    elif len(values) == 1:
        values = list(values) * len(paths)
    elif len(values) != len(paths):
        raise ValueError(f"Pass one label per image ({len(paths)}) or one for all. Received: {name}={values}")
    return np.array([index(value) for value in values], np.int32)


def invert_files(args, generator, config, encoder, paths, labels):
    """Reads ``paths`` at the run's size and inverts them with the shared flags; returns (images, result)."""
    from data_readers.image_reader import read_images
    from ganaug.latent import encode, invert_images

    images = read_images(paths, image_size=int(config["image_size"]), channels=int(config["channels"]))
    initial_codes = encode(encoder, images, batch_size=args.batch_size) if encoder is not None else None
    result = invert_images(
        generator,
        images,
        labels,
        steps=args.steps,
        learning_rate=args.learning_rate,
        loss=args.loss,
        restarts=args.restarts,
        latent_distribution=config.get("latent_distribution", "normal"),
        initial_codes=initial_codes,
        batch_size=args.batch_size,
        seed=args.seed,
        verbose=0 if args.quiet else 1,
    )
    return images, result


def invert_files_w(args, generator, config, paths):
    """Reads ``paths`` and finds their StyleGAN W / W+ codes (``args.space``) with the shared flags."""
    from data_readers.image_reader import read_images
    from ganaug.latent import invert_images_w

    images = read_images(paths, image_size=int(config["image_size"]), channels=int(config["channels"]))
    result = invert_images_w(
        generator, images, space=args.space, steps=args.steps, learning_rate=args.learning_rate, loss=args.loss,
        batch_size=args.batch_size, verbose=0 if args.quiet else 1,
    )
    return images, result


def run(args):
    import csv

    import numpy as np

    from ganaug.figures import save_figure
    from ganaug.latent import is_conditional, reconstruction_quality
    from ganaug.latent.figures import reconstruction_figure
    from ganaug.runs import write_json_atomic

    paths = image_paths(args.images)
    config, generator, encoder = load_run(args.run, with_encoder=args.encoder)
    labels = label_indices(args.labels, paths, config, conditional=is_conditional(generator))
    images, result = invert_files(args, generator, config, encoder, paths, labels)
    quality = reconstruction_quality(images, result.reconstructions)
    os.makedirs(args.out, exist_ok=True)
    np.save(os.path.join(args.out, "codes.npy"), result.codes)
    shown = min(len(paths), 16)
    figure = reconstruction_figure(
        images[:shown], result.reconstructions[:shown], errors=quality["psnr"][:shown],
        column_labels=[os.path.basename(p) for p in paths[:shown]],
        title=f"reverse search ({args.loss}, {args.steps} steps); PSNR dB under each name",
    )
    save_figure(figure, os.path.join(args.out, "reconstructions.png"))
    with open(os.path.join(args.out, "errors.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "label", args.loss, "mse", "psnr", "ssim"])
        for i, path in enumerate(paths):
            writer.writerow([
                path, "" if labels is None else int(labels[i]), f"{result.errors[i]:.6g}",
                f"{quality['mse'][i]:.6g}", f"{quality['psnr'][i]:.4f}", f"{quality['ssim'][i]:.4f}",
            ])
    summary = {
        "run": os.path.abspath(args.run),
        "num_images": len(paths),
        "steps": args.steps,
        "restarts": args.restarts,
        "learning_rate": args.learning_rate,
        "loss": args.loss,
        "encoder_init": bool(args.encoder),
        "seed": args.seed,
        f"mean_{args.loss}": float(result.errors.mean()),
        "mean_mse": quality["mean_mse"],
        "mean_psnr": quality["mean_psnr"],
        "mean_ssim": quality["mean_ssim"],
    }
    write_json_atomic(os.path.join(args.out, "inversion.json"), summary)
    if not args.quiet:
        print(f"Inverted {len(paths)} images: mean {args.loss} {summary[f'mean_{args.loss}']:.4g}, "
              f"PSNR {quality['mean_psnr']:.2f} dB, SSIM {quality['mean_ssim']:.3f} -> {args.out}")
    return 0
