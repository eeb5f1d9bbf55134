"""Grad-CAM and Grad-CAM++ class-activation heatmaps for any Keras image classifier.

Grad-CAM (Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based
Localization", ICCV 2017) weighs the channels of a convolutional feature map by the spatial mean
of the class score's gradient and keeps the positive part of the weighted sum. Grad-CAM++
(Chattopadhay et al., "Grad-CAM++: Improved Visual Explanations for Deep Convolutional Networks",
WACV 2018) replaces the mean by closed-form per-pixel weights. Fernández et al. 2021 (section
4.1.1, Fig. 6) compute Grad-CAM on an InceptionV3 for real and generated images to check that the
classifier sees the same evidence in both.

The machinery is shared, as in pytorch-grad-cam: ``BaseCAM`` finds the target layer, builds one
model that returns ``[feature map, class scores]`` (also when the layer sits inside a nested
backbone, the "Graph disconnected" trap of tensorflow#44462) and turns channel weights into
heatmaps; a method overrides only ``channel_weights``.
"""

import numbers

import keras
import numpy as np
import tensorflow as tf

FEATURE_LAYER_NAME = "last_conv_features"
LOGITS_LAYER_NAME = "logits"

_CONVOLUTIONS = (
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
    keras.layers.SeparableConv2D,
    keras.layers.DepthwiseConv2D,
    keras.layers.Conv2DTranspose,
)


def _received(name, value):
    return f"Received: {name}={value!r}"


def _output_shape(layer):
    """Returns the shape of a layer's single output in the model, or None (shared/multi-output)."""
    try:
        output = layer.output
    except (AttributeError, ValueError, RuntimeError):
        return None
    if isinstance(output, (list, tuple)):
        return None
    return tuple(output.shape)


def _contains_convolution(layer):
    if isinstance(layer, _CONVOLUTIONS):
        return True
    if isinstance(layer, keras.Model):
        return any(_contains_convolution(inner) for inner in layer.layers)
    return "conv" in type(layer).__name__.lower()


def _is_softmax_layer(layer):
    if isinstance(layer, keras.layers.Softmax):
        return True
    if isinstance(layer, keras.layers.Activation):
        return getattr(layer.activation, "__name__", "") == "softmax"
    return False


def _find_layer_path(model, name):
    """Returns the list of layers from ``model`` down to the layer named ``name`` (nested), or None."""
    for layer in model.layers:
        if layer.name == name:
            return [layer]
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            path = _find_layer_path(layer, name)
            if path is not None:
                return [layer] + path
    return None


def _replay(model, call_function):
    """Calls the layers of ``model`` on a new input through ``call_function``; returns (input, output).

    Sequential models are replayed layer by layer; Functional models through
    ``keras.models.clone_model(..., clone_function=identity, call_function=...)``, which reuses the
    same layers (and weights).
    """
    if isinstance(model, keras.Sequential):
        inputs = keras.Input(batch_shape=model.inputs[0].shape, dtype=model.inputs[0].dtype)
        outputs = inputs
        for layer in model.layers:
            outputs = call_function(layer, outputs)
        return inputs, outputs
    clone = keras.models.clone_model(
        model, clone_function=lambda layer: layer, call_function=call_function
    )
    return clone.inputs[0], clone.outputs[0]


def _model_exposing(model, path, score_spec=None):
    """Returns a Model ``input -> [output of path[-1], score]`` rebuilt around nested models.

    Args:
        model: the (outer or nested) model; one input.
        path: layers from ``model`` down to the target; ``path[:-1]`` are nested models.
        score_spec: ``(layer, "output"|"input")`` naming the score tensor in ``model``, or None
            for the model's output.
    """
    target = path[0]
    if len(path) == 1 and not isinstance(target, keras.Model):
        # A plain layer of this graph: its output tensor is connected to the model's input. (A
        # nested model's `.output` belongs to its own graph, hence the replay below.)
        if score_spec is None:
            score = model.outputs[0]
        else:
            score = score_spec[0].output if score_spec[1] == "output" else score_spec[0].input
        return keras.Model(model.inputs[0], [target.output, score])
    nested_exposed = _model_exposing(target, path[1:]) if len(path) > 1 else None
    recorded = {}

    def call_function(layer, *args, **kwargs):
        if layer is target and nested_exposed is not None:
            features, output = nested_exposed(*args, **kwargs)
            recorded["features"] = features
        else:
            output = layer(*args, **kwargs)
            if len(path) == 1 and layer is target:
                recorded["features"] = output
        if score_spec is not None and layer is score_spec[0]:
            recorded["score"] = output if score_spec[1] == "output" else args[0]
        return output

    inputs, outputs = _replay(model, call_function)
    score = outputs if score_spec is None else recorded["score"]
    return keras.Model(inputs, [recorded["features"], score])


