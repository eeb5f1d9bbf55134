"""``ganaug segment-experiment``: SHI-GAN's Table 1 (segmenters trained on real / synthetic / both)."""


def register(subparsers):
    """Adds the ``segment-experiment`` command."""
    parser = subparsers.add_parser(
        "segment-experiment",
        help="train segmenters on real, synthetic and real+synthetic pairs of a SPADE run (SHI-GAN Table 1)",
        description="Train segmenters per arm and seed, test on real held-out pairs, print mPA/mIoU with intervals.",
    )
    parser.add_argument("--run", required=True, help="a `ganaug train spade` run directory")
    parser.add_argument("--data", required=True, help="real training pairs (data set with a manifest `mask` column)")
    parser.add_argument("--test-data", required=True, help="real held-out pairs the generator never saw")
    parser.add_argument("--new-masks", default=None, help="data set whose masks feed the synthetic_new arm and the "
                        "mask-following check")
    parser.add_argument("--out", default=None, help="folder for results.json and table.md")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=300, help="segmenter training steps")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--filters", type=int, default=16, help="segmenter width")
    parser.add_argument("--arms", nargs="+", default=None, help="subset of real synthetic synthetic_new real+synthetic")
    parser.add_argument("--no-follow", action="store_true", help="skip the mask-following check")
    parser.add_argument("--quiet", action="store_true")
    parser.set_defaults(func=run)


def run(args):
    """Runs ``ganaug.segmentation.evaluation.segmentation_experiment_from_run`` and prints Table 1."""
    from ganaug.segmentation.evaluation import segmentation_experiment_from_run, table_one

    result = segmentation_experiment_from_run(
        args.run, args.data, args.test_data, new_masks=args.new_masks, out_dir=args.out, seeds=args.seeds,
        steps=args.steps, batch_size=args.batch_size, filters=args.filters,
        arms=tuple(args.arms) if args.arms else None, follow=not args.no_follow,
        log=None if args.quiet else print,
    )
    print(table_one(result))
    return 0
