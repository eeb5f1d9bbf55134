"""Feature spaces for the distribution metrics: which network, which layer, and its identity.

FID (Heusel et al. 2017) and KID (Binkowski et al. 2018) were defined on ImageNet Inception-v3
pool features. Those weights cannot be downloaded here and are the wrong domain for blood cells or
histology anyway, so ganaug measures in a *domain* feature space: by default the penultimate layer
(the input of the ``"logits"`` Dense layer, i.e. the global-average-pooled features) of a classifier
trained on the real data (``ganaug.models.build_classifier``). Scores from different feature spaces
are not comparable, so every score is stored next to ``extractor_identity``: model name, layer
name, feature dimension and a hash of the weights.
"""

import hashlib

import numpy as np


def feature_extractor(model, *, layer=None):
    """Returns a Keras model mapping images to feature vectors taken from ``model``.

    Args:
        model: a Functional ``keras.Model`` taking images (e.g. a classifier of
            ``ganaug.models.build_classifier``).
        layer: name of the layer whose *output* gives the features. None: the input of the layer
            named ``"logits"`` (the penultimate, pooled features of a ganaug classifier); without
            such a layer, the input of the last layer. 4-D outputs ``(N, h, w, c)`` are global-average
            pooled to ``(N, c)``.

    Returns:
        A ``keras.Model`` ``images -> (N, feature_dim)`` named ``"<model name>__<layer name>"``, with
        Python attributes ``source_model_name`` and ``layer_name`` (see ``extractor_identity``).

    Raises:
        TypeError: if ``model`` is not a ``keras.Model``.
        ValueError: if ``layer`` names no layer of ``model`` or its output is not 2-D or 4-D.
    """
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model. Received: model of type {type(model).__name__}")
    if layer is None:
        names = [candidate.name for candidate in model.layers]
        if "logits" in names:
            source = model.get_layer("logits")
            outputs = source.input
            layer_name = "input_of_logits"
        else:
            source = model.layers[-1]
            outputs = source.input
            layer_name = f"input_of_{source.name}"
        if isinstance(outputs, (list, tuple)):
            outputs = outputs[0]
    else:
        try:
            source = model.get_layer(layer)
        except ValueError as error:
            raise ValueError(
                f"`layer` must name a layer of model {model.name!r}. Received: layer={layer!r}"
            ) from error
        outputs = source.output
        layer_name = layer
    rank = len(outputs.shape)
    if rank == 4:
        outputs = keras.layers.GlobalAveragePooling2D(name="feature_pooling")(outputs)
    elif rank != 2:
        raise ValueError(
            f"The features must be 2-D (N, d) or 4-D (N, h, w, c). Received: layer={layer_name!r} "
            f"with output shape {tuple(outputs.shape)}"
        )
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    extractor = keras.Model(inputs, outputs, name=f"{model.name}__{layer_name}")
    extractor.source_model_name = model.name
    extractor.layer_name = layer_name
    return extractor


def weights_hash(model):
    """Returns the SHA-256 (hex, first 16 characters) of a model's weights, in order."""
    digest = hashlib.sha256()
    for weight in model.weights:
        value = np.ascontiguousarray(np.asarray(weight.numpy() if hasattr(weight, "numpy") else weight))
        digest.update(str(value.shape).encode())
        digest.update(value.tobytes())
    return digest.hexdigest()[:16]


def extractor_identity(extractor):
    """Returns what identifies a feature space: ``model_name``, ``layer_name``, ``feature_dim``, ``weights_sha256``.

    Args:
        extractor: a ``keras.Model`` mapping images to features (from ``feature_extractor`` or
            the user's own).

    Returns:
        A JSON-serialisable dict.
    """
    return {
        "model_name": getattr(extractor, "source_model_name", extractor.name),
        "layer_name": getattr(extractor, "layer_name", extractor.layers[-1].name),
        "feature_dim": int(extractor.outputs[0].shape[-1]),
        "weights_sha256": weights_hash(extractor),
    }


