"""Image classifiers for the augmentation experiments and Grad-CAM.

Klang & Carlberg retrain Xception; Fernández et al. 2021 use InceptionV3. ``small_cnn`` is a plain
conv-BN-ReLU-pool network that trains on a CPU in about a minute on 64 px images.

Every classifier takes images in [-1, 1]. That is exactly what ``keras.applications``' Xception and
InceptionV3 ``preprocess_input`` produce ("tf" mode: ``p / 127.5 - 1`` for pixels ``p`` in
[0, 255]), so no preprocessing layer is needed and a backbone weights file trained with that
preprocessing can be used as is. Layout: [``grayscale_to_rgb``] [``resize``] backbone (nested
``keras.applications`` model, ``include_top=False``) -> ``"last_conv_features"`` (identity, the last
convolutional feature map) -> ``"global_pool"`` -> ``"dropout"`` -> ``Dense`` ``"logits"`` ->
softmax ``"probabilities"``.
"""

import os

import keras

from ganaug.models import _validation as check
from ganaug.models.layers import DihedralView, RepeatChannels

ARCHITECTURES = ("xception", "inception_v3", "small_cnn")

#: Smallest input each keras.applications backbone accepts.
MIN_BACKBONE_SIZE = {"xception": 71, "inception_v3": 75}


def _backbone(architecture, size, weights):
    input_shape = (size, size, 3)
    if architecture == "xception":
        return keras.applications.Xception(include_top=False, weights=weights, input_shape=input_shape)
    return keras.applications.InceptionV3(include_top=False, weights=weights, input_shape=input_shape)


def _small_cnn(x, filters, seed, batch_norm_momentum):
    for index, width in enumerate(filters, start=1):
        x = keras.layers.Conv2D(
            width,
            3,
            padding="same",
            use_bias=False,
            kernel_initializer=keras.initializers.HeNormal(seed=None if seed is None else int(seed) + index),
            name=f"block_{index}_conv",
        )(x)
        x = keras.layers.BatchNormalization(momentum=batch_norm_momentum, name=f"block_{index}_bn")(x)
        x = keras.layers.Activation("relu", name=f"block_{index}_act")(x)
        if index < len(filters):
            x = keras.layers.MaxPooling2D(2, name=f"block_{index}_pool")(x)
    return x


