"""SNGAN factories: a ResNet generator with class-conditional batch norm and a spectrally
normalised projection discriminator (Miyato et al. 2018, "Spectral Normalization for Generative
Adversarial Networks"; Miyato & Koyama 2018, "cGANs with Projection Discriminator").

Generator: ``[latent (N, latent_dim), label (N,) int32]`` -> ``Dense`` ``"projection"`` to
4x4x``generator_filters`` -> ``log2(image_size / 4)`` residual up-blocks ``up_block_<i>``
(conditional BN -> ReLU -> nearest upsample x2 -> 3x3 conv -> conditional BN -> ReLU -> 3x3 conv;
shortcut: upsample -> 1x1 conv) -> BN -> ReLU -> 3x3 conv to ``channels`` -> tanh (``"images"``).

Discriminator: ``[image (N, S, S, C), label (N,) int32]`` -> ``phi``: residual down-blocks
``down_block_<i>`` (the first "optimised": conv -> ReLU -> conv -> average pool, shortcut average
pool -> 1x1 conv; the others ReLU -> conv -> ReLU -> conv [-> average pool], with a 1x1 shortcut
conv when the width changes or the block downsamples) -> ReLU -> global *sum* pooling
(``"trunk_features"``, the vector ``h``) -> ``psi(h) + <embed(y), h>``: ``psi`` is the ``Dense(1)``
``"realness_logit"``, ``embed`` the ``"class_embedding"`` and the inner product the
``"class_projection"`` layer; the output (layer ``"projection_logit"``) is the realness logit
``(N, 1)``. Every convolution, the dense layer and the embedding are spectrally normalised.

Layout by image size: at 32 px (the papers' CIFAR-10 models) the generator has 3 up-blocks of
constant width and the discriminator 4 blocks (down, down, no-down, no-down) of constant width,
exactly as in the authors' code (pfnet-research/sngan_projection, ``resnet_32.py`` /
``snresnet_32.py``). Other sizes keep the same rules: the discriminator downsamples to 8x8 and
then has two blocks without downsampling; blocks that work above 32 px halve the width per
doubling of the resolution (so the cost per block stays about constant), blocks at or below 32 px
have the full ``generator_filters`` / ``discriminator_filters``.

Initialisation follows the authors' code: Glorot uniform for the dense layers, the embedding, the
1x1 shortcuts and the generator's output convolution; Glorot uniform scaled by sqrt(2)
(``VarianceScaling(2, "fan_avg", "uniform")``) for the 3x3 convolutions inside the blocks. Batch
norm uses the reference code's (Chainer) decay 0.9 and epsilon 2e-5.
"""

import math

import keras
from keras import ops

from ganaug.models import _validation as check
from ganaug.models.presets import resolve_arguments

#: Largest image size of the SNGAN factories (the papers go up to 128 px; 256 px still builds).
MAX_IMAGE_SIZE = 256

#: Feature maps at or below this resolution get the full width (the papers' 32 px models).
FULL_WIDTH_RESOLUTION = 32

#: Resolution at which the discriminator stops downsampling (8x8 at 32 px, as in the papers).
DISCRIMINATOR_FINAL_RESOLUTION = 8

#: Blocks without downsampling at the end of the discriminator (2 in the CIFAR-10 model).
DISCRIMINATOR_EXTRA_BLOCKS = 2

#: Moving-average momentum and epsilon of the generator's batch norms (Chainer's defaults, which
#: the authors' code uses).
BATCH_NORM_MOMENTUM = 0.9
BATCH_NORM_EPSILON = 2e-5

#: Added to norms and to the spectral norm before dividing (the reference code uses 1e-12).
_EPSILON = 1e-12

GENERATOR_DEFAULTS = {
    "image_size": 32,
    "channels": 3,
    "latent_dim": 128,
    "generator_filters": 256,
}

