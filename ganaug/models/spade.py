"""SPADE generator, multi-scale patch discriminator and style encoder (SHI-GAN; Park et al. 2019).

SHI-GAN (Falahkheirkhah et al., "Deepfake histological images", section 2.2) synthesises an image
from a semantic map: z (256) -> dense -> a 4 x 4 feature map -> SPADE residual blocks with nearest
upsampling -> tanh, spectral norm on every convolution, a pix2pixHD multi-scale discriminator on
the image concatenated with the one-hot map, least-squares GAN loss plus feature matching /
perceptual losses. The SPADE layer (Park et al. 2019, "Semantic image synthesis with spatially-
adaptive normalization") normalises without parameters and modulates with maps predicted from the
label map: ``x_hat * (1 + gamma(m)) + beta(m)`` (keras-io's GauGAN uses ``gamma * x_hat + beta``,
which starts every block at zero; SPEC.md section 6).

Simplified with respect to NVlabs/SPADE: the parameter-free norm is instance norm (NVlabs'
default is synchronised batch norm; instance norm keeps a multi-replica step equal to the
one-device step), the discriminator's norm is parameter-free instance norm too, and the widths are
arguments (defaults sized for CPU training at 64 px, not the paper's 1024 channels).

Masks enter every model as integer label maps ``(N, H, W)``; ``MaskOneHot`` turns them into
one-hot maps inside the model, so a SavedModel can take ``uint8`` masks.
"""

import math

import keras
from keras import ops

from ganaug.models import _validation as check
from ganaug.models.sngan import SpectralNormConv2D, SpectralNormDense

_EPSILON = 1e-5


# --------------------------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="ganaug")
class MaskOneHot(keras.layers.Layer):
    """Integer label maps ``(N, H, W)`` -> one-hot maps ``(N, H, W, num_labels)`` (float).

    Values outside ``[0, num_labels)`` give an all-zero pixel (``ops.one_hot``'s convention).

    Args:
        num_labels: number of labels (>= 2).
    """

    def __init__(self, num_labels, **kwargs):
        super().__init__(**kwargs)
        self.num_labels = check.check_integer(num_labels, "num_labels", minimum=2)

    def call(self, masks):
        return ops.one_hot(ops.cast(masks, "int32"), self.num_labels, dtype=self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:3], self.num_labels)

    def get_config(self):
        return {**super().get_config(), "num_labels": self.num_labels}