def build_classifier(
    architecture="xception",
    *,
    num_classes,
    image_size,
    channels=3,
    weights=None,
    dropout=0.5,
    resize_to=None,
    small_cnn_filters=(32, 64, 128),
    batch_norm_momentum=0.99,
    seed=None,
    name=None,
):
    """Builds an image classifier ``image in [-1, 1] -> class probabilities``.

    Xception is the classifier of Klang & Carlberg, InceptionV3 that of Fernández et al. 2021.
    Xception needs inputs of at least 71 px and InceptionV3 of at least 75 px: smaller images raise
    a ValueError unless ``resize_to`` (>= the minimum) is given, which upsamples (bilinear) inside
    the model. Grayscale images are repeated to 3 channels inside the model for these RGB backbones.

    Args:
        architecture: ``"xception"``, ``"inception_v3"`` or ``"small_cnn"``.
        num_classes: number of classes (>= 2).
        image_size: height and width of the input images.
        channels: 1 or 3.
        weights: ``None`` (random initialisation) or the path of a local weights file of the
            backbone (``include_top=False``). ``"imagenet"`` is refused: nothing is downloaded.
        dropout: dropout rate before the ``"logits"`` layer, in [0, 1).
        resize_to: if given, images are resized to this size inside the model before the backbone.
        small_cnn_filters: filters of the ``small_cnn`` conv blocks (a max pool follows each but the last).
        batch_norm_momentum: momentum of the ``small_cnn`` batch-norm moving averages, in [0, 1).
            Keras's 0.99 is kept: ``ganaug.training.train_classifier`` recomputes the statistics
            after training (``recalibrate_batch_norm``), which fixes their lag for every
            architecture, keras.applications backbones included.
        seed: integer seed of the new layers' initialisers.
        name: model name (default ``"<architecture>_classifier"``).

    Returns:
        Functional ``keras.Model`` ``image (N, image_size, image_size, channels) -> probabilities
        (N, num_classes)`` with the layers ``"last_conv_features"``, ``"logits"`` and
        ``"probabilities"``.

    Raises:
        ValueError: for an unknown ``architecture``, ``weights="imagenet"``, a too small
            ``image_size``/``resize_to``, ``num_classes < 2`` or another bad value.
        FileNotFoundError: if ``weights`` is a path that does not exist.
    """
    check.check_choice(architecture, "architecture", ARCHITECTURES)
    num_classes = check.check_num_classes(num_classes)
    image_size = check.check_integer(image_size, "image_size", minimum=8)
    channels = check.check_channels(channels)
    dropout = check.check_rate(dropout, "dropout")
    if resize_to is not None:
        resize_to = check.check_integer(resize_to, "resize_to", minimum=8)
    size = resize_to or image_size
    if architecture == "small_cnn":
        small_cnn_filters = check.check_units(small_cnn_filters, "small_cnn_filters")
        if isinstance(batch_norm_momentum, bool) or not 0.0 <= batch_norm_momentum < 1.0:
            raise ValueError(
                f"`batch_norm_momentum` must be in [0, 1). Received: batch_norm_momentum={batch_norm_momentum}"
            )
        if weights is not None:
            raise ValueError(
                f"`weights` applies to the xception/inception_v3 backbones only. Received: weights={weights!r}"
            )
        minimum = 2 ** (len(small_cnn_filters) - 1)
        if size < minimum:
            raise ValueError(
                f"`image_size` must be at least {minimum} for {len(small_cnn_filters)} small_cnn blocks. "
                f"Received: image_size={image_size}"
            )
    else:
        if weights == "imagenet":
            raise ValueError(
                "ImageNet weights are not downloaded by ganaug; pass weights=None or the path of a "
                f"local weights file. Received: weights={weights!r}"
            )
        if weights is not None:
            if not isinstance(weights, (str, os.PathLike)):
                raise TypeError(f"`weights` must be None or a file path. Received: weights={weights!r}")
            weights = os.fspath(weights)
            if not os.path.isfile(weights):
                raise FileNotFoundError(f"Backbone weights file not found: {weights}")
        minimum = MIN_BACKBONE_SIZE[architecture]
        if size < minimum:
            argument, value = ("resize_to", resize_to) if resize_to else ("image_size", image_size)
            raise ValueError(
                f"{architecture} needs inputs of at least {minimum}x{minimum} px; pass "
                f"resize_to={minimum} (or more) to upsample inside the model. Received: {argument}={value}"
            )

    image = keras.Input(shape=(image_size, image_size, channels), name="image")
    x = image
    if architecture != "small_cnn" and channels == 1:
        x = RepeatChannels(3, name="grayscale_to_rgb")(x)
    if resize_to is not None and resize_to != image_size:
        x = keras.layers.Resizing(resize_to, resize_to, interpolation="bilinear", name="resize")(x)
    if architecture == "small_cnn":
        x = _small_cnn(x, small_cnn_filters, seed, float(batch_norm_momentum))
    else:
        x = _backbone(architecture, size, weights)(x)
    x = keras.layers.Identity(name="last_conv_features")(x)
    x = keras.layers.GlobalAveragePooling2D(name="global_pool")(x)
    x = keras.layers.Dropout(dropout, seed=seed, name="dropout")(x)
    logits = keras.layers.Dense(
        num_classes,
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
        name="logits",
    )(x)
    probabilities = keras.layers.Activation("softmax", name="probabilities")(logits)
    return keras.Model(image, probabilities, name=name or f"{architecture}_classifier")