DISCRIMINATOR_DEFAULTS = {
    "image_size": 32,
    "channels": 3,
    "discriminator_filters": 128,
    "power_iterations": 1,
}


# --------------------------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------------------------


def _l2_normalize(x):
    return x / (ops.sqrt(ops.sum(ops.square(x))) + _EPSILON)


class _SpectralNormalizationMixin:
    """Shared power iteration of the spectrally normalised layers (Miyato et al. 2018, Algorithm 1).

    The layer keeps its raw kernel ``W`` as the trainable variable and an estimate ``u`` of the
    leading singular vector as a non-trainable variable ``"singular_vector"``. With the kernel seen
    as the matrix ``W`` of shape ``(-1, units)`` (a convolution's kernel reshaped as in the paper):

    * training: ``power_iterations`` times ``v = normalize(u W^T)``, ``u = normalize(v W)``; ``u``
      is stored; ``sigma = v W u^T``;
    * inference: the stored ``u``, ``v = normalize(u W^T)``, ``sigma = v W u^T`` (nothing stored);

    and the layer computes with ``W / sigma``. ``u`` and ``v`` are constants for the gradient, so
    the gradient flows through ``sigma`` as in the paper (equation 12); the raw kernel is never
    overwritten. Variables are read in float32 (the layer does not autocast) and the normalised
    kernel is cast to the compute dtype, so mixed precision works.
    """

    def _init_spectral_normalization(self, power_iterations, singular_vector_initializer):
        self.power_iterations = check.check_integer(power_iterations, "power_iterations", minimum=1)
        self.singular_vector_initializer = keras.initializers.get(singular_vector_initializer)

    def _build_singular_vector(self, units):
        self.singular_vector = self.add_weight(
            name="singular_vector",
            shape=(1, units),
            initializer=self.singular_vector_initializer,
            trainable=False,
            autocast=False,
        )

    def _normalize(self, kernel, training):
        matrix = ops.reshape(kernel, (-1, kernel.shape[-1]))
        constant = ops.stop_gradient(matrix)
        u = _l2_normalize(ops.convert_to_tensor(self.singular_vector))
        if training:
            for _ in range(self.power_iterations):
                v = _l2_normalize(ops.matmul(u, ops.transpose(constant)))
                u = _l2_normalize(ops.matmul(v, constant))
            self.singular_vector.assign(u)
        else:
            v = _l2_normalize(ops.matmul(u, ops.transpose(constant)))
        u, v = ops.stop_gradient(u), ops.stop_gradient(v)
        sigma = ops.sum(ops.matmul(v, matrix) * u)
        return kernel / ops.maximum(sigma, _EPSILON)

    # Keras' Conv2D, Dense and Embedding save only their own kernel (and bias) by index; the
    # singular vector is added under its own key so that a reloaded model infers identically.
    def save_own_variables(self, store):
        super().save_own_variables(store)
        if self.built:
            store["singular_vector"] = self.singular_vector

    def load_own_variables(self, store):
        super().load_own_variables(store)
        if self.built:
            self.singular_vector.assign(store["singular_vector"])

    def get_config(self):
        config = super().get_config()
        config.update({
            "power_iterations": self.power_iterations,
            "singular_vector_initializer": keras.initializers.serialize(self.singular_vector_initializer),
        })
        return config

    def normalized_kernel(self, training=False):
        """Returns the kernel divided by its spectral norm (float32); ``training`` updates ``u``."""
        return self._normalize(ops.convert_to_tensor(self.kernel), training)


