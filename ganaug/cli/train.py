"""``ganaug train dcgan|cdcgan|acgan``: train a GAN and write its run directory."""


def register(subparsers):
    """Adds the ``train`` command."""
    parser = subparsers.add_parser(
        "train",
        help="train a DCGAN, conditional DCGAN or AC-GAN",
        description="Train a GAN on a folder-per-class image data set and write runs/NAME.",
    )
    parser.add_argument("family", choices=("dcgan", "cdcgan", "acgan"))
    parser.add_argument("--data", required=True, help="folder-per-class image folder")
    parser.add_argument("--out", required=True, help="run directory, e.g. runs/dcgan32")
    parser.add_argument("--preset", default=None, help="fernandez2021 or klang_carlberg2020")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--latent-dim", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--loss", default="non_saturating")
    parser.add_argument("--generator-learning-rate", type=float, default=None)
    parser.add_argument("--discriminator-learning-rate", type=float, default=None)
    parser.add_argument("--generator-steps", type=int, default=None)
    parser.add_argument("--label-smoothing", type=float, default=None)
    parser.add_argument("--instance-noise", type=float, default=None)
    parser.add_argument("--diffaugment", default=None, help="e.g. color,translation,cutout")
    parser.add_argument("--ema-decay", type=float, default=None)
    parser.add_argument("--mixed-precision", action="store_true")
    parser.add_argument("--jit-compile", action="store_true")
    parser.add_argument("--strategy", default="auto", choices=("auto", "default", "mirrored", "multiworker"))
    parser.add_argument("--base-run", default=None, help="acgan: the trained DCGAN run to freeze")
    parser.add_argument("--sample-every", type=int, default=500)
    parser.add_argument("--checkpoint-every", type=int, default=500)
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args):
    """Runs ``ganaug.training.train_gan`` with the parsed flags."""
    from ganaug.training import train_gan

    if args.epochs is None and args.steps is None:
        raise ValueError("Pass --epochs or --steps. Received: epochs=None, steps=None")
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
        generator_learning_rate=args.generator_learning_rate,
        discriminator_learning_rate=args.discriminator_learning_rate,
        generator_steps=args.generator_steps,
        label_smoothing=args.label_smoothing,
        instance_noise=args.instance_noise,
        loss=args.loss,
        diffaugment=args.diffaugment,
        ema_decay=args.ema_decay,
        mixed_precision=args.mixed_precision,
        jit_compile=args.jit_compile,
        strategy=args.strategy,
        sample_every=args.sample_every,
        checkpoint_every=args.checkpoint_every,
        resume=args.resume,
        seed=args.seed,
        verbose=0 if args.quiet else 1,
    )
    print(f"Run written to {args.out}")
    return 0
