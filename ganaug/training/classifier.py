"""Supervised training of an image classifier, the tool every evaluation and augmentation step needs.

Fernández et al. 2021 (Tables 2-4) train InceptionV3 on real and/or generated patches; Klang &
Carlberg retrain Xception on real images grown by 50 % with AC-GAN images and compare it with
classical augmentation (rotation, zoom). Both are "compile with Adam + cross-entropy, fit, predict":
``train_classifier`` does exactly that for any softmax ``keras.Model`` (e.g. from
``ganaug.models.build_classifier``) on numpy arrays, a ``tf.data.Dataset`` of ``(images, labels)``
or a ``data_readers`` ``ImageReader``; ``predict_classes`` returns the class probabilities.

Its defaults make a classifier converge on small, imbalanced training sets (a schedule in
optimiser steps with a floor, warm-up and cosine decay, batch-norm statistics recomputed at the
end, no early stopping on a noisy validation set); the measurements behind them are in
``docs/classifier_training.md``.
"""

import numpy as np

AUGMENTATIONS = (None, "classical")
SAMPLINGS = ("natural", "balanced")
LEARNING_RATE_SCHEDULES = ("cosine", "constant")

#: Passes over the data when neither ``steps`` nor ``epochs`` is given (a floor of
#: ``DEFAULT_MIN_STEPS`` optimiser steps applies on top).
DEFAULT_EPOCHS = 10
#: The fewest optimiser steps of an epoch-counted schedule: what a small set needs to converge
#: (``small_cnn`` at 32 px on ~1,300 images: 400 steps at the default learning rate reach the accuracy
#: of 1,000 steps at 1e-3; 300 steps lose 0.02, see docs/classifier_training.md).
DEFAULT_MIN_STEPS = 400
#: Peak Adam learning rate of the warm-up + cosine schedule (tuned for ``small_cnn``; large
#: keras.applications backbones trained from scratch may want 1e-3).
DEFAULT_LEARNING_RATE = 1e-2
#: Share of the steps spent warming the learning rate up (linear, from 0).
WARMUP_FRACTION = 0.05
#: At most this many validation rounds (history entries) per run.
MAX_VALIDATIONS = 50
#: Batches read by ``recalibrate_batch_norm`` after training.
DEFAULT_RECALIBRATION_BATCHES = 200


def classical_augmentation(*, rotation_factor=0.5, zoom_factor=0.1, flip=None, seed=0):
    """Returns the classical augmentation of Klang & Carlberg as a Keras ``Sequential`` of preprocessing layers.

    The thesis's classical augmentation is "rotate and zoom" (sec. 5): random rotation (a
    fraction of a full turn: 0.5 means up to +-180 degrees, cells have no preferred orientation)
    and random zoom, applied to float images in [-1, 1] (``fill_mode="reflect"`` so no artificial
    borders appear). Random flips are an option (``flip``), off by default; each layer keeps its
    own seed (flip ``seed``, rotation ``seed + 1``, zoom ``seed + 2``), so turning flips on or off
    leaves the rotations and zooms drawn unchanged.

    Args:
        rotation_factor: maximum rotation as a fraction of 2*pi, in [0, 1].
        zoom_factor: maximum zoom in/out as a fraction of the image size, in [0, 1).
        flip: None (the thesis's), ``"horizontal"``, ``"vertical"`` or ``"horizontal_and_vertical"``.
        seed: integer seed of the random transforms.

    Returns:
        A ``keras.Sequential`` taking and returning ``(N, H, W, C)`` float32 batches.

    Raises:
        ValueError: for a factor out of range or an unknown ``flip``.
    """
    import keras

    if not 0.0 <= rotation_factor <= 1.0:
        raise ValueError(f"`rotation_factor` must be in [0, 1]. Received: rotation_factor={rotation_factor}")
    if not 0.0 <= zoom_factor < 1.0:
        raise ValueError(f"`zoom_factor` must be in [0, 1). Received: zoom_factor={zoom_factor}")
    if flip not in ("horizontal", "vertical", "horizontal_and_vertical", None):
        raise ValueError(
            "`flip` must be 'horizontal', 'vertical', 'horizontal_and_vertical' or None. "
            f"Received: flip={flip!r}"
        )
    layers = []
    if flip is not None:
        layers.append(keras.layers.RandomFlip(flip, seed=seed))
    if rotation_factor > 0:
        layers.append(keras.layers.RandomRotation(rotation_factor, fill_mode="reflect", seed=seed + 1))
    if zoom_factor > 0:
        layers.append(keras.layers.RandomZoom(zoom_factor, fill_mode="reflect", seed=seed + 2))
    return keras.Sequential(layers, name="classical_augmentation")


