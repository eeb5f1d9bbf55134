"""`ganaug export`: a run's trained models as SavedModels for production pipelines."""


def register(subparsers):
    parser = subparsers.add_parser(
        "export",
        help="Export a run's generator/encoder/classifier as TensorFlow SavedModels.",
        description="Export trained models as SavedModels with uint8 image signatures and a "
        "model_card.json; each export is reloaded in a fresh process and checked.",
    )
    parser.add_argument("--run", required=True, help="run directory (runs/NAME)")
    parser.add_argument(
        "--what", default="all", choices=["generator", "encoder", "classifier", "all"],
        help="which model to export (default: every model the run has)",
    )
    parser.add_argument("--out", required=True, help="output directory; one sub-folder per model")
    parser.add_argument("--overwrite", action="store_true", help="replace existing exports")
    parser.add_argument("--no-validate", action="store_true", help="skip the reload check")
    parser.set_defaults(func=run)


def run(args):
    from ganaug.export import export_run

    exported = export_run(
        args.run, args.out, what=args.what, overwrite=args.overwrite, validate=not args.no_validate
    )
    for kind, path in exported.items():
        print(f"{kind}: {path}")
    return 0
