"""StyleGAN2 factories (Karras et al. 2020) at 16 px with tiny widths: shapes, the W / W+ contract,
modulation and demodulation against hand computation, truncation, minibatch stddev, round trips,
gradients, R1 and argument errors."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from ganaug import models
from ganaug.models import stylegan
from ganaug.training.stylegan_losses import (
    ema_decay_from_half_life,
    lazy_regularization_adam,
    r1_gamma_heuristic,
    r1_penalty,
    r1_regularization,
)

SIZE, LATENT, W_DIM, BATCH = 16, 6, 8, 4
NUM_WS = 2 * 4 - 2  # 2 log2(16) - 2
TINY = dict(image_size=SIZE, channel_base=64, channel_max=8)  # widths 8, 8, 4 at 4, 8, 16 px
TINY_G = dict(TINY, latent_dim=LATENT, w_dim=W_DIM, mapping_layers=2)
TINY_SYNTHESIS = dict(TINY, w_dim=W_DIM)


@pytest.fixture(scope="module")
def generator():
    return models.build_stylegan_generator(noise_mode="none", seed=0, **TINY_G)


@pytest.fixture(scope="module")
def discriminator():
    return models.build_stylegan_discriminator(seed=1, **TINY)


def _latents(count=BATCH, seed=0):
    return np.random.default_rng(seed).standard_normal((count, LATENT)).astype("float32")


def _images(count=BATCH, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (count, SIZE, SIZE, 3)).astype("float32")


def test_shapes_of_every_network_and_their_conditional_variants(generator, discriminator):
    assert models.num_ws_for(SIZE) == NUM_WS and models.num_ws_for(256) == 14
    mapping, synthesis = models.mapping_of(generator), models.synthesis_of(generator)
    assert tuple(mapping.output.shape) == (None, W_DIM)
    assert tuple(synthesis.input.shape) == (None, NUM_WS, W_DIM)
    assert tuple(generator.output.shape) == (None, SIZE, SIZE, 3)
    assert generator(_latents()).shape == (BATCH, SIZE, SIZE, 3)
    assert discriminator(_images()).shape == (BATCH, 1)
    assert discriminator.get_layer("trunk_features").output.shape[-1] == 4 * 4 * 8
    assert discriminator.get_layer("realness_logit").output.shape[-1] == 1
    assert len([layer for layer in mapping.layers if isinstance(layer, models.EqualizedDense)]) == 2
    # The toRGB of one resolution shares its w with the next resolution's first convolution.
    indices = {layer.name: layer.w_index for layer in synthesis.layers if isinstance(layer, models.ModulatedConv2D)}
    assert indices == {"b4_conv": 0, "b4_torgb": 1, "b8_0_conv": 1, "b8_1_conv": 2, "b8_torgb": 3,
                       "b16_0_conv": 3, "b16_1_conv": 4, "b16_torgb": 5}
    again = models.build_stylegan_generator(noise_mode="none", seed=0, **TINY_G)  # same seed, same weights
    for a, b in zip(generator.trainable_weights, again.trainable_weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    conditional = models.build_stylegan_generator(num_classes=3, channels=1, seed=0, **TINY_G)
    labels = np.array([0, 2, 1, 0], np.int32)
    assert [tensor.name for tensor in conditional.inputs] == ["latent", "label"]
    assert conditional([_latents(), labels]).shape == (BATCH, SIZE, SIZE, 1)
    conditional_d = models.build_stylegan_discriminator(num_classes=3, channels=1, seed=0, **TINY)
    logits = conditional_d([_images()[..., :1], labels])
    assert logits.shape == (BATCH, 1)
    assert not np.allclose(logits, conditional_d([_images()[..., :1], (labels + 1) % 3]))


def test_a_w_plus_of_repeated_w_is_the_w_path_and_style_mixing_swaps_rows(generator):
    mapping, synthesis = models.mapping_of(generator), models.synthesis_of(generator)
    w = mapping(_latents())
    ws = models.broadcast_w(w, NUM_WS)
    np.testing.assert_allclose(synthesis(ws), generator(_latents()), atol=1e-6)
    other = mapping(_latents(seed=1))
    mixed = models.mix_styles(w, models.broadcast_w(other, NUM_WS), crossover=2)
    np.testing.assert_allclose(mixed[:, :2], ws[:, :2])
    np.testing.assert_allclose(mixed[:, 2:], models.broadcast_w(other, NUM_WS)[:, 2:])
    np.testing.assert_allclose(models.mix_styles(ws, other, crossover=NUM_WS), ws)
    per_example = models.mix_styles(ws, other, crossover=np.array([0, 1, 6, 3]))
    np.testing.assert_allclose(per_example[0], models.broadcast_w(other, NUM_WS)[0])
    np.testing.assert_allclose(per_example[2], ws[2])
    assert not np.allclose(synthesis(mixed), synthesis(ws), atol=1e-4)  # fine styles changed
    cut = int(models.random_crossover(NUM_WS, probability=1.0, seed=3))
    assert 1 <= cut < NUM_WS and int(models.random_crossover(NUM_WS, probability=0.0, seed=3)) == NUM_WS


def _conv_same(x, kernel):
    """Cross-correlation with zero 'same' padding: x (H, W, C_in), kernel (k, k, C_in, C_out)."""
    k = kernel.shape[0]
    padded = np.pad(x, ((k // 2, k // 2), (k // 2, k // 2), (0, 0)))
    out = np.zeros((x.shape[0], x.shape[1], kernel.shape[-1]))
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            out[i, j] = np.tensordot(padded[i:i + k, j:j + k], kernel, axes=([0, 1, 2], [0, 1, 2]))
    return out


@pytest.mark.parametrize("demodulate", [True, False])
def test_modulated_convolution_equals_the_hand_computed_per_example_kernel(rng, demodulate):
    layer = models.ModulatedConv2D(3, 3, demodulate=demodulate, w_index=1, seed=0)
    x = rng.standard_normal((2, 5, 5, 2)).astype("float32")
    ws = rng.standard_normal((2, 3, 4)).astype("float32")
    layer([x, ws])  # build
    layer.affine_bias.assign(rng.uniform(0.5, 1.5, 2).astype("float32"))
    layer.bias.assign(rng.standard_normal(3).astype("float32"))
    output = keras.ops.convert_to_numpy(layer([x, ws]))
    kernel = keras.ops.convert_to_numpy(layer.kernel) / math.sqrt(2 * 9)  # equalised lr
    affine = keras.ops.convert_to_numpy(layer.affine_kernel) / math.sqrt(4)
    for n in range(2):
        styles = ws[n, 1] @ affine + keras.ops.convert_to_numpy(layer.affine_bias)
        modulated = kernel * styles[None, None, :, None]
        if demodulate:
            modulated = modulated / np.sqrt(np.sum(modulated**2, axis=(0, 1, 2), keepdims=True) + 1e-8)
        expected = _conv_same(x[n], modulated) + keras.ops.convert_to_numpy(layer.bias)
        np.testing.assert_allclose(output[n], expected, rtol=1e-4, atol=1e-5)
    # One w (N, w_dim) is read as that w for every layer.
    np.testing.assert_allclose(layer([x, ws[:, 1]]), output, atol=1e-6)


def test_demodulation_keeps_unit_variance_per_output_channel_at_init(rng):
    x = rng.standard_normal((2, 40, 40, 16)).astype("float32")
    w = rng.standard_normal((2, 8)).astype("float32") * 3.0  # strong styles
    demodulated = keras.ops.convert_to_numpy(models.ModulatedConv2D(8, 3, seed=0)([x, w]))[:, 1:-1, 1:-1]
    plain = keras.ops.convert_to_numpy(models.ModulatedConv2D(8, 3, demodulate=False, seed=0)([x, w]))[:, 1:-1, 1:-1]
    variance = demodulated.var(axis=(1, 2))  # (N, C_out): per example and channel, interior pixels
    np.testing.assert_allclose(variance, 1.0, atol=0.12)
    assert np.abs(plain.var(axis=(1, 2)) - 1.0).max() > 0.5  # modulation alone changes the scale


def test_truncation_psi_zero_gives_the_w_avg_image_and_one_is_the_identity(generator):
    mapping, synthesis = models.mapping_of(generator), models.synthesis_of(generator)
    z = _latents()
    w = keras.ops.convert_to_numpy(mapping(z))
    assert np.allclose(models.w_avg_of(generator), 0.0)
    models.update_w_avg(generator, w, decay=0.0)
    np.testing.assert_allclose(models.w_avg_of(generator), w.mean(axis=0), atol=1e-6)
    models.update_w_avg(generator, np.zeros_like(w), decay=0.75)  # w_avg <- 0.75 w_avg + 0.25 * 0
    w_avg = models.w_avg_of(generator)
    np.testing.assert_allclose(w_avg, 0.75 * w.mean(axis=0), atol=1e-6)
    try:
        models.set_truncation(generator, 1.0)
        np.testing.assert_allclose(generator(z), synthesis(models.broadcast_w(w, NUM_WS)), atol=1e-6)
        models.set_truncation(generator, 0.0)
        average_image = synthesis(models.broadcast_w(np.tile(w_avg, (1, 1)), NUM_WS))
        np.testing.assert_allclose(generator(z), np.repeat(average_image, BATCH, axis=0), atol=1e-5)
        models.set_truncation(generator, 0.5)
        halfway = w_avg + 0.5 * (w - w_avg)
        np.testing.assert_allclose(generator(z), synthesis(models.broadcast_w(halfway, NUM_WS)), atol=1e-5)
    finally:
        models.set_truncation(generator, 1.0)
    layer = models.Truncation(NUM_WS, psi=0.0, cutoff=2)
    ws = keras.ops.convert_to_numpy(layer(w))  # w_avg = 0 here: rows below the cutoff become 0
    np.testing.assert_allclose(ws[:, :2], 0.0)
    np.testing.assert_allclose(ws[:, 2:], np.repeat(w[:, None], NUM_WS - 2, axis=1))


def test_minibatch_stddev_appends_the_hand_computed_group_deviation():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((8, 2, 2, 3)).astype("float32")
    output = keras.ops.convert_to_numpy(models.MinibatchStdDev(group_size=4)(x))
    assert output.shape == (8, 2, 2, 4)
    np.testing.assert_array_equal(output[..., :3], x)
    for member in range(8):
        group = x[member % 2::2]  # groups {0, 2, 4, 6} and {1, 3, 5, 7}
        expected = np.mean(np.sqrt(np.mean((group - group.mean(axis=0)) ** 2, axis=0) + 1e-8))
        np.testing.assert_allclose(output[member, ..., 3], expected, rtol=1e-5)
    two = keras.ops.convert_to_numpy(models.MinibatchStdDev(group_size=4, num_channels=3)(x[:2]))  # G = 2
    np.testing.assert_allclose(two[0, 0, 0, 3:], np.sqrt(((x[0] - x[1]) / 2) ** 2 + 1e-8).mean(axis=(0, 1)), rtol=1e-5)
    traced = tf.function(lambda t: models.MinibatchStdDev(group_size=4)(t), input_signature=[tf.TensorSpec((None, 2, 2, 3))])
    np.testing.assert_allclose(traced(x), output, rtol=1e-5)
    with pytest.raises(ValueError, match="multiple of the minibatch-stddev group size 4"):
        models.MinibatchStdDev(group_size=4)(x[:6])


def test_keras_round_trip_keeps_outputs_w_avg_and_psi(tmp_path, generator, discriminator):
    conditional = models.build_stylegan_generator(num_classes=3, noise_mode="const", truncation_cutoff=3, seed=4, **TINY_G)
    labels = np.array([0, 1, 2, 1], np.int32)
    models.update_w_avg(conditional, np.ones((2, W_DIM), np.float32), decay=0.5)
    models.set_truncation(conditional, 0.7)
    cases = [
        (generator, _latents()),
        (conditional, [_latents(), labels]),
        (discriminator, _images()),
        (models.build_stylegan_discriminator(num_classes=3, seed=5, **TINY), [_images(), labels]),
        (models.build_stylegan_synthesis(noise_inputs=True, seed=6, **TINY_SYNTHESIS), None),
    ]
    for index, (model, inputs) in enumerate(cases):
        if inputs is None:  # synthesis with noise inputs: W+ then one map per convolution
            inputs = [np.ones((2, NUM_WS, W_DIM), np.float32)] + [
                np.full((2, *tensor.shape[1:]), 0.5, np.float32) for tensor in model.inputs[1:]
            ]
        path = tmp_path / f"model_{index}.keras"
        model.save(path)
        loaded = keras.models.load_model(path)
        np.testing.assert_allclose(loaded(inputs), model(inputs), rtol=1e-5, atol=1e-6)
    loaded = keras.models.load_model(tmp_path / "model_1.keras")
    np.testing.assert_allclose(models.w_avg_of(loaded), 0.5)
    assert float(loaded.get_layer("truncation").truncation_psi.numpy()) == pytest.approx(0.7)
    clone = keras.models.clone_model(generator)  # what the trainer's EMA copy does
    clone.set_weights(generator.get_weights())
    np.testing.assert_allclose(clone(_latents()), generator(_latents()), atol=1e-6)


def test_noise_modes_and_supplied_noise():
    generator = models.build_stylegan_generator(seed=7, **TINY_G)  # noise_mode "random"
    synthesis = models.synthesis_of(generator)
    noise_layers = [layer for layer in synthesis.layers if isinstance(layer, models.NoiseInjection)]
    assert len(noise_layers) == NUM_WS - 1
    for layer in noise_layers:
        layer.strength.assign(np.full(layer.strength.shape, 0.5, np.float32))
    z = _latents()
    assert not np.allclose(generator(z), generator(z))  # fresh noise per call
    assert models.set_noise_mode(generator, "const") == NUM_WS - 1
    np.testing.assert_array_equal(generator(z), generator(z))
    models.set_noise_mode(generator, "none")
    quiet = generator(z)
    for layer in noise_layers:
        layer.strength.assign(np.zeros(layer.strength.shape, np.float32))
    np.testing.assert_allclose(quiet, generator(z), atol=1e-6)  # "none" = no noise at all
    # Supplied maps of zeros equal no noise; ones shift the output.
    supplied = models.build_stylegan_synthesis(noise_inputs=True, seed=8, **TINY_SYNTHESIS)
    shapes = [tuple(t.shape) for t in supplied.inputs[1:]]
    assert shapes == [(None, 4, 4, 1)] + [(None, 8, 8, 1)] * 2 + [(None, 16, 16, 1)] * 2
    for layer in supplied.layers:
        if isinstance(layer, models.NoiseInjection):
            layer.strength.assign(np.full(layer.strength.shape, 0.5, np.float32))
    ws = np.random.default_rng(0).standard_normal((2, NUM_WS, W_DIM)).astype("float32")
    zeros = [np.zeros((2, *t.shape[1:]), np.float32) for t in supplied.inputs[1:]]
    ones = [np.ones_like(z) for z in zeros]
    models.set_noise_mode(supplied, "none")
    reference = supplied([ws, *zeros])
    assert not np.allclose(supplied([ws, *ones]), reference)
    models.set_noise_mode(supplied, "random")
    np.testing.assert_allclose(supplied([ws, *zeros]), reference, atol=1e-6)  # supplied noise wins


def test_every_trainable_weight_gets_a_gradient():
    generator = models.build_stylegan_generator(num_classes=2, seed=9, **TINY_G)  # random noise
    discriminator = models.build_stylegan_discriminator(num_classes=2, seed=10, **TINY)
    labels = tf.constant([0, 1, 1, 0], tf.int32)  # a tensor: Keras refuses [tensor, numpy] inputs
    with tf.GradientTape(persistent=True) as tape:
        fake = generator([tf.constant(_latents()), labels], training=True)
        generator_loss = tf.reduce_mean(tf.nn.softplus(-discriminator([fake, labels], training=True)))
        real_logits = discriminator([tf.constant(_images()), labels], training=True)
        discriminator_loss = tf.reduce_mean(tf.nn.softplus(real_logits))
    for model, loss in ((generator, generator_loss), (discriminator, discriminator_loss)):
        gradients = tape.gradient(loss, model.trainable_weights)
        missing = [w.path for w, g in zip(model.trainable_weights, gradients) if g is None or not np.any(g.numpy())]
        assert not missing, f"{model.name}: no gradient for {missing}"
    del tape
    non_trainable = {w.name for w in generator.non_trainable_weights}
    assert non_trainable == {"w_avg", "truncation_psi", "noise_const"}


def test_r1_penalty_against_a_linear_discriminator_and_its_weight_gradient(discriminator):
    linear = keras.Sequential([keras.Input((2, 2, 1)), keras.layers.Flatten(), keras.layers.Dense(1)])
    weights = np.array([[1.0], [-2.0], [0.5], [3.0]], np.float32)
    linear.layers[-1].set_weights([weights, np.array([0.3], np.float32)])
    images = np.random.default_rng(0).standard_normal((3, 2, 2, 1)).astype("float32")
    with tf.GradientTape() as tape:
        penalty = r1_penalty(linear, images)
        total = tf.reduce_sum(penalty)
    np.testing.assert_allclose(penalty, [np.sum(weights**2)] * 3, rtol=1e-6)  # ||w||^2 = 14.25
    kernel_gradient = tape.gradient(total, linear.layers[-1].kernel)
    np.testing.assert_allclose(kernel_gradient, 3 * 2 * weights, rtol=1e-5)  # d/dw sum_n ||w||^2
    np.testing.assert_allclose(r1_regularization(penalty, gamma=0.5, interval=16), 0.5 / 2 * 14.25 * 16, rtol=1e-6)
    # Quadratic D(x) = sum(x^2): ||grad||^2 = 4 ||x||^2 per example.
    square_sum = keras.layers.Lambda(lambda t: tf.reduce_sum(t**2, [1, 2, 3])[:, None])
    quadratic = keras.Sequential([keras.Input((2, 2, 1)), square_sum])
    np.testing.assert_allclose(r1_penalty(quadratic, images), 4 * np.sum(images**2, axis=(1, 2, 3)), rtol=1e-5)
    stylegan_penalty = r1_penalty(discriminator, _images())
    assert stylegan_penalty.shape == (BATCH,) and np.all(stylegan_penalty.numpy() > 0)
    assert r1_gamma_heuristic(32, 32) == pytest.approx(0.0064)
    assert lazy_regularization_adam(0.002, 0.0, 0.99, 16) == pytest.approx((0.002 * 16 / 17, 0.0, 0.99 ** (16 / 17)))
    assert ema_decay_from_half_life(32, 10_000) == pytest.approx(0.5 ** 0.0032)
    with pytest.raises(ValueError, match="gamma=-1"):
        r1_regularization(penalty, gamma=-1)
    with pytest.raises(ValueError, match="real_images.shape"):
        r1_penalty(linear, images[0])


def test_presets_hold_the_papers_numbers_and_build():
    cpu = models.get_preset("stylegan2_cpu")
    assert cpu["image_size"] == 32 and cpu["mapping_layers"] == 2 and cpu["mbstd_group_size"] == 4
    training = cpu["training"]
    assert training["r1_gamma"] == pytest.approx(0.0002 * 32**2 / 32) and training["r1_interval"] == 16
    assert (training["adam_beta_1"], training["adam_beta_2"], training["batch_size"]) == (0.0, 0.99, 32)
    assert training["loss"] == "non_saturating" and training["generator_learning_rate"] == 0.002
    assert 0.99 < training["ema_decay"] < 1.0 and set(training["assumed"]) <= set(training) | set(cpu)
    paper = models.get_preset("karras2020")
    assert (paper["mapping_layers"], paper["latent_dim"], paper["w_dim"], paper["mapping_lr_multiplier"]) == (8, 512, 512, 0.01)
    assert paper["training"]["r1_gamma"] == 10.0 and paper["training"]["style_mixing_probability"] == 0.9
    assert stylegan.channels_at(256, paper["channel_base"], paper["channel_max"]) == 256
    assert stylegan.channels_at(64, paper["channel_base"], paper["channel_max"]) == 512
    small = dict(image_size=SIZE, latent_dim=LATENT, w_dim=W_DIM, channel_base=64, channel_max=8)
    generator = models.build_stylegan_generator(preset="stylegan2_cpu", **small)
    assert len([layer for layer in models.mapping_of(generator).layers if isinstance(layer, models.EqualizedDense)]) == 2
    mapping = models.build_stylegan_mapping(preset="karras2020", latent_dim=LATENT, w_dim=W_DIM, mapping_units=4)
    dense = [layer for layer in mapping.layers if isinstance(layer, models.EqualizedDense)]
    assert len(dense) == 8 and all(layer.lr_multiplier == 0.01 for layer in dense)
    discriminator = models.build_stylegan_discriminator(preset="stylegan2_cpu", image_size=SIZE, channel_base=64, channel_max=8)
    assert discriminator.get_layer("minibatch_stddev").group_size == 4


def test_equalised_learning_rate_scales_weights_at_run_time():
    layer = models.EqualizedDense(3, lr_multiplier=0.01, bias_init=1.0, seed=0)
    x = np.random.default_rng(0).standard_normal((2, 4)).astype("float32")
    output = layer(x)
    kernel = layer.kernel.numpy()
    assert 50 < np.std(kernel) < 200  # stored as N(0, 1 / 0.01^2)
    np.testing.assert_allclose(output, x @ (kernel * 0.01 / 2.0) + 0.01, rtol=1e-5)
    conv = models.EqualizedConv2D(2, 3, activation="linear", down=True, gain=0.5, seed=0)
    image = np.random.default_rng(1).standard_normal((1, 4, 4, 3)).astype("float32")
    output = conv(image)[0]
    full = _conv_same(image[0], conv.kernel.numpy() / math.sqrt(3 * 3 * 3))  # fan_in = 27
    expected = 0.5 * full.reshape(2, 2, 2, 2, 2).mean(axis=(1, 3))  # 2x2 average pooling, gain 0.5
    np.testing.assert_allclose(output, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "factory, arguments, match",
    [
        ("generator", dict(image_size=512), "image_size=512"),
        ("generator", dict(image_size=24), "image_size=24"),
        ("generator", dict(mapping_layers=0), "mapping_layers=0"),
        ("generator", dict(noise_mode="off"), "noise_mode='off'"),
        ("generator", dict(truncation_cutoff=7), "truncation_cutoff=7"),
        ("generator", dict(truncation_psi=float("nan")), "truncation_psi=nan"),
        ("generator", dict(mapping_lr_multiplier=0), "mapping_lr_multiplier=0"),
        ("generator", dict(output_activation="sigmoid"), "output_activation='sigmoid'"),
        ("generator", dict(num_classes=1), "num_classes=1"),
        ("discriminator", dict(channels=2), "channels=2"),
        ("discriminator", dict(mbstd_channels=3), "mbstd_channels=3"),
        ("discriminator", dict(mbstd_group_size=0), "mbstd_group_size=0"),
        ("discriminator", dict(preset="stylegan3"), "preset='stylegan3'"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(factory, arguments, match):
    build = models.build_stylegan_generator if factory == "generator" else models.build_stylegan_discriminator
    base = dict(TINY_G) if factory == "generator" else dict(TINY)
    base.update(arguments)
    with pytest.raises(ValueError, match=match):
        build(**base)


def test_bad_helper_arguments_name_themselves(generator):
    ws = np.zeros((2, NUM_WS, W_DIM), np.float32)
    with pytest.raises(ValueError, match="crossover=7"):
        models.mix_styles(ws, ws, crossover=7)
    with pytest.raises(ValueError, match="ws_b.shape"):
        models.mix_styles(ws, ws[:, :3], crossover=1)
    with pytest.raises(ValueError, match="decay=1.0"):
        models.update_w_avg(generator, ws, decay=1.0)
    with pytest.raises(ValueError, match=r"ws.shape=\(2, 3\)"):
        models.update_w_avg(generator, np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="psi=inf"):
        models.set_truncation(generator, float("inf"))
    with pytest.raises(ValueError, match="no Truncation layer"):
        models.set_truncation(models.synthesis_of(generator), 0.5)
    with pytest.raises(ValueError, match="noise_mode='loud'"):
        models.set_noise_mode(generator, "loud")


@pytest.mark.skipif(len(tf.config.list_logical_devices("CPU")) < 2, reason="needs 2 logical CPU devices")
def test_a_mirrored_step_with_r1_and_w_avg_on_two_logical_cpus():
    # Reduction through one device, not collective ops: a second MirroredStrategy with collectives in
    # the same process renumbers its collective instances and clashes with the trainer tests' one.
    strategy = tf.distribute.MirroredStrategy(
        tf.config.list_logical_devices("CPU")[:2], cross_device_ops=tf.distribute.ReductionToOneDevice()
    )
    with strategy.scope():
        generator = models.build_stylegan_generator(seed=0, **TINY_G)
        discriminator = models.build_stylegan_discriminator(seed=1, **TINY)
        optimizer = keras.optimizers.Adam(1e-3, beta_1=0.0, beta_2=0.99)
        optimizer.build(discriminator.trainable_variables)
    mapping = models.mapping_of(generator)
    z, images = _latents(8), _images(8)
    batches = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices((z, images)).batch(8))
    before = [w.numpy() for w in discriminator.trainable_variables]

    @tf.function
    def step(batch):
        def replica_step(latents, reals):
            models.update_w_avg(generator, mapping(latents), decay=0.0)
            with tf.GradientTape() as tape:
                fakes = generator(latents, training=True)
                loss = tf.nn.softplus(discriminator(fakes, training=True))[:, 0]
                loss += tf.nn.softplus(-discriminator(reals, training=True))[:, 0]
                loss += r1_regularization(r1_penalty(discriminator, reals), gamma=0.01, interval=16)
                loss = tf.nn.compute_average_loss(loss, global_batch_size=8)
            gradients = tape.gradient(loss, discriminator.trainable_variables)
            optimizer.apply_gradients(zip(gradients, discriminator.trainable_variables))
            return loss

        return strategy.run(replica_step, args=batch)

    for batch in batches:
        assert np.isfinite(strategy.reduce("SUM", step(batch), axis=None).numpy())
    assert strategy.num_replicas_in_sync == 2
    # Each replica assigns its half's mean; the "mean" aggregation gives the global mean.
    np.testing.assert_allclose(models.w_avg_of(generator), mapping(z).numpy().mean(axis=0), atol=1e-5)
    assert all(not np.array_equal(a, w.numpy()) for a, w in zip(before, discriminator.trainable_variables))
