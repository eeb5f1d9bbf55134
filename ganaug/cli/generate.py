"""``ganaug generate``: sample images from a trained run's generator."""


def register(subparsers):
    """Adds the ``generate`` command."""
    parser = subparsers.add_parser(
        "generate",
        help="sample images from a trained generator",
        description="Sample images from runs/NAME/generator.keras: a .png --out writes a grid, a "
        "directory --out writes one PNG per image and manifest.csv.",
    )
    parser.add_argument("--run", required=True, help="the run directory")
    parser.add_argument("--n", type=int, default=64, help="number of images")
    parser.add_argument("--label", type=int, default=None, help="class index (conditional runs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", required=True, help="grid.png or a directory")
    parser.set_defaults(func=run)


def run(args):
    """Generates the images and writes the grid or the folder."""
    import csv
    import os

    import numpy as np

    from ganaug import figures
    from ganaug.runs import load_run_model, read_config
    from ganaug.training import generate_images

    config = read_config(args.run)
    generator = load_run_model(args.run, "generator")
    conditional = len(generator.inputs) == 2
    labels = None
    if conditional:
        num_classes = int(config["num_classes"])
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
    if args.out.lower().endswith(".png"):
        figures.save_image_grid(args.out, images)
        print(f"Wrote a grid of {args.n} images to {args.out}")
        return 0
    os.makedirs(args.out, exist_ok=True)
    class_names = config.get("class_names") or []
    with open(os.path.join(args.out, "manifest.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "label", "class_name", "seed", "index"])
        for index, image in enumerate(images):
            name = f"image_{index:05d}.png"
            figures.save_png(os.path.join(args.out, name), image)
            label = int(labels[index]) if labels is not None else ""
            class_name = class_names[label] if labels is not None and label < len(class_names) else ""
            writer.writerow([name, label, class_name, args.seed, index])
    print(f"Wrote {args.n} images and manifest.csv to {args.out}")
    return 0
