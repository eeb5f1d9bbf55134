"""StyleGAN2 generator and discriminator factories at small scale (Karras et al. 2020).

Saboo et al. ("Towards disease-aware image editing of chest X-rays") edit chest X-rays in the W
space of a StyleGAN trained on CheXpert at 128 px; these factories give ganaug that family.

Generator = mapping network + truncation + synthesis network, each a Functional model:

* ``build_stylegan_mapping``: ``latent z (N, latent_dim)`` [+ ``label (N,)`` int32] -> ``w (N,
  w_dim)``. Pixel norm of z (and, conditional, of an equalised-lr embedding of the one-hot label,
  concatenated to z as in StyleGAN2-ADA), then ``mapping_layers`` equalised-lr dense layers with
  leaky ReLU (0.2, gain sqrt 2) and learning-rate multiplier ``mapping_lr_multiplier`` (0.01).
* ``Truncation`` (layer ``"truncation"`` of the generator): broadcasts w to W+ ``(N, num_ws, w_dim)``
  and moves it towards ``w_avg``, ``w_avg + psi (w - w_avg)``, on the first ``truncation_cutoff``
  layers (all if None). ``w_avg`` is a non-trainable weight tracked with a moving average by
  ``update_w_avg(generator, ws, decay)``; ``psi`` is a non-trainable weight set by
  ``set_truncation(generator, psi)`` (1 = no truncation).
* ``build_stylegan_synthesis``: ``ws (N, num_ws, w_dim)`` -> images. A learned constant 4x4
  input; per resolution two modulated/demodulated 3x3 convolutions (``ModulatedConv2D``: the
  style ``s = A(w)`` scales the input channels, the output channels are divided by
  ``sqrt(sum (s * weight)^2 + 1e-8)``), each followed by a ``NoiseInjection`` (per-pixel noise
  times a learned per-channel strength, initialised to 0) and leaky ReLU; toRGB (modulated 1x1,
  not demodulated) at every resolution, summed over upsampled skips ("skip" generator).
  ``num_ws = 2 log2(image_size) - 2``; the toRGB of one resolution shares its w with the next
  resolution's first convolution, as in the official code. A W+ whose rows are identical is
  the W path (``broadcast_w``); ``mix_styles`` swaps the rows after a crossover.
* ``build_stylegan_generator`` chains the three: ``z [, label] -> images``.

Discriminator (``build_stylegan_discriminator``, "resnet" architecture): fromRGB 1x1, per
resolution two 3x3 convolutions (the second downsampling) plus a 1x1 downsampling skip, summed
and scaled by sqrt(1/2); at 4x4 the minibatch standard deviation (group 4, 1 channel), a 3x3
convolution, ``Flatten`` named ``"trunk_features"``, an equalised dense layer and the last dense
layer ``"realness_logit"`` (a logit). The conditional variant projects: the last dense layer gives
``cmap_dim`` values whose dot product with an embedding of the label, over sqrt(cmap_dim), is the
logit (StyleGAN2-ADA).

Every convolution and dense layer uses the equalised learning rate: weights drawn from N(0, 1 /
lr_multiplier) and multiplied at run time by ``lr_multiplier / sqrt(fan_in)``. Widths follow
``min(channel_base // resolution, channel_max)``.

Simplified with respect to the official code (named here so nothing is hidden): the [1, 3, 3, 1]
FIR resampling filters are replaced by bilinear upsampling (the same filter away from the
borders) and 2x2 average pooling (a box filter) for downsampling; the generator upsamples before
its first 3x3 convolution instead of using a transposed convolution; no conv clamping or fp16
paths; the noise strength is per channel (StyleGAN 1) rather than one scalar per layer; the
conditional discriminator embeds the label with one dense layer and pixel norm instead of an
8-layer mapping network. Path-length regularisation is not provided.
"""

import math
import numbers

import keras
import numpy as np
from keras import ops

from ganaug.models import _validation as check
from ganaug.models.layers import OneHot
from ganaug.models.presets import resolve_arguments

SQRT_2 = math.sqrt(2.0)
NOISE_MODES = ("random", "const", "none")
OUTPUT_ACTIVATIONS = ("linear", "tanh")
MAX_IMAGE_SIZE = 256

MAPPING_DEFAULTS = {
    "latent_dim": 512,
    "w_dim": 512,
    "mapping_layers": 8,
    "mapping_units": None,
    "mapping_lr_multiplier": 0.01,
    "num_classes": None,
}

SYNTHESIS_DEFAULTS = {
    "image_size": 32,
    "channels": 3,
    "w_dim": 512,
    "channel_base": 16384,
    "channel_max": 512,
    "noise_mode": "random",
    "output_activation": "linear",
}

GENERATOR_DEFAULTS = {
    **MAPPING_DEFAULTS,
    **SYNTHESIS_DEFAULTS,
    "truncation_psi": 1.0,
    "truncation_cutoff": None,
}

DISCRIMINATOR_DEFAULTS = {
    "image_size": 32,
    "channels": 3,
    "channel_base": 16384,
    "channel_max": 512,
    "mbstd_group_size": 4,
    "mbstd_channels": 1,
    "num_classes": None,
}


# ----------------------------------------------------------------------------------------------
# Layers


def _received(name, value):
    return f"Received: {name}={value!r}"


def _check_positive_real(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"`{name}` must be a finite number > 0. {_received(name, value)}")
    return float(value)


def _check_activation(value, name="activation"):
    return check.check_choice(value, name, ("linear", "leaky_relu"))


def _check_seed(value, name="seed"):
    if value is None:
        return None
    return check.check_integer(value, name)


def _activate(x, activation, gain):
    if activation == "leaky_relu":
        x = ops.leaky_relu(x, negative_slope=0.2)
        gain = gain * SQRT_2
    if gain != 1.0:
        x = x * gain
    return x


def _normal(stddev, seed):
    return keras.initializers.RandomNormal(mean=0.0, stddev=stddev, seed=seed)


@keras.saving.register_keras_serializable(package="ganaug")
class PixelNorm(keras.layers.Layer):
    """Normalises each vector to unit second moment: ``x / sqrt(mean(x^2, axis=-1) + epsilon)``.

    StyleGAN's normalisation of z (and of the label embedding) before the mapping network.

    Args:
        epsilon: added under the square root (default 1e-8).
        **kwargs: standard layer arguments.
    """

    def __init__(self, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = _check_positive_real(epsilon, "epsilon")

    def call(self, x):
        return x * ops.rsqrt(ops.mean(ops.square(x), axis=-1, keepdims=True) + self.epsilon)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"epsilon": self.epsilon})
        return config