@keras.saving.register_keras_serializable(package="ganaug")
class InstanceNormalization(keras.layers.Layer):
    """Parameter-free instance norm: each sample's channels to zero mean, unit variance over H, W.

    Args:
        epsilon: added to the variance.
    """

    def __init__(self, epsilon=_EPSILON, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def call(self, x):
        x32 = ops.cast(x, "float32")
        mean = ops.mean(x32, axis=(1, 2), keepdims=True)
        variance = ops.mean(ops.square(x32 - mean), axis=(1, 2), keepdims=True)
        return ops.cast((x32 - mean) / ops.sqrt(variance + self.epsilon), x.dtype)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


def _conv(filters, kernel_size, *, spectral_norm, use_bias=True, name=None, initializer="glorot_uniform"):
    if spectral_norm:
        return SpectralNormConv2D(filters, kernel_size, padding="same", use_bias=use_bias,
                                  kernel_initializer=initializer, name=name)
    return keras.layers.Conv2D(filters, kernel_size, padding="same", use_bias=use_bias,
                               kernel_initializer=initializer, name=name)


@keras.saving.register_keras_serializable(package="ganaug")
class SPADE(keras.layers.Layer):
    """Spatially-adaptive normalisation (Park et al. 2019): ``x_hat * (1 + gamma(m)) + beta(m)``.

    ``x_hat`` is the parameter-free instance norm of ``x``; ``m`` is the one-hot label map resized
    nearest-neighbour to ``x``'s height and width; ``gamma`` and ``beta`` are convolutions of a
    shared ``hidden_filters``-channel convolution with ReLU of ``m`` (NVlabs: 128 channels, 3 x 3).

    Called on ``[x (N, H, W, C), m (N, H', W', L)]``; returns ``(N, H, W, C)``.

    Args:
        hidden_filters: channels of the shared convolution.
        kernel_size: kernel of the three convolutions.
        spectral_norm: spectrally normalise the three convolutions (SHI-GAN: every convolution).
        epsilon: of the instance norm.
    """

    def __init__(self, hidden_filters=128, kernel_size=3, spectral_norm=True, epsilon=_EPSILON, **kwargs):
        super().__init__(**kwargs)
        self.hidden_filters = check.check_integer(hidden_filters, "hidden_filters", minimum=1)
        self.kernel_size = check.check_integer(kernel_size, "kernel_size", minimum=1)
        self.spectral_norm = bool(spectral_norm)
        self.epsilon = float(epsilon)
        self.norm = InstanceNormalization(epsilon, name="norm")

    def build(self, input_shape):
        x_shape, m_shape = input_shape
        channels = int(x_shape[-1])
        self.shared = _conv(self.hidden_filters, self.kernel_size, spectral_norm=self.spectral_norm, name="shared")
        self.gamma = _conv(channels, self.kernel_size, spectral_norm=self.spectral_norm, name="gamma")
        self.beta = _conv(channels, self.kernel_size, spectral_norm=self.spectral_norm, name="beta")
        mask_shape = (x_shape[0], x_shape[1], x_shape[2], m_shape[-1])
        self.shared.build(mask_shape)
        hidden_shape = (x_shape[0], x_shape[1], x_shape[2], self.hidden_filters)
        self.gamma.build(hidden_shape)
        self.beta.build(hidden_shape)

    def call(self, inputs, training=None):
        x, m = inputs
        height, width = x.shape[1], x.shape[2]
        if m.shape[1] != height or m.shape[2] != width:
            m = ops.image.resize(m, (height, width), interpolation="nearest")
        m = ops.cast(m, x.dtype)
        hidden = ops.relu(self.shared(m, training=training))
        gamma = self.gamma(hidden, training=training)
        beta = self.beta(hidden, training=training)
        return self.norm(x) * (1.0 + gamma) + beta

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {
            **super().get_config(), "hidden_filters": self.hidden_filters, "kernel_size": self.kernel_size,
            "spectral_norm": self.spectral_norm, "epsilon": self.epsilon,
        }


@keras.saving.register_keras_serializable(package="ganaug")
class Reparameterise(keras.layers.Layer):
    """VAE reparameterisation with a KL term (Park et al. 2019's style encoder; Kingma & Welling).

    Called on ``[mu, log_variance, noise]`` (all ``(N, latent_dim)``), returns
    ``mu + exp(log_variance / 2) * noise`` and adds ``kl_weight * mean_n KL(N(mu, var) || N(0, I))``
    (summed over the code's dimensions, NVlabs' KLDLoss) with ``add_loss``, so that the loss is
    part of the generator's ``losses`` of the same call, inside its gradient tape.

    Args:
        kl_weight: the KL weight (NVlabs ``lambda_kld``: 0.05).
    """

    def __init__(self, kl_weight=0.05, **kwargs):
        super().__init__(**kwargs)
        self.kl_weight = float(kl_weight)

    def call(self, inputs):
        mu, log_variance, noise = inputs
        log_variance = ops.clip(log_variance, -10.0, 10.0)
        kl = -0.5 * ops.sum(1.0 + log_variance - ops.square(mu) - ops.exp(log_variance), axis=-1)
        if self.kl_weight:
            self.add_loss(self.kl_weight * ops.mean(ops.cast(kl, "float32")))
        return mu + ops.exp(0.5 * log_variance) * ops.cast(noise, mu.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "kl_weight": self.kl_weight}


# --------------------------------------------------------------------------------------------
# Factories
# --------------------------------------------------------------------------------------------


def _spade_block(x, m, filters, *, hidden_filters, spectral_norm, name, last=False):
    """SPADE residual block (Park et al. 2019, Figure 4): two SPADE-LReLU-conv units, learned shortcut.

    A convolution whose output reaches only parameter-free norms has no bias (a per-channel
    constant is normalised away, so its gradient is zero): ``conv_0`` always, ``conv_1`` except in
    the last block (NVlabs keeps these biases; they never learn)."""
    in_filters = int(x.shape[-1])
    middle = min(in_filters, filters)
    if in_filters != filters:  # learned shortcut: SPADE then a 1x1 conv without bias or activation
        shortcut = SPADE(hidden_filters, spectral_norm=spectral_norm, name=f"{name}_spade_shortcut")([x, m])
        shortcut = _conv(filters, 1, spectral_norm=spectral_norm, use_bias=False, name=f"{name}_conv_shortcut")(shortcut)
    else:
        shortcut = x
    h = SPADE(hidden_filters, spectral_norm=spectral_norm, name=f"{name}_spade_0")([x, m])
    h = keras.layers.LeakyReLU(negative_slope=0.2, name=f"{name}_act_0")(h)
    h = _conv(middle, 3, spectral_norm=spectral_norm, use_bias=False, name=f"{name}_conv_0")(h)
    h = SPADE(hidden_filters, spectral_norm=spectral_norm, name=f"{name}_spade_1")([h, m])
    h = keras.layers.LeakyReLU(negative_slope=0.2, name=f"{name}_act_1")(h)
    h = _conv(filters, 3, spectral_norm=spectral_norm, use_bias=last, name=f"{name}_conv_1")(h)
    return keras.layers.Add(name=f"{name}_add")([shortcut, h])


def generator_widths(image_size, generator_filters):
    """Channels of the SPADE blocks at 4, 8, ..., image_size px (NVlabs: 16 nf at the bottom, halving
    from 32 px up: 16, 16, 8, 4, 2, 1 nf at 4..128 px)."""
    resolutions = [4 * 2**i for i in range(int(math.log2(image_size)) - 1)]
    return [(r, generator_filters * min(16, max(1, 16 * 16 // r))) for r in resolutions]


def build_spade_decoder(
    num_labels, *, image_size=64, latent_dim=256, channels=3, generator_filters=16, hidden_filters=64,
    spectral_norm=True, seed=None, name="spade_decoder",
):
    """Builds the SPADE image decoder ``[z (N, latent_dim), mask (N, S, S) int] -> image (N, S, S, C)``.

    SHI-GAN (Falahkheirkhah et al., section 2.2): z -> (spectrally normalised) dense -> 4 x 4 x
    ``16 * generator_filters`` -> a SPADE residual block per resolution with nearest upsampling
    in between -> LeakyReLU(0.2) -> 3 x 3 convolution -> tanh (Park et al. 2019's generator).

    Args:
        num_labels: number of mask labels (>= 2).
        image_size: output side, a power of two in [16, 512].
        latent_dim: size of z (SHI-GAN: 256).
        channels: 3 (RGB) or 1.
        generator_filters: base width ``nf`` (paper: 64, i.e. 1024 channels at 4 x 4).
        hidden_filters: channels of each SPADE layer's shared convolution (NVlabs: 128).
        spectral_norm: spectral norm on every convolution and the dense layer (SHI-GAN).
        seed: seed of the Glorot initialisers (SHI-GAN: Glorot init); None: unseeded.
        name: model name.

    Returns:
        A Functional ``keras.Model``.

    Raises:
        ValueError, TypeError: for a bad argument (naming it).
    """
    num_labels = check.check_integer(num_labels, "num_labels", minimum=2)
    image_size = check.check_image_size(image_size)
    latent_dim = check.check_integer(latent_dim, "latent_dim", minimum=1)
    channels = check.check_channels(channels)
    generator_filters = check.check_integer(generator_filters, "generator_filters", minimum=1)
    hidden_filters = check.check_integer(hidden_filters, "hidden_filters", minimum=1)
    if seed is not None:
        keras.utils.set_random_seed(check.check_integer(seed, "seed", minimum=0))
    widths = generator_widths(image_size, generator_filters)
    z = keras.Input((latent_dim,), name="latent")
    masks = keras.Input((image_size, image_size), dtype="int32", name="mask")
    m = MaskOneHot(num_labels, name="mask_one_hot")(masks)
    dense = SpectralNormDense if spectral_norm else keras.layers.Dense
    x = dense(4 * 4 * widths[0][1], name="project")(z)
    x = keras.layers.Reshape((4, 4, widths[0][1]), name="project_reshape")(x)
    for index, (resolution, filters) in enumerate(widths):
        if index:
            x = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"up_{resolution}")(x)
        x = _spade_block(x, m, filters, hidden_filters=hidden_filters, spectral_norm=spectral_norm,
                         name=f"block_{resolution}", last=index == len(widths) - 1)
    x = keras.layers.LeakyReLU(negative_slope=0.2, name="out_act")(x)
    x = _conv(channels, 3, spectral_norm=spectral_norm, name="to_image")(x)
    image = keras.layers.Activation("tanh", dtype="float32", name="image")(x)
    return keras.Model([z, masks], image, name=name)


def build_spade_encoder(
    *, image_size=64, latent_dim=256, channels=3, encoder_filters=16, spectral_norm=True, name="spade_encoder",
):
    """Builds the style encoder ``image -> [mu, log_variance]`` (Park et al. 2019's ConvEncoder).

    Stride-2 3 x 3 convolutions (widths ``encoder_filters * (1, 2, 4, 8, 8, ...)``) with
    parameter-free instance norm and LeakyReLU(0.2) down to 4 x 4, then two dense heads.

    Args:
        image_size, latent_dim, channels: as ``build_spade_decoder``.
        encoder_filters: width of the first convolution (NVlabs: 64).
        spectral_norm: on every convolution.
        name: model name.

    Returns:
        A Functional ``keras.Model`` with outputs ``[mu, log_variance]``, each ``(N, latent_dim)``.
    """
    image_size = check.check_image_size(image_size)
    latent_dim = check.check_integer(latent_dim, "latent_dim", minimum=1)
    channels = check.check_channels(channels)
    encoder_filters = check.check_integer(encoder_filters, "encoder_filters", minimum=1)
    image = keras.Input((image_size, image_size, channels), name="style_image")
    x = image
    for index in range(int(math.log2(image_size)) - 2):
        filters = encoder_filters * min(8, 2**index)
        conv = (SpectralNormConv2D if spectral_norm else keras.layers.Conv2D)(
            filters, 3, strides=2, padding="same", use_bias=False, name=f"conv_{index}"
        )  # no bias: instance norm follows
        x = conv(x)
        x = InstanceNormalization(name=f"norm_{index}")(x)
        x = keras.layers.LeakyReLU(negative_slope=0.2, name=f"act_{index}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    mu = keras.layers.Dense(latent_dim, name="mu")(x)
    log_variance = keras.layers.Dense(latent_dim, name="log_variance")(x)
    return keras.Model(image, [mu, log_variance], name=name)


def build_spade_generator(
    num_labels, *, image_size=64, latent_dim=256, channels=3, generator_filters=16, hidden_filters=64,
    spectral_norm=True, use_encoder=False, encoder_filters=16, kl_weight=0.05, seed=None, name=None,
):
    """Builds the SHI-GAN generator: ``[z, mask] -> image``, or with a style encoder ``[noise, mask, image]``.

    Without the encoder this is ``build_spade_decoder``. With ``use_encoder=True`` (Park et al.
    2019's multi-modal, style-guided synthesis) the model takes ``[noise (N, latent_dim), mask,
    style_image]``, encodes the style image to ``(mu, log_variance)``, draws
    ``z = mu + sigma * noise`` and decodes ``[z, mask]``; the KL term is added to the model's
    ``losses`` by ``Reparameterise`` in the same call, so training the generator trains the encoder
    (keras-io's GauGAN encodes outside the tape, keras-io#796). The decoder and encoder are nested
    models: ``spade_decoder_of(model)`` samples from the prior, ``spade_encoder_of(model)`` encodes.

    Args:
        num_labels, image_size, latent_dim, channels, generator_filters, hidden_filters,
            spectral_norm, seed: as ``build_spade_decoder``.
        use_encoder: add the style encoder.
        encoder_filters: as ``build_spade_encoder``.
        kl_weight: weight of the KL term (NVlabs: 0.05).
        name: model name (``"spade_generator"`` or ``"spade_vae_generator"``).

    Returns:
        A Functional ``keras.Model``.
    """
    use_encoder = check.check_bool(use_encoder, "use_encoder")
    decoder = build_spade_decoder(
        num_labels, image_size=image_size, latent_dim=latent_dim, channels=channels,
        generator_filters=generator_filters, hidden_filters=hidden_filters, spectral_norm=spectral_norm,
        seed=seed, name="spade_decoder" if use_encoder else (name or "spade_generator"),
    )
    if not use_encoder:
        return decoder
    encoder = build_spade_encoder(
        image_size=image_size, latent_dim=latent_dim, channels=channels, encoder_filters=encoder_filters,
        spectral_norm=spectral_norm,
    )
    noise = keras.Input((latent_dim,), name="noise")
    masks = keras.Input((image_size, image_size), dtype="int32", name="mask")
    style = keras.Input((image_size, image_size, channels), name="style_image")
    mu, log_variance = encoder(style)
    z = Reparameterise(kl_weight, name="reparameterise")([mu, log_variance, noise])
    return keras.Model([noise, masks, style], decoder([z, masks]), name=name or "spade_vae_generator")


def spade_decoder_of(generator):
    """Returns the ``[z, mask] -> image`` decoder of a ``build_spade_generator`` model."""
    for layer in generator.layers:
        if isinstance(layer, keras.Model) and any(isinstance(l, MaskOneHot) for l in layer.layers):
            return layer
    if any(isinstance(layer, MaskOneHot) for layer in generator.layers):
        return generator
    raise ValueError(f"Not a SPADE generator (no MaskOneHot layer). Received: generator={generator.name!r}")


def spade_encoder_of(generator):
    """Returns the style encoder of a ``use_encoder=True`` generator, or None."""
    for layer in generator.layers:
        if isinstance(layer, keras.Model) and len(layer.outputs) == 2 and len(layer.inputs) == 1:
            return layer
    return None


def is_spade_generator(model):
    """Returns True for a ``build_spade_generator`` model (it has SPADE layers)."""
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, SPADE):
            return True
    return False


def build_multiscale_discriminator(
    num_labels, *, image_size=64, channels=3, num_scales=2, num_layers=3, discriminator_filters=32,
    spectral_norm=True, name="multiscale_discriminator",
):
    """Builds the pix2pixHD multi-scale patch discriminator ``[image, mask] -> features per scale``.

    SHI-GAN (2 scales) / Park et al. 2019: the image concatenated with the one-hot map goes to
    ``num_scales`` PatchGAN discriminators, scale ``s`` seeing the input average-pooled
    (3 x 3, stride 2) ``s`` times. Each (NLayerDiscriminator, kernel 4, LeakyReLU 0.2) has a
    stride-2 convolution, ``num_layers - 1`` further convolutions (stride 2 except the last,
    stride 1) with parameter-free instance norm, and a 1-channel stride-1 output convolution.

    Args:
        num_labels: number of mask labels (>= 2).
        image_size: side of the images, a power of two in [16, 512].
        channels: 3 or 1.
        num_scales: discriminators (>= 1; SHI-GAN: 2).
        num_layers: convolutions before the output one, NVlabs ``n_layers_D`` (>= 1; SPEC.md: 3;
            NVlabs' default is 4).
        discriminator_filters: width of the first convolution (NVlabs: 64), doubling, capped at 8x.
        spectral_norm: on every convolution (SHI-GAN).
        name: model name.

    Returns:
        A Functional ``keras.Model`` whose output is a list with one list per scale:
        ``num_layers`` intermediate feature maps then the patch logits ``(N, h, w, 1)`` (used by
        feature matching and the adversarial loss).
    """
    num_labels = check.check_integer(num_labels, "num_labels", minimum=2)
    image_size = check.check_image_size(image_size)
    channels = check.check_channels(channels)
    num_scales = check.check_integer(num_scales, "num_scales", minimum=1)
    num_layers = check.check_integer(num_layers, "num_layers", minimum=1)
    discriminator_filters = check.check_integer(discriminator_filters, "discriminator_filters", minimum=1)
    if image_size // 2 ** (num_scales - 1 + num_layers) < 1:
        raise ValueError(
            f"`num_scales` + `num_layers` downsample a {image_size}-px image below one pixel. "
            f"Received: num_scales={num_scales}, num_layers={num_layers}"
        )
    image = keras.Input((image_size, image_size, channels), name="image")
    masks = keras.Input((image_size, image_size), dtype="int32", name="mask")
    m = MaskOneHot(num_labels, name="mask_one_hot")(masks)
    x = keras.layers.Concatenate(name="image_and_mask")([keras.layers.Activation("linear", dtype="float32")(image), m])
    outputs = []
    for scale in range(num_scales):
        if scale:
            x = keras.layers.AveragePooling2D(3, strides=2, padding="same", name=f"downsample_{scale}")(x)
        h, features = x, []
        for index in range(num_layers + 1):
            last = index == num_layers
            filters = 1 if last else discriminator_filters * min(8, 2**index)
            strides = 1 if index >= num_layers - 1 else 2
            if num_layers == 1 and index == 0:
                strides = 2
            normalised = 0 < index < num_layers  # no bias before a parameter-free norm
            conv = (SpectralNormConv2D if spectral_norm else keras.layers.Conv2D)(
                filters, 4, strides=strides, padding="same", use_bias=not normalised, name=f"scale{scale}_conv_{index}"
            )
            h = conv(h)
            if last:
                h = keras.layers.Activation("linear", dtype="float32", name=f"scale{scale}_logits")(h)
            else:
                if index:
                    h = InstanceNormalization(name=f"scale{scale}_norm_{index}")(h)
                h = keras.layers.LeakyReLU(negative_slope=0.2, name=f"scale{scale}_act_{index}")(h)
            features.append(h)
        outputs.append(features)
    return keras.Model([image, masks], outputs, name=name)
