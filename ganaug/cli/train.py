"""``ganaug train dcgan|cdcgan|sngan|acgan|stylegan|cstylegan|spade``: train a GAN and write its run directory."""


def register(subparsers):
    """Adds the ``train`` command."""
    parser = subparsers.add_parser(
        "train",
        help="train a DCGAN, conditional DCGAN, SNGAN, AC-GAN, (conditional) StyleGAN2 or SPADE (SHI-GAN)",
        description="Train a GAN on a folder-per-class image data set and write runs/NAME.",
    )
    parser.add_argument("family", choices=("dcgan", "cdcgan", "sngan", "acgan", "stylegan", "cstylegan", "spade"))
    parser.add_argument("--data", required=True,
                        help="folder-per-class image folder (spade: a data set with a manifest `mask` column)")
    parser.add_argument("--out", required=True, help="run directory, e.g. runs/dcgan32")
    parser.add_argument("--preset", default=None,
                        help="fernandez2021, klang_carlberg2020, miyato2018, sngan_cpu, stylegan2_cpu, karras2020, ...")
    parser.add_argument("--image-size", type=int, default=None, help="preset's, else 64")
    parser.add_argument("--channels", type=int, default=None, help="preset's, else 3")
    parser.add_argument("--latent-dim", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--loss", default=None, help="family's or preset's (non_saturating; SNGAN: hinge)")
    parser.add_argument("--generator-learning-rate", type=float, default=None)
    parser.add_argument("--discriminator-learning-rate", type=float, default=None)
    parser.add_argument("--generator-steps", type=int, default=None)
    parser.add_argument("--discriminator-steps", type=int, default=None, help="D updates per G update")
    parser.add_argument("--label-smoothing", type=float, default=None)
    parser.add_argument("--instance-noise", type=float, default=None)
    parser.add_argument("--diffaugment", default=None, help="e.g. color,translation,cutout, or auto")
    parser.add_argument("--ema-decay", type=float, default=None)
    parser.add_argument("--fake-labels", default=None, choices=("data", "uniform"),
                        help="conditional families: draw the fakes' classes with the training labels' "
                        "frequencies (data) or uniformly (default: the family's; data, AC-GAN uniform)")
    parser.add_argument("--balanced-classes", action="store_true",
                        help="conditional families: draw the real batches class-balanced (rare classes repeated; "
                        "the fakes' classes follow, so they are uniform too)")
    parser.add_argument("--r1-gamma", type=float, default=None, help="stylegan: R1 weight (preset's, else auto)")
    parser.add_argument("--r1-interval", type=int, default=None, help="stylegan: D steps between R1 terms (16)")
    parser.add_argument("--lecam-weight", type=float, default=None,
                        help="dcgan, cdcgan, sngan, acgan: LeCam regulariser weight (Tseng et al. 2021; 0: off, "
                        "the default; the authors' CIFAR-10 BigGAN uses 0.3)")
    parser.add_argument("--feature-matching-weight", type=float, default=None, help="spade: (10)")
    parser.add_argument("--vgg-weights", default=None,
                        help="spade: local VGG-19 (no top) weights file for the perceptual loss (never downloaded)")
    parser.add_argument("--mixed-precision", nargs="?", const="float16", default=False,
                        choices=("float16", "bfloat16", "auto"),
                        help="compute in float16 (the flag alone; loss-scaled), bfloat16, or auto (bfloat16 where "
                        "the GPU or CPU computes it natively, else float32); saved models are float32")
    parser.add_argument("--jit-compile", action="store_true")
    parser.add_argument("--strategy", default="auto", choices=("auto", "default", "mirrored", "multiworker"))
    parser.add_argument("--model-option", action="append", default=[], metavar="KEY=VALUE",
                        help="a model factory argument, e.g. generator_filters=32 (repeatable)")
    parser.add_argument("--base-run", default=None, help="acgan: the trained DCGAN run to freeze")
    parser.add_argument("--sample-every", type=int, default=500)
    parser.add_argument("--checkpoint-every", type=int, default=500)
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument("--resume", action="store_true",
                          help="continue the run in --out from its newest checkpoint (same model settings; "
                          "steps, batch size and learning rates may change and are recorded)")
    existing.add_argument("--resume-or-start", action="store_true",
                          help="as --resume, but start the run when --out has no checkpoint yet")
    existing.add_argument("--overwrite", action="store_true", help="replace the run already in --out")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args):
    """Runs ``ganaug.training.train_gan`` with the parsed flags."""
    from ganaug.cli._pairs import parse_pairs
    from ganaug.training import train_gan

    train_gan(
        args.family,
        args.data,
        run_dir=args.out,
        preset=args.preset,
        image_size=args.image_size,
        channels=args.channels,
        latent_dim=args.latent_dim,
        batch_size=args.batch_size,
        epochs=args.epochs,
        steps=args.steps,
        base_run=args.base_run,
        model_options=parse_pairs(args.model_option, "--model-option"),
        balanced_classes=args.balanced_classes,
        generator_learning_rate=args.generator_learning_rate,
        discriminator_learning_rate=args.discriminator_learning_rate,
        generator_steps=args.generator_steps,
        discriminator_steps=args.discriminator_steps,
        label_smoothing=args.label_smoothing,
        instance_noise=args.instance_noise,
        loss=args.loss,
        diffaugment=args.diffaugment,
        ema_decay=args.ema_decay,
        **{k: v for k, v in (("r1_gamma", args.r1_gamma), ("r1_interval", args.r1_interval),
                             ("fake_labels", args.fake_labels), ("lecam_weight", args.lecam_weight),
                             ("feature_matching_weight", args.feature_matching_weight),
                             ("vgg_weights", args.vgg_weights)) if v is not None},
        mixed_precision=args.mixed_precision,
        jit_compile=args.jit_compile,
        strategy=args.strategy,
        sample_every=args.sample_every,
        checkpoint_every=args.checkpoint_every,
        resume="or_start" if args.resume_or_start else args.resume,
        overwrite=args.overwrite,
        seed=args.seed,
        verbose=0 if args.quiet else 1,
    )
    print(f"Run written to {args.out}")
    return 0