class BaseCAM:
    """Class-activation maps from the gradient of a class score with respect to a feature map.

    Finds the target layer, builds the model ``image -> [feature map, class scores]``, runs it
    batched under a ``tf.GradientTape`` and turns ``channel_weights`` into heatmaps: weighted sum
    over channels, ReLU, bilinear resize to the input resolution, division by the per-image
    maximum (an all-zero map stays zero). Subclasses override only ``channel_weights``.

    The class score is the pre-softmax score when the model has one: the output of the layer named
    ``"logits"`` (the ganaug classifier contract), else the input of a final softmax
    ``Activation``/``Softmax`` layer. Otherwise the model's output is used as is, e.g. the
    probability of a model whose last ``Dense`` has ``activation="softmax"``; Grad-CAM still works
    on probabilities but their gradients shrink as the prediction saturates.

    Args:
        model: a Keras image classifier with one input ``(N, H, W, C)``.
        layer: the target layer, by name or as a layer object; None picks the layer named
            ``"last_conv_features"``, else the last layer of the outer graph with a 4-D output
            (a nested backbone model counts as one layer). A layer inside a nested backbone may be
            named: the forward pass is then rebuilt so that its output is exposed.

    Raises:
        TypeError: if ``model`` is not a Keras model.
        ValueError: if the model has several inputs, no convolutional layer or no 4-D output, or
            ``layer`` does not name a layer with a 4-D output.
    """

    method_name = None
    #: Calls with at most this many batches run eagerly until a longer call has compiled the step.
    EAGER_MAX_BATCHES = 2

    def __init__(self, model, *, layer=None):
        if not isinstance(model, keras.Model):
            raise TypeError(f"`model` must be a keras.Model. {_received('model', type(model).__name__)}")
        try:
            inputs = model.inputs
        except (AttributeError, ValueError):
            inputs = None
        if not inputs:
            raise ValueError(
                "`model` has no defined input; build it with keras.Input(shape=...) first. "
                f"Received: model={model.name}"
            )
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise ValueError(
                "`model` must take one image input of shape (N, H, W, C). "
                f"Received: model={model.name} with inputs {[tuple(x.shape) for x in inputs]}"
            )
        self.model = model
        self.input_shape = tuple(inputs[0].shape[1:])
        path = self._target_path(model, layer)
        self.target_layer = path[-1]
        score_spec = self._score_spec(model)
        self.gradient_model = _model_exposing(model, path, score_spec)
        self.num_classes = int(self.gradient_model.outputs[1].shape[-1])
        self._compiled = False
        # One trace for every batch size (a last, smaller batch would otherwise retrace).
        self._step = tf.function(
            self._gradients,
            input_signature=[
                tf.TensorSpec((None,) + self.input_shape, tf.float32),
                tf.TensorSpec((None,), tf.int32),
            ],
        )

    @staticmethod
    def _target_path(model, layer):
        if layer is None:
            if any(candidate.name == FEATURE_LAYER_NAME for candidate in model.layers):
                return [model.get_layer(FEATURE_LAYER_NAME)]
            if not any(_contains_convolution(candidate) for candidate in model.layers):
                raise ValueError(
                    "`model` has no convolutional layer, so there is no feature map for Grad-CAM; "
                    f"pass layer=<name of a layer with a 4-D output>. Received: model={model.name}"
                )
            seen_convolution = False
            best = None
            for candidate in model.layers:
                if isinstance(candidate, keras.layers.InputLayer):
                    continue
                seen_convolution = seen_convolution or _contains_convolution(candidate)
                shape = _output_shape(candidate)
                if seen_convolution and shape is not None and len(shape) == 4:
                    best = candidate
            if best is None:
                raise ValueError(
                    "`model` has no layer with a 4-D output (N, h, w, c) after its first "
                    f"convolution, so Grad-CAM has no feature map. Received: model={model.name}"
                )
            return [best]
        name = layer.name if isinstance(layer, keras.layers.Layer) else layer
        if not isinstance(name, str):
            raise TypeError(
                f"`layer` must be a layer name or a keras layer. {_received('layer', layer)}"
            )
        path = _find_layer_path(model, name)
        if path is None:
            raise ValueError(
                f"`layer` is not a layer of the model {model.name!r} (nor of a model nested in it). "
                f"{_received('layer', name)}"
            )
        shape = _output_shape(path[-1])
        if shape is None or len(shape) != 4:
            raise ValueError(
                "`layer` must have a single 4-D output (N, h, w, c); "
                f"{name!r} has output shape {shape}. {_received('layer', name)}"
            )
        return path

    @staticmethod
    def _score_spec(model):
        names = [candidate.name for candidate in model.layers]
        if LOGITS_LAYER_NAME in names:
            return (model.get_layer(LOGITS_LAYER_NAME), "output")
        last = model.layers[-1]
        if _is_softmax_layer(last):
            return (last, "input")
        return None

    def channel_weights(self, activations, gradients):
        """Returns the per-image channel weights ``(N, c)``.

        Args:
            activations: the feature map ``A`` ``(N, h, w, c)``.
            gradients: ``dS/dA`` of the target class score ``S`` ``(N, h, w, c)``.
        """
        raise NotImplementedError

    def _gradients(self, images, class_indices):
        with tf.GradientTape() as tape:
            activations, scores = self.gradient_model(images, training=False)
            predicted = tf.argmax(scores, axis=-1, output_type=tf.int32)
            chosen = tf.where(class_indices < 0, predicted, class_indices)
            target = tf.gather(scores, chosen, batch_dims=1)
        gradients = tape.gradient(target, activations)
        weights = self.channel_weights(activations, gradients)
        cams = tf.nn.relu(tf.einsum("nhwc,nc->nhw", activations, weights))
        cams = tf.image.resize(cams[..., None], self._output_size(images), method="bilinear")[..., 0]
        peaks = tf.reduce_max(cams, axis=[1, 2], keepdims=True)
        cams = tf.math.divide_no_nan(cams, peaks)
        return cams, chosen, scores

    @staticmethod
    def _output_size(images):
        return tf.shape(images)[1:3]

    def _checked_images(self, images):
        images = np.asarray(images, dtype=np.float32)
        height, width, channels = self.input_shape
        if (
            images.ndim != 4
            or images.shape[-1] != channels
            or (height is not None and images.shape[1] != height)
            or (width is not None and images.shape[2] != width)
        ):
            expected = (
                "N",
                height if height is not None else "H",
                width if width is not None else "W",
                channels,
            )
            raise ValueError(
                f"`images` must have shape ({', '.join(map(str, expected))}) to match the model's "
                f"input. Received: images.shape={images.shape}"
            )
        return images

    def _checked_class_indices(self, class_index, count):
        if class_index is None:
            return np.full((count,), -1, dtype=np.int32)
        if isinstance(class_index, numbers.Integral) and not isinstance(class_index, bool):
            indices = np.full((count,), int(class_index), dtype=np.int64)
        else:
            indices = np.asarray(class_index)
            if indices.dtype.kind not in "iu" or indices.shape != (count,):
                raise ValueError(
                    "`class_index` must be None, an int or one int per image "
                    f"(shape ({count},)). {_received('class_index', class_index)}"
                )
        if indices.min() < 0 or indices.max() >= self.num_classes:
            raise ValueError(
                f"`class_index` must be in [0, {self.num_classes}) for this model "
                f"({self.num_classes} classes). {_received('class_index', class_index)}"
            )
        return indices.astype(np.int32)

    def compute(self, images, *, class_index=None, batch_size=32, verbose=0):
        """Returns heatmaps, class indices and class scores for ``images``.

        Args:
            images: float32 ``(N, H, W, C)`` in the model's input range (ganaug: [-1, 1]).
            class_index: the class to explain: an int for every image, an array ``(N,)`` with
                one class per image, or None for each image's predicted class.
            batch_size: images per forward/backward pass.
            verbose: 1 shows a progress bar over batches, 0 is silent.

        Returns:
            ``(heatmaps, class_indices, scores)``: float32 ``(N, H, W)`` in [0, 1], int32 ``(N,)``
            the classes explained, float32 ``(N, num_classes)`` the class scores used for the
            gradient (pre-softmax when available).

        Raises:
            ValueError: for images of the wrong shape, a class index out of range or a batch
                size < 1.
        """
        images = self._checked_images(images)
        indices = self._checked_class_indices(class_index, len(images))
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"`batch_size` must be an integer >= 1. {_received('batch_size', batch_size)}")
        heatmaps, chosen, scores = [], [], []
        progress = keras.utils.Progbar(len(images), verbose=1) if verbose else None
        # Tracing the backward pass of a large backbone costs several eager passes (about 13 s vs
        # 3 s per batch for Xception on a CPU), so short jobs run eagerly; same numbers either way.
        num_batches = -(-len(images) // batch_size)
        if num_batches > self.EAGER_MAX_BATCHES:
            self._compiled = True
        step = self._step if self._compiled else self._gradients
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size]
            cams, used, batch_scores = step(
                tf.convert_to_tensor(batch), tf.convert_to_tensor(indices[start : start + batch_size])
            )
            heatmaps.append(cams.numpy())
            chosen.append(used.numpy())
            scores.append(batch_scores.numpy())
            if progress is not None:
                progress.add(len(batch))
        if not heatmaps:
            height, width = images.shape[1:3]
            return (
                np.zeros((0, height, width), np.float32),
                np.zeros((0,), np.int32),
                np.zeros((0, self.num_classes), np.float32),
            )
        return (
            np.concatenate(heatmaps).astype(np.float32),
            np.concatenate(chosen).astype(np.int32),
            np.concatenate(scores).astype(np.float32),
        )


