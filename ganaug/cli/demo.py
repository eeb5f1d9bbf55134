"""`ganaug demo`: the whole method on the embedded data set, ending with a report."""


def register(subparsers):
    parser = subparsers.add_parser(
        "demo",
        help="Run the whole pipeline on the embedded blood-cell data set and write a report.",
        description="Make the embedded data set, train the vanilla GAN and the frozen-backbone AC-GAN, "
        "train the encoder, evaluate the generator, run the augmentation experiment with several seeds, "
        "compare Grad-CAM evidence, export SavedModels and write report.html. The default preset takes "
        "about 15 minutes on a 2-core CPU; --preset gpu scales it up.",
    )
    parser.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    parser.add_argument("--preset", default="cpu", choices=["cpu", "smoke", "gpu"], help="demo size")
    parser.add_argument("--size", type=int, default=None, help="image size in pixels (power of two)")
    parser.add_argument("--num-images", type=int, default=None, help="size of the embedded data set")
    parser.add_argument("--gan-preset", default=None, choices=["klang_carlberg2020", "fernandez2021"],
                        help="the paper configuration of the GAN (scaled to --size)")
    parser.add_argument("--gan-steps", type=int, default=None, help="vanilla GAN training steps")
    parser.add_argument("--acgan-steps", type=int, default=None, help="AC-GAN training steps")
    parser.add_argument("--epochs", type=int, default=None, help="classifier epochs per arm and seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="classifier training seeds")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data set, split and GANs")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.set_defaults(func=run)


def run(args):
    from ganaug.demo import run_demo

    run_demo(
        args.out, preset=args.preset, seed=args.seed, verbose=0 if args.quiet else 1,
        image_size=args.size, num_images=args.num_images, gan_preset=args.gan_preset,
        gan_steps=args.gan_steps, acgan_steps=args.acgan_steps, classifier_epochs=args.epochs,
        seeds=tuple(args.seeds) if args.seeds else None,
    )
    return 0
