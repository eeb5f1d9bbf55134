"""Train on real / test on synthetic and train on synthetic / test on real (Fernández et al. 2021).

Tables 2-3 of Fernández et al. 2021 measure a conditional generator through a classifier
(InceptionV3 in the paper): one trained on real images is tested on real and on generated images
(if generated images carry the real classes' patterns, it classifies them well: TRTS), and one
trained on generated images is tested on generated and on real images (if generated images are
realistic *and* diverse, it classifies real images nearly as well as the real-trained one: TSTR;
more generated samples should help if they are not redundant). ``tstr_trts`` runs the four cells
for any number of classes with the number of generated samples per class as a parameter.
"""

import numpy as np

from ganaug.evaluation.classification import classification_metrics, format_table
from ganaug.training.sampling import is_conditional

ROWS = (
    ("real", "real"),
    ("real", "generated"),
    ("generated", "generated"),
    ("generated", "real"),
)


def generate_labelled_images(
    generator, labels=None, *, num_images=None, latent_distribution="normal", seed=0, batch_size=64
):
    """Returns images drawn from a generator for the given classes (``ganaug.training.generate_images``).

    Args:
        generator: a ``keras.Model`` ``latent -> images`` or ``[latent, label] -> images``.
        labels: int ``(N,)`` classes to draw (conditional generators; required for them), or None.
        num_images: number of images for an unconditional generator (ignored when ``labels`` is given).
        latent_distribution: ``"normal"`` or ``"uniform"`` (``ganaug.models.prior.sample_latent``).
        seed: seed of the latent codes; the same seed gives the same images.
        batch_size: images per forward pass.

    Returns:
        float32 ``(N, H, W, C)`` images.

    Raises:
        ValueError: if a conditional generator gets no labels, or for bad sizes.
    """
    from ganaug.training.sampling import generate_images

    if labels is not None:
        labels = np.asarray(labels).astype(np.int32).reshape(-1)
        num_images = len(labels)
    elif is_conditional(generator):
        raise ValueError("A conditional generator needs `labels`. Received: labels=None")
    if num_images is None or int(num_images) != num_images or num_images < 1:
        raise ValueError(f"`num_images` must be a positive integer. Received: num_images={num_images}")
    return generate_images(
        generator, int(num_images), labels=labels, latent_distribution=latent_distribution, seed=seed,
        batch_size=int(batch_size),
    )


def _default_classifier_factory(num_classes, image_size, channels, seed):
    from ganaug.models import build_classifier

    return build_classifier("small_cnn", num_classes=num_classes, image_size=image_size, channels=channels, seed=seed)


