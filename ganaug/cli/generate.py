"""``ganaug generate``: sample images from a trained run's generator."""

import os
import re

_IMAGE_NAME = re.compile(r"^image_\d{5,}\.png$")
MANIFEST = "manifest.csv"


def register(subparsers):
    """Adds the ``generate`` command."""
    parser = subparsers.add_parser(
        "generate",
        help="sample images from a trained generator",
        description="Sample images from runs/NAME/generator.keras: a .png --out writes a grid, a "
        "directory --out writes one PNG per image and manifest.csv. An existing grid or a folder "
        "that already holds images is refused unless --overwrite (which removes the old images), "
        "so that the folder always matches its manifest.",
    )
    parser.add_argument("--run", required=True, help="the run directory")
    parser.add_argument("--n", type=int, default=64, help="number of images")
    parser.add_argument("--label", type=int, default=None, help="class index (conditional runs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", required=True, help="grid.png or a directory")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing grid or folder of images")
    parser.add_argument("--masks", default=None,
                        help="spade runs: a paired data set or folder of mask PNGs; one image per mask (per style)")
    parser.add_argument("--per-mask", type=int, default=1, help="spade runs: styles (codes) per mask")
    parser.set_defaults(func=run)


def _prepare_folder(out, overwrite, *, clear=True):
    """Refuses (or, with ``overwrite`` and ``clear``, clears) a folder that already holds images."""
    if not os.path.isdir(out):
        if os.path.exists(out):
            raise FileExistsError(f"`--out` is a file, not a folder: {out}")
        return
    from data_readers.decode import is_image_file

    ours = [name for name in os.listdir(out) if name == MANIFEST or _IMAGE_NAME.match(name)]
    others = sorted(name for name in os.listdir(out) if is_image_file(name) and name not in ours)
    if others:
        raise FileExistsError(
            f"{out} holds images that `ganaug generate` did not write ({', '.join(others[:3])}"
            f"{', ...' if len(others) > 3 else ''}); choose an empty or new folder."
        )
    if ours and not overwrite:
        raise FileExistsError(
            f"{out} already holds generated images ({len(ours) - (MANIFEST in ours)} images and "
            f"{'a' if MANIFEST in ours else 'no'} {MANIFEST}); pass --overwrite to replace them, or "
            "choose another folder."
        )
    for name in ours if clear else ():
        os.remove(os.path.join(out, name))


def run(args):
    """Generates the images and writes the grid or the folder."""
    import csv
    import io

    import numpy as np

    from ganaug import figures
    from ganaug.models.spec import GeneratorSpec
    from ganaug.runs import load_run_model, read_config, write_text_atomic
    from ganaug.training import generate_images

    if args.masks is not None:
        return _run_masks(args)
    grid = args.out.lower().endswith(".png")
    if grid and os.path.exists(args.out) and not args.overwrite:
        raise FileExistsError(f"{args.out} already exists; pass --overwrite to replace it.")
    if not grid:
        _prepare_folder(args.out, args.overwrite, clear=False)  # refuse before the (slow) generation...
    config = read_config(args.run)
    generator = load_run_model(args.run, "generator")
    spec = GeneratorSpec.of(generator, config)
    labels = None
    if spec.conditional:
        num_classes = spec.num_classes
        if args.label is None:
            labels = np.arange(args.n) % num_classes
        elif not 0 <= args.label < num_classes:
            raise ValueError(f"`--label` must be in [0, {num_classes}). Received: label={args.label}")
        else:
            labels = np.full(args.n, args.label)
    elif args.label is not None:
        raise ValueError(f"The run's generator is unconditional. Received: label={args.label}")
    images = generate_images(
        generator, args.n, labels=labels, latent_distribution=config["latent_distribution"],
        seed=args.seed, batch_size=args.batch_size,
    )
    if grid:
        partial = f"{args.out[:-4]}.tmp.png"
        figures.save_image_grid(partial, images)
        os.replace(partial, args.out)
        print(f"Wrote a grid of {args.n} images to {args.out}")
        return 0
    _prepare_folder(args.out, args.overwrite)  # ...and clear only once the new images exist
    os.makedirs(args.out, exist_ok=True)
    class_names = config.get("class_names") or []
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "label", "class_name", "seed", "index"])
    for index, image in enumerate(images):
        name = f"image_{index:05d}.png"
        figures.save_png(os.path.join(args.out, name), image)
        label = int(labels[index]) if labels is not None else ""
        class_name = class_names[label] if labels is not None and label < len(class_names) else ""
        writer.writerow([name, label, class_name, args.seed, index])
    write_text_atomic(os.path.join(args.out, MANIFEST), buffer.getvalue())  # last: lists what landed
    print(f"Wrote {args.n} images and {MANIFEST} to {args.out}")
    return 0


def _run_masks(args):
    """``--masks``: a SPADE run generates from each mask; writes a paired data set."""
    from data_readers.masks import load_masks
    from ganaug.runs import load_run_model, read_config
    from ganaug.segmentation.synthesis import write_generated_pairs

    config = read_config(args.run)
    if config.get("family") != "spade":
        raise ValueError(f"`--masks` needs a spade run. Received: --run {args.run} of family {config.get('family')!r}")
    generator = load_run_model(args.run, "generator")
    masks, paths = load_masks(args.masks, image_size=int(config["image_size"]))
    count = write_generated_pairs(generator, masks, args.out, per_mask=args.per_mask, seed=args.seed,
                                  region_names=config.get("region_names"), source_paths=paths, overwrite=args.overwrite)
    print(f"Wrote {count} images with their masks and manifest.csv to {args.out}")
    return 0
