"""`ganaug augment`: the augmentation experiment on a folder data set with a trained run."""


def register(subparsers):
    parser = subparsers.add_parser(
        "augment",
        help="Grow a data set with a trained generator and measure the classifier with and without it.",
        description="Split the data (fixed, stratified), synthesise images with the run's generator, train "
        "a classifier per arm (baseline, classical, synthetic, classical+synthetic; with --controls also a "
        "positive control of held-out real images and a negative control with wrong labels) and seed, and "
        "report accuracy and F1 changes with confidence intervals and the smallest detectable change.",
    )
    parser.add_argument("--data", required=True, help="folder of class folders")
    parser.add_argument("--run", required=True, help="trained run directory (runs/NAME)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--method", default="conditional", choices=["conditional", "perturbation", "interpolation"])
    parser.add_argument("--budget", default="grow", choices=["grow", "balance", "fixed"])
    parser.add_argument("--fraction", type=float, default=0.5, help="growth fraction for --budget grow (thesis: 0.5)")
    parser.add_argument("--counts", type=int, default=None, help="images per class for --budget fixed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--arms", nargs="+", default=None,
                        choices=["baseline", "classical", "synthetic", "classical+synthetic"],
                        help="arms to run (default: all four)")
    parser.add_argument("--architecture", default="small_cnn", choices=["small_cnn", "xception", "inception_v3"])
    parser.add_argument("--epochs", type=int, default=None,
                        help="classifier epochs, raised to the minimum number of steps (default: the converged schedule)")
    parser.add_argument("--steps", type=int, default=None, help="exact classifier optimiser steps (instead of --epochs)")
    parser.add_argument("--controls", action="store_true",
                        help="add a positive control (held-out real images) and a negative control (wrong labels)")
    parser.add_argument("--control-fraction", type=float, default=None,
                        help="share of each class's training pool held out for the positive control "
                        "(default with --controls: fraction / (1 + fraction))")
    parser.add_argument("--classical-flip", default=None, choices=["horizontal", "vertical", "horizontal_and_vertical"],
                        help="add random flips to the classical arms (default: rotate and zoom only, the thesis's)")
    parser.add_argument("--scenario", default="full",
                        help="'full', 'fernandez2021_table4' (500 + 68 'tumor', 500 + 500 test) or "
                        "'fernandez2021_table4_balanced' (500 + 500, the same test)")
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true")
    parser.set_defaults(func=run)


def run(args):
    from ganaug.augment.experiment import headline_table, verdict
    from ganaug.augment.study import run_augmentation_study

    result = run_augmentation_study(
        args.data, args.run, args.out, method=args.method, budget_mode=args.budget, fraction=args.fraction,
        counts=args.counts, seeds=tuple(args.seeds), arms=args.arms, architecture=args.architecture, epochs=args.epochs,
        classical_options={"flip": args.classical_flip} if args.classical_flip else None,
        steps=args.steps, controls=args.controls, control_fraction=args.control_fraction,
        scenario=args.scenario, split_seed=args.split_seed, verbose=0 if args.quiet else 1,
    )
    print(headline_table(result))
    for sentence in verdict(result)[1:]:
        print(f"- {sentence}")
    print(f"Report: {result['report']['html']}")
    return 0