@keras.saving.register_keras_serializable(package="ganaug")
class EqualizedDense(keras.layers.Layer):
    """Dense layer with the equalised learning rate (Karras et al. 2018, 2020).

    The kernel is drawn from N(0, 1 / lr_multiplier^2) and multiplied at run time by
    ``lr_multiplier / sqrt(fan_in)``; the bias is initialised to ``bias_init`` and multiplied by
    ``lr_multiplier``. ``activation="leaky_relu"`` applies leaky ReLU (slope 0.2) times sqrt(2).

    Args:
        units: output size (>= 1).
        activation: ``"linear"`` (default) or ``"leaky_relu"``.
        lr_multiplier: learning-rate multiplier (> 0; 0.01 in the mapping network).
        bias_init: initial bias value (before the multiplier).
        use_bias: add a bias (default True).
        seed: seed of the kernel initialiser.
        **kwargs: standard layer arguments.
    """

    def __init__(
        self, units, activation="linear", lr_multiplier=1.0, bias_init=0.0, use_bias=True, seed=None, **kwargs
    ):
        super().__init__(**kwargs)
        self.units = check.check_integer(units, "units", minimum=1)
        self.activation = _check_activation(activation)
        self.lr_multiplier = _check_positive_real(lr_multiplier, "lr_multiplier")
        self.bias_init = float(bias_init)
        self.use_bias = check.check_bool(use_bias, "use_bias")
        self.seed = _check_seed(seed)

    def build(self, input_shape):
        fan_in = int(input_shape[-1])
        self.weight_gain = self.lr_multiplier / math.sqrt(fan_in)
        self.kernel = self.add_weight(
            name="kernel", shape=(fan_in, self.units), initializer=_normal(1.0 / self.lr_multiplier, self.seed)
        )
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias", shape=(self.units,), initializer=keras.initializers.Constant(self.bias_init)
            )

    def call(self, x):
        y = ops.matmul(x, self.kernel * self.weight_gain)
        if self.use_bias:
            y = y + self.bias * self.lr_multiplier
        return _activate(y, self.activation, 1.0)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "activation": self.activation,
                "lr_multiplier": self.lr_multiplier,
                "bias_init": self.bias_init,
                "use_bias": self.use_bias,
                "seed": self.seed,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="ganaug")
class EqualizedConv2D(keras.layers.Layer):
    """2-D convolution with the equalised learning rate, optional 2x downsampling, bias and gain.

    ``y = gain * act(pool(conv(x, weight / sqrt(k * k * C_in))) + bias)``, with ``pool`` a 2x2
    average pooling when ``down`` (the official code blurs with [1, 3, 3, 1] and strides instead)
    and ``act`` leaky ReLU (0.2) times sqrt(2) or the identity. Same padding.

    Args:
        filters: output channels (>= 1).
        kernel_size: odd kernel size (default 3).
        activation: ``"linear"`` or ``"leaky_relu"`` (default).
        use_bias: add a bias (default True).
        down: downsample by 2 (default False).
        gain: extra output multiplier (sqrt(1/2) on the two branches of a residual block).
        seed: seed of the kernel initialiser.
        **kwargs: standard layer arguments.
    """

    def __init__(
        self, filters, kernel_size=3, activation="leaky_relu", use_bias=True, down=False, gain=1.0, seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = check.check_integer(filters, "filters", minimum=1)
        self.kernel_size = check.check_integer(kernel_size, "kernel_size", minimum=1)
        if self.kernel_size % 2 == 0:
            raise ValueError(f"`kernel_size` must be odd. {_received('kernel_size', kernel_size)}")
        self.activation = _check_activation(activation)
        self.use_bias = check.check_bool(use_bias, "use_bias")
        self.down = check.check_bool(down, "down")
        self.gain = _check_positive_real(gain, "gain")
        self.seed = _check_seed(seed)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.weight_gain = 1.0 / math.sqrt(channels * self.kernel_size**2)
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.kernel_size, self.kernel_size, channels, self.filters),
            initializer=_normal(1.0, self.seed),
        )
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")

    def call(self, x):
        y = ops.conv(x, self.kernel * self.weight_gain, strides=1, padding="same")
        if self.down:
            y = ops.average_pool(y, pool_size=2, strides=2, padding="valid")
        if self.use_bias:
            y = y + self.bias
        return _activate(y, self.activation, self.gain)

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape
        if self.down:
            height = None if height is None else height // 2
            width = None if width is None else width // 2
        return (batch, height, width, self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "activation": self.activation,
                "use_bias": self.use_bias,
                "down": self.down,
                "gain": self.gain,
                "seed": self.seed,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="ganaug")
class ModulatedConv2D(keras.layers.Layer):
    """StyleGAN2's modulated (and demodulated) convolution, with its style affine A.

    Called on ``[x (N, H, W, C_in), ws]`` with ``ws`` either W+ ``(N, num_ws, w_dim)`` (row
    ``w_index`` is used) or one w ``(N, w_dim)``. With ``s = w A / sqrt(w_dim) + 1`` (equalised
    affine, bias initialised to 1) and ``weight`` the equalised kernel (``/ sqrt(k * k * C_in)``):

    * modulation: ``weight'[k, i, o] = s[n, i] * weight[k, i, o]``, per example;
    * demodulation (``demodulate=True``): ``weight''[k, i, o] = weight'[k, i, o] / sqrt(sum_{k, i}
      weight'[k, i, o]^2 + epsilon)``, so unit-variance inputs give unit-variance outputs;
    * ``y = conv(x, weight'') + bias``.

    Computed without per-example kernels as ``d * conv(s * x, weight) + bias`` (the official
    code's non-fused path; identical up to rounding).

    Args:
        filters: output channels.
        kernel_size: odd kernel size (3; 1 for toRGB).
        demodulate: apply demodulation (False for toRGB).
        w_index: row of W+ this layer reads.
        use_bias: add an output bias (default True).
        epsilon: added under the demodulation square root (1e-8).
        seed: seed of the kernel and affine initialisers.
        **kwargs: standard layer arguments.
    """

    def __init__(
        self, filters, kernel_size=3, demodulate=True, w_index=0, use_bias=True, epsilon=1e-8, seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = check.check_integer(filters, "filters", minimum=1)
        self.kernel_size = check.check_integer(kernel_size, "kernel_size", minimum=1)
        if self.kernel_size % 2 == 0:
            raise ValueError(f"`kernel_size` must be odd. {_received('kernel_size', kernel_size)}")
        self.demodulate = check.check_bool(demodulate, "demodulate")
        self.w_index = check.check_integer(w_index, "w_index", minimum=0)
        self.use_bias = check.check_bool(use_bias, "use_bias")
        self.epsilon = _check_positive_real(epsilon, "epsilon")
        self.seed = _check_seed(seed)

    def build(self, input_shape):
        x_shape, ws_shape = input_shape
        channels, w_dim = int(x_shape[-1]), int(ws_shape[-1])
        if len(ws_shape) == 3 and ws_shape[1] is not None and self.w_index >= ws_shape[1]:
            raise ValueError(
                f"`w_index` must be below num_ws={ws_shape[1]}. {_received('w_index', self.w_index)}"
            )
        self.weight_gain = 1.0 / math.sqrt(channels * self.kernel_size**2)
        self.affine_gain = 1.0 / math.sqrt(w_dim)
        seed = None if self.seed is None else self.seed + 1
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.kernel_size, self.kernel_size, channels, self.filters),
            initializer=_normal(1.0, self.seed),
        )
        self.affine_kernel = self.add_weight(
            name="affine_kernel", shape=(w_dim, channels), initializer=_normal(1.0, seed)
        )
        self.affine_bias = self.add_weight(name="affine_bias", shape=(channels,), initializer="ones")
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")

    def styles(self, ws):
        """Returns the styles ``s = A(w)`` ``(N, C_in)`` this layer applies for ``ws``."""
        w = ws[:, self.w_index] if len(ws.shape) == 3 else ws
        return ops.matmul(w, self.affine_kernel * self.affine_gain) + self.affine_bias

    def call(self, inputs):
        x, ws = inputs
        styles = self.styles(ws)
        weight = self.kernel * self.weight_gain
        y = ops.conv(x * styles[:, None, None, :], weight, strides=1, padding="same")
        if self.demodulate:
            squared = ops.sum(ops.square(weight), axis=(0, 1))  # (C_in, C_out)
            y = y * ops.rsqrt(ops.matmul(ops.square(styles), squared) + self.epsilon)[:, None, None, :]
        if self.use_bias:
            y = y + self.bias
        return y

    def compute_output_shape(self, input_shape):
        return (*input_shape[0][:-1], self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "demodulate": self.demodulate,
                "w_index": self.w_index,
                "use_bias": self.use_bias,
                "epsilon": self.epsilon,
                "seed": self.seed,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="ganaug")