@keras.saving.register_keras_serializable(package="ganaug")
class SpectralNormConv2D(_SpectralNormalizationMixin, keras.layers.Conv2D):
    """A ``Conv2D`` whose kernel is divided by its spectral norm (Miyato et al. 2018).

    The kernel ``(kh, kw, in, out)`` is normalised as the matrix ``(kh * kw * in, out)``; one power
    iteration per training-mode call updates the singular vector estimate (see
    ``normalized_kernel``). Inference uses the stored estimate and updates nothing.

    Args:
        filters, kernel_size: as ``keras.layers.Conv2D``.
        power_iterations: power iterations per training-mode call (>= 1; the paper uses 1).
        singular_vector_initializer: initialiser of the singular vector estimate ``u``.
        **kwargs: the other ``keras.layers.Conv2D`` arguments.
    """

    def __init__(
        self, filters, kernel_size, power_iterations=1, singular_vector_initializer="random_normal", **kwargs
    ):
        kwargs.pop("autocast", None)
        super().__init__(filters, kernel_size, autocast=False, **kwargs)
        self._init_spectral_normalization(power_iterations, singular_vector_initializer)

    def build(self, input_shape):
        super().build(input_shape)
        self._build_singular_vector(self.filters)

    def call(self, inputs, training=None):
        inputs = ops.cast(inputs, self.compute_dtype)
        kernel = ops.cast(self.normalized_kernel(training=bool(training)), self.compute_dtype)
        outputs = self.convolution_op(inputs, kernel)
        if self.use_bias:
            if self.data_format == "channels_last":
                bias_shape = (1,) * (self.rank + 1) + (self.filters,)
            else:
                bias_shape = (1, self.filters) + (1,) * self.rank
            outputs = ops.add(outputs, ops.reshape(ops.cast(self.bias, self.compute_dtype), bias_shape))
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs


@keras.saving.register_keras_serializable(package="ganaug")
class SpectralNormDense(_SpectralNormalizationMixin, keras.layers.Dense):
    """A ``Dense`` layer whose kernel ``(in, units)`` is divided by its spectral norm.

    Args:
        units: as ``keras.layers.Dense``.
        power_iterations: power iterations per training-mode call (>= 1; the paper uses 1).
        singular_vector_initializer: initialiser of the singular vector estimate ``u``.
        **kwargs: the other ``keras.layers.Dense`` arguments.
    """

    def __init__(self, units, power_iterations=1, singular_vector_initializer="random_normal", **kwargs):
        kwargs.pop("autocast", None)
        super().__init__(units, autocast=False, **kwargs)
        self._init_spectral_normalization(power_iterations, singular_vector_initializer)

    def build(self, input_shape):
        super().build(input_shape)
        self._build_singular_vector(self.units)

    def call(self, inputs, training=None):
        inputs = ops.cast(inputs, self.compute_dtype)
        kernel = ops.cast(self.normalized_kernel(training=bool(training)), self.compute_dtype)
        outputs = ops.matmul(inputs, kernel)
        if self.bias is not None:
            outputs = ops.add(outputs, ops.cast(self.bias, self.compute_dtype))
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs


@keras.saving.register_keras_serializable(package="ganaug")
class SpectralNormEmbedding(_SpectralNormalizationMixin, keras.layers.Embedding):
    """An ``Embedding`` whose matrix ``(input_dim, output_dim)`` is divided by its spectral norm.

    The class embedding ``V`` of the projection discriminator (Miyato & Koyama 2018; the authors'
    ``SNEmbedID``). ``keras.layers.SpectralNormalization`` cannot be used here: it casts the
    wrapped layer's output to the input's dtype, so integer labels give an all-zero int32
    embedding. Rows are looked up with a one-hot product, so the gradient is dense.

    Args:
        input_dim: number of classes (>= 2).
        output_dim: embedding width (>= 1).
        power_iterations: power iterations per training-mode call (>= 1; the paper uses 1).
        singular_vector_initializer: initialiser of the singular vector estimate ``u``.
        **kwargs: the other ``keras.layers.Embedding`` arguments.
    """

    def __init__(
        self, input_dim, output_dim, power_iterations=1, singular_vector_initializer="random_normal", **kwargs
    ):
        kwargs.pop("autocast", None)
        super().__init__(
            check.check_num_classes(input_dim, "input_dim"),
            check.check_integer(output_dim, "output_dim", minimum=1),
            autocast=False,
            **kwargs,
        )
        self._init_spectral_normalization(power_iterations, singular_vector_initializer)

    def build(self, input_shape=None):
        if self.built:
            return
        super().build(input_shape)
        self._build_singular_vector(self.output_dim)

    def normalized_embeddings(self, training=False):
        """Returns the embedding matrix divided by its spectral norm (float32)."""
        return self._normalize(ops.convert_to_tensor(self.embeddings), training)

    def call(self, inputs, training=None):
        labels = ops.cast(inputs, "int32")
        one_hot = ops.one_hot(labels, self.input_dim, dtype="float32")
        outputs = ops.matmul(one_hot, self.normalized_embeddings(training=bool(training)))
        return ops.cast(outputs, self.compute_dtype)

    def compute_mask(self, inputs, mask=None):
        return None