class GradCAM(BaseCAM):
    """Grad-CAM (Selvaraju et al. 2017): a channel's weight is the spatial mean of its gradient."""

    method_name = "gradcam"

    def channel_weights(self, activations, gradients):
        return tf.reduce_mean(gradients, axis=[1, 2])


class GradCAMPlusPlus(BaseCAM):
    """Grad-CAM++ (Chattopadhay et al. 2018), closed form with the exponential-score trick.

    With ``Y = exp(S)`` and a piecewise-linear network (ReLU), the higher derivatives are powers of
    the first one, ``d^kY/dA^k = exp(S) g^k`` with ``g = dS/dA``, so (eq. 19 of the paper)
    ``alpha_ij = g_ij^2 / (2 g_ij^2 + sum_ab A_ab g_ij^3)`` and
    ``w = sum_ij alpha_ij relu(g_ij)``. The common factor ``exp(S)`` of the weights is dropped:
    it is positive and the same for every channel, so it disappears in the normalised heatmap
    (and would overflow for large scores). ``alpha`` is 0 where the gradient is 0.
    """

    method_name = "gradcam++"

    def channel_weights(self, activations, gradients):
        squared = tf.square(gradients)
        cubed = squared * gradients
        activation_sums = tf.reduce_sum(activations, axis=[1, 2], keepdims=True)
        denominator = 2.0 * squared + activation_sums * cubed
        denominator = tf.where(tf.abs(denominator) > 1e-12, denominator, tf.ones_like(denominator))
        alphas = tf.where(tf.not_equal(gradients, 0.0), squared / denominator, tf.zeros_like(squared))
        return tf.reduce_sum(alphas * tf.nn.relu(gradients), axis=[1, 2])