class NoiseInjection(keras.layers.Layer):
    """Adds per-pixel noise times a learned per-channel strength (initialised to 0).

    Called on ``x (N, H, W, C)`` or on ``[x, noise (N, H, W, 1)]`` (supplied noise always wins).
    Without supplied noise, ``noise_mode`` decides: ``"random"`` draws N(0, 1) noise at every call
    (training and inference) from the layer's ``keras.random.SeedGenerator``; ``"const"`` uses a
    fixed map drawn once from ``seed`` (a non-trainable weight; the constant noise realisation
    Saboo et al. use while training the encoder); ``"none"`` adds nothing. Change the mode of a
    built model with ``set_noise_mode``.

    Args:
        noise_mode: ``"random"`` (default), ``"const"`` or ``"none"``.
        seed: seed of the random noise stream and of the constant map.
        **kwargs: standard layer arguments.
    """

    def __init__(self, noise_mode="random", seed=None, **kwargs):
        super().__init__(**kwargs)
        self.noise_mode = check.check_choice(noise_mode, "noise_mode", NOISE_MODES)
        self.seed = _check_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def build(self, input_shape):
        x_shape = input_shape[0] if isinstance(input_shape[0], (list, tuple)) else input_shape
        height, width, channels = (int(d) for d in x_shape[1:])
        self.strength = self.add_weight(name="strength", shape=(channels,), initializer="zeros")
        self.noise_const = self.add_weight(
            name="noise_const",
            shape=(1, height, width, 1),
            initializer=_normal(1.0, None if self.seed is None else self.seed + 1),
            trainable=False,
        )

    def call(self, inputs):
        if isinstance(inputs, (list, tuple)):
            x, noise = inputs
        else:
            x, noise = inputs, None
        if noise is None:
            if self.noise_mode == "none":
                return x
            if self.noise_mode == "const":
                noise = self.noise_const
            else:
                shape = ops.shape(x)
                noise = keras.random.normal((shape[0], shape[1], shape[2], 1), seed=self.seed_generator, dtype=x.dtype)
        return x + ops.cast(noise, x.dtype) * self.strength

    def compute_output_shape(self, input_shape):
        return input_shape[0] if isinstance(input_shape[0], (list, tuple)) else input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"noise_mode": self.noise_mode, "seed": self.seed})
        return config


@keras.saving.register_keras_serializable(package="ganaug")
class ScaledLeakyReLU(keras.layers.Layer):
    """Leaky ReLU (slope 0.2) times sqrt(2): StyleGAN2's activation with its variance-preserving gain.

    Args:
        negative_slope: slope for negative inputs (default 0.2).
        **kwargs: standard layer arguments.
    """

    def __init__(self, negative_slope=0.2, **kwargs):
        super().__init__(**kwargs)
        self.negative_slope = check.check_non_negative(negative_slope, "negative_slope")

    def call(self, x):
        return ops.leaky_relu(x, negative_slope=self.negative_slope) * SQRT_2

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"negative_slope": self.negative_slope})
        return config


@keras.saving.register_keras_serializable(package="ganaug")
class ConstantInput(keras.layers.Layer):
    """The synthesis network's learned constant input, ``(size, size, channels)`` from N(0, 1).

    Called on any tensor whose first axis is the batch (the W+ codes); returns the constant
    repeated over the batch.

    Args:
        channels: channels of the constant.
        size: height and width (default 4).
        seed: seed of the initialiser.
        **kwargs: standard layer arguments.
    """

    def __init__(self, channels, size=4, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.channels = check.check_integer(channels, "channels", minimum=1)
        self.size = check.check_integer(size, "size", minimum=1)
        self.seed = _check_seed(seed)

    def build(self, input_shape):
        self.constant = self.add_weight(
            name="constant", shape=(self.size, self.size, self.channels), initializer=_normal(1.0, self.seed)
        )

    def call(self, reference):
        batch = ops.shape(reference)[0]
        return ops.broadcast_to(self.constant[None], (batch, self.size, self.size, self.channels))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.size, self.size, self.channels)

    def get_config(self):
        config = super().get_config()
        config.update({"channels": self.channels, "size": self.size, "seed": self.seed})
        return config


