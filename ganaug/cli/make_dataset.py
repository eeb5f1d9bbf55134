"""``ganaug make-dataset``: writes the embedded synthetic blood-cell data set to a folder.

    ganaug make-dataset --out data/blood_cells --image-size 64 --num-images 2000 --seed 0
    ganaug make-dataset --out data/few --counts neutrophil=100 basophil=5
"""

import json
import sys


def run(args):
    """Calls ``data_readers.synthetic.make_blood_cell_dataset`` with the parsed flags."""
    from data_readers.synthetic import make_blood_cell_dataset
    from ganaug.cli._pairs import parse_pairs

    counts = parse_pairs(args.counts, "--counts", convert=int, form="CLASS=COUNT") if args.counts else None
    try:
        summary = make_blood_cell_dataset(
            args.out,
            image_size=args.image_size,
            num_images=args.num_images,
            counts=counts,
            seed=args.seed,
            overwrite=args.overwrite,
            num_workers=args.workers,
            masks=args.masks,
            verbose=0 if args.quiet else 1,
        )
    except FileExistsError as error:
        print(f"ganaug make-dataset: error: {error}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(json.dumps(summary, indent=2))
    return 0


def register(subparsers):
    """Adds the ``make-dataset`` command."""
    parser = subparsers.add_parser(
        "make-dataset",
        help="write the embedded synthetic blood-cell data set (folder per class + manifest.csv)",
        description=(
            "Draws synthetic stained blood-smear images, one white cell per image in 8 classes with "
            "an imbalanced distribution (commonest class about 20x the rarest), and writes "
            "OUT/<class>/<class>_<index>.png, OUT/manifest.csv and OUT/dataset.json."
        ),
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--image-size", type=int, default=64, help="image side in pixels (>= 16)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--num-images", type=int, default=2000,
        help="total images, split with the default class ratios (default 2000)",
    )
    group.add_argument(
        "--counts", nargs="+", metavar="CLASS=COUNT",
        help="images per class, e.g. neutrophil=100 basophil=5 (unlisted classes get none)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing data set")
    parser.add_argument("--workers", type=int, default=None, help="drawing threads")
    parser.add_argument("--masks", action="store_true",
                        help="also write each image's label map (masks/<class>/..., manifest `mask` column)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    parser.set_defaults(func=run)
