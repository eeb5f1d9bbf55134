"""Supervised training of an image classifier, the tool every evaluation and augmentation step needs.

Fernández et al. 2021 (Tables 2-4) train InceptionV3 on real and/or generated patches; Klang &
Carlberg retrain Xception on real images grown by 50 % with AC-GAN images and compare it with
classical augmentation (rotation, zoom). Both are "compile with Adam + cross-entropy, fit, predict":
``train_classifier`` does exactly that for any softmax ``keras.Model`` (e.g. from
``ganaug.models.build_classifier``) on numpy arrays, a ``tf.data.Dataset`` of ``(images, labels)``
or a ``data_readers`` ``ImageReader``; ``predict_classes`` returns the class probabilities.
"""

import numpy as np

AUGMENTATIONS = (None, "classical")


def classical_augmentation(*, rotation_factor=0.5, zoom_factor=0.1, flip="horizontal_and_vertical", seed=0):
    """Returns the classical augmentation of Klang & Carlberg as a Keras ``Sequential`` of preprocessing layers.

    Random rotation (a fraction of a full turn: 0.5 means up to +-180 degrees, cells have no
    preferred orientation), random flips and random zoom, applied to float images in [-1, 1]
    (``fill_mode="reflect"`` so no artificial borders appear).

    Args:
        rotation_factor: maximum rotation as a fraction of 2*pi, in [0, 1].
        zoom_factor: maximum zoom in/out as a fraction of the image size, in [0, 1).
        flip: ``"horizontal"``, ``"vertical"``, ``"horizontal_and_vertical"`` or None.
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


def train_classifier(
    model,
    train_data,
    *,
    validation_data=None,
    epochs=10,
    learning_rate=1e-3,
    batch_size=32,
    class_weight=None,
    augment=None,
    seed=0,
    verbose=1,
    early_stopping_patience=None,
):
    """Trains a softmax classifier with Adam and sparse categorical cross-entropy.

    The protocol of Fernández et al. 2021 (Tables 2-4, InceptionV3) and Klang & Carlberg (Xception,
    weighted F1): a classifier trained on real and/or generated images. ``augment="classical"``
    adds random rotation/flip/zoom on the fly (Klang & Carlberg's classical augmentation baseline).

    Args:
        model: a ``keras.Model`` mapping images in [-1, 1] to class probabilities ``(N, K)``
            (softmax output, e.g. ``ganaug.models.build_classifier``). It is (re)compiled here.
        train_data: ``(images, labels)`` numpy arrays, a ``tf.data.Dataset`` of ``(images, labels)``
            batches or an ``ImageReader``.
        validation_data: same kinds as ``train_data``, or None.
        epochs: number of passes over ``train_data``.
        learning_rate: Adam learning rate.
        batch_size: batch size for array inputs.
        class_weight: None, a dict ``{class_index: weight}``, or ``"balanced"`` (weights inversely
            proportional to the class counts; needs labels known up front: arrays or a reader with
            ``labels``).
        augment: None, or ``"classical"`` for ``classical_augmentation(seed=seed)`` on every batch.
        seed: seeds Keras/TensorFlow/numpy (``keras.utils.set_random_seed``), the shuffling and the
            augmentation; the same seed gives the same weights on CPU.
        verbose: 0 silent, 1 progress bar, 2 one line per epoch.
        early_stopping_patience: None, or stop after this many epochs without improvement of
            ``val_loss`` (``loss`` without validation data) and restore the best weights.

    Returns:
        ``(model, history)``: the trained model and a dict ``metric name -> list of per-epoch values``.

    Raises:
        ValueError: for a non-positive ``epochs``/``learning_rate``/``batch_size``, an unknown
            ``augment``/``class_weight`` or a bad ``early_stopping_patience``.
        TypeError: if ``model`` is not a ``keras.Model`` or the data is of an unknown kind.
    """
    import keras
    import tensorflow as tf

    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model. Received: model of type {type(model).__name__}")
    if int(epochs) != epochs or epochs < 1:
        raise ValueError(f"`epochs` must be a positive integer. Received: epochs={epochs}")
    if not learning_rate > 0:
        raise ValueError(f"`learning_rate` must be > 0. Received: learning_rate={learning_rate}")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive integer. Received: batch_size={batch_size}")
    if augment not in AUGMENTATIONS:
        raise ValueError(f"`augment` must be one of {AUGMENTATIONS}. Received: augment={augment!r}")
    if early_stopping_patience is not None and (
        int(early_stopping_patience) != early_stopping_patience or early_stopping_patience < 0
    ):
        raise ValueError(
            "`early_stopping_patience` must be None or a non-negative integer. "
            f"Received: early_stopping_patience={early_stopping_patience}"
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
    train_dataset = to_dataset(train_data, batch_size=batch_size, shuffle=True, seed=seed, name="train_data")
    steps_per_epoch = validation_steps = None
    if _is_reader(train_data):
        # A reader's dataset has unknown cardinality; repeating it (each pass reads the reader's next
        # epoch) with a known number of steps keeps Keras from warning that the input ran out.
        train_dataset = train_dataset.repeat()
        steps_per_epoch = len(train_data)
    if augment == "classical":
        augmentation = classical_augmentation(seed=seed)
        train_dataset = train_dataset.map(
            lambda images, labels: (augmentation(images, training=True), labels),
            num_parallel_calls=1,
            deterministic=True,
        )
    train_dataset = train_dataset.prefetch(tf.data.AUTOTUNE)
    validation_dataset = None
    if validation_data is not None:
        validation_dataset = to_dataset(validation_data, batch_size=batch_size, name="validation_data")
        if _is_reader(validation_data):
            validation_dataset = validation_dataset.repeat()
            validation_steps = len(validation_data)

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    callbacks = []
    if early_stopping_patience is not None:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss" if validation_dataset is not None else "loss",
                patience=int(early_stopping_patience),
                restore_best_weights=True,
            )
        )
    history = model.fit(
        train_dataset,
        validation_data=validation_dataset,
        epochs=int(epochs),
        steps_per_epoch=steps_per_epoch,
        validation_steps=validation_steps,
        class_weight=class_weight,
        callbacks=callbacks,
        shuffle=False,  # the dataset is shuffled (seeded) above
        verbose=verbose,
    )
    return model, {name: [float(v) for v in values] for name, values in history.history.items()}


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
