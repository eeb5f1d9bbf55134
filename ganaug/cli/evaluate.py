"""`ganaug evaluate`: FID/KID, precision/recall, diversity, memorisation and TSTR of a run's generator."""

import os


def register(subparsers):
    parser = subparsers.add_parser(
        "evaluate",
        help="Evaluate a run's generator against real images (FID/KID, precision/recall, TSTR, ...).",
        description="Evaluate the generator of a run against a folder of real images (one sub-folder "
        "per class). Scores are computed in the feature space of a small classifier trained on the "
        "real images, written to OUT (results.json, summary.md, figures) and merged into the run's "
        "metrics.json under 'evaluation'.",
    )
    parser.add_argument("--run", required=True, help="run directory (runs/NAME) with generator.keras")
    parser.add_argument("--data", required=True, help="folder of real images, one sub-folder per class")
    parser.add_argument("--num-samples", type=int, default=1000, help="generated images (default 1000)")
    parser.add_argument("--out", default=None, help="output folder (default RUN/evaluation)")
    parser.add_argument("--epochs", type=int, default=5, help="epochs of the feature/TSTR classifiers")
    parser.add_argument("--seed", type=int, default=None, help="seed (default: the run's seed)")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size (default 64)")
    parser.add_argument("--no-tstr", action="store_true", help="skip TSTR/TRTS")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.set_defaults(func=run)


def run(args):
    from data_readers.image_reader import ImageReader
    from ganaug.evaluation.evaluate import evaluate_generator
    from ganaug.runs import load_run_model, read_config, update_metrics

    if not os.path.isdir(args.data):
        raise FileNotFoundError(f"Data folder not found: {args.data}")
    config = read_config(args.run)
    generator = load_run_model(args.run, "generator")
    seed = args.seed if args.seed is not None else int(config.get("seed") or 0)
    reader = ImageReader.from_folder(
        args.data,
        class_names=config.get("class_names") or None,
        image_size=config["image_size"],
        channels=config.get("channels", 3),
        batch_size=args.batch_size,
        shuffle=False,
    )
    out_dir = args.out or os.path.join(args.run, "evaluation")
    result = evaluate_generator(
        generator,
        reader,
        class_names=reader.class_names,
        num_samples=args.num_samples,
        latent_distribution=config.get("latent_distribution", "normal"),
        classifier_epochs=args.epochs,
        tstr=not args.no_tstr,
        seed=seed,
        out_dir=out_dir,
        batch_size=args.batch_size,
        verbose=0 if args.quiet else 1,
    )
    result.pop("feature_classifier_history", None)
    if "tstr" in result:
        result["tstr"].pop("metrics", None)
    result["data"] = os.path.abspath(args.data)
    update_metrics(args.run, {"evaluation": result})
    with open(os.path.join(out_dir, "summary.md")) as f:
        print(f.read())
    print(f"Results: {os.path.join(out_dir, 'results.json')}")
    return 0