def _check_augmentation_options(options, augment):
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise TypeError(f"`augmentation_options` must be a dict. Received: augmentation_options={options!r}")
    if options and augment != "classical":
        raise ValueError(
            f"`augmentation_options` need augment='classical'. Received: augment={augment!r}, "
            f"augmentation_options={options!r}"
        )
    unknown = sorted(set(options) - {"rotation_factor", "zoom_factor", "flip"})
    if unknown:
        raise ValueError(
            "`augmentation_options` takes rotation_factor, zoom_factor and flip. "
            f"Received: {', '.join(f'{k}={options[k]!r}' for k in unknown)}"
        )
    return dict(options)


def _is_reader(data):
    return hasattr(data, "as_tf_dataset") and callable(data.as_tf_dataset)


def _split_arrays(data, name):
    """Returns (images, labels) numpy arrays from an ``(images, labels)`` pair, or None."""
    if isinstance(data, (tuple, list)) and len(data) == 2:
        images = np.asarray(data[0], dtype=np.float32)
        labels = np.asarray(data[1])
        if images.ndim != 4:
            raise ValueError(
                f"`{name}` images must have shape (N, H, W, C). Received: {name}[0].shape={images.shape}"
            )
        if labels.shape != (len(images),):
            raise ValueError(
                f"`{name}` labels must have shape (N,) matching the images. "
                f"Received: {name}[1].shape={labels.shape}, images.shape={images.shape}"
            )
        if not np.issubdtype(labels.dtype, np.integer):
            raise TypeError(f"`{name}` labels must be integers. Received: {name}[1].dtype={labels.dtype}")
        return images, labels.astype(np.int32)
    return None


def to_dataset(data, *, batch_size=32, shuffle=False, seed=0, name="data"):
    """Returns ``data`` as a batched ``tf.data.Dataset`` of ``(images, labels)``.

    Args:
        data: an ``(images, labels)`` pair of arrays, a ``tf.data.Dataset`` yielding ``(images,
            labels)`` batches, or an object with ``as_tf_dataset()`` (``data_readers`` ``ImageReader``).
        batch_size: batch size used for arrays (datasets and readers keep their own batching).
        shuffle: shuffle arrays each epoch (seeded).
        seed: the shuffle seed.
        name: the argument name used in error messages.

    Returns:
        ``tf.data.Dataset``.

    Raises:
        TypeError: if ``data`` is none of the accepted kinds.
    """
    import tensorflow as tf

    arrays = _split_arrays(data, name)
    if arrays is not None:
        images, labels = arrays
        dataset = tf.data.Dataset.from_tensor_slices((images, labels))
        if shuffle:
            dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
        return dataset.batch(batch_size)
    if isinstance(data, tf.data.Dataset):
        return data
    if _is_reader(data):
        return data.as_tf_dataset()
    raise TypeError(
        f"`{name}` must be an (images, labels) pair of arrays, a tf.data.Dataset or an ImageReader. "
        f"Received: {name} of type {type(data).__name__}"
    )


def _known_labels(data):
    arrays = _split_arrays(data, "train_data") if isinstance(data, (tuple, list)) else None
    if arrays is not None:
        return arrays[1]
    labels = getattr(data, "labels", None)
    if labels is not None and not callable(labels):
        return np.asarray(labels, dtype=np.int32)
    return None


def balanced_class_weight(labels, *, num_classes=None):
    """Returns ``{class: n / (num_classes_present * count)}``, the usual "balanced" class weights.

    Classes absent from ``labels`` get weight 0 (they contribute nothing either way).
    """
    labels = np.asarray(labels, dtype=np.int64)
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    present = np.count_nonzero(counts)
    return {
        int(c): (float(len(labels) / (present * counts[c])) if counts[c] > 0 else 0.0)
        for c in range(num_classes)
    }


