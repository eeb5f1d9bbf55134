"""`ganaug demo`: the whole method on the embedded data set, ending with a report."""


def register(subparsers):
    parser = subparsers.add_parser(
        "demo",
        help="Run the whole pipeline on the embedded blood-cell data set and write a report.",
        description="Make the embedded data set, train the vanilla GAN and the frozen-backbone AC-GAN, the "
        "conditional DCGAN and SNGAN, compare them and select one, train the encoder, evaluate the selected "
        "generator, run the augmentation experiment with controls and several seeds, compare Grad-CAM evidence, "
        "export SavedModels and write report.html. The default preset takes about 20 minutes on a 2-core CPU; "
        "--preset gpu scales it up. A stopped demo run again with the same settings continues at the step "
        "that did not finish.",
    )
    parser.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    parser.add_argument("--preset", default="cpu", choices=["cpu", "smoke", "gpu"], help="demo size")
    parser.add_argument("--size", type=int, default=None, help="image size in pixels (power of two)")
    parser.add_argument("--num-images", type=int, default=None, help="size of the embedded data set")
    parser.add_argument("--gan-preset", default=None, choices=["klang_carlberg2020", "fernandez2021"],
                        help="the paper configuration of the GAN (scaled to --size)")
    parser.add_argument("--gan-steps", type=int, default=None, help="vanilla GAN training steps")
    parser.add_argument("--acgan-steps", type=int, default=None, help="AC-GAN training steps")
    parser.add_argument("--cdcgan-steps", type=int, default=None, help="conditional DCGAN training steps")
    parser.add_argument("--sngan-steps", type=int, default=None, help="SNGAN discriminator steps")
    parser.add_argument("--sngan-balanced-classes", action="store_true", default=None,
                        help="train SNGAN on class-balanced real batches (every class drawn equally)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="classifier training seeds")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data set, split and GANs")
    parser.add_argument("--restart", action="store_true", help="run every step again, even ones finished earlier")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.set_defaults(func=run)


def run(args):
    from ganaug.demo import run_demo

    run_demo(
        args.out, preset=args.preset, seed=args.seed, verbose=0 if args.quiet else 1,
        image_size=args.size, num_images=args.num_images, gan_preset=args.gan_preset,
        gan_steps=args.gan_steps, acgan_steps=args.acgan_steps, cdcgan_steps=args.cdcgan_steps,
        sngan_steps=args.sngan_steps, sngan_balanced_classes=args.sngan_balanced_classes,
        seeds=tuple(args.seeds) if args.seeds else None, restart=args.restart,
    )
    return 0
