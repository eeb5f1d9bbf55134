"""``ganaug cache``: decodes a folder of images once into a decoded cache for the reader.

    ganaug cache --data data/blood_cells --image-size 64 --out cache/blood_cells

Training then reads it with the same settings: ``ImageReader.from_folder(data, image_size=64,
cache="cache/blood_cells")``; a file changed or added since is decoded again, nothing stale is read.
"""

import json


def run(args):
    """Calls ``data_readers.decoded_cache.build_cache`` with the parsed flags and prints its summary."""
    from data_readers.decoded_cache import build_cache

    summary = build_cache(
        args.data, args.out, image_size=args.image_size, channels=args.channels, alpha=args.alpha,
        labelled=not args.unlabelled, num_threads=args.threads, progress=not args.quiet,
    )
    if not args.quiet:
        print(json.dumps(summary, indent=2))
    return 0


def register(subparsers):
    """Adds the ``cache`` command."""
    parser = subparsers.add_parser(
        "cache",
        help="decode a folder of images once into a decoded cache the reader streams from",
        description=(
            "Decodes and resizes every image under DATA into raw pixel shards under OUT (one "
            "sub-folder per set of decode settings), keyed by each file's path, size and mtime. "
            "Unreadable files are recorded and counted (listed in the summary)."
        ),
    )
    parser.add_argument("--data", required=True, help="folder of class folders (or of images, --unlabelled)")
    parser.add_argument("--out", required=True, help="cache folder")
    parser.add_argument("--image-size", type=int, default=None,
                        help="resize to this square size (default: keep the stored size)")
    parser.add_argument("--channels", type=int, default=3, choices=(1, 3))
    parser.add_argument("--alpha", default="composite", choices=("composite", "drop"))
    parser.add_argument("--unlabelled", action="store_true", help="DATA's sub-folders are not classes")
    parser.add_argument("--threads", type=int, default=None, help="decoding threads (default: all CPUs)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    parser.set_defaults(func=run)
