"""`ganaug evaluate`: FID/KID, precision/recall, diversity, memorisation and TSTR of a run's generator,
or (``--runs A B C``) the comparison of several conditional generators and the one a declared rule selects."""

import os


def register(subparsers):
    parser = subparsers.add_parser(
        "evaluate",
        help="Evaluate a run's generator against real images (FID/KID, precision/recall, TSTR, ...).",
        description="Evaluate the generator of a run against a folder of real images (one sub-folder "
        "per class). Scores are computed in the feature space of a small classifier trained on the "
        "real images, written to OUT (results.json, summary.md, figures) and merged into the run's "
        "metrics.json under 'evaluation'. With --runs, several conditional runs trained on the same data are "
        "compared in one feature space (TRTS fidelity, TSTR, FID/KID, precision/recall, coverage, collapse, "
        "memorisation; per class) and one is selected by the rule printed with the table.",
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--run", help="run directory (runs/NAME) with generator.keras")
    which.add_argument("--runs", nargs="+", help="several conditional runs to compare (ganaug.evaluation.compare_generators)")
    parser.add_argument("--holdout", default=None,
                        help="--runs: real images the generators never saw (default: 20 %% of --data held out)")
    parser.add_argument("--data", required=True, help="folder of real images, one sub-folder per class")
    parser.add_argument("--num-samples", type=int, default=1000, help="generated images (default 1000)")
    parser.add_argument("--out", default=None,
                        help="output folder (default RUN/evaluation; --runs: generator_comparison next to the first run)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs of the feature/TSTR classifiers (default: the converged default schedule)")
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
    if args.runs:
        return compare_runs(args)
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


def compare_runs(args):
    """Compares the generators of ``args.runs`` on ``args.data`` and prints the table and the choice."""
    from data_readers.image_reader import ImageReader
    from ganaug.evaluation.comparison import comparison_table, compare_generators, per_class_comparison_table
    from ganaug.runs import load_run_model, read_config, write_json_atomic, write_text_atomic

    configs = {run: read_config(run) for run in args.runs}
    first = configs[args.runs[0]]
    mismatched = [run for run, config in configs.items()
                  if (config["image_size"], config.get("channels", 3)) != (first["image_size"], first.get("channels", 3))]
    if mismatched:
        raise ValueError(f"The runs must generate images of one size. Received: {mismatched} differ from {args.runs[0]}")
    names = {}
    for run in args.runs:
        name = os.path.basename(os.path.normpath(run))
        names[name if name not in names else run] = run

    def reader(folder):
        return ImageReader.from_folder(folder, class_names=first.get("class_names") or None,
                                       image_size=first["image_size"], channels=first.get("channels", 3),
                                       batch_size=args.batch_size, shuffle=False)

    result = compare_generators(
        {name: load_run_model(run, "generator") for name, run in names.items()}, reader(args.data),
        holdout_data=reader(args.holdout) if args.holdout else None,
        latent_distributions={name: configs[run].get("latent_distribution", "normal") for name, run in names.items()},
        classifier_options={} if args.epochs is None else {"epochs": args.epochs},
        seed=args.seed if args.seed is not None else int(first.get("seed") or 0),
        batch_size=args.batch_size, verbose=0 if args.quiet else 1,
    )
    out_dir = args.out or os.path.join(os.path.dirname(os.path.abspath(args.runs[0])), "generator_comparison")
    os.makedirs(out_dir, exist_ok=True)
    summary = "\n\n".join([
        comparison_table(result), "Recall per class:", per_class_comparison_table(result, metric="recall"),
        "TRTS class fidelity per class:", per_class_comparison_table(result, metric="fidelity"),
        f"Rule: {result['rule']}.", f"Selected: {result['reason']}.",
    ])
    write_json_atomic(os.path.join(out_dir, "results.json"), dict(result, runs=names))
    write_text_atomic(os.path.join(out_dir, "summary.md"), summary + "\n")
    print(summary)
    print(f"Results: {os.path.join(out_dir, 'results.json')}")
    return 0