def tstr_trts(
    generator,
    real_train,
    real_test,
    *,
    samples_per_class=500,
    class_names=None,
    classifier_factory=None,
    epochs=None,
    steps=None,
    learning_rate=None,
    batch_size=32,
    latent_distribution="normal",
    real_classifier=None,
    seed=0,
    verbose=0,
):
    """Returns the train-real/test-generated and train-generated/test-real table of a conditional generator.

    Fernández et al. 2021, Tables 2-3. Two classifiers of the same architecture are trained with
    ``ganaug.training.classifier.train_classifier``: one on ``real_train``, one on
    ``samples_per_class`` generated images per class. Each is tested on ``real_test`` and on a fresh
    generated test set (``samples_per_class`` per class, other latent codes).

    Args:
        generator: a conditional generator ``[latent, label] -> images``.
        real_train: ``(images, labels)`` arrays (or any data ``features.as_arrays`` accepts).
        real_test: held-out real ``(images, labels)``.
        samples_per_class: generated images per class, for training and for testing.
        class_names: the class names (their number fixes ``num_classes``; default from the labels).
        classifier_factory: ``f(num_classes, image_size, channels, seed) -> keras.Model`` (softmax);
            default ``ganaug.models.build_classifier("small_cnn", ...)``. InceptionV3 as in the paper:
            pass a factory building ``build_classifier("inception_v3", ..., resize_to=75)``.
        epochs, steps, learning_rate, batch_size: classifier training options
            (``train_classifier``; None for its converged defaults).
        latent_distribution: the generator's prior.
        real_classifier: an already trained classifier of ``real_train`` to use for the two
            "trained on real" cells instead of training one (``evaluate_generator`` passes its
            feature classifier, trained the same way, to save one training).
        seed: seeds the generated sets and the classifiers.
        verbose: 0 silent, 1 progress.

    Returns:
        dict: ``rows`` (list of ``{train, test, accuracy, f1_weighted, f1_macro}`` for real/real,
        real/generated, generated/generated, generated/real), ``metrics`` (the full
        ``classification_metrics`` of each cell keyed ``"train_<a>_test_<b>"``), ``markdown`` (the
        table), ``samples_per_class``, ``num_real_train``, ``num_real_test`` and ``class_names``.

    Raises:
        ValueError: if the generator is not conditional, data has no labels or arguments are bad.
    """
    from ganaug.evaluation.features import as_arrays
    from ganaug.training.classifier import predict_classes, train_classifier

    if not is_conditional(generator):
        raise ValueError(
            "TSTR/TRTS needs a conditional generator ([latent, label] -> images). "
            f"Received: generator with {len(generator.inputs)} input(s)"
        )
    if int(samples_per_class) != samples_per_class or samples_per_class < 1:
        raise ValueError(
            f"`samples_per_class` must be a positive integer. Received: samples_per_class={samples_per_class}"
        )
    train_images, train_labels = as_arrays(real_train)
    test_images, test_labels = as_arrays(real_test)
    if train_labels is None or test_labels is None:
        raise ValueError("`real_train` and `real_test` need labels. Received: data without labels")
    num_classes = len(class_names) if class_names is not None else int(max(train_labels.max(), test_labels.max())) + 1
    if class_names is None:
        class_names = [str(c) for c in range(num_classes)]
    factory = classifier_factory or _default_classifier_factory
    image_size, channels = int(train_images.shape[1]), int(train_images.shape[-1])

    per_class = np.repeat(np.arange(num_classes, dtype=np.int32), int(samples_per_class))
    generated = {}
    for name, offset in (("train", 1), ("test", 2)):
        images = generate_labelled_images(
            generator, per_class, latent_distribution=latent_distribution, seed=seed * 1000 + offset
        )
        generated[name] = (images, per_class)
    test_sets = {"real": (test_images, test_labels), "generated": generated["test"]}
    train_sets = {"real": (train_images, train_labels), "generated": generated["train"]}

    rows, metrics = [], {}
    for train_name in ("real", "generated"):
        if train_name == "real" and real_classifier is not None:
            model = real_classifier
        else:
            model = factory(num_classes, image_size, channels, seed)
            options = {} if learning_rate is None else {"learning_rate": learning_rate}
            model, _ = train_classifier(
                model, train_sets[train_name], epochs=epochs, steps=steps, batch_size=batch_size, seed=seed,
                verbose=verbose, **options,
            )
        for row_train, test_name in ROWS:
            if row_train != train_name:
                continue
            images, labels = test_sets[test_name]
            probabilities, _ = predict_classes(model, images, batch_size=64)
            cell = classification_metrics(labels, probabilities, class_names=class_names)
            metrics[f"train_{train_name}_test_{test_name}"] = cell
    for train_name, test_name in ROWS:
        cell = metrics[f"train_{train_name}_test_{test_name}"]
        rows.append(
            {
                "train": train_name,
                "test": test_name,
                "accuracy": cell["accuracy"],
                "f1_weighted": cell["f1_weighted"],
                "f1_macro": cell["f1_macro"],
            }
        )
    return {
        "rows": rows,
        "metrics": metrics,
        "markdown": tstr_table(rows),
        "samples_per_class": int(samples_per_class),
        "num_real_train": int(len(train_images)),
        "num_real_test": int(len(test_images)),
        "class_names": list(class_names),
    }


def tstr_table(rows, *, format="markdown"):
    """Returns the TSTR/TRTS rows as a table (columns: trained on, tested on, accuracy, F1s)."""
    return format_table(
        ["trained on", "tested on", "accuracy", "weighted F1", "macro F1"],
        [[r["train"], r["test"], r["accuracy"], r["f1_weighted"], r["f1_macro"]] for r in rows],
        format=format,
    )
