"""Grad-CAM evidence on real vs generated images, end to end on the embedded blood-cell data set.

Fernández et al. 2021 (section 4.1.1, Fig. 6) compare Grad-CAM heatmaps of an InceptionV3 on real
and on generated positive images. This script does the same at a CPU-friendly size:

1. draws two classes of the embedded synthetic blood-cell data set (``data_readers.synthetic``);
2. trains a ``small_cnn`` classifier on them for a few epochs;
3. trains a small conditional DCGAN (``fernandez2021`` preset, scaled down) for a few hundred steps;
4. compares the classifier's Grad-CAM evidence for one class on held-out real images and on
   generated images of that class (``ganaug.explain.compare_evidence``) and saves the figure to
   ``docs/images/gradcam_comparison.png`` and a Fig. 6-style panel to
   ``docs/images/gradcam_panel.png``; the numbers go to ``docs/images/gradcam_comparison.json``.

Usage: ``python benchmarks/gradcam_comparison_demo.py [--gan-steps 600] [--out docs/images]``.
``GANAUG_SMOKE=1`` shrinks everything to a quick smoke run.
"""

import argparse
import json
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

CLASSES = ("lymphocyte", "neutrophil")  # round vs segmented nucleus


def parse_args():
    smoke = os.environ.get("GANAUG_SMOKE") == "1"
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--per-class", type=int, default=60 if smoke else 400)
    parser.add_argument("--classifier-epochs", type=int, default=1 if smoke else 6)
    parser.add_argument("--gan-steps", type=int, default=20 if smoke else 800)
    parser.add_argument("--num-compare", type=int, default=16 if smoke else 64)
    parser.add_argument("--method", choices=("gradcam", "gradcam++"), default="gradcam")
    parser.add_argument("--out", default=os.path.join("docs", "images"))
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def main():
    args = parse_args()
    import keras
    import numpy as np

    from data_readers.synthetic import CLASS_NAMES, blood_cell_arrays
    from ganaug.explain import compare_evidence, evidence_panel_figure
    from ganaug.figures import save_figure
    from ganaug.models import build_cdcgan_discriminator, build_cdcgan_generator, build_classifier
    from ganaug.training import GANTrainer, generate_images
    from ganaug.training.classifier import train_classifier

    started = time.time()
    keras.utils.set_random_seed(args.seed)
    counts = {name: args.per_class for name in CLASSES}
    pixels, labels = blood_cell_arrays(image_size=args.image_size, counts=counts, seed=args.seed)
    images = (pixels.astype(np.float32) - 127.5) / 127.5
    labels = np.array([CLASSES.index(CLASS_NAMES[label]) for label in labels], np.int32)
    order = np.random.default_rng(args.seed).permutation(len(images))
    images, labels = images[order], labels[order]
    held_out = len(images) // 4
    test_images, test_labels = images[:held_out], labels[:held_out]
    train_images, train_labels = images[held_out:], labels[held_out:]
    print(f"data: {len(train_images)} train / {len(test_images)} held-out images of {CLASSES}")

    classifier = build_classifier(
        "small_cnn", num_classes=len(CLASSES), image_size=args.image_size, seed=args.seed
    )
    classifier, _ = train_classifier(
        classifier,
        (train_images, train_labels),
        epochs=args.classifier_epochs,
        seed=args.seed,
        verbose=2,
    )
    accuracy = float(
        np.mean(classifier.predict(test_images, verbose=0).argmax(axis=-1) == test_labels)
    )
    print(f"classifier held-out accuracy: {accuracy:.3f}")

    generator = build_cdcgan_generator(
        num_classes=len(CLASSES), preset="fernandez2021", image_size=args.image_size, seed=args.seed
    )
    discriminator = build_cdcgan_discriminator(
        num_classes=len(CLASSES), preset="fernandez2021", image_size=args.image_size, seed=args.seed
    )
    trainer = GANTrainer(
        generator,
        discriminator,
        generator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
        discriminator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
        latent_distribution="uniform",
        strategy="default",
        seed=args.seed,
    )
    trainer.fit((train_images, train_labels), batch_size=64, steps=args.gan_steps, verbose=1)

    class_index = 1
    real = test_images[test_labels == class_index][: args.num_compare]
    generated = generate_images(
        trainer.generator,
        len(real),
        labels=class_index,
        latent_distribution="uniform",
        seed=args.seed,
    )
    result = compare_evidence(
        classifier,
        real,
        generated,
        class_index=class_index,
        method=args.method,
        num_examples=6,
        seed=args.seed,
    )
    print(result["summary"])
    os.makedirs(args.out, exist_ok=True)
    save_figure(result["figure"], os.path.join(args.out, "gradcam_comparison.png"))
    panel = evidence_panel_figure(
        np.concatenate([real[:3], generated[:3]]),
        np.concatenate([result["heatmaps"]["real"][:3], result["heatmaps"]["generated"][:3]]),
        row_labels=[f"real {i + 1}" for i in range(3)] + [f"generated {i + 1}" for i in range(3)],
        title=f"{args.method} for class '{CLASSES[class_index]}' (after Fernández et al. 2021, Fig. 6)",
    )
    save_figure(panel, os.path.join(args.out, "gradcam_panel.png"))
    numbers = {
        key: value
        for key, value in result.items()
        if key not in ("figure", "heatmaps", "predictions", "per_image")
    }
    numbers.update(
        classes=list(CLASSES),
        classifier_held_out_accuracy=accuracy,
        gan_steps=args.gan_steps,
        image_size=args.image_size,
        seconds=round(time.time() - started, 1),
    )
    with open(os.path.join(args.out, "gradcam_comparison.json"), "w") as f:
        json.dump(numbers, f, indent=2, default=float)
    print(f"wrote {args.out}/gradcam_comparison.png, gradcam_panel.png, gradcam_comparison.json "
          f"in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
