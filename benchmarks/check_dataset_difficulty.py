"""Is the embedded data set a fair test? Trains a small CNN on it and prints held-out scores.

The synthetic blood-cell data set (``data_readers.synthetic``) should be learnable but not trivial:
a small CNN should reach high but imperfect accuracy, and the rare classes (a few dozen examples,
like the thesis's rarest CellaVision classes) should score lower than the common ones. This script
generates the data set in memory, splits it stratified into train/test, trains a 3-block CNN for a
few epochs and prints overall accuracy, weighted F1 and per-class F1 (as Klang & Carlberg report).

    python benchmarks/check_dataset_difficulty.py --num-images 2000 --image-size 32 --epochs 12
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def build_small_cnn(image_size, num_classes, seed):
    """Three conv blocks (two 3x3 ReLU convolutions, 32/64/128 filters, max pooling) and softmax."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((image_size, image_size, 3))
    x = inputs
    for filters in (32, 64, 128):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.2)(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="small_cnn")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-images", type=int, default=2000)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--test-fraction", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import keras
    import numpy as np
    from sklearn.metrics import accuracy_score, classification_report, f1_score
    from sklearn.model_selection import train_test_split

    from data_readers.synthetic import CLASS_NAMES, blood_cell_arrays

    start = time.perf_counter()
    images, labels = blood_cell_arrays(
        image_size=args.image_size, num_images=args.num_images, seed=args.seed, verbose=1
    )
    generation_seconds = time.perf_counter() - start
    x = (images.astype("float32") - 127.5) / 127.5
    x_train, x_test, y_train, y_test = train_test_split(
        x, labels, test_size=args.test_fraction, stratify=labels, random_state=args.seed
    )
    model = build_small_cnn(args.image_size, len(CLASS_NAMES), args.seed)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=32, epochs=args.epochs, verbose=2)
    training_seconds = time.perf_counter() - start
    predicted = model.predict(x_test, verbose=0).argmax(axis=1)

    train_counts = np.bincount(y_train, minlength=len(CLASS_NAMES))
    per_class_f1 = f1_score(
        y_test, predicted, labels=list(range(len(CLASS_NAMES))), average=None, zero_division=0
    )
    print(f"\ngenerated {len(images)} images of {args.image_size} px in {generation_seconds:.1f} s; "
          f"trained {args.epochs} epochs in {training_seconds:.1f} s")
    print(f"test accuracy {accuracy_score(y_test, predicted):.3f}, weighted F1 "
          f"{f1_score(y_test, predicted, average='weighted'):.3f} on {len(y_test)} held-out images")
    print(f"{'class':28s} {'train':>6s} {'F1':>6s}")
    for index in np.argsort(-train_counts):
        print(f"{CLASS_NAMES[index]:28s} {train_counts[index]:6d} {per_class_f1[index]:6.3f}")
    common = train_counts >= np.median(train_counts)
    print(f"mean F1, 4 commonest classes {per_class_f1[common].mean():.3f}; "
          f"4 rarest {per_class_f1[~common].mean():.3f}")
    print(classification_report(y_test, predicted, target_names=CLASS_NAMES, digits=3, zero_division=0))


if __name__ == "__main__":
    main()
