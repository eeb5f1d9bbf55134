"""Encoder vs reverse search: time and reconstruction quality of inverting a batch of images.

Klang & Carlberg train an image-to-latent network instead of solving the optimisation for every
image; Fernández et al. 2021 solve it by gradient descent (reverse search). This script measures,
on one machine in one run:

1. the encoder (one forward pass) vs reverse search with ``invert_images``' default steps on the
   same batch: both times, their ratio and the PSNR of each reconstruction;
2. encoder codes + a few reverse-search steps vs reverse search from random starts given the same
   wall-clock time, vs the encoder alone.

Targets are generated images G(z), z from the prior (known to be reachable), unless ``--images`` names
a folder of real images. With ``--run`` the run's generator (and ``encoder.keras`` if present) are
used; otherwise an untrained ``build_dcgan_generator`` at 32 px and an encoder trained here for
``--encoder-steps`` cyclic steps (Saboo et al.). An untrained generator's images are faint, so the
"mean image" baseline PSNR is printed next to the others: only PSNR above it means anything.

    python benchmarks/bench_latent.py                       # untrained 32 px DCGAN
    python benchmarks/bench_latent.py --run runs/dcgan32    # a trained run
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", default=None, help="run directory (generator.keras, optional encoder.keras)")
    parser.add_argument("--images", default=None, help="folder of real target images (default: generated)")
    parser.add_argument("--num-images", type=int, default=256)
    parser.add_argument("--image-size", type=int, default=32, help="without --run (default 32)")
    parser.add_argument("--generator-filters", type=int, default=32, help="without --run: width of the untrained DCGAN")
    parser.add_argument("--latent-dim", type=int, default=100, help="without --run (default 100)")
    parser.add_argument("--steps", type=int, default=None, help="reverse-search steps (default: invert_images' default)")
    parser.add_argument("--refine-steps", type=int, default=25, help="steps after encoder initialisation (default 25)")
    parser.add_argument("--encoder-steps", type=int, default=300, help="cyclic training steps when the run has no encoder")
    parser.add_argument("--batch-size", type=int, default=256, help="images per reverse-search batch (default 256)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_arguments(argv)
    import inspect

    import numpy as np
    import tensorflow as tf

    from ganaug.latent import encode, generate_images, invert_images, reconstruction_quality, train_encoder
    from ganaug.models import build_dcgan_generator, build_encoder, sample_latent

    default_steps = inspect.signature(invert_images).parameters["steps"].default
    steps = args.steps or default_steps
    encoder = None
    if args.run:
        from ganaug.runs import load_run_model, model_path, read_config

        config = read_config(args.run)
        generator = load_run_model(args.run, "generator")
        distribution = config.get("latent_distribution", "normal")
        if os.path.isfile(model_path(args.run, "encoder")):
            encoder = load_run_model(args.run, "encoder")
        source = f"run {args.run}"
    else:
        generator = build_dcgan_generator(
            image_size=args.image_size, latent_dim=args.latent_dim, generator_filters=args.generator_filters, seed=args.seed
        )
        distribution = "normal"
        source = f"untrained build_dcgan_generator(image_size={args.image_size}, generator_filters={args.generator_filters})"
    latent_dim = int(generator.inputs[0].shape[-1])
    size, _, channels = (int(d) for d in generator.outputs[0].shape[1:])
    if len(generator.inputs) != 1:
        raise SystemExit("bench_latent.py measures unconditional (DCGAN) generators only.")

    if args.images:
        from data_readers.image_reader import read_images
        from ganaug.cli.invert import image_paths

        targets = read_images(image_paths([args.images])[: args.num_images], image_size=size, channels=channels)
        target_source = f"{len(targets)} real images from {args.images}"
    else:
        targets = generate_images(generator, sample_latent(args.num_images, latent_dim, distribution=distribution, seed=args.seed + 1))
        target_source = f"{len(targets)} generated images G(z)"
    print(f"generator: {source}; {size}x{size}x{channels}, latent_dim {latent_dim}, prior {distribution}")
    print(f"targets: {target_source}; pixel std {targets.std():.4f}; CPU threads {os.cpu_count()}; TF {tf.__version__}")

    if encoder is None:
        encoder = build_encoder(image_size=size, channels=channels, latent_dim=latent_dim, discriminator_filters=32,
                                discriminator_batch_norm="none", seed=args.seed)
        training_images = generate_images(generator, sample_latent(1024, latent_dim, distribution=distribution, seed=args.seed + 2))
        start = time.perf_counter()
        train_encoder(generator, training_images, encoder=encoder, mode="cyclic", steps=args.encoder_steps,
                      learning_rate=1e-3, batch_size=64, latent_distribution=distribution, seed=args.seed, verbose=0)
        print(f"encoder: trained here, cyclic, {args.encoder_steps} steps, lr 1e-3, "
              f"{time.perf_counter() - start:.1f} s (not counted below)")

    def psnr(reconstructions):
        return reconstruction_quality(targets, reconstructions)["mean_psnr"]

    baseline = psnr(np.broadcast_to(targets.mean(axis=0), targets.shape))
    print(f"baseline PSNR (every target replaced by the mean target image): {baseline:.2f} dB\n")

    encode(encoder, targets[:8])  # warm-up (first call builds the graph)
    start = time.perf_counter()
    encoder_codes = encode(encoder, targets, batch_size=args.batch_size)
    encoder_time = time.perf_counter() - start
    encoder_psnr = psnr(generate_images(generator, encoder_codes, batch_size=args.batch_size))

    common = dict(latent_distribution=distribution, batch_size=args.batch_size, seed=args.seed, verbose=0)
    start = time.perf_counter()
    search = invert_images(generator, targets, steps=steps, **common)
    search_time = time.perf_counter() - start
    search_psnr = psnr(search.reconstructions)

    print(f"1. inverting {len(targets)} images")
    print(f"   {'encoder (one forward pass):':<39}{encoder_time:9.3f} s   PSNR {encoder_psnr:6.2f} dB")
    label = f"reverse search ({steps} steps{', default' if steps == default_steps else ''}):"
    print(f"   {label:<39}{search_time:9.3f} s   PSNR {search_psnr:6.2f} dB")
    print(f"   speed-up of the encoder: {search_time / encoder_time:,.0f}x (target >= 100x)\n")

    start = time.perf_counter()
    refined = invert_images(generator, targets, steps=args.refine_steps,
                            initial_codes=encode(encoder, targets, batch_size=args.batch_size), **common)
    refine_time = time.perf_counter() - start
    seconds_per_step = search_time / steps
    equal_steps = max(1, int(round(refine_time / seconds_per_step)))
    start = time.perf_counter()
    random_start = invert_images(generator, targets, steps=equal_steps, **common)
    random_time = time.perf_counter() - start
    print("2. equal wall-clock time")
    label = f"encoder + {args.refine_steps} search steps:"
    print(f"   {label:<39}{refine_time:9.3f} s   PSNR {psnr(refined.reconstructions):6.2f} dB")
    label = f"search from random starts, {equal_steps} steps:"
    print(f"   {label:<39}{random_time:9.3f} s   PSNR {psnr(random_start.reconstructions):6.2f} dB")
    print(f"   {'encoder alone:':<39}{encoder_time:9.3f} s   PSNR {encoder_psnr:6.2f} dB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