@keras.saving.register_keras_serializable(package="ganaug")
class Truncation(keras.layers.Layer):
    """Broadcasts w ``(N, w_dim)`` to W+ ``(N, num_ws, w_dim)`` with the truncation trick.

    Rows below ``cutoff`` (all rows if None) become ``w_avg + psi * (w - w_avg)``. ``w_avg``
    (zeros at first) and ``psi`` are non-trainable weights: ``update_w_avg`` moves ``w_avg``
    towards the batch mean of the mapping output during training (decay 0.995 in StyleGAN2),
    ``set_truncation`` sets ``psi``. Both are saved with the model. ``w_avg`` averages over
    replicas under ``tf.distribute`` (aggregation ``"mean"``).

    Args:
        num_ws: number of W+ rows.
        psi: initial truncation psi (1 = no truncation, 0 = every image is the w_avg image).
        cutoff: number of leading rows truncated, or None for all.
        **kwargs: standard layer arguments.
    """

    def __init__(self, num_ws, psi=1.0, cutoff=None, **kwargs):
        super().__init__(**kwargs)
        self.num_ws = check.check_integer(num_ws, "num_ws", minimum=1)
        self.psi = _check_psi(psi)
        self.cutoff = _check_cutoff(cutoff, self.num_ws)

    def build(self, input_shape):
        w_dim = int(input_shape[-1])
        self.w_avg = self.add_weight(
            name="w_avg", shape=(w_dim,), initializer="zeros", trainable=False, aggregation="mean"
        )
        self.truncation_psi = self.add_weight(
            name="truncation_psi", shape=(), initializer=keras.initializers.Constant(self.psi), trainable=False
        )

    def call(self, w):
        ws = ops.repeat(w[:, None, :], self.num_ws, axis=1)
        w_avg = ops.cast(self.w_avg, ws.dtype)
        truncated = w_avg + ops.cast(self.truncation_psi, ws.dtype) * (ws - w_avg)
        if self.cutoff is None:
            return truncated
        mask = np.zeros((1, self.num_ws, 1), dtype="float32")
        mask[:, : self.cutoff] = 1.0
        mask = ops.cast(mask, ws.dtype)
        return mask * truncated + (1.0 - mask) * ws

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_ws, input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update({"num_ws": self.num_ws, "psi": self.psi, "cutoff": self.cutoff})
        return config