def iterate_batches(data, *, batch_size=64):
    """Yields ``(images, labels_or_None)`` numpy batches from any kind of image data.

    Args:
        data: images ``(N, H, W, C)``, an ``(images, labels)`` pair, a ``tf.data.Dataset`` of
            ``(images, labels)`` batches (or of image batches) or an object with
            ``as_tf_dataset()`` (``data_readers`` ``ImageReader``).
        batch_size: batch size for arrays.

    Yields:
        ``(images float32 (B, H, W, C), labels int32 (B,) or None)``.

    Raises:
        TypeError: if ``data`` is of an unknown kind.
        ValueError: for a bad ``batch_size`` or array shapes.
    """
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive integer. Received: batch_size={batch_size}")
    if isinstance(data, np.ndarray):
        data = (data, None)
    if isinstance(data, (tuple, list)) and len(data) == 2 and not hasattr(data[0], "element_spec"):
        images = np.asarray(data[0], dtype=np.float32)
        labels = None if data[1] is None else np.asarray(data[1]).astype(np.int32)
        if images.ndim != 4:
            raise ValueError(f"Images must have shape (N, H, W, C). Received: images.shape={images.shape}")
        if labels is not None and labels.shape != (len(images),):
            raise ValueError(
                "Labels must have shape (N,) matching the images. "
                f"Received: labels.shape={labels.shape}, images.shape={images.shape}"
            )
        for start in range(0, len(images), int(batch_size)):
            stop = start + int(batch_size)
            yield images[start:stop], (None if labels is None else labels[start:stop])
        return
    import tensorflow as tf

    if hasattr(data, "as_tf_dataset") and callable(data.as_tf_dataset):
        data = data.as_tf_dataset()
    if not isinstance(data, tf.data.Dataset):
        raise TypeError(
            "`data` must be images, an (images, labels) pair, a tf.data.Dataset or an ImageReader. "
            f"Received: data of type {type(data).__name__}"
        )
    for batch in data:
        if isinstance(batch, (tuple, list)):
            yield np.asarray(batch[0], dtype=np.float32), np.asarray(batch[1]).astype(np.int32).reshape(-1)
        else:
            yield np.asarray(batch, dtype=np.float32), None


def as_arrays(data, *, batch_size=64):
    """Returns ``(images, labels_or_None)`` as whole numpy arrays (for data that fits in memory)."""
    images, labels = [], []
    for batch_images, batch_labels in iterate_batches(data, batch_size=batch_size):
        images.append(batch_images)
        if batch_labels is not None:
            labels.append(batch_labels)
    if not images:
        raise ValueError("`data` yielded no images. Received: an empty data source")
    images = np.concatenate(images)
    labels = np.concatenate(labels).astype(np.int32) if labels else None
    if labels is not None and len(labels) != len(images):
        raise ValueError(
            f"Some batches had labels and others not. Received: {len(images)} images, {len(labels)} labels"
        )
    return images, labels


def extract_features(extractor, data, *, batch_size=64, return_labels=False, verbose=0):
    """Returns the feature vectors of ``data`` under ``extractor``.

    Args:
        extractor: a ``keras.Model`` (or callable) mapping image batches to ``(B, d)`` or
            ``(B, h, w, c)`` (average-pooled) features.
        data: images, an ``(images, labels)`` pair, a ``tf.data.Dataset`` or an ``ImageReader``.
        batch_size: batch size for arrays.
        return_labels: also return the labels (None if the data has none).
        verbose: 0 silent, 1 a progress bar.

    Returns:
        float64 ``(N, d)`` features, or ``(features, labels)`` if ``return_labels``.

    Raises:
        TypeError, ValueError: see ``iterate_batches``.
    """
    import keras

    total = None
    if isinstance(data, np.ndarray):
        total = len(data)
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        total = len(data[0])
    progress = keras.utils.Progbar(total, verbose=verbose, unit_name="image") if verbose else None
    features, labels = [], []
    for images, batch_labels in iterate_batches(data, batch_size=batch_size):
        if isinstance(extractor, keras.Model):
            output = extractor(images, training=False)
        else:
            output = extractor(images)
        output = np.asarray(output, dtype=np.float64)
        if output.ndim == 4:
            output = output.mean(axis=(1, 2))
        features.append(output.reshape(len(images), -1))
        if batch_labels is not None:
            labels.append(batch_labels)
        if progress is not None:
            progress.add(len(images))
    if not features:
        raise ValueError("`data` yielded no images. Received: an empty data source")
    features = np.concatenate(features)
    if return_labels:
        return features, (np.concatenate(labels) if labels else None)
    return features