def classifier_schedule(
    num_examples,
    *,
    batch_size=32,
    epochs=None,
    steps=None,
    min_steps=DEFAULT_MIN_STEPS,
    validation_every=None,
    warmup_steps=None,
):
    """Returns the number of optimiser steps (and related counts) ``train_classifier`` will use.

    The schedule is counted in optimiser steps, not epochs, so that a small training set gets as
    many updates as a large one: ``steps`` if given, else ``max(epochs * steps_per_epoch,
    min_steps)`` with ``epochs`` defaulting to ``DEFAULT_EPOCHS``. Validation (and early stopping)
    happens every ``validation_every`` steps: one epoch by default, but at most
    ``MAX_VALIDATIONS`` times per run.

    Args:
        num_examples: training images per epoch (None if unknown; then ``steps`` is required).
        batch_size: images per step.
        epochs: passes over the data (a lower bound when ``min_steps`` is larger); None for
            ``DEFAULT_EPOCHS``. Not together with ``steps``.
        steps: exact number of optimiser steps (``min_steps`` does not apply).
        min_steps: the fewest optimiser steps of an epoch-counted schedule (0: exactly ``epochs``).
        validation_every: steps between validations; None for one epoch (capped as above).
        warmup_steps: steps of linear learning-rate warm-up; None for ``WARMUP_FRACTION`` of the steps.

    Returns:
        dict with ``steps``, ``steps_per_epoch`` (None if unknown), ``epochs`` (float, passes over
        the data), ``validation_every``, ``num_rounds`` (validation rounds = history entries) and
        ``warmup_steps``.

    Raises:
        ValueError: for non-positive counts, both ``steps`` and ``epochs``, or an unknown data size
            without ``steps``.
    """
    batch_size = _positive_int(batch_size, "batch_size")
    if steps is not None and epochs is not None:
        raise ValueError(
            f"Pass either `steps` or `epochs`, not both. Received: steps={steps}, epochs={epochs}"
        )
    if epochs is not None:
        epochs = _positive_int(epochs, "epochs")
    if int(min_steps) != min_steps or min_steps < 0:
        raise ValueError(f"`min_steps` must be a non-negative integer. Received: min_steps={min_steps}")
    steps_per_epoch = None
    if num_examples is not None:
        num_examples = _positive_int(num_examples, "num_examples")
        steps_per_epoch = max(1, -(-num_examples // batch_size))
    if steps is not None:
        total = _positive_int(steps, "steps")
    elif steps_per_epoch is None:
        raise ValueError(
            "The number of training batches per epoch is unknown (an infinite or unsized dataset): pass "
            "`steps`. Received: steps=None"
        )
    else:
        total = max((epochs or DEFAULT_EPOCHS) * steps_per_epoch, int(min_steps))
    if validation_every is None:
        validation_every = max(steps_per_epoch or 1, -(-total // MAX_VALIDATIONS))
    validation_every = min(_positive_int(validation_every, "validation_every"), total)
    if warmup_steps is None:
        warmup_steps = int(round(WARMUP_FRACTION * total))
    if int(warmup_steps) != warmup_steps or not 0 <= warmup_steps < total:
        raise ValueError(
            f"`warmup_steps` must be an integer in [0, steps={total}). Received: warmup_steps={warmup_steps}"
        )
    return {
        "steps": int(total),
        "steps_per_epoch": steps_per_epoch,
        "epochs": float(total / steps_per_epoch) if steps_per_epoch else None,
        "validation_every": int(validation_every),
        "num_rounds": int(-(-total // validation_every)),
        "warmup_steps": int(warmup_steps),
    }


def _positive_int(value, name):
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value}")
    return int(value)


def sampling_order(labels, num_draws, *, sampling="natural", seed=0):
    """Returns the indices of the training images in the order they are drawn, ``num_draws`` of them.

    ``"natural"``: one fresh permutation of all images per epoch (every image once per epoch).
    ``"balanced"``: each epoch draws as many images, the same number (within one) from every
    class present, cycling through each class in a fresh random order (the rule of
    ``data_readers.ImageReader(balanced=True)``): rare classes repeat, common ones are subsampled.

    Args:
        labels: int class indices ``(N,)``.
        num_draws: total number of indices to return.
        sampling: ``"natural"`` or ``"balanced"``.
        seed: the same seed gives the same order.

    Returns:
        int64 array ``(num_draws,)``.
    """
    if sampling not in SAMPLINGS:
        raise ValueError(f"`sampling` must be one of {SAMPLINGS}. Received: sampling={sampling!r}")
    labels = np.asarray(labels, np.int64)
    count = len(labels)
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    chunks, drawn = [], 0
    while drawn < num_draws:
        if sampling == "natural":
            order = rng.permutation(count)
        else:
            quotas = np.full(len(members), count // len(members))
            quotas[rng.permutation(len(members))[: count % len(members)]] += 1
            parts = []
            for files, quota in zip(members, quotas):
                cycles = -(-quota // len(files))
                parts.append(np.concatenate([rng.permutation(files) for _ in range(cycles)])[:quota])
            order = np.concatenate(parts)
            rng.shuffle(order)
        chunks.append(order)
        drawn += len(order)
    return np.concatenate(chunks)[:num_draws]


def _batch_norm_layers(layer):
    """Returns every trainable ``BatchNormalization`` layer of a model, nested models included."""
    import keras

    found, seen = [], set()

    def walk(current):
        for child in getattr(current, "layers", []):
            if id(child) in seen:
                continue
            seen.add(id(child))
            if isinstance(child, keras.layers.BatchNormalization):
                if child.trainable:
                    found.append(child)
            else:
                walk(child)

    walk(layer)
    return found


def recalibrate_batch_norm(model, data, *, max_batches=DEFAULT_RECALIBRATION_BATCHES, batch_size=32, seed=0):
    """Replaces the batch-norm moving averages of ``model`` by the training data's own statistics.

    After a short training the moving averages (momentum 0.99: a memory of ~100 steps, and still
    ``0.99 ** 200 = 13 %`` of the initial values after 200 steps) trail the weights, so inference
    (which uses them) scores far below what the weights can do. This "precise BN" pass (Wu &
    Johnson 2021, "Rethinking 'Batch' in BatchNorm", sec. 3) runs ``model`` in training mode over
    up to ``max_batches`` batches with the weights fixed and sets every trainable
    ``BatchNormalization`` layer's moving mean and variance to the plain average of the batch
    means and variances. Frozen batch-norm layers (``trainable=False``) are left alone; nested
    models (a ``keras.applications`` backbone) are included.

    Args:
        model: a ``keras.Model``.
        data: images ``(N, H, W, C)``, an ``(images, labels)`` pair, a ``tf.data.Dataset`` of
            ``(images, labels)`` (or images) batches or an ``ImageReader``. Only images are used;
            arrays are read in a random order (``seed``), the other kinds in their own order.
        max_batches: at most this many batches are read.
        batch_size: batch size for array inputs (datasets and readers keep their own batching). Use
            the training batch size: the layers learnt to work with the statistics of batches of that
            size (Wu & Johnson, sec. 3.2); on the embedded set one batch of all 1,319 training images
            scored 0.02 accuracy lower than batches of 32. A short last batch is skipped.
        seed: seed of the order of array inputs.

    Returns:
        The number of batch-norm layers recalibrated.
    """
    import tensorflow as tf

    max_batches = _positive_int(max_batches, "max_batches")
    layers = _batch_norm_layers(model)
    if not layers:
        return 0
    arrays = _split_arrays(data, "data") if isinstance(data, (tuple, list)) else None
    images = np.asarray(data, np.float32) if isinstance(data, np.ndarray) else (arrays[0] if arrays else None)
    if images is not None:
        # batches in a random order, like training's: data sorted by class would give one-class
        # batches whose variances are far smaller than those the layers were trained with
        order = np.random.default_rng(seed).permutation(len(images))[: max_batches * batch_size]
        dataset = tf.data.Dataset.from_tensor_slices(images[order]).batch(batch_size)
    else:
        dataset = to_dataset(data, batch_size=batch_size, name="data")
    momenta = [layer.momentum for layer in layers]
    sums = [[np.zeros(layer.moving_mean.shape, np.float64), np.zeros(layer.moving_variance.shape, np.float64)]
            for layer in layers]
    count = first_size = 0
    try:
        for layer in layers:
            layer.momentum = 0.0  # each training-mode call leaves that batch's own moments in the variables
        forward = tf.function(lambda images: model(images, training=True), reduce_retracing=True)
        for batch in dataset.take(max_batches):
            images = batch[0] if isinstance(batch, (tuple, list)) else batch
            if count and int(images.shape[0]) < first_size:
                break  # a short last batch: its statistics are noisier and it would trace the pass again
            first_size = int(images.shape[0])
            forward(images)
            for layer, total in zip(layers, sums):
                total[0] += np.asarray(layer.moving_mean, np.float64)
                total[1] += np.asarray(layer.moving_variance, np.float64)
            count += 1
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
    if count:
        for layer, (mean, variance) in zip(layers, sums):
            layer.moving_mean.assign((mean / count).astype(np.float32))
            layer.moving_variance.assign((variance / count).astype(np.float32))
    return len(layers)


def _stop_at_step(steps):
    """Returns a Keras callback that ends ``fit`` after exactly ``steps`` optimiser steps."""
    import keras

    class StopAtStep(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seen = 0

        def on_train_batch_end(self, batch, logs=None):
            self.seen += 1
            if self.seen >= steps:
                self.model.stop_training = True

    return StopAtStep()


def _count_batches(dataset):
    import tensorflow as tf

    cardinality = int(dataset.cardinality())
    if cardinality == tf.data.INFINITE_CARDINALITY:
        return None
    if cardinality >= 0:
        return cardinality
    return sum(1 for _ in dataset)


def train_classifier(
    model,
    train_data,
    *,
    validation_data=None,
    steps=None,
    epochs=None,
    min_steps=DEFAULT_MIN_STEPS,
    learning_rate=DEFAULT_LEARNING_RATE,
    learning_rate_schedule="cosine",
    warmup_steps=None,
    batch_size=32,
    sampling="natural",
    class_weight=None,
    augment=None,
    augmentation_options=None,
    recalibrate_batch_norm_statistics=True,
    validation_every=None,
    early_stopping_patience=None,
    early_stopping_min_delta=0.0,
    seed=0,
    verbose=1,
):
    """Trains a softmax classifier with Adam and sparse categorical cross-entropy, to convergence.

    The protocol of Fernández et al. 2021 (Tables 2-4, InceptionV3) and Klang & Carlberg (Xception,
    weighted F1): a classifier trained on real and/or generated images. ``augment="classical"``
    adds random rotation and zoom on the fly (Klang & Carlberg's classical augmentation baseline;
    flips with ``augmentation_options={"flip": ...}``).

    The defaults are chosen so that a classifier converges on a small, imbalanced training set
    (measured on the embedded blood-cell set at 32 px, see ``docs/classifier_training.md``):

    - the schedule is counted in optimiser steps: ``steps``, or ``max(epochs * steps_per_epoch,
      min_steps)`` (``classifier_schedule``), so 1,000 images get as many updates as 10,000;
    - the learning rate warms up linearly over the first ``warmup_steps`` and then follows a
      cosine decay to 0 (``learning_rate_schedule="cosine"``), so the last steps average out the
      batch noise instead of stopping at a random point;
    - batch-norm statistics are recomputed from the training data at the end
      (``recalibrate_batch_norm``), so inference-mode predictions match the trained weights;
    - no early stopping by default: on a validation set of ~10 images per rare class the
      validation loss is noise, and picking its minimum picks a random, earlier model.

    Args:
        model: a ``keras.Model`` mapping images in [-1, 1] to class probabilities ``(N, K)``
            (softmax output, e.g. ``ganaug.models.build_classifier``). It is (re)compiled here.
        train_data: ``(images, labels)`` numpy arrays, a ``tf.data.Dataset`` of ``(images, labels)``
            batches or an ``ImageReader``.
        validation_data: same kinds as ``train_data``, or None.
        steps: the exact number of optimiser steps (then ``epochs`` and ``min_steps`` do not apply).
        epochs: passes over ``train_data``, raised to at least ``min_steps`` steps; None for
            ``DEFAULT_EPOCHS``. Pass ``min_steps=0`` for exactly ``epochs`` passes.
        min_steps: the fewest optimiser steps of an epoch-counted schedule.
        learning_rate: the peak Adam learning rate (``DEFAULT_LEARNING_RATE``).
        learning_rate_schedule: ``"cosine"`` (warm-up then cosine decay to 0) or ``"constant"``.
        warmup_steps: warm-up steps of the cosine schedule (None: 5 % of the steps).
        batch_size: batch size for array inputs.
        sampling: ``"natural"`` (every image once per epoch, the default) or ``"balanced"``
            (``sampling_order``: every class equally often; arrays, or an ``ImageReader`` built with
            ``balanced=True``). Natural is the default because it scored best: on the embedded set
            (32 px, 1,319 images) accuracy 0.914 vs 0.877 and the same weighted F1 — a network trained
            on balanced batches meets other batch-norm statistics at test time — and it does not stack
            with ``class_weight`` (``docs/classifier_training.md``).
        class_weight: None, a dict ``{class_index: weight}``, or ``"balanced"`` (weights inversely
            proportional to the class counts; needs labels known up front: arrays or a reader with
            ``labels``).
        augment: None, or ``"classical"`` for ``classical_augmentation(seed=seed)`` on every batch.
        augmentation_options: with ``augment="classical"``: keyword arguments of
            ``classical_augmentation`` (``rotation_factor``, ``zoom_factor``, ``flip``).
        recalibrate_batch_norm_statistics: recompute the batch-norm moving averages from the
            (unaugmented) training data after training.
        validation_every: optimiser steps between validations (history entries); None for one
            epoch, at most ``MAX_VALIDATIONS`` per run.
        early_stopping_patience: None (train the whole schedule), or stop after this many
            validations without an improvement of ``val_loss`` (``loss`` without validation data)
            by more than ``early_stopping_min_delta`` and restore the best weights.
        early_stopping_min_delta: the smallest change of the monitored loss that counts.
        seed: seeds Keras/TensorFlow/numpy (``keras.utils.set_random_seed``), the sampling order and
            the augmentation; the same seed gives the same weights on CPU.
        verbose: 0 silent, 1 progress bar, 2 one line per validation round.

    Returns:
        ``(model, history)``: the trained model and a dict ``metric name -> list of values``, one
        per validation round, plus ``"step"`` (optimiser steps done at each round) and
        ``"schedule"`` (the ``classifier_schedule`` dict, with ``"steps_trained"``).

    Raises:
        ValueError: for a non-positive ``steps``/``epochs``/``learning_rate``/``batch_size``, both
            ``steps`` and ``epochs``, an unknown ``augment``/``class_weight``/``sampling``/
            ``learning_rate_schedule`` or a bad ``early_stopping_patience``.
        TypeError: if ``model`` is not a ``keras.Model`` or the data is of an unknown kind.
    """
    import keras
    import tensorflow as tf

    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model. Received: model of type {type(model).__name__}")
    if not learning_rate > 0:
        raise ValueError(f"`learning_rate` must be > 0. Received: learning_rate={learning_rate}")
    batch_size = _positive_int(batch_size, "batch_size")
    if augment not in AUGMENTATIONS:
        raise ValueError(f"`augment` must be one of {AUGMENTATIONS}. Received: augment={augment!r}")
    augmentation_options = _check_augmentation_options(augmentation_options, augment)
    if sampling not in SAMPLINGS:
        raise ValueError(f"`sampling` must be one of {SAMPLINGS}. Received: sampling={sampling!r}")
    if learning_rate_schedule not in LEARNING_RATE_SCHEDULES:
        raise ValueError(
            f"`learning_rate_schedule` must be one of {LEARNING_RATE_SCHEDULES}. "
            f"Received: learning_rate_schedule={learning_rate_schedule!r}"
        )
    if early_stopping_patience is not None and (
        isinstance(early_stopping_patience, bool)
        or int(early_stopping_patience) != early_stopping_patience
        or early_stopping_patience < 0
    ):
        raise ValueError(
            "`early_stopping_patience` must be None or a non-negative integer. "
            f"Received: early_stopping_patience={early_stopping_patience}"
        )
    if not early_stopping_min_delta >= 0:
        raise ValueError(
            f"`early_stopping_min_delta` must be >= 0. Received: early_stopping_min_delta={early_stopping_min_delta}"
        )
    if steps is not None and epochs is not None:
        raise ValueError(f"Pass either `steps` or `epochs`, not both. Received: steps={steps}, epochs={epochs}")
    if epochs is not None:
        _positive_int(epochs, "epochs")
    arrays = _split_arrays(train_data, "train_data") if isinstance(train_data, (tuple, list)) else None
    if arrays is None and not (isinstance(train_data, tf.data.Dataset) or _is_reader(train_data)):
        raise TypeError(
            "`train_data` must be an (images, labels) pair of arrays, a tf.data.Dataset or an ImageReader. "
            f"Received: train_data of type {type(train_data).__name__}"
        )
    if _is_reader(train_data) and getattr(train_data, "balanced", False):
        sampling = "balanced"  # the reader draws balanced batches itself
    if sampling == "balanced" and arrays is None:
        if not (_is_reader(train_data) and getattr(train_data, "balanced", False)):
            raise ValueError(
                "`sampling='balanced'` draws from arrays; for an ImageReader build it with balanced=True "
                f"(a tf.data.Dataset samples itself). Received: train_data of type {type(train_data).__name__}"
            )
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(
                f"`class_weight` must be None, a dict or 'balanced'. Received: class_weight={class_weight!r}"
            )
        labels = _known_labels(train_data)
        if labels is None:
            raise ValueError(
                "`class_weight='balanced'` needs the training labels up front (arrays or a reader "
                "with `labels`). Received: class_weight='balanced' with train_data of type "
                f"{type(train_data).__name__}"
            )
        class_weight = balanced_class_weight(labels, num_classes=int(model.outputs[0].shape[-1]))
    elif class_weight is not None and not isinstance(class_weight, dict):
        raise ValueError(
            f"`class_weight` must be None, a dict or 'balanced'. Received: class_weight={class_weight!r}"
        )

    keras.utils.set_random_seed(seed)
    if arrays is not None:
        images, labels = arrays
        num_examples = len(images)
        if num_examples == 0:
            raise ValueError("`train_data` holds no images. Received: train_data[0].shape[0]=0")
        schedule = classifier_schedule(num_examples, batch_size=batch_size, epochs=epochs, steps=steps,
                                       min_steps=min_steps, validation_every=validation_every,
                                       warmup_steps=warmup_steps)
        draws = schedule["num_rounds"] * schedule["validation_every"] * min(batch_size, num_examples)
        order = sampling_order(labels, draws, sampling=sampling, seed=seed)
        images_tensor, labels_tensor = tf.constant(images), tf.constant(labels)
        train_dataset = (
            tf.data.Dataset.from_tensor_slices(order)
            .batch(min(batch_size, num_examples), drop_remainder=True)
            .map(lambda index: (tf.gather(images_tensor, index), tf.gather(labels_tensor, index)))
        )
        calibration_data = (images, labels)
    elif _is_reader(train_data):
        schedule = classifier_schedule(len(train_data) * train_data.batch_size, batch_size=train_data.batch_size,
                                       epochs=epochs, steps=steps, min_steps=min_steps,
                                       validation_every=validation_every, warmup_steps=warmup_steps)
        # Each pass of the repeated dataset reads the reader's next epoch (a fresh shuffle).
        train_dataset = train_data.as_tf_dataset().repeat()
        calibration_data = train_data
    else:
        num_batches = _count_batches(train_data)
        schedule = classifier_schedule(None if num_batches is None else num_batches * batch_size,
                                       batch_size=batch_size, epochs=epochs, steps=steps, min_steps=min_steps,
                                       validation_every=validation_every, warmup_steps=warmup_steps)
        train_dataset = train_data.repeat()
        calibration_data = train_data
    if augment == "classical":
        augmentation = classical_augmentation(seed=seed, **augmentation_options)
        train_dataset = train_dataset.map(
            lambda images, labels: (augmentation(images, training=True), labels),
            num_parallel_calls=1,
            deterministic=True,
        )
    train_dataset = train_dataset.prefetch(2)
    validation_dataset = validation_steps = None
    if validation_data is not None:
        validation_dataset = to_dataset(validation_data, batch_size=batch_size, name="validation_data")
        if _is_reader(validation_data):
            validation_dataset = validation_dataset.repeat()
            validation_steps = len(validation_data)

    total = schedule["steps"]
    if learning_rate_schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(
            0.0 if schedule["warmup_steps"] else float(learning_rate),
            decay_steps=max(1, total - schedule["warmup_steps"]),
            warmup_target=float(learning_rate) if schedule["warmup_steps"] else None,
            warmup_steps=schedule["warmup_steps"],
        )
    else:
        rate = float(learning_rate)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=rate),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    callbacks = [_stop_at_step(total)]
    stopper = None
    if early_stopping_patience is not None:
        stopper = keras.callbacks.EarlyStopping(
            monitor="val_loss" if validation_dataset is not None else "loss",
            patience=int(early_stopping_patience),
            min_delta=float(early_stopping_min_delta),
            restore_best_weights=True,
        )
        callbacks.append(stopper)
    fitted = model.fit(
        train_dataset,
        validation_data=validation_dataset,
        epochs=schedule["num_rounds"],
        steps_per_epoch=schedule["validation_every"],
        validation_steps=validation_steps,
        class_weight=class_weight,
        callbacks=callbacks,
        shuffle=False,  # the sampling order is fixed (seeded) above
        verbose=verbose,
    )
    history = {name: [float(v) for v in values] for name, values in fitted.history.items()}
    rounds = len(history.get("loss", []))
    history["step"] = [min(total, (k + 1) * schedule["validation_every"]) for k in range(rounds)]
    steps_trained = callbacks[0].seen
    if stopper is not None and stopper.best_weights is not None and stopper.best_epoch < rounds:
        steps_trained = history["step"][stopper.best_epoch]  # the restored (best) weights' step
    if recalibrate_batch_norm_statistics:
        recalibrate_batch_norm(model, calibration_data, batch_size=batch_size, seed=seed)
    history["schedule"] = dict(schedule, steps_trained=int(steps_trained), sampling=sampling,
                               learning_rate_schedule=learning_rate_schedule,
                               batch_norm_recalibrated=bool(recalibrate_batch_norm_statistics))
    return model, history


def predict_classes(model, data, *, batch_size=64, verbose=0):
    """Returns the class probabilities of a classifier over ``data`` and the true labels if known.

    Args:
        model: a softmax classifier.
        data: images ``(N, H, W, C)``, an ``(images, labels)`` pair, a ``tf.data.Dataset`` yielding
            ``(images, labels)`` (or images only) or an ``ImageReader``.
        batch_size: batch size for array inputs.
        verbose: 0 silent, 1 a progress bar.

    Returns:
        ``(probabilities, labels)``: float32 ``(N, K)`` and int32 ``(N,)`` (None when ``data`` has no
        labels). ``probabilities.argmax(-1)`` are the predicted classes.

    Raises:
        ValueError: for a bad ``batch_size``.
        TypeError: if ``data`` is of an unknown kind.
    """
    import keras
    import tensorflow as tf

    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive integer. Received: batch_size={batch_size}")
    if isinstance(data, np.ndarray) or (hasattr(data, "shape") and not isinstance(data, tf.data.Dataset)):
        images = np.asarray(data, dtype=np.float32)
        return np.asarray(model.predict(images, batch_size=batch_size, verbose=verbose), np.float32), None
    dataset = to_dataset(data, batch_size=batch_size, name="data")
    progress = keras.utils.Progbar(None, verbose=verbose) if verbose else None
    probabilities, labels = [], []
    for batch in dataset:
        if isinstance(batch, (tuple, list)):
            images, batch_labels = batch[0], batch[1]
            labels.append(np.asarray(batch_labels, dtype=np.int32).reshape(-1))
        else:
            images = batch
        probabilities.append(np.asarray(model(images, training=False), dtype=np.float32))
        if progress is not None:
            progress.add(1)
    if not probabilities:
        num_classes = int(model.outputs[0].shape[-1])
        return np.zeros((0, num_classes), np.float32), None
    return np.concatenate(probabilities), (np.concatenate(labels) if labels else None)
