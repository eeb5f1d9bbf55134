"""Do the generator metrics order things the way they must? real > short-trained GAN > noise.

On the embedded blood-cell data set (``data_readers.synthetic``), the real images are split in two
halves A and B. A trains the feature classifier (``small_cnn``, the default feature space of
``ganaug.evaluation``) and a conditional DCGAN for a few hundred steps. Then, against A, in that
feature space and with the same number of images each, three sets are scored:

1. real B (what a perfect generator would reach at this size),
2. images of the short-trained cDCGAN (drawn with A's class proportions),
3. uniform noise in [-1, 1].

FID/KID must rise and precision/recall fall from row 1 to row 3. Prints the three rows.

    python benchmarks/eval_sanity.py --num-images 1200 --image-size 32 --gan-steps 400 --gan-filters 64
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-images", type=int, default=1200, help="real images in total (A + B)")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--classifier-epochs", type=int, default=6)
    parser.add_argument("--gan-steps", type=int, default=400)
    parser.add_argument("--gan-filters", type=int, default=64, help="generator_filters of the cDCGAN (small: CPU)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import numpy as np

    from data_readers.synthetic import CLASS_NAMES, blood_cell_arrays
    from ganaug.evaluation.classification import format_table
    from ganaug.evaluation.distribution import distribution_metrics
    from ganaug.evaluation.evaluate import class_proportional_labels, stratified_split
    from ganaug.evaluation.features import extract_features, extractor_identity, feature_extractor
    from ganaug.evaluation.manifold import manifold_metrics
    from ganaug.evaluation.tstr import generate_labelled_images
    from ganaug.models import build_cdcgan_discriminator, build_cdcgan_generator, build_classifier
    from ganaug.training import GANTrainer
    from ganaug.training.classifier import train_classifier

    started = time.time()
    pixels, labels = blood_cell_arrays(image_size=args.image_size, num_images=args.num_images, seed=args.seed)
    images = (pixels.astype(np.float32) - 127.5) / 127.5
    num_classes = len(CLASS_NAMES)
    index_a, index_b = stratified_split(labels, holdout_fraction=0.5, seed=args.seed)
    images_a, labels_a = images[index_a], labels[index_a]
    images_b = images[index_b]
    print(f"data: {len(images_a)} images in A, {len(images_b)} in B, {args.image_size} px, {num_classes} classes")

    classifier = build_classifier(
        "small_cnn", num_classes=num_classes, image_size=args.image_size, channels=3, seed=args.seed
    )
    classifier, history = train_classifier(
        classifier, (images_a, labels_a), epochs=args.classifier_epochs, seed=args.seed, verbose=0
    )
    extractor = feature_extractor(classifier)
    print(f"feature classifier: train accuracy {history['accuracy'][-1]:.3f}; feature space {extractor_identity(extractor)}")

    generator = build_cdcgan_generator(
        num_classes=num_classes, image_size=args.image_size, channels=3, generator_filters=args.gan_filters,
        seed=args.seed,
    )
    discriminator = build_cdcgan_discriminator(
        num_classes=num_classes, image_size=args.image_size, channels=3,
        discriminator_filters=max(8, args.gan_filters // 2), seed=args.seed,
    )
    trainer = GANTrainer(generator, discriminator, num_classes=num_classes, strategy="default", seed=args.seed)
    gan_started = time.time()
    trainer.fit((images_a, labels_a), batch_size=args.batch_size, steps=args.gan_steps, sample_every=0,
                checkpoint_every=0, verbose=0)
    print(f"cDCGAN: {args.gan_steps} steps in {time.time() - gan_started:.0f} s")
    trained_generator = trainer.trained_generator()

    num = len(images_b)
    gan_labels = class_proportional_labels(labels_a, num_classes, num)
    gan_images = generate_labelled_images(trained_generator, gan_labels, seed=args.seed + 1)
    noise = np.random.default_rng(args.seed).uniform(-1, 1, size=images_b.shape).astype(np.float32)

    reference = extract_features(extractor, images_a)
    rows = []
    for name, candidate in (("real B", images_b), ("cDCGAN", gan_images), ("noise", noise)):
        features = extract_features(extractor, candidate)
        distribution = distribution_metrics(reference, features, subset_size=min(500, num), num_subsets=50,
                                            seed=args.seed, warn=False)
        manifold = manifold_metrics(reference, features)
        rows.append([
            name, len(candidate), distribution["fid"], f"{distribution['kid']:.4f} ± {distribution['kid_std']:.4f}",
            manifold["precision"], manifold["recall"], manifold["density"], manifold["coverage"],
        ])
    print(format_table(["vs real A", "n", "FID", "KID", "precision", "recall", "density", "coverage"], rows,
                       format="text"))
    fid = [row[2] for row in rows]
    print(f"FID ordered real < GAN < noise: {fid[0] < fid[1] < fid[2]}; total {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
