"""AC-GAN on a frozen, pre-trained DCGAN (Klang & Carlberg, section 4.5 and figures 24-25).

The thesis takes the generator and discriminator of a trained vanilla GAN and freezes "all of the
layers of the generator and all the layers of the discriminator except for the fully connected
layers corresponding to the discriminative and classifying layers". Three fully connected layers
of 100 ReLU units connect (z, class) to the frozen generator's input; three more connect the last
convolutional features to the auxiliary classifier. Losses follow Odena et al. (the trainer's job).
"""

import keras

from ganaug.models import _validation as check
from ganaug.models.layers import OneHot


def _check_model(value, name):
    if not isinstance(value, keras.Model):
        raise TypeError(f"`{name}` must be a keras.Model. Received: {name}={value!r}")
    return value


def _layer_or_none(model, layer_name):
    try:
        return model.get_layer(layer_name)
    except ValueError:
        return None


def _frozen_copy(model, name):
    """Returns a copy of ``model`` with the same weights, ``trainable=False`` and a new name."""
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    copy = keras.Model(clone.input, clone.output, name=name)
    copy.trainable = False
    return copy


def build_acgan(
    generator,
    discriminator,
    num_classes,
    *,
    dense_units=(100, 100, 100),
    mapping_units=None,
    mapping_output_activation="relu",
    seed=None,
    name="acgan",
):
    """Builds an AC-GAN from a pre-trained DCGAN generator and discriminator (Klang & Carlberg).

    Neither argument is modified: both are copied (same weights) and the copies are frozen.

    Generator side: ``[latent, label]`` -> one-hot label concatenated to z -> ``mapping_dense_1..3``
    (100, 100 and ``latent_dim`` units, ReLU) -> the frozen generator (``"frozen_generator"``, run in
    inference mode so its batch norm uses its moving statistics). The last mapping layer feeds the
    generator's latent input, so its width is the generator's ``latent_dim``; the thesis gives all
    three added layers ReLU, so ``mapping_output_activation="relu"`` by default. Note that ReLU codes
    only reach the non-negative orthant of the prior the generator was trained on; pass
    ``"linear"`` to reach all of it.

    Discriminator side: image -> the frozen trunk (the discriminator's layers up to
    ``"trunk_features"``, as ``"frozen_trunk"`` in inference mode) -> identity ``"trunk_features"`` ->
    (a) ``"realness_logit"``, a trainable copy of the discriminator's head with its pre-trained
    weights, and (b) ``classifier_dense_1..3`` (``dense_units``, ReLU) -> ``Dense(num_classes)``
    ``"class_logits"`` (the auxiliary classifier; the softmax belongs to the loss).

    Args:
        generator: unconditional generator, ``latent (N, latent_dim) -> images`` (one input).
        discriminator: discriminator with one image input, a layer named ``"trunk_features"`` and a
            ``Dense`` layer named ``"realness_logit"`` (``build_dcgan_discriminator``).
        num_classes: number of classes (>= 2).
        dense_units: widths of the auxiliary classifier's dense layers (thesis: three of 100).
        mapping_units: widths of the mapping layers; default ``dense_units`` with the last width
            replaced by the generator's ``latent_dim``. The last width must equal ``latent_dim``.
        mapping_output_activation: activation of the last mapping layer (``"relu"`` as in the
            thesis, or e.g. ``"linear"``).
        seed: integer seed of the new layers' initialisers.
        name: prefix of the two model names (``<name>_generator``, ``<name>_discriminator``).

    Returns:
        ``(conditional_generator, acgan_discriminator)``: Functional models
        ``[latent (N, latent_dim), label (N,) int32] -> images`` and
        ``image -> [realness logit (N, 1), class logits (N, num_classes)]``.

    Raises:
        TypeError: if ``generator`` / ``discriminator`` is not a ``keras.Model``.
        ValueError: for a generator with other than one input, a discriminator without a
            ``"trunk_features"`` or ``"realness_logit"`` layer or with other than one input,
            ``num_classes < 2``, or bad ``dense_units`` / ``mapping_units``.
    """
    _check_model(generator, "generator")
    _check_model(discriminator, "discriminator")
    num_classes = check.check_num_classes(num_classes)
    dense_units = check.check_units(dense_units, "dense_units")
    check.check_activation(mapping_output_activation, "mapping_output_activation")
    if len(generator.inputs) != 1 or len(generator.inputs[0].shape) != 2:
        raise ValueError(
            "`generator` must take one latent input (N, latent_dim) (an unconditional generator). "
            f"Received: generator={generator.name!r} with inputs {[tuple(t.shape) for t in generator.inputs]}"
        )
    if len(discriminator.inputs) != 1:
        raise ValueError(
            "`discriminator` must take one image input (an unconditional discriminator). "
            f"Received: discriminator={discriminator.name!r} with {len(discriminator.inputs)} inputs"
        )
    if _layer_or_none(discriminator, "trunk_features") is None:
        raise ValueError(
            "`discriminator` has no layer named 'trunk_features' (its flattened convolutional "
            f"features), so its trunk cannot be found. Received: discriminator={discriminator.name!r}"
        )
    head = _layer_or_none(discriminator, "realness_logit")
    if not isinstance(head, keras.layers.Dense):
        raise ValueError(
            "`discriminator` has no Dense layer named 'realness_logit' (its realness head). "
            f"Received: discriminator={discriminator.name!r}"
        )
    latent_dim = int(generator.inputs[0].shape[-1])
    if mapping_units is None:
        mapping_units = dense_units[:-1] + (latent_dim,)
    mapping_units = check.check_units(mapping_units, "mapping_units")
    if mapping_units[-1] != latent_dim:
        raise ValueError(
            f"The last of `mapping_units` feeds the generator's latent input and must equal its "
            f"latent_dim={latent_dim}. Received: mapping_units={mapping_units}"
        )

    def initializer(index):
        return keras.initializers.GlorotUniform(seed=None if seed is None else int(seed) + index)

    frozen_generator = _frozen_copy(generator, "frozen_generator")
    latent = keras.Input(shape=(latent_dim,), name="latent")
    label = keras.Input(shape=(), dtype="int32", name="label")
    x = keras.layers.Concatenate(name="latent_label_concat")([latent, OneHot(num_classes, name="label_one_hot")(label)])
    for index, units in enumerate(mapping_units, start=1):
        last = index == len(mapping_units)
        x = keras.layers.Dense(
            units,
            activation=mapping_output_activation if last else "relu",
            kernel_initializer=initializer(index),
            name=f"mapping_dense_{index}",
        )(x)
    images = frozen_generator(x, training=False)
    conditional_generator = keras.Model([latent, label], images, name=f"{name}_generator")

    discriminator_copy = keras.models.clone_model(discriminator)
    discriminator_copy.set_weights(discriminator.get_weights())
    trunk = keras.Model(
        discriminator_copy.input, discriminator_copy.get_layer("trunk_features").output, name="frozen_trunk"
    )
    trunk.trainable = False
    image = keras.Input(shape=tuple(discriminator.inputs[0].shape[1:]), name="image")
    features = keras.layers.Identity(name="trunk_features")(trunk(image, training=False))
    realness_head = keras.layers.Dense(1, name="realness_logit")
    realness = realness_head(features)
    realness_head.set_weights(head.get_weights())
    c = features
    for index, units in enumerate(dense_units, start=1):
        c = keras.layers.Dense(
            units, activation="relu", kernel_initializer=initializer(100 + index), name=f"classifier_dense_{index}"
        )(c)
    class_logits = keras.layers.Dense(num_classes, kernel_initializer=initializer(200), name="class_logits")(c)
    acgan_discriminator = keras.Model(image, [realness, class_logits], name=f"{name}_discriminator")
    return conditional_generator, acgan_discriminator
