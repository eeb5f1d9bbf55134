"""Custom, serialisable Keras layers used by the ganaug model factories.

All layers are registered with ``@keras.saving.register_keras_serializable(package="ganaug")``,
keep one attribute per constructor argument and implement ``get_config``, so models that use them
survive a ``.keras`` save/load without ``custom_objects``.
"""

import keras
from keras import ops

from ganaug.models._validation import check_bool, check_integer, check_num_classes


@keras.saving.register_keras_serializable(package="ganaug")
class OneHot(keras.layers.Layer):
    """One-hot encodes integer class labels: ``(N,)`` or ``(N, 1)`` int -> ``(N, num_classes)`` float.

    Used by the conditional DCGAN generator (Fernández et al. 2021: the one-hot label is concatenated
    to z) and the AC-GAN mapping network (Klang & Carlberg).

    Args:
        num_classes: number of classes (>= 2).
        **kwargs: standard layer arguments (``name``, ``dtype``, ...).
    """

    def __init__(self, num_classes, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = check_num_classes(num_classes)

    def call(self, labels):
        labels = ops.cast(ops.reshape(labels, (-1,)), "int32")
        return ops.one_hot(labels, self.num_classes, dtype=self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        config = super().get_config()
        config.update({"num_classes": self.num_classes})
        return config


@keras.saving.register_keras_serializable(package="ganaug")
class LabelFeatureMaps(keras.layers.Layer):
    """Broadcasts integer labels to constant one-hot feature maps the size of a feature map.

    Called on ``[features (N, H, W, C), labels (N,)]``, returns ``(N, H, W, num_classes)`` where
    channel ``k`` is 1 everywhere if the label is ``k`` and 0 otherwise. The conditional DCGAN
    discriminator of Fernández et al. 2021 concatenates these maps to the output of its first
    convolution (not to the image).

    Args:
        num_classes: number of classes (>= 2).
        **kwargs: standard layer arguments.
    """

    def __init__(self, num_classes, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = check_num_classes(num_classes)

    def call(self, inputs):
        features, labels = inputs
        labels = ops.cast(ops.reshape(labels, (-1,)), "int32")
        one_hot = ops.one_hot(labels, self.num_classes, dtype=self.compute_dtype)
        shape = ops.shape(features)
        maps = ops.reshape(one_hot, (-1, 1, 1, self.num_classes))
        return ops.broadcast_to(maps, (shape[0], shape[1], shape[2], self.num_classes))

    def compute_output_shape(self, input_shape):
        features_shape = input_shape[0]
        return (features_shape[0], features_shape[1], features_shape[2], self.num_classes)

    def get_config(self):
        config = super().get_config()
        config.update({"num_classes": self.num_classes})
        return config


@keras.saving.register_keras_serializable(package="ganaug")
class RepeatChannels(keras.layers.Layer):
    """Repeats the channel axis: a grayscale ``(N, H, W, 1)`` batch becomes ``(N, H, W, repeats)``.

    Lets an RGB backbone (Xception, InceptionV3) take grayscale images.

    Args:
        repeats: how many times to repeat the channels (>= 1).
        **kwargs: standard layer arguments.
    """

    def __init__(self, repeats=3, **kwargs):
        super().__init__(**kwargs)
        self.repeats = check_integer(repeats, "repeats", minimum=1)

    def call(self, images):
        return ops.repeat(images, self.repeats, axis=-1)

    def compute_output_shape(self, input_shape):
        channels = None if input_shape[-1] is None else input_shape[-1] * self.repeats
        return (*input_shape[:-1], channels)

    def get_config(self):
        config = super().get_config()
        config.update({"repeats": self.repeats})
        return config


@keras.saving.register_keras_serializable(package="ganaug")
class DihedralView(keras.layers.Layer):
    """One of the 8 symmetries of a square image batch ``(N, S, S, C)``: ``quarter_turns`` then a flip.

    ``quarter_turns`` counter-clockwise rotations by 90 degrees (0-3), then, with ``flip``, a mirror
    of the columns; the 8 settings are the dihedral group of the square (``np.rot90`` and
    ``np.fliplr`` on the image axes).

    Args:
        quarter_turns: rotations by 90 degrees, counter-clockwise (0-3).
        flip: whether to mirror the columns after rotating.
        **kwargs: standard layer arguments.
    """

    def __init__(self, quarter_turns=0, flip=False, **kwargs):
        super().__init__(**kwargs)
        self.quarter_turns = check_integer(quarter_turns, "quarter_turns", minimum=0)
        if self.quarter_turns > 3:
            raise ValueError(f"`quarter_turns` must be in 0-3. Received: quarter_turns={quarter_turns!r}")
        self.flip = check_bool(flip, "flip")

    def call(self, images):
        for _ in range(self.quarter_turns):
            # np.rot90 on (rows, columns): transpose the image axes, then reverse the rows.
            images = ops.flip(ops.transpose(images, (0, 2, 1, 3)), axis=1)
        return ops.flip(images, axis=2) if self.flip else images

    def compute_output_shape(self, input_shape):
        if self.quarter_turns % 2:
            return (input_shape[0], input_shape[2], input_shape[1], input_shape[3])
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"quarter_turns": self.quarter_turns, "flip": self.flip})
        return config
