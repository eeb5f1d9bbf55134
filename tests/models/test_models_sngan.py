"""SNGAN generator and projection discriminator (Miyato et al. 2018; Miyato & Koyama 2018).

Checked: shapes, dtypes and ranges; the layout of the papers' 32 px CIFAR-10 models; the projection
output ``psi(h) + <e_y, h>`` recomputed with numpy from the layers' weights; spectral norm ~1 after
power iterations, the raw kernel never overwritten and the gradient flowing through sigma;
conditional batch norm applying each label's own gain and bias, with batch statistics in training
and moving ones in inference; `.keras` round trips; seeds; argument errors; gradients for every
weight; mixed precision; MirroredStrategy on two logical CPUs.
"""

import numpy as np
import pytest

import keras
import tensorflow as tf

from ganaug import models
from ganaug.models import sngan

NUM_CLASSES = 3
SIZE = 16
LATENT_DIM = 8
BATCH = 4
LABELS = np.array([0, 1, 2, 1], dtype="int32")
# Keras will not take a list that mixes tensors and numpy arrays: labels fed next to a tensor.
LABELS_TENSOR = tf.constant(LABELS)


def _generator(seed=0, **kwargs):
    arguments = dict(image_size=SIZE, latent_dim=LATENT_DIM, generator_filters=8, seed=seed)
    arguments.update(kwargs)
    return models.build_sngan_generator(NUM_CLASSES, **arguments)


def _discriminator(seed=0, **kwargs):
    arguments = dict(image_size=SIZE, discriminator_filters=8, seed=seed)
    arguments.update(kwargs)
    return models.build_projection_discriminator(NUM_CLASSES, **arguments)


def _latent(rng, n=BATCH):
    return rng.standard_normal((n, LATENT_DIM)).astype("float32")


def _images(rng, n=BATCH, size=SIZE, channels=3):
    return rng.uniform(-1, 1, (n, size, size, channels)).astype("float32")


def _l2_normalize(x):
    return x / (np.sqrt(np.sum(x**2)) + 1e-12)


def _inference_normalized(kernel, u):
    """Numpy version of the inference-mode spectral normalisation: stored u, v = normalize(u W^T)."""
    matrix = kernel.reshape(-1, kernel.shape[-1]).astype("float64")
    u = _l2_normalize(u.astype("float64"))
    v = _l2_normalize(u @ matrix.T)
    sigma = float(np.sum((v @ matrix) * u))
    return kernel / sigma


def _largest_singular_value(kernel):
    return float(np.linalg.svd(np.asarray(kernel).reshape(-1, kernel.shape[-1]), compute_uv=False)[0])


