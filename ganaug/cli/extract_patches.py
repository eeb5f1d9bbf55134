"""``ganaug extract-patches``: labelled, class-balanced patches from whole-slide images.

Thin wrapper over `data_readers.wsi.extract_patches` (Fernández et al. 2021, section 2, Table 1).
"""

import argparse
import os


def _group_label(text):
    group, separator, label = text.partition("=")
    if not separator or not group or not label:
        raise argparse.ArgumentTypeError(f"expected GROUP=LABEL, got {text!r}")
    return group, label


def register(subparsers):
    """Adds the ``extract-patches`` command to ``subparsers``."""
    parser = subparsers.add_parser(
        "extract-patches",
        help="extract labelled patches from whole-slide images (OpenSlide) and annotations",
        description=(
            "Tile whole-slide images at the given levels, keep patches on tissue, label them tumor/normal "
            "from ASAP XML or GeoJSON annotations, balance the classes and write out/tumor, out/normal "
            "and out/manifest.csv (Fernández et al. 2021). Re-running with the same settings resumes; other "
            "settings into the same --out are refused unless --overwrite. An annotation group that maps to "
            "no label is an error: map it with --group-label or skip it with --ignore-group."
        ),
    )
    parser.add_argument("slides", nargs="+", help="slide files (any format OpenSlide reads)")
    parser.add_argument("--out", required=True, help="output directory")
    annotations = parser.add_mutually_exclusive_group()
    annotations.add_argument("--annotations", nargs="+", metavar="FILE",
                             help="one annotation file per slide, in slide order ('none' for a slide without)")
    annotations.add_argument("--annotation-dir", metavar="DIR",
                             help="directory with <slide name>.xml/.geojson/.json; slides without one are normal")
    parser.add_argument("--levels", nargs="+", type=int, default=[0, 1], help="pyramid levels (default: 0 1)")
    parser.add_argument("--patch-size", type=int, default=256, help="patch side in pixels of the level (default: 256)")
    parser.add_argument("--stride", type=int, default=None, help="step in pixels of the level (default: patch size)")
    parser.add_argument("--min-tissue-fraction", type=float, default=0.5, help="default: 0.5")
    parser.add_argument("--positive-threshold", type=float, default=0.5,
                        help="tumour fraction at or above which a patch is tumor (default: 0.5)")
    parser.add_argument("--negative-threshold", type=float, default=0.0,
                        help="tumour fraction at or below which a patch is normal (default: 0.0)")
    parser.add_argument("--ambiguous", choices=("skip", "tumor", "normal"), default="skip",
                        help="what to do with patches between the thresholds (default: skip)")
    parser.add_argument("--group-label", type=_group_label, action="append", default=[], metavar="GROUP=LABEL",
                        help="add or override an annotation group mapping, e.g. 'Tumour=tumor'; labels: tumor, "
                        "exclude, ignore (repeatable)")
    parser.add_argument("--ignore-group", action="append", default=[], metavar="GROUP",
                        help="skip the annotations of this group on purpose (repeatable)")
    parser.add_argument("--overwrite", action="store_true",
                        help="remove an extraction made with other settings from --out and start clean")
    parser.add_argument("--no-balance", action="store_true", help="keep every patch instead of balancing classes")
    parser.add_argument("--max-per-class", type=int, default=None, help="cap per class and level")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    parser.add_argument("--mask-downsample", type=float, default=32.0,
                        help="level-0 pixels per tissue-mask pixel (default: 32)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the class subsampling (default: 0)")
    parser.add_argument("--num-shards", type=int, default=1,
                        help="machines sharing the job (SLURM array, Kubernetes Indexed Job); join their "
                        "manifests with 'ganaug merge-manifests' (default: 1)")
    parser.add_argument("--shard-index", type=int, default=0,
                        help="this machine's shard in [0, --num-shards), e.g. $SLURM_ARRAY_TASK_ID (default: 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or summary")
    parser.set_defaults(func=run)


def run(args):
    """Runs the command on parsed ``args``; returns the exit code."""
    from data_readers import annotations as annotations_lib
    from data_readers import wsi

    if args.annotation_dir is not None:
        if not os.path.isdir(args.annotation_dir):
            raise FileNotFoundError(f"Annotation directory not found: {args.annotation_dir}")
        annotation_files = [wsi.find_annotation_file(slide, args.annotation_dir) for slide in args.slides]
    elif args.annotations is not None:
        annotation_files = [None if name.lower() == "none" else name for name in args.annotations]
    else:
        annotation_files = None
    group_labels = dict(annotations_lib.DEFAULT_GROUP_LABELS)
    group_labels.update(dict(args.group_label))
    group_labels.update({group: annotations_lib.IGNORE_LABEL for group in args.ignore_group})
    wsi.extract_patches(
        args.slides, args.out, annotations=annotation_files, levels=tuple(args.levels),
        patch_size=args.patch_size, stride=args.stride, min_tissue_fraction=args.min_tissue_fraction,
        positive_threshold=args.positive_threshold, negative_threshold=args.negative_threshold,
        ambiguous=args.ambiguous, group_labels=group_labels, balance=not args.no_balance,
        max_per_class=args.max_per_class, seed=args.seed, num_workers=args.workers,
        mask_downsample=args.mask_downsample, overwrite=args.overwrite, verbose=0 if args.quiet else 1,
        num_shards=args.num_shards, shard_index=args.shard_index,
    )
    return 0