@keras.saving.register_keras_serializable(package="ganaug")
class MinibatchStdDev(keras.layers.Layer):
    """Appends the minibatch standard deviation as extra channels (Karras et al. 2018, 2020).

    The batch is split into groups of ``min(group_size, N)`` examples, example ``n`` joining group
    ``n mod (N / G)`` (the official code's layout); within a group the standard deviation over
    the group of every feature (``sqrt(var + 1e-8)``, population variance) is averaged over the
    pixels and the channels of each of ``num_channels`` channel slices, and that value fills one
    constant channel per slice for every member of the group. The batch must be a multiple of
    the group size (or smaller than it).

    Args:
        group_size: examples per group (4 in StyleGAN2).
        num_channels: channel slices, one output channel each (1 in StyleGAN2).
        epsilon: added to the variance (1e-8).
        **kwargs: standard layer arguments.
    """

    def __init__(self, group_size=4, num_channels=1, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.group_size = check.check_integer(group_size, "group_size", minimum=1)
        self.num_channels = check.check_integer(num_channels, "num_channels", minimum=1)
        self.epsilon = _check_positive_real(epsilon, "epsilon")

    def build(self, input_shape):
        channels = int(input_shape[-1])
        if channels % self.num_channels:
            raise ValueError(
                f"`num_channels` must divide the {channels} input channels. "
                f"{_received('num_channels', self.num_channels)}"
            )

    def call(self, x):
        shape = ops.shape(x)
        batch, height, width, channels = shape[0], shape[1], shape[2], x.shape[-1]
        if isinstance(batch, int):
            group = min(self.group_size, batch)
            if batch % group:
                raise ValueError(
                    f"The batch size must be a multiple of the minibatch-stddev group size {group}. "
                    f"Received: batch size {batch}"
                )
        else:
            group = ops.minimum(self.group_size, batch)
        slices = self.num_channels
        y = ops.reshape(x, (group, -1, height, width, slices, channels // slices))
        y = y - ops.mean(y, axis=0, keepdims=True)
        y = ops.sqrt(ops.mean(ops.square(y), axis=0) + self.epsilon)  # (M, H, W, F, c)
        y = ops.mean(y, axis=(1, 2, 4))  # (M, F)
        y = ops.tile(y, (group, 1))  # (N, F): row n is group n mod M
        y = ops.broadcast_to(y[:, None, None, :], (batch, height, width, slices))
        return ops.concatenate([x, ops.cast(y, x.dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + self.num_channels)

    def get_config(self):
        config = super().get_config()
        config.update({"group_size": self.group_size, "num_channels": self.num_channels, "epsilon": self.epsilon})
        return config


@keras.saving.register_keras_serializable(package="ganaug")
class ProjectionLogit(keras.layers.Layer):
    """The conditional discriminator's output: ``sum(features * label_embedding) / sqrt(cmap_dim)``.

    Called on ``[features (N, cmap_dim), label_embedding (N, cmap_dim)]``; returns ``(N, 1)``.
    """

    def call(self, inputs):
        features, embedding = inputs
        return ops.sum(features * embedding, axis=-1, keepdims=True) / math.sqrt(int(features.shape[-1]))

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], 1)


# ----------------------------------------------------------------------------------------------
# Argument checks


def _check_psi(value, name="truncation_psi"):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"`{name}` must be a finite number. {_received(name, value)}")
    return float(value)


def _check_cutoff(value, num_ws, name="truncation_cutoff"):
    if value is None:
        return None
    value = check.check_integer(value, name, minimum=1)
    if value > num_ws:
        raise ValueError(f"`{name}` must be None or in [1, num_ws={num_ws}]. {_received(name, value)}")
    return value


def _check_optional_classes(value):
    return None if value is None else check.check_num_classes(value)


def _check_size(value):
    value = check.check_image_size(value)
    if value > MAX_IMAGE_SIZE:
        raise ValueError(
            f"`image_size` must be between 16 and {MAX_IMAGE_SIZE} pixels. {_received('image_size', value)}"
        )
    return value


def num_ws_for(image_size):
    """Returns the number of W+ rows of a synthesis network at ``image_size``: 2 log2(size) - 2."""
    return 2 * int(round(math.log2(_check_size(image_size)))) - 2


def channels_at(resolution, channel_base, channel_max):
    """Returns the width at a resolution: ``min(channel_base // resolution, channel_max)`` (>= 1)."""
    return max(1, min(channel_base // resolution, channel_max))


def mapping_arguments(preset, explicit):
    """Returns the validated mapping-network arguments (defaults < preset < explicit).

    Raises:
        ValueError, TypeError: for a bad argument, naming it.
    """
    arguments = resolve_arguments(preset, explicit, MAPPING_DEFAULTS)
    arguments["latent_dim"] = check.check_integer(arguments["latent_dim"], "latent_dim", minimum=1)
    arguments["w_dim"] = check.check_integer(arguments["w_dim"], "w_dim", minimum=1)
    arguments["mapping_layers"] = check.check_integer(arguments["mapping_layers"], "mapping_layers", minimum=1)
    if arguments["mapping_units"] is None:
        arguments["mapping_units"] = arguments["w_dim"]
    arguments["mapping_units"] = check.check_integer(arguments["mapping_units"], "mapping_units", minimum=1)
    arguments["mapping_lr_multiplier"] = _check_positive_real(
        arguments["mapping_lr_multiplier"], "mapping_lr_multiplier"
    )
    arguments["num_classes"] = _check_optional_classes(arguments["num_classes"])
    return arguments


def synthesis_arguments(preset, explicit):
    """Returns the validated synthesis-network arguments.

    Raises:
        ValueError, TypeError: for a bad argument, naming it.
    """
    arguments = resolve_arguments(preset, explicit, SYNTHESIS_DEFAULTS)
    arguments["image_size"] = _check_size(arguments["image_size"])
    arguments["channels"] = check.check_channels(arguments["channels"])
    arguments["w_dim"] = check.check_integer(arguments["w_dim"], "w_dim", minimum=1)
    arguments["channel_base"] = check.check_integer(arguments["channel_base"], "channel_base", minimum=1)
    arguments["channel_max"] = check.check_integer(arguments["channel_max"], "channel_max", minimum=1)
    check.check_choice(arguments["noise_mode"], "noise_mode", NOISE_MODES)
    check.check_choice(arguments["output_activation"], "output_activation", OUTPUT_ACTIVATIONS)
    return arguments


def discriminator_arguments(preset, explicit):
    """Returns the validated discriminator arguments.

    Raises:
        ValueError, TypeError: for a bad argument, naming it.
    """
    arguments = resolve_arguments(preset, explicit, DISCRIMINATOR_DEFAULTS)
    arguments["image_size"] = _check_size(arguments["image_size"])
    arguments["channels"] = check.check_channels(arguments["channels"])
    arguments["channel_base"] = check.check_integer(arguments["channel_base"], "channel_base", minimum=1)
    arguments["channel_max"] = check.check_integer(arguments["channel_max"], "channel_max", minimum=1)
    arguments["mbstd_group_size"] = check.check_integer(arguments["mbstd_group_size"], "mbstd_group_size", minimum=1)
    arguments["mbstd_channels"] = check.check_integer(arguments["mbstd_channels"], "mbstd_channels", minimum=1)
    width = channels_at(4, arguments["channel_base"], arguments["channel_max"])
    if width % arguments["mbstd_channels"]:
        raise ValueError(
            f"`mbstd_channels` must divide the {width} channels at 4x4. "
            f"{_received('mbstd_channels', arguments['mbstd_channels'])}"
        )
    arguments["num_classes"] = _check_optional_classes(arguments["num_classes"])
    return arguments


class _Seeds:
    """Hands out distinct initialiser seeds derived from one seed (None stays None)."""

    def __init__(self, seed, offset=0):
        self.seed = _check_seed(seed)
        self.index = offset

    def __call__(self):
        self.index += 2  # layers use seed and seed + 1
        return None if self.seed is None else self.seed + self.index


# ----------------------------------------------------------------------------------------------
# Factories


def _mapping_from_arguments(arguments, seed, name):
    seeds = _Seeds(seed, 0)
    latent = keras.Input(shape=(arguments["latent_dim"],), name="latent")
    inputs = [latent]
    x = PixelNorm(name="latent_norm")(latent)
    if arguments["num_classes"]:
        label = keras.Input(shape=(), dtype="int32", name="label")
        inputs.append(label)
        y = OneHot(arguments["num_classes"], name="label_one_hot")(label)
        y = EqualizedDense(arguments["w_dim"], seed=seeds(), name="label_embedding")(y)
        y = PixelNorm(name="label_norm")(y)
        x = keras.layers.Concatenate(name="latent_and_label")([x, y])
    for index in range(arguments["mapping_layers"]):
        last = index == arguments["mapping_layers"] - 1
        x = EqualizedDense(
            arguments["w_dim"] if last else arguments["mapping_units"],
            activation="leaky_relu",
            lr_multiplier=arguments["mapping_lr_multiplier"],
            seed=seeds(),
            name=f"mapping_dense_{index}",
        )(x)
    w = keras.layers.Identity(name="w")(x)
    return keras.Model(inputs if len(inputs) > 1 else latent, w, name=name)


def _synthesis_from_arguments(arguments, seed, name, noise_inputs=False):
    seeds = _Seeds(seed, 1000)
    size, w_dim = arguments["image_size"], arguments["w_dim"]
    num_ws = num_ws_for(size)

    def width(resolution):
        return channels_at(resolution, arguments["channel_base"], arguments["channel_max"])

    ws = keras.Input(shape=(num_ws, w_dim), name="ws")
    noise_tensors = []

    def layer(x, filters, w_index, prefix):
        x = ModulatedConv2D(filters, 3, w_index=w_index, seed=seeds(), name=f"{prefix}_conv")([x, ws])
        noise_layer = NoiseInjection(arguments["noise_mode"], seed=seeds(), name=f"{prefix}_noise")
        if noise_inputs:
            resolution = int(x.shape[1])
            noise = keras.Input(shape=(resolution, resolution, 1), name=f"{prefix}_noise_input")
            noise_tensors.append(noise)
            x = noise_layer([x, noise])
        else:
            x = noise_layer(x)
        return ScaledLeakyReLU(name=f"{prefix}_act")(x)

    def to_rgb(x, w_index, resolution):
        return ModulatedConv2D(
            arguments["channels"], 1, demodulate=False, w_index=w_index, seed=seeds(), name=f"b{resolution}_torgb"
        )([x, ws])

    x = ConstantInput(width(4), seed=seeds(), name="const")(ws)
    x = layer(x, width(4), 0, "b4")
    image = to_rgb(x, 1, 4)
    w_index = 1
    resolution = 8
    while resolution <= size:
        x = keras.layers.UpSampling2D(2, interpolation="bilinear", name=f"b{resolution}_upsample")(x)
        x = layer(x, width(resolution), w_index, f"b{resolution}_0")
        x = layer(x, width(resolution), w_index + 1, f"b{resolution}_1")
        rgb = to_rgb(x, w_index + 2, resolution)
        image = keras.layers.UpSampling2D(2, interpolation="bilinear", name=f"b{resolution}_skip_upsample")(image)
        image = keras.layers.Add(name=f"b{resolution}_skip")([image, rgb])
        w_index += 2
        resolution *= 2
    images = keras.layers.Activation(arguments["output_activation"], name="images")(image)
    return keras.Model([ws, *noise_tensors] if noise_tensors else ws, images, name=name)


def build_stylegan_mapping(
    *,
    preset=None,
    latent_dim=None,
    w_dim=None,
    mapping_layers=None,
    mapping_units=None,
    mapping_lr_multiplier=None,
    num_classes=None,
    seed=None,
    name="stylegan_mapping",
):
    """Builds StyleGAN2's mapping network: z [, label] -> w (Karras et al. 2019, 2020).

    Pixel norm of z; conditional (``num_classes``): the one-hot label through an equalised dense
    layer of ``w_dim`` units and pixel norm, concatenated to z (StyleGAN2-ADA); then
    ``mapping_layers`` equalised-lr dense layers with leaky ReLU and learning-rate multiplier
    ``mapping_lr_multiplier``. Arguments left as None come from the preset, else the defaults.

    Args:
        preset: ``None``, a preset name (``"stylegan2_cpu"``, ``"karras2020"``) or a dict.
        latent_dim: length of z (default 512).
        w_dim: length of w (default 512).
        mapping_layers: number of dense layers (default 8; 2 in the CIFAR / auto configs).
        mapping_units: width of the hidden dense layers (default ``w_dim``).
        mapping_lr_multiplier: learning-rate multiplier of the dense layers (default 0.01).
        num_classes: None (unconditional) or the number of classes (>= 2).
        seed: integer seed of the initialisers.
        name: model name.

    Returns:
        Functional ``keras.Model``: ``latent (N, latent_dim)`` (and ``label (N,)`` int32 when
        conditional) -> ``w (N, w_dim)`` (output layer ``"w"``).

    Raises:
        ValueError, TypeError: for a bad argument or an unknown preset, naming it.
    """
    arguments = mapping_arguments(
        preset,
        dict(
            latent_dim=latent_dim,
            w_dim=w_dim,
            mapping_layers=mapping_layers,
            mapping_units=mapping_units,
            mapping_lr_multiplier=mapping_lr_multiplier,
            num_classes=num_classes,
        ),
    )
    return _mapping_from_arguments(arguments, _check_seed(seed), name)


def build_stylegan_synthesis(
    *,
    preset=None,
    image_size=None,
    channels=None,
    w_dim=None,
    channel_base=None,
    channel_max=None,
    noise_mode=None,
    output_activation=None,
    noise_inputs=False,
    seed=None,
    name="stylegan_synthesis",
):
    """Builds StyleGAN2's synthesis network: W+ codes -> images (Karras et al. 2020).

    A learned 4x4 constant; per resolution two modulated/demodulated 3x3 convolutions with noise
    and leaky ReLU (the first after bilinear 2x upsampling), a toRGB modulated 1x1 convolution
    whose output is added to the bilinearly upsampled image of the previous resolution.

    Args:
        preset: ``None``, a preset name or a dict.
        image_size: output size, a power of two in [16, 256] (default 32).
        channels: 1 or 3 (default 3).
        w_dim: length of each w (default 512).
        channel_base: widths are ``min(channel_base // resolution, channel_max)`` (default 16384).
        channel_max: the largest width (default 512).
        noise_mode: ``"random"`` (default), ``"const"`` or ``"none"`` (see ``NoiseInjection``).
        output_activation: ``"linear"`` (default, as the paper: images roughly in [-1, 1]) or
            ``"tanh"`` (strictly in [-1, 1]).
        noise_inputs: add one noise input ``(N, res, res, 1)`` per convolution after ``ws``
            (named ``"<layer>_noise_input"``, in layer order), used instead of drawn noise.
        seed: integer seed of the initialisers and noise.
        name: model name.

    Returns:
        Functional ``keras.Model``: ``ws (N, num_ws, w_dim)`` [+ noise inputs] -> ``images (N, S,
        S, channels)`` (layer ``"images"``), ``num_ws = 2 log2(S) - 2``.

    Raises:
        ValueError, TypeError: for a bad argument or an unknown preset, naming it.
    """
    arguments = synthesis_arguments(
        preset,
        dict(
            image_size=image_size,
            channels=channels,
            w_dim=w_dim,
            channel_base=channel_base,
            channel_max=channel_max,
            noise_mode=noise_mode,
            output_activation=output_activation,
        ),
    )
    check.check_bool(noise_inputs, "noise_inputs")
    return _synthesis_from_arguments(arguments, _check_seed(seed), name, noise_inputs=noise_inputs)


def build_stylegan_generator(
    *,
    preset=None,
    image_size=None,
    channels=None,
    latent_dim=None,
    w_dim=None,
    mapping_layers=None,
    mapping_units=None,
    mapping_lr_multiplier=None,
    num_classes=None,
    channel_base=None,
    channel_max=None,
    noise_mode=None,
    output_activation=None,
    truncation_psi=None,
    truncation_cutoff=None,
    seed=None,
    name="stylegan_generator",
):
    """Builds a StyleGAN2 generator: z [, label] -> mapping -> truncation -> synthesis -> images.

    Karras et al. 2020 (preset ``"karras2020"``: 8 mapping layers, z = w = 512, config F widths)
    at small scale (preset ``"stylegan2_cpu"``: 32 px, 2 mapping layers as the CIFAR / auto
    configs, small widths). The sub-models are the layers ``"mapping"`` and ``"synthesis"``
    (``get_layer``), the truncation layer is ``"truncation"``; see ``update_w_avg``,
    ``set_truncation``, ``mix_styles`` and ``set_noise_mode``. Arguments left as None come from the
    preset, else from the defaults of ``build_stylegan_mapping`` / ``build_stylegan_synthesis``.

    Args:
        preset: ``None``, a preset name or a dict.
        image_size, channels, w_dim, channel_base, channel_max, noise_mode, output_activation:
            as ``build_stylegan_synthesis``.
        latent_dim, mapping_layers, mapping_units, mapping_lr_multiplier, num_classes: as
            ``build_stylegan_mapping``.
        truncation_psi: initial psi of the truncation (default 1, none).
        truncation_cutoff: number of leading W+ rows truncated (default None, all).
        seed: integer seed of the initialisers and noise.
        name: model name.

    Returns:
        Functional ``keras.Model``: ``latent (N, latent_dim)`` (and ``label (N,)`` int32 when
        conditional) -> ``images (N, S, S, channels)``.

    Raises:
        ValueError, TypeError: for a bad argument or an unknown preset, naming it.
    """
    explicit = dict(
        image_size=image_size,
        channels=channels,
        latent_dim=latent_dim,
        w_dim=w_dim,
        mapping_layers=mapping_layers,
        mapping_units=mapping_units,
        mapping_lr_multiplier=mapping_lr_multiplier,
        num_classes=num_classes,
        channel_base=channel_base,
        channel_max=channel_max,
        noise_mode=noise_mode,
        output_activation=output_activation,
    )
    mapping_args = mapping_arguments(preset, explicit)
    synthesis_args = synthesis_arguments(preset, explicit)
    truncation = resolve_arguments(
        preset,
        dict(truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff),
        {"truncation_psi": 1.0, "truncation_cutoff": None},
    )
    num_ws = num_ws_for(synthesis_args["image_size"])
    psi = _check_psi(truncation["truncation_psi"])
    cutoff = _check_cutoff(truncation["truncation_cutoff"], num_ws)
    seed = _check_seed(seed)
    mapping = _mapping_from_arguments(mapping_args, seed, "mapping")
    synthesis = _synthesis_from_arguments(synthesis_args, seed, "synthesis")
    inputs = [keras.Input(shape=(mapping_args["latent_dim"],), name="latent")]
    if mapping_args["num_classes"]:
        inputs.append(keras.Input(shape=(), dtype="int32", name="label"))
    w = mapping(inputs if len(inputs) > 1 else inputs[0])
    ws = Truncation(num_ws, psi=psi, cutoff=cutoff, name="truncation")(w)
    images = synthesis(ws)
    return keras.Model(inputs if len(inputs) > 1 else inputs[0], images, name=name)


def build_stylegan_discriminator(
    *,
    preset=None,
    image_size=None,
    channels=None,
    channel_base=None,
    channel_max=None,
    mbstd_group_size=None,
    mbstd_channels=None,
    num_classes=None,
    seed=None,
    name="stylegan_discriminator",
):
    """Builds StyleGAN2's residual discriminator: image [, label] -> realness logit (Karras et al. 2020).

    fromRGB (1x1, leaky ReLU) at full resolution; per resolution down to 8 a residual block
    ``sqrt(1/2) * (skip_1x1_down(x) + conv3x3_down(conv3x3(x)))``; at 4x4 the minibatch
    standard deviation, a 3x3 convolution, ``Flatten`` (``"trunk_features"``), a dense layer and
    the output dense layer ``"realness_logit"``. Conditional (``num_classes``): the output layer
    gives ``cmap_dim = width(4)`` values and the logit is their dot product with an embedding
    of the label over sqrt(cmap_dim) (layer ``"conditional_logit"``).

    Args:
        preset: ``None``, a preset name or a dict.
        image_size: input size, a power of two in [16, 256] (default 32).
        channels: 1 or 3 (default 3).
        channel_base: widths are ``min(channel_base // resolution, channel_max)`` (default 16384).
        channel_max: the largest width (default 512).
        mbstd_group_size: minibatch standard deviation group size (default 4); the batch must
            be a multiple of it or smaller.
        mbstd_channels: minibatch standard deviation channels (default 1).
        num_classes: None (unconditional) or the number of classes (>= 2).
        seed: integer seed of the initialisers.
        name: model name.

    Returns:
        Functional ``keras.Model``: ``image (N, S, S, channels)`` (and ``label (N,)`` int32 when
        conditional) -> realness logit ``(N, 1)``.

    Raises:
        ValueError, TypeError: for a bad argument or an unknown preset, naming it.
    """
    arguments = discriminator_arguments(
        preset,
        dict(
            image_size=image_size,
            channels=channels,
            channel_base=channel_base,
            channel_max=channel_max,
            mbstd_group_size=mbstd_group_size,
            mbstd_channels=mbstd_channels,
            num_classes=num_classes,
        ),
    )
    seeds = _Seeds(seed, 2000)
    size = arguments["image_size"]

    def width(resolution):
        return channels_at(resolution, arguments["channel_base"], arguments["channel_max"])

    image = keras.Input(shape=(size, size, arguments["channels"]), name="image")
    inputs = [image]
    x = EqualizedConv2D(width(size), 1, seed=seeds(), name=f"b{size}_fromrgb")(image)
    resolution = size
    while resolution > 4:
        half = math.sqrt(0.5)
        skip = EqualizedConv2D(
            width(resolution // 2), 1, activation="linear", use_bias=False, down=True, gain=half,
            seed=seeds(), name=f"b{resolution}_skip",
        )(x)
        y = EqualizedConv2D(width(resolution), 3, seed=seeds(), name=f"b{resolution}_conv0")(x)
        y = EqualizedConv2D(
            width(resolution // 2), 3, down=True, gain=half, seed=seeds(), name=f"b{resolution}_conv1"
        )(y)
        x = keras.layers.Add(name=f"b{resolution}_residual")([skip, y])
        resolution //= 2
    x = MinibatchStdDev(arguments["mbstd_group_size"], arguments["mbstd_channels"], name="minibatch_stddev")(x)
    x = EqualizedConv2D(width(4), 3, seed=seeds(), name="b4_conv")(x)
    features = keras.layers.Flatten(name="trunk_features")(x)
    x = EqualizedDense(width(4), activation="leaky_relu", seed=seeds(), name="b4_dense")(features)
    if arguments["num_classes"]:
        label = keras.Input(shape=(), dtype="int32", name="label")
        inputs.append(label)
        cmap_dim = width(4)
        x = EqualizedDense(cmap_dim, seed=seeds(), name="realness_logit")(x)
        embedding = OneHot(arguments["num_classes"], name="label_one_hot")(label)
        embedding = EqualizedDense(cmap_dim, seed=seeds(), name="label_embedding")(embedding)
        embedding = PixelNorm(name="label_norm")(embedding)
        logit = ProjectionLogit(name="conditional_logit")([x, embedding])
    else:
        logit = EqualizedDense(1, seed=seeds(), name="realness_logit")(x)
    return keras.Model(inputs if len(inputs) > 1 else image, logit, name=name)


# ----------------------------------------------------------------------------------------------
# W space helpers


def _truncation_layer(generator):
    for layer in generator.layers:
        if isinstance(layer, Truncation):
            return layer
    raise ValueError(
        f"`generator` has no Truncation layer (build it with build_stylegan_generator). "
        f"Received: generator={getattr(generator, 'name', generator)!r}"
    )


def mapping_of(generator):
    """Returns the mapping sub-model (``z [, label] -> w``) of a ``build_stylegan_generator`` model."""
    return generator.get_layer("mapping")


def synthesis_of(generator):
    """Returns the synthesis sub-model (``ws -> images``) of a ``build_stylegan_generator`` model."""
    return generator.get_layer("synthesis")


def w_avg_of(generator):
    """Returns the generator's tracked ``w_avg`` as a float32 numpy array ``(w_dim,)``."""
    return np.asarray(keras.ops.convert_to_numpy(_truncation_layer(generator).w_avg), dtype=np.float32)


def update_w_avg(generator, ws, decay=0.995):
    """Moves the generator's ``w_avg`` towards the mean of ``ws``: ``w_avg <- decay w_avg + (1 - decay) mean``.

    StyleGAN2 tracks the mean of the mapping output this way (decay 0.995) during training, and
    truncates around it. Works eagerly and inside a ``tf.function`` (the variable is assigned).

    Args:
        generator: a ``build_stylegan_generator`` model.
        ws: mapping outputs, ``(N, w_dim)`` or W+ ``(N, num_ws, w_dim)`` (averaged over all rows).
        decay: in [0, 1); 0 sets ``w_avg`` to the batch mean.

    Returns:
        The updated ``w_avg`` (a tensor ``(w_dim,)``).

    Raises:
        ValueError: for a bad ``decay``, ``ws`` of the wrong width or a generator without a
            ``Truncation`` layer.
    """
    if isinstance(decay, bool) or not isinstance(decay, numbers.Real) or not 0.0 <= decay < 1.0:
        raise ValueError(f"`decay` must be a number in [0, 1). {_received('decay', decay)}")
    layer = _truncation_layer(generator)
    ws = ops.convert_to_tensor(ws)
    w_dim = int(layer.w_avg.shape[0])
    if len(ws.shape) not in (2, 3) or ws.shape[-1] != w_dim:
        raise ValueError(
            f"`ws` must have shape (N, {w_dim}) or (N, num_ws, {w_dim}). Received: ws.shape={tuple(ws.shape)}"
        )
    mean = ops.mean(ops.reshape(ops.cast(ws, layer.w_avg.dtype), (-1, w_dim)), axis=0)
    layer.w_avg.assign(decay * layer.w_avg + (1.0 - decay) * mean)
    return layer.w_avg.value


def set_truncation(generator, psi):
    """Sets the truncation psi of a ``build_stylegan_generator`` model (1 = none, 0 = the w_avg image).

    Raises:
        ValueError: for a non-finite ``psi`` or a generator without a ``Truncation`` layer.
    """
    psi = _check_psi(psi, "psi")
    _truncation_layer(generator).truncation_psi.assign(psi)


def broadcast_w(w, num_ws):
    """Returns W+ ``(N, num_ws, w_dim)`` whose rows all equal ``w (N, w_dim)``: the W path."""
    num_ws = check.check_integer(num_ws, "num_ws", minimum=1)
    w = ops.convert_to_tensor(w)
    if len(w.shape) != 2:
        raise ValueError(f"`w` must have shape (N, w_dim). Received: w.shape={tuple(w.shape)}")
    return ops.repeat(w[:, None, :], num_ws, axis=1)


def mix_styles(ws_a, ws_b, crossover):
    """Style mixing: rows ``< crossover`` of W+ from ``ws_a``, the rest from ``ws_b``.

    Karras et al. 2019/2020 (style mixing regularisation, probability 0.9 in training): coarse
    styles from one code, fine styles from another.

    Args:
        ws_a: W+ ``(N, num_ws, w_dim)`` (or w ``(N, w_dim)``, then ``ws_b`` must be W+).
        ws_b: W+ ``(N, num_ws, w_dim)`` (or w ``(N, w_dim)``).
        crossover: an integer in [0, num_ws] (0: all ``ws_b``, num_ws: all ``ws_a``), or one
            per example ``(N,)`` (an integer tensor, e.g. drawn inside a training step).

    Returns:
        W+ ``(N, num_ws, w_dim)``.

    Raises:
        ValueError: for mismatched shapes or a crossover outside [0, num_ws].
    """
    ws_a, ws_b = ops.convert_to_tensor(ws_a), ops.convert_to_tensor(ws_b)
    if len(ws_a.shape) == 2 and len(ws_b.shape) == 3:
        ws_a = broadcast_w(ws_a, int(ws_b.shape[1]))
    if len(ws_b.shape) == 2 and len(ws_a.shape) == 3:
        ws_b = broadcast_w(ws_b, int(ws_a.shape[1]))
    if len(ws_a.shape) != 3 or tuple(ws_a.shape[1:]) != tuple(ws_b.shape[1:]):
        raise ValueError(
            "`ws_a` and `ws_b` must be W+ codes (N, num_ws, w_dim) of one shape. "
            f"Received: ws_a.shape={tuple(ws_a.shape)}, ws_b.shape={tuple(ws_b.shape)}"
        )
    num_ws = int(ws_a.shape[1])
    if isinstance(crossover, numbers.Integral) and not isinstance(crossover, bool):
        if not 0 <= crossover <= num_ws:
            raise ValueError(f"`crossover` must be in [0, num_ws={num_ws}]. {_received('crossover', crossover)}")
    elif isinstance(crossover, (list, tuple, np.ndarray)):
        values = np.asarray(crossover)
        if values.ndim > 1 or not np.issubdtype(values.dtype, np.integer) or np.any((values < 0) | (values > num_ws)):
            raise ValueError(
                f"`crossover` must hold integers in [0, num_ws={num_ws}]. Received: crossover={values.tolist()}"
            )
    crossover = ops.reshape(ops.cast(ops.convert_to_tensor(crossover), "int32"), (-1, 1, 1))
    rows = ops.reshape(ops.arange(num_ws, dtype="int32"), (1, num_ws, 1))
    return ops.where(rows < crossover, ws_a, ws_b)


def random_crossover(num_ws, probability=0.9, seed=None):
    """Draws StyleGAN2's style-mixing crossover for one batch (a scalar int32 tensor).

    With probability ``probability`` a uniform integer in [1, num_ws), else ``num_ws`` (no
    mixing). Pass it to ``mix_styles(ws_z1, ws_z2, crossover)``. ``seed``: an integer or a
    ``keras.random.SeedGenerator`` (use one inside a training step).
    """
    num_ws = check.check_integer(num_ws, "num_ws", minimum=2)
    if isinstance(probability, bool) or not isinstance(probability, numbers.Real) or not 0.0 <= probability <= 1.0:
        raise ValueError(f"`probability` must be a number in [0, 1]. {_received('probability', probability)}")
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        cut_seed, draw_seed = int(seed), int(seed) + 1  # two independent draws
    else:
        cut_seed = draw_seed = seed  # None, or a SeedGenerator that advances per draw
    cut = keras.random.randint((), 1, num_ws, seed=cut_seed, dtype="int32")
    draw = keras.random.uniform((), seed=draw_seed)
    return ops.where(draw < probability, cut, ops.convert_to_tensor(num_ws, dtype="int32"))


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)


def set_noise_mode(model, noise_mode):
    """Sets ``noise_mode`` (``"random"``, ``"const"``, ``"none"``) of every ``NoiseInjection`` in ``model``.

    Includes nested models (the generator's synthesis network). Keras' cached predict function is
    dropped so ``predict`` sees the change; a ``tf.function`` you traced yourself must be retraced.

    Returns:
        The number of noise layers changed.

    Raises:
        ValueError: for an unknown ``noise_mode``.
    """
    check.check_choice(noise_mode, "noise_mode", NOISE_MODES)
    count = 0
    for layer in _all_layers(model):
        if isinstance(layer, NoiseInjection):
            layer.noise_mode = noise_mode
            count += 1
    for owner in [model, *(layer for layer in _all_layers(model) if isinstance(layer, keras.Model))]:
        owner.predict_function = None
    return count