@pytest.mark.parametrize("image_size,channels", [(16, 3), (32, 1)])
def test_shapes_dtypes_and_range(image_size, channels, rng):
    generator = _generator(image_size=image_size, channels=channels)
    discriminator = _discriminator(image_size=image_size, channels=channels)
    assert [tuple(t.shape) for t in generator.inputs] == [(None, LATENT_DIM), (None,)]
    assert [t.dtype for t in generator.inputs] == ["float32", "int32"]
    assert [t.dtype for t in discriminator.inputs] == ["float32", "int32"]
    assert generator.name == "sngan_generator" and discriminator.name == "projection_discriminator"

    images = np.asarray(generator([_latent(rng), LABELS], training=False))
    assert images.shape == (BATCH, image_size, image_size, channels) and images.dtype == np.float32
    assert np.all(np.abs(images) <= 1.0)
    assert generator.get_layer("images").activation.__name__ == "tanh"
    logits = np.asarray(discriminator([images, LABELS], training=False))
    assert logits.shape == (BATCH, 1) and logits.dtype == np.float32
    # up-blocks: log2(size / 4). The label enters the generator only through the conditional batch
    # norms, whose per-class gains start at 1 and biases at 0 (so at first every class looks alike).
    assert len([layer for layer in generator.layers if layer.name.endswith("_add")]) == int(np.log2(image_size // 4))
    z = np.repeat(_latent(rng, 1), 2, axis=0)
    two_labels = np.array([0, 2], "int32")
    pair = np.asarray(generator([z, two_labels], training=False))
    np.testing.assert_allclose(pair[0], pair[1], atol=1e-6)
    bn = generator.get_layer("up_block_1_bn_1")
    bn.beta.assign(np.outer(np.arange(NUM_CLASSES), np.ones(bn.beta.shape[1])).astype("float32"))
    pair = np.asarray(generator([z, two_labels], training=False))
    assert not np.allclose(pair[0], pair[1])
    same = np.repeat(images[:1], 2, axis=0)
    assert not np.allclose(*np.asarray(discriminator([same, np.array([0, 2], "int32")], training=False)))


def test_miyato2018_layout_at_32_px():
    generator = models.build_sngan_generator(10, preset="miyato2018")
    discriminator = models.build_projection_discriminator(10, preset="miyato2018")
    # Generator: z in R^128 -> 4x4x256 -> 3 up-blocks of 256 filters -> 32x32x3.
    assert tuple(generator.inputs[0].shape) == (None, 128)
    assert tuple(generator.get_layer("projection_reshape").output.shape) == (None, 4, 4, 256)
    for index, size in enumerate((8, 16, 32), start=1):
        assert tuple(generator.get_layer(f"up_block_{index}_add").output.shape) == (None, size, size, 256)
        assert isinstance(generator.get_layer(f"up_block_{index}_bn_1"), models.ConditionalBatchNormalization)
        assert generator.get_layer(f"up_block_{index}_upsample").interpolation == "nearest"
        assert generator.get_layer(f"up_block_{index}_conv_1").kernel_size == (3, 3)
        assert generator.get_layer(f"up_block_{index}_shortcut_conv").kernel_size == (1, 1)
    assert "up_block_4_add" not in [layer.name for layer in generator.layers]
    assert tuple(generator.output.shape) == (None, 32, 32, 3)
    # Discriminator: 4 blocks of 128 (down, down, no-down, no-down), ReLU, global sum pooling.
    assert [tuple(discriminator.get_layer(f"down_block_{i}_add").output.shape) for i in (1, 2, 3, 4)] == [
        (None, 16, 16, 128), (None, 8, 8, 128), (None, 8, 8, 128), (None, 8, 8, 128),
    ]
    names = [layer.name for layer in discriminator.layers]
    assert "down_block_1_act_1" in names and "down_block_1_shortcut_pool" in names  # optimised block
    assert "down_block_3_shortcut_conv" not in names and "down_block_3_pool" not in names
    assert isinstance(discriminator.get_layer("trunk_features"), models.GlobalSumPooling2D)
    assert tuple(discriminator.get_layer("trunk_features").output.shape) == (None, 128)
    head = discriminator.get_layer("realness_logit")
    assert isinstance(head, keras.layers.Dense) and head.units == 1 and not head.use_bias
    assert tuple(discriminator.get_layer("class_embedding").embeddings.shape) == (10, 128)
    # Spectral normalisation on every convolution, the dense layer and the embedding.
    kinds = {type(layer) for layer in discriminator.layers}
    assert not kinds & {keras.layers.Conv2D, keras.layers.Dense, keras.layers.Embedding}
    spectral = [layer for layer in discriminator.layers if isinstance(layer, sngan._SpectralNormalizationMixin)]
    assert len(spectral) == 1 + 1 + 3 + 3 + 2 + 2  # psi, embedding, blocks 1-4
    assert all(layer.power_iterations == 1 for layer in spectral)
    assert sngan.discriminator_layout(64, 128) == [(64, True), (128, True), (128, True), (128, False), (128, False)]
    assert sngan.generator_layout(64, 256) == [256, 256, 256, 128]


def test_projection_output_equals_hand_computation(rng):
    discriminator = _discriminator()
    images = _images(rng)
    # A few training-mode calls so the singular vectors are not their initial values.
    for _ in range(3):
        discriminator([images, LABELS], training=True)
    trunk = keras.Model(discriminator.inputs, discriminator.get_layer("trunk_features").output)
    h = np.asarray(trunk([images, LABELS], training=False), dtype="float64")

    psi = discriminator.get_layer("realness_logit")
    embedding = discriminator.get_layer("class_embedding")
    psi_kernel = _inference_normalized(psi.kernel.numpy(), psi.singular_vector.numpy())
    embedding_matrix = _inference_normalized(embedding.embeddings.numpy(), embedding.singular_vector.numpy())
    np.testing.assert_allclose(psi.normalized_kernel().numpy(), psi_kernel, rtol=1e-5, atol=1e-6)
    expected = h @ psi_kernel + np.sum(embedding_matrix[LABELS] * h, axis=1, keepdims=True)

    logits = np.asarray(discriminator([images, LABELS], training=False))
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-4)
    # h is a global *sum* of the ReLU features.
    features = keras.Model(discriminator.inputs, discriminator.get_layer("features_act").output)
    np.testing.assert_allclose(
        np.asarray(features([images, LABELS], training=False)).sum(axis=(1, 2)), h, rtol=1e-5, atol=1e-4
    )


@pytest.mark.parametrize("make_layer,call", [
    (lambda: models.SpectralNormConv2D(6, 3, padding="same", kernel_initializer=keras.initializers.RandomNormal(seed=1)),
     lambda layer, rng, training: layer(rng.standard_normal((2, 5, 5, 4)).astype("float32"), training=training)),
    (lambda: models.SpectralNormDense(5, kernel_initializer=keras.initializers.RandomNormal(seed=2)),
     lambda layer, rng, training: layer(rng.standard_normal((2, 7)).astype("float32"), training=training)),
    (lambda: models.SpectralNormEmbedding(4, 6, embeddings_initializer=keras.initializers.RandomNormal(seed=3)),
     lambda layer, rng, training: layer(np.array([0, 3, 1], "int32"), training=training)),
], ids=["conv", "dense", "embedding"])
def test_spectral_norm_converges_to_one(make_layer, call, rng):
    layer = make_layer()
    call(layer, rng, False)
    raw = np.array(layer.weights[0].numpy())
    u_before = layer.singular_vector.numpy().copy()
    call(layer, rng, False)  # inference: nothing is updated
    np.testing.assert_array_equal(layer.singular_vector.numpy(), u_before)
    for _ in range(20):
        call(layer, rng, True)
    assert not np.array_equal(layer.singular_vector.numpy(), u_before)
    np.testing.assert_array_equal(layer.weights[0].numpy(), raw)  # the raw kernel is never overwritten
    assert abs(_largest_singular_value(raw) - 1.0) > 0.5
    normalized = layer.normalized_embeddings() if isinstance(layer, keras.layers.Embedding) else layer.normalized_kernel()
    assert _largest_singular_value(normalized.numpy()) == pytest.approx(1.0, abs=0.05)


def test_spectral_norm_gradient_flows_through_sigma(rng):
    # For a (C, 1) kernel, W / sigma(W) = W / ||W|| exactly, so the gradient of any function of the
    # output is orthogonal to W (Miyato et al. 2018, eq. 12); a kernel merely rescaled in place
    # (no gradient through sigma) would not give this.
    layer = models.SpectralNormDense(1, use_bias=False, kernel_initializer=keras.initializers.RandomNormal(seed=4))
    inputs = rng.standard_normal((8, 5)).astype("float32")
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(layer(inputs, training=True) - 1.0))
    (gradient,) = tape.gradient(loss, layer.trainable_variables)
    kernel = layer.kernel.numpy().ravel()
    assert np.linalg.norm(gradient.numpy()) > 1e-3
    assert abs(np.dot(gradient.numpy().ravel(), kernel)) < 1e-4 * np.linalg.norm(gradient.numpy()) * np.linalg.norm(kernel)