@keras.saving.register_keras_serializable(package="ganaug")
class ConditionalBatchNormalization(keras.layers.Layer):
    """Class-conditional batch norm: ``x_hat * gamma[y] + beta[y]`` (de Vries et al. 2017; Miyato &
    Koyama 2018, the authors' ``CategoricalConditionalBatchNormalization``).

    Called on ``[features (N, ..., C), labels (N,) int]``. ``x_hat`` is a
    ``keras.layers.BatchNormalization(center=False, scale=False)`` (sublayer ``batch_norm``), so
    training mode normalises with the batch statistics and updates the moving ones, inference uses
    the moving statistics, exactly like Keras' batch norm. ``gamma`` and ``beta`` are per-class
    ``(num_classes, C)`` tables (gains initialised to 1, biases to 0) looked up with a one-hot
    product (dense gradients). The affine step runs in float32 and the result is cast to the
    compute dtype, so mixed precision works.

    Args:
        num_classes: number of classes (>= 2).
        momentum: momentum of the moving statistics (default 0.9, the authors' code).
        epsilon: added to the variance (default 2e-5, the authors' code).
        gamma_initializer: initialiser of the per-class gains (default ones).
        beta_initializer: initialiser of the per-class biases (default zeros).
        **kwargs: standard layer arguments.
    """

    def __init__(
        self,
        num_classes,
        momentum=BATCH_NORM_MOMENTUM,
        epsilon=BATCH_NORM_EPSILON,
        gamma_initializer="ones",
        beta_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_classes = check.check_num_classes(num_classes)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.gamma_initializer = keras.initializers.get(gamma_initializer)
        self.beta_initializer = keras.initializers.get(beta_initializer)
        self.batch_norm = keras.layers.BatchNormalization(
            momentum=self.momentum,
            epsilon=self.epsilon,
            center=False,
            scale=False,
            dtype=self.dtype_policy,
            name="batch_norm",
        )

    def build(self, input_shape):
        features_shape = tuple(input_shape[0])
        channels = features_shape[-1]
        if channels is None:
            raise ValueError(
                f"The channel axis of the features must be known. Received: input_shape={input_shape}"
            )
        self.batch_norm.build(features_shape)
        self.gamma = self.add_weight(
            name="gamma", shape=(self.num_classes, channels), initializer=self.gamma_initializer, autocast=False
        )
        self.beta = self.add_weight(
            name="beta", shape=(self.num_classes, channels), initializer=self.beta_initializer, autocast=False
        )

    def call(self, inputs, training=None):
        features, labels = inputs
        normalized = ops.cast(self.batch_norm(features, training=training), "float32")
        labels = ops.reshape(ops.cast(labels, "int32"), (-1,))
        one_hot = ops.one_hot(labels, self.num_classes, dtype="float32")
        shape = (-1,) + (1,) * (len(features.shape) - 2) + (features.shape[-1],)
        gamma = ops.reshape(ops.matmul(one_hot, ops.convert_to_tensor(self.gamma)), shape)
        beta = ops.reshape(ops.matmul(one_hot, ops.convert_to_tensor(self.beta)), shape)
        return ops.cast(normalized * gamma + beta, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_classes": self.num_classes,
                "momentum": self.momentum,
                "epsilon": self.epsilon,
                "gamma_initializer": keras.initializers.serialize(self.gamma_initializer),
                "beta_initializer": keras.initializers.serialize(self.beta_initializer),
            }
        )
        return config


