"""``ganaug merge-manifests``: joins the manifests of a sharded patch extraction.

    ganaug extract-patches slides/*.tif --out patches --num-shards 3 --shard-index $I   # 3 machines
    ganaug merge-manifests patches --num-shards 3

Thin wrapper over `data_readers.wsi.merge_manifests`.
"""

import json


def register(subparsers):
    """Adds the ``merge-manifests`` command to ``subparsers``."""
    parser = subparsers.add_parser(
        "merge-manifests",
        help="join the shard manifests of 'extract-patches --num-shards N' into manifest.csv",
        description=(
            "Checks that every shard 0..N-1 of an extraction is in OUT, made with the same settings, "
            "with no patch listed twice and every listed patch file present, then writes OUT/manifest.csv "
            "and OUT/extraction.json (what an unsharded run writes)."
        ),
    )
    parser.add_argument("out", help="the extraction folder holding manifest.shard-I-of-N.csv files")
    parser.add_argument("--num-shards", type=int, default=None,
                        help="expected number of shards (default: as the shard files say)")
    parser.add_argument("--quiet", action="store_true", help="no summary")
    parser.set_defaults(func=run)


def run(args):
    """Runs the command on parsed ``args``; returns the exit code."""
    from data_readers import wsi

    summary = wsi.merge_manifests(args.out, num_shards=args.num_shards)
    if not args.quiet:
        print(json.dumps(summary, indent=2))
    return 0