def test_conditional_batch_norm_applies_each_labels_gain_and_bias(rng):
    layer = models.ConditionalBatchNormalization(NUM_CLASSES, epsilon=1e-3)
    features = rng.standard_normal((4, 3, 3, 2)).astype("float32") * 2.0 + 5.0
    labels = np.array([2, 0, 1, 2], "int32")
    layer([features, labels])
    gamma = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 4.0]], "float32")
    beta = np.array([[0.0, 10.0], [-5.0, 1.0], [7.0, -2.0]], "float32")
    layer.gamma.assign(gamma)
    layer.beta.assign(beta)

    # Inference: the moving statistics (initially mean 0, variance 1).
    x_hat = features / np.sqrt(1.0 + 1e-3)
    output = np.asarray(layer([features, labels], training=False))
    for row, label in enumerate(labels):
        np.testing.assert_allclose(output[row], x_hat[row] * gamma[label] + beta[label], rtol=1e-5, atol=1e-5)

    # Training: the batch statistics, and the moving ones move towards them (momentum 0.9).
    mean, variance = features.mean(axis=(0, 1, 2)), features.var(axis=(0, 1, 2))
    x_hat = (features - mean) / np.sqrt(variance + 1e-3)
    output = np.asarray(layer([features, labels], training=True))
    for row, label in enumerate(labels):
        np.testing.assert_allclose(output[row], x_hat[row] * gamma[label] + beta[label], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(layer.batch_norm.moving_mean.numpy(), 0.1 * mean, rtol=1e-5)
    assert layer.compute_output_shape([(None, 3, 3, 2), (None,)]) == (None, 3, 3, 2)

    fresh = models.ConditionalBatchNormalization(NUM_CLASSES)
    fresh([features, labels])
    np.testing.assert_array_equal(fresh.gamma.numpy(), np.ones((NUM_CLASSES, 2)))
    np.testing.assert_array_equal(fresh.beta.numpy(), np.zeros((NUM_CLASSES, 2)))


def test_save_load_round_trip(rng, tmp_path):
    generator, discriminator = _generator(), _discriminator()
    latent, images = _latent(rng), _images(rng)
    for _ in range(2):  # move the batch-norm statistics and the singular vectors off their initial values
        discriminator([generator([latent, LABELS], training=True), LABELS_TENSOR], training=True)
    for model, inputs in ((generator, [latent, LABELS]), (discriminator, [images, LABELS])):
        expected = np.asarray(model(inputs, training=False))
        path = tmp_path / f"{model.name}.keras"
        model.save(path)
        reloaded = keras.models.load_model(path)
        np.testing.assert_allclose(np.asarray(reloaded(inputs, training=False)), expected, rtol=1e-5, atol=1e-6)
        for a, b in zip(model.get_weights(), reloaded.get_weights()):
            np.testing.assert_array_equal(a, b)
        rebuilt = keras.Model.from_config(model.get_config())
        rebuilt.set_weights(model.get_weights())
        np.testing.assert_allclose(np.asarray(rebuilt(inputs, training=False)), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("layer", [
    models.SpectralNormConv2D(4, 3, power_iterations=2, name="custom"),
    models.SpectralNormDense(3, power_iterations=2, use_bias=False, name="custom"),
    models.SpectralNormEmbedding(5, 3, power_iterations=2, name="custom"),
    models.ConditionalBatchNormalization(4, momentum=0.8, epsilon=1e-4, name="custom"),
    models.GlobalSumPooling2D(name="custom"),
], ids=lambda layer: type(layer).__name__)
def test_custom_layer_config_round_trip(layer):
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(clone) is type(layer) and clone.get_config() == layer.get_config()


def test_same_seed_same_weights_different_seed_different_weights():
    for build in (_generator, _discriminator):
        first, second, third = build(seed=5), build(seed=5), build(seed=6)
        for a, b in zip(first.get_weights(), second.get_weights()):
            np.testing.assert_array_equal(a, b)
        random = [i for i, v in enumerate(first.weights) if v.path.endswith(("kernel", "embeddings", "singular_vector"))]
        assert random
        for i in random:
            assert not np.array_equal(first.weights[i].numpy(), third.weights[i].numpy()), first.weights[i].path


@pytest.mark.parametrize("factory,kwargs,error,message", [
    (models.build_sngan_generator, dict(num_classes=1), ValueError, "Received: num_classes=1"),
    (models.build_projection_discriminator, dict(num_classes=1), ValueError, "Received: num_classes=1"),
    (models.build_sngan_generator, dict(num_classes=3, image_size=30), ValueError, "power of two.*Received: image_size=30"),
    (models.build_projection_discriminator, dict(num_classes=3, image_size=30), ValueError, "Received: image_size=30"),
    (models.build_sngan_generator, dict(num_classes=3, image_size=512), ValueError, "256.*Received: image_size=512"),
    (models.build_sngan_generator, dict(num_classes=3, latent_dim=0), ValueError, "Received: latent_dim=0"),
    (models.build_sngan_generator, dict(num_classes=3, generator_filters=0), ValueError, "Received: generator_filters=0"),
    (models.build_projection_discriminator, dict(num_classes=3, discriminator_filters=0), ValueError,
     "Received: discriminator_filters=0"),
    (models.build_projection_discriminator, dict(num_classes=3, power_iterations=0), ValueError,
     "Received: power_iterations=0"),
    (models.build_sngan_generator, dict(num_classes=3, channels=2), ValueError, "Received: channels=2"),
    (models.build_sngan_generator, dict(num_classes=3, preset="miyato2019"), ValueError,
     "Unknown preset.*Received: preset='miyato2019'"),
    (models.build_projection_discriminator, dict(num_classes=3, preset="sngan"), ValueError,
     "Unknown preset.*Received: preset='sngan'"),
    (models.build_sngan_generator, dict(num_classes=2.5), TypeError, r"Received: num_classes=2\.5"),
])
def test_bad_arguments(factory, kwargs, error, message):
    with pytest.raises(error, match=message):
        factory(**kwargs)


def test_every_trainable_weight_gets_a_gradient(rng):
    generator, discriminator = _generator(), _discriminator()
    latent, images = _latent(rng), _images(rng)
    with tf.GradientTape(persistent=True) as tape:
        fake = generator([latent, LABELS], training=True)
        real_logits = discriminator([images, LABELS], training=True)
        fake_logits = discriminator([fake, LABELS_TENSOR], training=True)
        discriminator_loss = tf.reduce_mean(tf.nn.relu(1.0 - real_logits) + tf.nn.relu(1.0 + fake_logits))
        generator_loss = -tf.reduce_mean(fake_logits)
    for model, loss in ((generator, generator_loss), (discriminator, discriminator_loss)):
        gradients = tape.gradient(loss, model.trainable_variables)
        assert len(gradients) == len(model.trainable_variables) > 0
        for variable, gradient in zip(model.trainable_variables, gradients):
            assert gradient is not None, f"{variable.path} has no gradient"
            assert np.any(np.asarray(gradient) != 0), f"{variable.path} has an all-zero gradient"
    del tape
    # Only the singular vectors and the batch-norm statistics are non-trainable.
    assert all(v.path.endswith("singular_vector") for v in discriminator.non_trainable_variables)
    assert all("moving_" in v.path for v in generator.non_trainable_variables)


def test_presets_and_overrides():
    paper = models.get_preset("miyato2018")
    training = paper["training"]
    assert (paper["latent_dim"], paper["generator_filters"], paper["discriminator_filters"]) == (128, 256, 128)
    assert training["loss"] == "hinge" and training["discriminator_steps"] == 5 and training["batch_size"] == 64
    assert training["generator_learning_rate"] == training["discriminator_learning_rate"] == 2e-4
    assert (training["adam_beta_1"], training["adam_beta_2"]) == (0.0, 0.9)
    assert training["latent_distribution"] in models.LATENT_DISTRIBUTIONS
    cpu = models.get_preset("sngan_cpu")
    assert cpu["generator_filters"] < 256 and cpu["discriminator_filters"] < 128
    assert cpu["training"]["discriminator_steps"] == 1
    assert cpu["training"]["discriminator_learning_rate"] == 2 * cpu["training"]["generator_learning_rate"]
    assert {"generator_filters", "discriminator_filters", "discriminator_steps", "discriminator_learning_rate",
            "diffaugment"} <= set(cpu["training"]["assumed"])
    # The DCGAN presets keep their training keys; the new ones only add.
    assert "discriminator_steps" not in models.get_preset("fernandez2021")["training"]

    generator = models.build_sngan_generator(NUM_CLASSES, preset="sngan_cpu", image_size=16, generator_filters=4)
    assert tuple(generator.get_layer("projection_reshape").output.shape) == (None, 4, 4, 4)
    assert tuple(generator.inputs[0].shape) == (None, 128)
    discriminator = models.build_projection_discriminator(NUM_CLASSES, preset="sngan_cpu", image_size=16)
    assert tuple(discriminator.get_layer("trunk_features").output.shape) == (None, 64)


def test_mixed_precision(rng):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        generator, discriminator = _generator(), _discriminator()
    finally:
        keras.config.set_dtype_policy(previous)
    with tf.GradientTape() as tape:
        fake = generator([_latent(rng), LABELS], training=True)
        logits = discriminator([fake, LABELS_TENSOR], training=True)
        loss = tf.reduce_mean(tf.cast(logits, "float32"))
    assert fake.dtype == "float16" and logits.dtype == "float16"
    variables = generator.trainable_variables + discriminator.trainable_variables
    gradients = tape.gradient(loss, variables)
    assert all(g is not None and np.all(np.isfinite(np.asarray(g))) for g in gradients)
    assert all(v.dtype == "float32" for v in generator.weights + discriminator.weights)
    conv = discriminator.get_layer("down_block_2_conv_1")
    assert conv.normalized_kernel().dtype == "float32"
    assert np.all(np.isfinite(np.asarray(discriminator([fake, LABELS_TENSOR], training=False), dtype="float32")))


@pytest.mark.skipif(len(tf.config.list_logical_devices("CPU")) < 2, reason="needs 2 logical CPU devices")
def test_mirrored_strategy_train_step(rng):
    # ReductionToOneDevice: no collective ops, whose instance keys restart with every strategy and
    # clash with the next test's MirroredStrategy in the same process (shape mismatch).
    strategy = tf.distribute.MirroredStrategy(
        ["/cpu:0", "/cpu:1"], cross_device_ops=tf.distribute.ReductionToOneDevice()
    )
    with strategy.scope():
        discriminator = _discriminator(discriminator_filters=4)
        optimizer = keras.optimizers.Adam(2e-4, beta_1=0.0, beta_2=0.9)
        optimizer.build(discriminator.trainable_variables)
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1], "int32")
    real = np.array([1, -1] * 4, "float32")  # hinge targets: +1 real, -1 fake, on both replicas
    data = tf.data.Dataset.from_tensor_slices((_images(rng, 8), labels, real))
    dataset = strategy.experimental_distribute_dataset(data.batch(8))

    @tf.function
    def step(images, labels, real):
        def replica_step(images, labels, real):
            with tf.GradientTape() as tape:
                logits = discriminator([images, labels], training=True)
                per_example = tf.nn.relu(1.0 - real * logits[:, 0])
                loss = tf.nn.compute_average_loss(per_example, global_batch_size=8)
            gradients = tape.gradient(loss, discriminator.trainable_variables)
            optimizer.apply_gradients(zip(gradients, discriminator.trainable_variables))
            return loss

        return strategy.reduce("SUM", strategy.run(replica_step, args=(images, labels, real)), axis=None)

    before = [v.numpy() for v in discriminator.weights]
    for images, labels, real in dataset:
        loss = step(images, labels, real)
    assert np.isfinite(float(loss))
    for variable, old in zip(discriminator.weights, before):
        assert not np.array_equal(variable.numpy(), old), f"{variable.path} did not change"
        copies = [np.asarray(t) for t in variable.value.values]
        for copy in copies[1:]:  # singular vectors and weights stay identical on both replicas
            np.testing.assert_array_equal(copy, copies[0])