@keras.saving.register_keras_serializable(package="ganaug")
class GlobalSumPooling2D(keras.layers.Layer):
    """Sums a ``(N, H, W, C)`` feature map over its spatial axes: ``(N, C)``.

    The projection discriminator's ``phi`` ends with global *sum* pooling (Miyato & Koyama 2018;
    the authors' code: ``F.sum(h, axis=(2, 3))``). The sum runs in float32.
    """

    def call(self, inputs):
        return ops.cast(ops.sum(ops.cast(inputs, "float32"), axis=(1, 2)), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


# --------------------------------------------------------------------------------------------
# Arguments and layout
# --------------------------------------------------------------------------------------------


def _check_image_size(value):
    value = check.check_integer(value, "image_size")
    if not check.MIN_IMAGE_SIZE <= value <= MAX_IMAGE_SIZE or value & (value - 1):
        raise ValueError(
            f"`image_size` must be a power of two between {check.MIN_IMAGE_SIZE} and {MAX_IMAGE_SIZE} "
            f"pixels (16, 32, 64, 128, 256) for the SNGAN models. Received: image_size={value!r}"
        )
    return value


def generator_arguments(preset, explicit):
    """Returns the validated SNGAN generator arguments (defaults < preset < explicit).

    Raises:
        ValueError, TypeError: for a bad argument, naming it.
    """
    arguments = resolve_arguments(preset, explicit, GENERATOR_DEFAULTS)
    arguments["image_size"] = _check_image_size(arguments["image_size"])
    arguments["channels"] = check.check_channels(arguments["channels"])
    arguments["latent_dim"] = check.check_integer(arguments["latent_dim"], "latent_dim", minimum=1)
    arguments["generator_filters"] = check.check_integer(
        arguments["generator_filters"], "generator_filters", minimum=1
    )
    return arguments


def discriminator_arguments(preset, explicit):
    """Returns the validated projection discriminator arguments (defaults < preset < explicit).

    Raises:
        ValueError, TypeError: for a bad argument, naming it.
    """
    arguments = resolve_arguments(preset, explicit, DISCRIMINATOR_DEFAULTS)
    arguments["image_size"] = _check_image_size(arguments["image_size"])
    arguments["channels"] = check.check_channels(arguments["channels"])
    arguments["discriminator_filters"] = check.check_integer(
        arguments["discriminator_filters"], "discriminator_filters", minimum=1
    )
    arguments["power_iterations"] = check.check_integer(
        arguments["power_iterations"], "power_iterations", minimum=1
    )
    return arguments


def _width(filters, resolution):
    """Full width at or below 32 px, halved per doubling of the resolution above it."""
    if resolution <= FULL_WIDTH_RESOLUTION:
        return filters
    return max(1, filters // (resolution // FULL_WIDTH_RESOLUTION))


def generator_layout(image_size, generator_filters):
    """Returns the output widths of the generator's up-blocks, from 8x8 to ``image_size``.

    ``log2(image_size / 4)`` blocks; the 4x4 projection has ``generator_filters`` channels.
    """
    num_blocks = int(round(math.log2(image_size // 4)))
    return [_width(generator_filters, 4 * 2**index) for index in range(1, num_blocks + 1)]


def discriminator_layout(image_size, discriminator_filters):
    """Returns ``[(filters, downsample), ...]`` of the discriminator's blocks.

    ``log2(image_size / 8)`` downsampling blocks (the first one "optimised") down to 8x8, then
    ``DISCRIMINATOR_EXTRA_BLOCKS`` blocks without downsampling; a block's width follows the
    resolution of its input. At 32 px: ``[(f, True), (f, True), (f, False), (f, False)]``.
    """
    num_down = int(round(math.log2(image_size // DISCRIMINATOR_FINAL_RESOLUTION)))
    layout = [(_width(discriminator_filters, image_size // 2**index), True) for index in range(num_down)]
    final = _width(discriminator_filters, DISCRIMINATOR_FINAL_RESOLUTION)
    layout += [(final, False)] * DISCRIMINATOR_EXTRA_BLOCKS
    return layout


class _Initializers:
    """Hands out seeded initialisers, a different seed per layer (``seed + index``)."""

    def __init__(self, seed):
        self.seed = None if seed is None else int(seed)
        self.index = 0

    def _next_seed(self):
        self.index += 1
        return None if self.seed is None else self.seed + self.index

    def glorot(self, scale=1.0):
        """Glorot uniform; ``scale=2`` is the reference code's ``GlorotUniform(sqrt(2))``."""
        return keras.initializers.VarianceScaling(
            scale=scale, mode="fan_avg", distribution="uniform", seed=self._next_seed()
        )

    def singular_vector(self):
        return keras.initializers.RandomNormal(mean=0.0, stddev=1.0, seed=self._next_seed())


def _generator_block(x, label, filters, num_classes, init, index):
    prefix = f"up_block_{index}"
    h = ConditionalBatchNormalization(num_classes, name=f"{prefix}_bn_1")([x, label])
    h = keras.layers.ReLU(name=f"{prefix}_act_1")(h)
    h = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"{prefix}_upsample")(h)
    h = keras.layers.Conv2D(
        filters, 3, padding="same", kernel_initializer=init.glorot(2.0), name=f"{prefix}_conv_1"
    )(h)
    h = ConditionalBatchNormalization(num_classes, name=f"{prefix}_bn_2")([h, label])
    h = keras.layers.ReLU(name=f"{prefix}_act_2")(h)
    h = keras.layers.Conv2D(
        filters, 3, padding="same", kernel_initializer=init.glorot(2.0), name=f"{prefix}_conv_2"
    )(h)
    shortcut = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"{prefix}_shortcut_upsample")(x)
    shortcut = keras.layers.Conv2D(
        filters, 1, kernel_initializer=init.glorot(), name=f"{prefix}_shortcut_conv"
    )(shortcut)
    return keras.layers.Add(name=f"{prefix}_add")([h, shortcut])


def _sn_conv(filters, kernel_size, initializer, init, power_iterations, name):
    return SpectralNormConv2D(
        filters,
        kernel_size,
        padding="same",
        kernel_initializer=initializer,
        power_iterations=power_iterations,
        singular_vector_initializer=init.singular_vector(),
        name=name,
    )


def _discriminator_block(x, filters, downsample, first, init, power_iterations, index):
    prefix = f"down_block_{index}"
    in_channels = x.shape[-1]
    if first:
        # "Optimised" first block: no activation on the image, shortcut pools before its conv.
        h = _sn_conv(filters, 3, init.glorot(2.0), init, power_iterations, f"{prefix}_conv_1")(x)
        h = keras.layers.ReLU(name=f"{prefix}_act_1")(h)
        h = _sn_conv(filters, 3, init.glorot(2.0), init, power_iterations, f"{prefix}_conv_2")(h)
        h = keras.layers.AveragePooling2D(2, name=f"{prefix}_pool")(h)
        shortcut = keras.layers.AveragePooling2D(2, name=f"{prefix}_shortcut_pool")(x)
        shortcut = _sn_conv(filters, 1, init.glorot(), init, power_iterations, f"{prefix}_shortcut_conv")(shortcut)
        return keras.layers.Add(name=f"{prefix}_add")([h, shortcut])
    h = keras.layers.ReLU(name=f"{prefix}_act_1")(x)
    h = _sn_conv(in_channels, 3, init.glorot(2.0), init, power_iterations, f"{prefix}_conv_1")(h)
    h = keras.layers.ReLU(name=f"{prefix}_act_2")(h)
    h = _sn_conv(filters, 3, init.glorot(2.0), init, power_iterations, f"{prefix}_conv_2")(h)
    if downsample:
        h = keras.layers.AveragePooling2D(2, name=f"{prefix}_pool")(h)
    shortcut = x
    if downsample or in_channels != filters:
        shortcut = _sn_conv(filters, 1, init.glorot(), init, power_iterations, f"{prefix}_shortcut_conv")(x)
        if downsample:
            shortcut = keras.layers.AveragePooling2D(2, name=f"{prefix}_shortcut_pool")(shortcut)
    return keras.layers.Add(name=f"{prefix}_add")([h, shortcut])


# --------------------------------------------------------------------------------------------
# Factories
# --------------------------------------------------------------------------------------------


def build_sngan_generator(
    num_classes,
    *,
    image_size=None,
    channels=None,
    latent_dim=None,
    generator_filters=None,
    preset=None,
    seed=None,
    name="sngan_generator",
):
    """Builds the SNGAN ResNet generator with class-conditional batch norm: ``[latent, label] -> image``.

    Miyato et al. 2018 / Miyato & Koyama 2018 (CIFAR-10, preset ``"miyato2018"``): z in R^128 ->
    dense to 4x4x256 -> 3 residual up-blocks of 256 filters whose batch norms take a per-class gain
    and bias (``ConditionalBatchNormalization``) -> BN -> ReLU -> 3x3 conv -> tanh. Arguments left
    as ``None`` come from the preset, else from the defaults given below.

    Args:
        num_classes: number of classes (>= 2).
        image_size: output height and width, a power of two in [16, 256] (default 32);
            ``log2(image_size / 4)`` up-blocks.
        channels: 1 or 3 (default 3).
        latent_dim: length of the latent code (default 128).
        generator_filters: width of the projection and of every block at or below 32 px; blocks
            above 32 px halve it per doubling of the resolution (default 256).
        preset: ``None``, a preset name (``"miyato2018"``, ``"sngan_cpu"``) or a preset dict.
        seed: integer seed of the weight initialisers (same seed, same weights).
        name: model name.

    Returns:
        Functional ``keras.Model`` ``[latent (N, latent_dim) float32, label (N,) int32] ->
        images (N, image_size, image_size, channels)`` in [-1, 1].

    Raises:
        ValueError: for a bad argument value (e.g. ``num_classes < 2``, ``image_size=30``) or an
            unknown preset, naming it.
        TypeError: for a wrongly typed argument.
    """
    num_classes = check.check_num_classes(num_classes)
    arguments = generator_arguments(
        preset,
        dict(image_size=image_size, channels=channels, latent_dim=latent_dim, generator_filters=generator_filters),
    )
    init = _Initializers(seed)
    base = arguments["generator_filters"]
    latent = keras.Input(shape=(arguments["latent_dim"],), name="latent")
    label = keras.Input(shape=(), dtype="int32", name="label")
    x = keras.layers.Dense(4 * 4 * base, kernel_initializer=init.glorot(), name="projection")(latent)
    x = keras.layers.Reshape((4, 4, base), name="projection_reshape")(x)
    for index, filters in enumerate(generator_layout(arguments["image_size"], base), start=1):
        x = _generator_block(x, label, filters, num_classes, init, index)
    x = keras.layers.BatchNormalization(
        momentum=BATCH_NORM_MOMENTUM, epsilon=BATCH_NORM_EPSILON, name="output_bn"
    )(x)
    x = keras.layers.ReLU(name="output_act")(x)
    x = keras.layers.Conv2D(
        arguments["channels"], 3, padding="same", kernel_initializer=init.glorot(), name="output_conv"
    )(x)
    images = keras.layers.Activation("tanh", name="images")(x)
    return keras.Model([latent, label], images, name=name)


def build_projection_discriminator(
    num_classes,
    *,
    image_size=None,
    channels=None,
    discriminator_filters=None,
    power_iterations=None,
    preset=None,
    seed=None,
    name="projection_discriminator",
):
    """Builds the spectrally normalised ResNet projection discriminator: ``[image, label] -> logit``.

    Miyato & Koyama 2018 (CIFAR-10, preset ``"miyato2018"``): ``phi`` = 4 residual blocks of 128
    filters (down, down, no-down, no-down; the first "optimised") -> ReLU -> global sum pooling
    -> ``h``; output ``psi(h) + <embed(y), h>``. Spectral normalisation (Miyato et al. 2018, one
    power iteration per training step) on every convolution, on ``psi`` and on the embedding.
    ``psi`` has no bias, as in the authors' CIFAR-10 model. Arguments left as ``None`` come from
    the preset, else from the defaults below.

    Args:
        num_classes: number of classes (>= 2).
        image_size: input height and width, a power of two in [16, 256] (default 32); the blocks
            downsample to 8x8 (``log2(image_size / 8)`` blocks), then two more keep 8x8.
        channels: 1 or 3 (default 3).
        discriminator_filters: width of every block whose input is at or below 32 px; blocks on
            larger inputs halve it per doubling of the resolution (default 128).
        power_iterations: power iterations per training-mode call of each spectrally normalised
            layer (default 1, the paper's).
        preset: ``None``, a preset name (``"miyato2018"``, ``"sngan_cpu"``) or a preset dict.
        seed: integer seed of the weight initialisers (same seed, same weights).
        name: model name.

    Returns:
        Functional ``keras.Model`` ``[image (N, S, S, C), label (N,) int32] -> realness logit
        (N, 1)``, with ``h`` the output of the layer ``"trunk_features"``, ``psi`` the
        ``SpectralNormDense`` ``"realness_logit"``, the embedding ``"class_embedding"`` and the
        output layer ``"projection_logit"``.

    Raises:
        ValueError: for a bad argument value (e.g. ``num_classes < 2``, ``image_size=30``) or an
            unknown preset, naming it.
        TypeError: for a wrongly typed argument.
    """
    num_classes = check.check_num_classes(num_classes)
    arguments = discriminator_arguments(
        preset,
        dict(
            image_size=image_size,
            channels=channels,
            discriminator_filters=discriminator_filters,
            power_iterations=power_iterations,
        ),
    )
    init = _Initializers(seed)
    iterations = arguments["power_iterations"]
    size = arguments["image_size"]
    image = keras.Input(shape=(size, size, arguments["channels"]), name="image")
    label = keras.Input(shape=(), dtype="int32", name="label")
    x = image
    for index, (filters, downsample) in enumerate(
        discriminator_layout(size, arguments["discriminator_filters"]), start=1
    ):
        x = _discriminator_block(x, filters, downsample, index == 1, init, iterations, index)
    x = keras.layers.ReLU(name="features_act")(x)
    features = GlobalSumPooling2D(name="trunk_features")(x)
    width = features.shape[-1]
    psi = SpectralNormDense(
        1,
        use_bias=False,
        kernel_initializer=init.glorot(),
        power_iterations=iterations,
        singular_vector_initializer=init.singular_vector(),
        name="realness_logit",
    )(features)
    embedding = SpectralNormEmbedding(
        num_classes,
        width,
        embeddings_initializer=init.glorot(),
        power_iterations=iterations,
        singular_vector_initializer=init.singular_vector(),
        name="class_embedding",
    )(label)
    projection = keras.layers.Dot(axes=1, name="class_projection")([embedding, features])
    logit = keras.layers.Add(name="projection_logit")([psi, projection])
    return keras.Model([image, label], logit, name=name)