def build_classifier_ensemble(classifiers, *, name="classifier_ensemble"):
    """Returns one classifier whose probabilities are the mean of several classifiers' probabilities.

    An ensemble of independently trained classifiers (Lakshminarayanan et al. 2017) is a steadier
    judge than any one of them: a single network's probability for a class can wobble with its seed
    between nearby inputs. ganaug uses it to score latent edits (``direction_response``), where a
    judge's wobble would otherwise read as a non-monotone response.

    Args:
        classifiers: a list of at least two ``keras.Model`` s with one input of the same shape and
            a softmax output of the same number of classes (e.g. ``build_classifier`` models
            trained with different seeds).
        name: the model's name.

    Returns:
        A ``keras.Model`` ``images -> (N, num_classes)`` averaging the members' outputs (each
        member nested as ``member_<i>``, sharing its layers and weights).

    Raises:
        TypeError: if a member is not a ``keras.Model``.
        ValueError: for fewer than two members or members of different input shapes or classes.
    """
    members = list(classifiers) if isinstance(classifiers, (list, tuple)) else None
    if not members or len(members) < 2:
        raise ValueError(f"`classifiers` must be a list of at least two keras.Model. Received: {classifiers!r}")
    for index, model in enumerate(members):
        if not isinstance(model, keras.Model):
            raise TypeError(f"`classifiers[{index}]` must be a keras.Model. Received: {type(model).__name__}")
    shapes = {(tuple(m.inputs[0].shape[1:]), int(m.outputs[0].shape[-1])) for m in members}
    if len(shapes) != 1 or any(len(m.inputs) != 1 for m in members):
        raise ValueError(
            "Every classifier must take one input of the same shape and give the same number of classes. "
            f"Received: (input shape, classes) {sorted(shapes)}"
        )
    (input_shape, _), = shapes
    image = keras.Input(shape=input_shape, name="image")
    # Each member is called through a view of its own layers under a unique name: members built
    # by the same factory share a name, and a model's nested models must be named apart.
    outputs = [keras.Model(model.inputs[0], model.outputs[0], name=f"member_{index}")(image)
               for index, model in enumerate(members)]
    mean = keras.layers.Average(name="probabilities")(outputs)
    return keras.Model(image, mean, name=name)


def build_dihedral_average(classifier, *, name="dihedral_average"):
    """Returns the classifier whose probabilities are the mean over the 8 dihedral views of each image.

    Test-time augmentation over the symmetries of the square (4 rotations by 90 degrees, each with and
    without a mirror). A cell on a blood smear or a histology patch has no preferred orientation, so a
    classifier of such images should give one answer for all 8 views; trained on a few thousand images
    it does not quite, and the mean over the views removes the part of its output that depends on the
    orientation. ganaug uses it, like ``build_classifier_ensemble``, to judge latent edits
    (``direction_response``), where such wobble would read as a non-monotone response. Do not use it
    for images whose orientation carries meaning (e.g. chest X-rays).

    Args:
        classifier: a ``keras.Model`` with one input of square images ``(S, S, C)`` and a
            probability output (e.g. ``build_classifier`` or ``build_classifier_ensemble``).
        name: the model's name.

    Returns:
        A ``keras.Model`` ``images -> (N, num_classes)``: the mean of ``classifier`` over the 8 views
        (the classifier nested once as ``"classifier"``, sharing its layers and weights). Its output
        is the same for all 8 views of an image.

    Raises:
        TypeError: if ``classifier`` is not a ``keras.Model``.
        ValueError: if it has more than one input or its images are not square.
    """
    if not isinstance(classifier, keras.Model):
        raise TypeError(f"`classifier` must be a keras.Model. Received: {type(classifier).__name__}")
    if len(classifier.inputs) != 1:
        raise ValueError(f"`classifier` must take one input. Received: {len(classifier.inputs)} inputs")
    input_shape = tuple(classifier.inputs[0].shape[1:])
    if len(input_shape) != 3 or input_shape[0] is None or input_shape[0] != input_shape[1]:
        raise ValueError(f"`classifier` must take square images (S, S, C). Received: input shape {input_shape}")
    image = keras.Input(shape=input_shape, name="image")
    nested = keras.Model(classifier.inputs[0], classifier.outputs[0], name="classifier")
    outputs = [nested(DihedralView(turns, flip, name=f"view_{turns}{'_flip' if flip else ''}")(image))
               for turns in range(4) for flip in (False, True)]
    mean = keras.layers.Average(name="probabilities")(outputs)
    return keras.Model(image, mean, name=name)