METHODS = {GradCAM.method_name: GradCAM, GradCAMPlusPlus.method_name: GradCAMPlusPlus}


def build_cam(model, *, method="gradcam", layer=None):
    """Returns the CAM object for ``method`` (reuse it to explain several image sets).

    Args:
        model: a Keras image classifier with one image input.
        method: ``"gradcam"`` (Selvaraju et al. 2017) or ``"gradcam++"`` (Chattopadhay et al. 2018).
        layer: the target layer (see ``BaseCAM``); None finds it.

    Returns:
        A ``GradCAM`` or ``GradCAMPlusPlus``.

    Raises:
        ValueError: for an unknown method or a model/layer without a usable feature map.
    """
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {tuple(METHODS)}. {_received('method', method)}")
    return METHODS[method](model, layer=layer)


def gradcam_heatmaps(
    model,
    images,
    *,
    class_index=None,
    layer=None,
    method="gradcam",
    batch_size=32,
    return_class_indices=False,
    verbose=0,
):
    """Returns Grad-CAM (or Grad-CAM++) heatmaps of ``images`` for a Keras image classifier.

    Grad-CAM: Selvaraju et al. 2017; Grad-CAM++: Chattopadhay et al. 2018; used on real vs
    generated images by Fernández et al. 2021, section 4.1.1.

    Args:
        model: a Keras image classifier with one input ``(N, H, W, C)``; ganaug classifiers
            (``build_classifier``) expose ``"last_conv_features"`` and ``"logits"``, other models
            are searched for their last 4-D output (a nested backbone counts as one).
        images: float32 ``(N, H, W, C)`` in the model's input range (ganaug: [-1, 1]).
        class_index: int, array ``(N,)`` of ints, or None for each image's predicted class.
        layer: name of the target layer (may be inside a nested backbone) or None.
        method: ``"gradcam"`` or ``"gradcam++"``.
        batch_size: images per pass.
        return_class_indices: also return the int32 ``(N,)`` class indices explained.
        verbose: 1 shows a progress bar, 0 is silent.

    Returns:
        float32 ``(N, H, W)`` heatmaps in [0, 1] (each image's maximum is 1 unless the map is all
        zero), or ``(heatmaps, class_indices)``.

    Raises:
        TypeError: if ``model`` is not a Keras model.
        ValueError: for a model without a 4-D feature map, an unknown layer or method, images of
            the wrong shape or a class index out of range.
    """
    cam = build_cam(model, method=method, layer=layer)
    heatmaps, indices, _ = cam.compute(
        images, class_index=class_index, batch_size=batch_size, verbose=verbose
    )
    if return_class_indices:
        return heatmaps, indices
    return heatmaps
