"""SavedModel export for production pipelines that do not install ganaug.

A CellaVision-style pipeline (TF Serving, a C++/Java runtime, or ``tf.saved_model.load``) feeds raw
uint8 images or latent codes and wants uint8 images, codes or class probabilities back. Every export
here puts the pre- and post-processing inside the graph ([-1, 1] scaling, resizing, channel checks)
so the caller needs nothing of ours, and writes a ``model_card.json`` next to the SavedModel.

Signatures (all visible with ``saved_model_cli show --all --dir DIR``):

- generator: ``generate_from_latent(latent[, label]) -> {"images": uint8}`` (also ``serving_default``)
  and ``generate(num_images, seed[, label]) -> {"images", "latent"[, "labels"]}``;
- encoder: ``encode(images uint8) -> {"latent"}``;
- classifier: ``classify(images uint8) -> {"probabilities", "class_index", "class_name"}`` and
  ``class_names() -> {"class_names"}``.

Images of any height and width are accepted; they are resized (bilinear, antialiased) to the model's
size inside the graph when their size differs, and passed through untouched when it matches.

Labels of a conditional generator are checked inside the graph: a label outside
``[0, num_classes)`` makes the call fail with ``InvalidArgumentError`` (``tf.debugging.assert_*``)
naming the valid range, instead of returning images of no class (an all-zero one-hot). We chose
an error over clamping: a pipeline that asks for class 99 has a bug that must surface, and a
clamped label would silently give another class's images.
"""

import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from ganaug import __version__
from ganaug.models.prior import stateless_latents, validate_distribution
from ganaug.models.spec import GeneratorSpec
from ganaug.runs import apply_umask, load_run_model, read_config, read_metrics, write_json_atomic

MODEL_CARD_FILE = "model_card.json"
EXPORT_KINDS = ("generator", "encoder", "classifier")


def export_generator(
    generator,
    path,
    *,
    latent_distribution="normal",
    class_names=None,
    model_card=None,
    overwrite=False,
):
    """Exports a generator as a SavedModel that returns uint8 RGB images.

    Args:
        generator: a Keras generator, ``latent -> images`` or ``[latent, label] -> images``
            (conditional), images in [-1, 1]. A StyleGAN generator exports with the noise mode
            its layers have: ``set_noise_mode(generator, "const")`` first for an export in which a
            latent always gives the same image (``export_run`` does).
        path: output directory (must not exist unless ``overwrite``).
        latent_distribution: the prior the ``generate`` signature samples from, ``"normal"`` or
            ``"uniform"``.
        class_names: class names of a conditional generator (stored in the model card).
        model_card: extra entries for ``model_card.json`` (training data summary, metrics, ...).
        overwrite: replace an existing export.

    Returns:
        The export directory.

    Raises:
        ValueError: if the generator does not have the generator input/output contract.
    """
    import tensorflow as tf

    validate_distribution(latent_distribution)
    _check_built(generator, "generator")
    spec = GeneratorSpec.of(generator)  # ValueError for a model without the generator contract
    conditional, latent_dim = spec.conditional, spec.latent_dim
    output_shape = (None, *spec.image_shape)
    if conditional and not class_names:
        raise ValueError(
            "`class_names` must be given for a conditional generator (its labels need names). "
            f"Received: class_names={class_names!r}"
        )
    num_classes = len(class_names) if class_names else None

    def to_uint8(images):
        images = tf.cast(images, tf.float32)
        return tf.cast(tf.round(tf.clip_by_value((images + 1.0) * 127.5, 0.0, 255.0)), tf.uint8)

    def sample(num_images, seed):
        shape = tf.stack([num_images, latent_dim])
        return stateless_latents(shape, tf.stack([seed, tf.constant(0, tf.int64)]), latent_distribution)

    def checked(label):
        """``label`` after in-graph checks that it is a class index (InvalidArgumentError if not)."""
        message = (f"label must be a class index in [0, {num_classes}) "
                   f"(classes: {', '.join(str(name) for name in class_names)})")
        checks = [
            tf.debugging.assert_greater_equal(label, tf.constant(0, tf.int32), message=message),
            tf.debugging.assert_less(label, tf.constant(num_classes, tf.int32), message=message),
        ]
        with tf.control_dependencies(checks):
            return tf.identity(label)

    archive = _new_archive(generator)
    latent_spec = tf.TensorSpec((None, latent_dim), tf.float32, name="latent")
    if conditional:
        label_spec = tf.TensorSpec((None,), tf.int32, name="label")

        def generate_from_latent(latent, label):
            return {"images": to_uint8(generator([latent, checked(label)], training=False))}

        def generate(num_images, seed, label):
            latent = sample(num_images, seed)
            labels = tf.fill([num_images], checked(label))
            return {
                "images": to_uint8(generator([latent, labels], training=False)),
                "latent": latent,
                "labels": labels,
            }

        archive.add_endpoint("generate_from_latent", generate_from_latent, [latent_spec, label_spec])
        archive.add_endpoint(
            "generate",
            generate,
            [
                tf.TensorSpec((), tf.int32, name="num_images"),
                tf.TensorSpec((), tf.int64, name="seed"),
                tf.TensorSpec((), tf.int32, name="label"),
            ],
        )
    else:

        def generate_from_latent(latent):
            return {"images": to_uint8(generator(latent, training=False))}

        def generate(num_images, seed):
            latent = sample(num_images, seed)
            return {"images": to_uint8(generator(latent, training=False)), "latent": latent}

        archive.add_endpoint("generate_from_latent", generate_from_latent, [latent_spec])
        archive.add_endpoint(
            "generate",
            generate,
            [tf.TensorSpec((), tf.int32, name="num_images"), tf.TensorSpec((), tf.int64, name="seed")],
        )
    card = {
        "kind": "generator",
        "conditional": conditional,
        "latent_dim": int(latent_dim),
        "latent_distribution": latent_distribution,
        "image_size": [int(output_shape[1]), int(output_shape[2])],
        "channels": int(output_shape[3]),
        "class_names": list(class_names) if class_names else None,
        "num_classes": num_classes,
        "label_check": (f"labels outside [0, {num_classes}) raise InvalidArgumentError in the graph"
                        if conditional else None),
        "signatures": {
            "generate_from_latent": {
                "inputs": {"latent": f"float32 (N, {latent_dim})"}
                | ({"label": "int32 (N,)"} if conditional else {}),
                "outputs": {"images": "uint8 (N, H, W, C) RGB"},
            },
            "generate": {
                "inputs": {"num_images": "int32 ()", "seed": "int64 ()"}
                | ({"label": "int32 ()"} if conditional else {}),
                "outputs": {"images": "uint8 (N, H, W, C) RGB", "latent": "float32 (N, latent_dim)"}
                | ({"labels": "int32 (N,)"} if conditional else {}),
            },
        },
    }
    return _write(archive, path, card, generator, model_card, overwrite)


def export_spade_generator(generator, path, *, region_names=None, model_card=None, overwrite=False):
    """Exports a SPADE generator (SHI-GAN) as a SavedModel: label maps in, uint8 RGB images out.

    Signatures: ``generate(mask uint8 (N, H, W), seed int64 ())`` draws one code per mask from
    N(0, I) with the stateless seed and returns ``images`` and ``latent``;
    ``generate_from_latent(latent float32 (N, latent_dim), mask uint8 (N, H, W))``. Mask values
    outside ``[0, num_labels)`` raise InvalidArgumentError in the graph. A generator with a style
    encoder exports its decoder (codes from the prior).

    Args:
        generator: a ``build_spade_generator`` model.
        path: output directory (must not exist unless ``overwrite``).
        region_names: names of the mask labels (stored in the model card).
        model_card: extra model-card entries.
        overwrite: replace an existing export.

    Returns:
        The export directory.
    """
    import tensorflow as tf

    from ganaug.models.spade import spade_decoder_of

    _check_built(generator, "generator")
    decoder = spade_decoder_of(generator)
    latent_dim = int(decoder.inputs[0].shape[-1])
    height, width = int(decoder.inputs[1].shape[1]), int(decoder.inputs[1].shape[2])
    num_labels = int(decoder.get_layer("mask_one_hot").num_labels)
    channels = int(decoder.outputs[0].shape[-1])

    def to_uint8(images):
        return tf.cast(tf.round(tf.clip_by_value((tf.cast(images, tf.float32) + 1.0) * 127.5, 0.0, 255.0)), tf.uint8)

    def checked(mask):
        mask = tf.cast(mask, tf.int32)
        message = f"mask values must be label indices in [0, {num_labels})"
        with tf.control_dependencies([tf.debugging.assert_less(mask, tf.constant(num_labels, tf.int32), message=message)]):
            return tf.identity(mask)

    archive = _new_archive(decoder)
    mask_spec = tf.TensorSpec((None, height, width), tf.uint8, name="mask")

    def generate_from_latent(latent, mask):
        return {"images": to_uint8(decoder([latent, checked(mask)], training=False))}

    def generate(mask, seed):
        shape = tf.stack([tf.shape(mask)[0], latent_dim])
        latent = stateless_latents(shape, tf.stack([seed, tf.constant(0, tf.int64)]), "normal")
        return {"images": to_uint8(decoder([latent, checked(mask)], training=False)), "latent": latent}

    archive.add_endpoint("generate_from_latent", generate_from_latent,
                         [tf.TensorSpec((None, latent_dim), tf.float32, name="latent"), mask_spec])
    archive.add_endpoint("generate", generate, [mask_spec, tf.TensorSpec((), tf.int64, name="seed")])
    card = {
        "kind": "semantic_generator",
        "latent_dim": latent_dim,
        "latent_distribution": "normal",
        "image_size": [height, width],
        "channels": channels,
        "num_labels": num_labels,
        "region_names": list(region_names) if region_names else None,
        "signatures": {
            "generate": {"inputs": {"mask": "uint8 (N, H, W) label indices", "seed": "int64 ()"},
                         "outputs": {"images": "uint8 (N, H, W, C) RGB", "latent": "float32 (N, latent_dim)"}},
            "generate_from_latent": {"inputs": {"latent": f"float32 (N, {latent_dim})", "mask": "uint8 (N, H, W)"},
                                     "outputs": {"images": "uint8 (N, H, W, C) RGB"}},
        },
    }
    return _write(archive, path, card, decoder, model_card, overwrite)


def export_encoder(encoder, path, *, model_card=None, overwrite=False):
    """Exports an image-to-latent encoder: uint8 images in, latent codes out.

    Args:
        encoder: a Keras model ``image (N, H, W, C) in [-1, 1] -> code (N, latent_dim)``.
        path: output directory.
        model_card: extra entries for ``model_card.json``.
        overwrite: replace an existing export.

    Returns:
        The export directory.
    """
    import tensorflow as tf

    height, width, channels = _image_input_shape(encoder, "encoder")
    latent_dim = encoder.outputs[0].shape[-1]
    preprocess = _preprocessor(height, width, channels)

    def encode(images):
        return {"latent": tf.cast(encoder(preprocess(images), training=False), tf.float32)}

    archive = _new_archive(encoder)
    archive.add_endpoint(
        "encode", encode, [tf.TensorSpec((None, None, None, channels), tf.uint8, name="images")]
    )
    card = {
        "kind": "encoder",
        "image_size": [height, width],
        "channels": channels,
        "latent_dim": int(latent_dim),
        "signatures": {
            "encode": {
                "inputs": {"images": f"uint8 (N, H, W, {channels}) RGB, any H and W"},
                "outputs": {"latent": f"float32 (N, {latent_dim})"},
            }
        },
    }
    return _write(archive, path, card, encoder, model_card, overwrite)


def export_classifier(classifier, path, *, class_names, model_card=None, overwrite=False):
    """Exports an image classifier: uint8 images in, probabilities, class index and name out.

    The class names are carried inside the SavedModel (as constants returned by ``classify`` and
    by the ``class_names`` signature), so the pipeline needs no side file.

    Args:
        classifier: a Keras model ``image in [-1, 1] -> class probabilities (N, K)``.
        path: output directory.
        class_names: K class names, in index order.
        model_card: extra entries for ``model_card.json`` (metrics, training data summary).
        overwrite: replace an existing export.

    Returns:
        The export directory.

    Raises:
        ValueError: if the number of class names does not match the classifier's outputs.
    """
    import tensorflow as tf

    height, width, channels = _image_input_shape(classifier, "classifier")
    num_classes = classifier.outputs[0].shape[-1]
    if class_names is None or len(class_names) != num_classes:
        raise ValueError(
            f"`class_names` must name the classifier's {num_classes} classes. "
            f"Received: class_names={class_names!r}"
        )
    preprocess = _preprocessor(height, width, channels)
    names = tf.constant([str(name) for name in class_names], dtype=tf.string)

    def classify(images):
        probabilities = tf.cast(classifier(preprocess(images), training=False), tf.float32)
        index = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
        return {
            "probabilities": probabilities,
            "class_index": index,
            "class_name": tf.gather(names, index),
        }

    def list_class_names():
        return {"class_names": tf.identity(names)}

    archive = _new_archive(classifier)
    archive.add_endpoint(
        "classify", classify, [tf.TensorSpec((None, None, None, channels), tf.uint8, name="images")]
    )
    archive.add_endpoint("class_names", list_class_names, [])
    card = {
        "kind": "classifier",
        "image_size": [height, width],
        "channels": channels,
        "class_names": [str(name) for name in class_names],
        "num_classes": int(num_classes),
        "signatures": {
            "classify": {
                "inputs": {"images": f"uint8 (N, H, W, {channels}) RGB, any H and W"},
                "outputs": {
                    "probabilities": f"float32 (N, {num_classes})",
                    "class_index": "int32 (N,)",
                    "class_name": "string (N,)",
                },
            },
            "class_names": {"inputs": {}, "outputs": {"class_names": f"string ({num_classes},)"}},
        },
    }
    return _write(archive, path, card, classifier, model_card, overwrite)


def export_run(run_dir, out_dir, *, what="all", overwrite=False, validate=True):
    """Exports the trained models of a run directory.

    Args:
        run_dir: a run directory (``runs/NAME``) with ``config.json`` and ``<role>.keras`` files.
        out_dir: where the exports go (``out_dir/<kind>/``).
        what: ``"generator"``, ``"encoder"``, ``"classifier"`` or ``"all"`` (every model the run has).
        overwrite: replace existing exports.
        validate: reload each export in a fresh process and compare with the Keras model.

    Returns:
        dict ``kind -> export directory``.

    Raises:
        ValueError: for an unknown ``what``, or a run that has not finished training.
        FileNotFoundError: if the run or the requested model does not exist.
    """
    if what != "all" and what not in EXPORT_KINDS:
        raise ValueError(f"`what` must be one of {EXPORT_KINDS + ('all',)}. Received: what={what!r}")
    config = read_config(run_dir)
    kinds = EXPORT_KINDS if what == "all" else (what,)
    if what == "all":
        kinds = tuple(k for k in kinds if os.path.isfile(os.path.join(run_dir, f"{k}.keras")))
        if not kinds:
            raise FileNotFoundError(f"Run {os.fspath(run_dir)!r} has no trained model (*.keras) to export")
    card = {
        "run": os.path.abspath(run_dir),
        "training_data": config.get("data"),
        "training": {k: config[k] for k in ("family", "steps", "epochs", "seed") if k in config},
        "metrics": read_metrics(run_dir),
    }
    exported = {}
    for kind in kinds:
        model = load_run_model(run_dir, kind)
        target = os.path.join(os.fspath(out_dir), kind)
        if kind == "generator" and config.get("family") == "spade":
            exported[kind] = export_spade_generator(
                model, target, region_names=config.get("region_names"), model_card=card, overwrite=overwrite
            )
        elif kind == "generator":
            # StyleGAN's per-layer noise: the fixed maps stored in the model, so that a latent (and
            # `generate`'s seed) always gives the same image, as every other generator's does.
            noise = _fix_noise(model)
            exported[kind] = export_generator(
                model,
                target,
                latent_distribution=config.get("latent_distribution", "normal"),
                class_names=config.get("class_names") if GeneratorSpec.of(model).conditional else None,
                model_card=dict(card, noise_mode=noise) if noise else card,
                overwrite=overwrite,
            )
        elif kind == "encoder":
            exported[kind] = export_encoder(model, target, model_card=card, overwrite=overwrite)
        else:
            class_names = config.get("classifier_class_names") or config.get("class_names")
            exported[kind] = export_classifier(
                model, target, class_names=class_names, model_card=card, overwrite=overwrite
            )
        if validate:
            validate_export(exported[kind], model)
    return exported


def _fix_noise(generator):
    """Sets a StyleGAN generator's noise layers to ``"const"``; returns ``"const"``, or None without noise layers."""
    from ganaug.models import stylegan

    if not any(isinstance(layer, stylegan.NoiseInjection) for layer in generator._flatten_layers()):
        return None
    stylegan.set_noise_mode(generator, "const")
    return "const"


def validate_export(path, model, *, batch_sizes=(1, 3), seed=0, atol=1e-4):
    """Reloads an export in a fresh Python process (without ganaug) and compares its outputs.

    The reference is the Keras model run in this process on the same inputs. Images are compared
    as uint8 (differences of one grey level allowed, from float rounding); probabilities, codes
    within ``atol``.

    Args:
        path: the export directory (with ``model_card.json``).
        model: the Keras model that was exported.
        batch_sizes: the batch sizes to check.
        seed: seed of the random test inputs.
        atol: absolute tolerance for float outputs.

    Returns:
        dict ``signature -> max absolute difference`` over the checked batch sizes.

    Raises:
        AssertionError: if the outputs disagree.
    """
    card = read_model_card(path)
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        inputs = {}
        for batch_size in batch_sizes:
            inputs[batch_size] = _validation_inputs(card, batch_size, rng)
        np.savez(os.path.join(tmp, "inputs.npz"), **_flatten_inputs(inputs))
        script = _VALIDATION_SCRIPT.format(export=os.path.abspath(path), tmp=tmp, kind=card["kind"])
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
        if result.returncode != 0:
            raise AssertionError(f"Reloading the export {path} failed:\n{result.stderr[-3000:]}")
        outputs = dict(np.load(os.path.join(tmp, "outputs.npz")))
    differences = {}
    for batch_size, arguments in inputs.items():
        expected = _reference_outputs(card, model, arguments)
        for key, value in expected.items():
            got = outputs[f"{batch_size}/{key}"]
            if value.dtype == np.uint8:
                diff = np.abs(got.astype(np.int32) - value.astype(np.int32)).max(initial=0)
                if diff > 1:
                    raise AssertionError(f"{key} differs by {diff} grey levels at batch size {batch_size}")
            elif value.dtype.kind in "iu":
                np.testing.assert_array_equal(got, value, err_msg=f"{key} at batch size {batch_size}")
                diff = 0
            else:
                np.testing.assert_allclose(got, value, atol=atol, err_msg=f"{key} at batch size {batch_size}")
                diff = float(np.abs(got - value).max(initial=0.0))
            differences[key] = max(differences.get(key, 0.0), float(diff))
    return differences


def read_model_card(path):
    """Returns the ``model_card.json`` of an export as a dict."""
    card_path = os.path.join(os.fspath(path), MODEL_CARD_FILE)
    if not os.path.isfile(card_path):
        raise FileNotFoundError(f"No model card found: {card_path}")
    with open(card_path) as f:
        return json.load(f)


# --------------------------------------------------------------------------------------------
# Internals


def _check_built(model, argument):
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"`{argument}` must be a keras.Model. Received: {argument}={type(model).__name__}")
    if not model.built or not getattr(model, "inputs", None):
        raise ValueError(
            f"`{argument}` has no defined inputs (an unbuilt or subclassed model); export a "
            f"Functional model built by a ganaug factory or loaded from a .keras file. "
            f"Received: {argument}={model.name}"
        )
    if not model.weights:
        raise ValueError(f"`{argument}` has no weights to export. Received: {argument}={model.name}")


def _image_input_shape(model, argument):
    _check_built(model, argument)
    if len(model.inputs) != 1 or len(model.inputs[0].shape) != 4:
        raise ValueError(
            f"`{argument}` must take one image input (N, H, W, C). "
            f"Received: inputs {[tuple(i.shape) for i in model.inputs]}"
        )
    _, height, width, channels = model.inputs[0].shape
    if None in (height, width, channels):
        raise ValueError(
            f"`{argument}` must have a fixed input size to export with in-graph resizing. "
            f"Received: input shape {tuple(model.inputs[0].shape)}"
        )
    return int(height), int(width), int(channels)


def _preprocessor(height, width, channels):
    import tensorflow as tf

    def preprocess(images):
        images = tf.ensure_shape(images, (None, None, None, channels))
        images = tf.cast(images, tf.float32)
        shape = tf.shape(images)
        same = tf.logical_and(tf.equal(shape[1], height), tf.equal(shape[2], width))
        images = tf.cond(
            same,
            lambda: tf.reshape(images, (-1, height, width, channels)),
            lambda: tf.image.resize(images, (height, width), method="bilinear", antialias=True),
        )
        return (images - 127.5) / 127.5

    return preprocess


def _new_archive(model):
    import keras

    archive = keras.export.ExportArchive()
    archive.track(model)
    return archive


def _write(archive, path, card, model, extra, overwrite):
    import tensorflow as tf

    path = os.path.abspath(os.fspath(path))
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"Export directory already exists (pass overwrite=True): {path}")
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(dir=parent, prefix=".export-")
    try:
        apply_umask(staging, directory=True)  # mkdtemp makes it 0700: a colleague could not read it
        archive.write_out(staging, verbose=False)
        card = dict(card)
        card.update(
            {
                "model_name": model.name,
                "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "ganaug_version": __version__,
                "tensorflow_version": tf.__version__,
                "format": "tf_saved_model",
                "load_with": "tf.saved_model.load(path).signatures[name](**inputs)",
            }
        )
        if extra:
            card.update(extra)
        write_json_atomic(os.path.join(staging, MODEL_CARD_FILE), card)
        if os.path.exists(path):  # the old export goes only once the new one is complete
            replaced = tempfile.mkdtemp(dir=parent, prefix=".export-old-")
            os.replace(path, os.path.join(replaced, "export"))
            os.replace(staging, path)
            shutil.rmtree(replaced, ignore_errors=True)
        else:
            os.replace(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path


def _validation_inputs(card, batch_size, rng):
    kind = card["kind"]
    if kind == "semantic_generator":
        height, width = card["image_size"]
        return {"generate_from_latent": {
            "latent": rng.standard_normal((batch_size, card["latent_dim"])).astype(np.float32),
            "mask": rng.integers(0, card["num_labels"], (batch_size, height, width)).astype(np.uint8),
        }}
    if kind == "generator":
        latent = rng.standard_normal((batch_size, card["latent_dim"])).astype(np.float32)
        arguments = {"generate_from_latent": {"latent": latent}}
        if card["conditional"]:
            labels = rng.integers(0, card["num_classes"], batch_size).astype(np.int32)
            arguments["generate_from_latent"]["label"] = labels
        return arguments
    height, width = card["image_size"]
    images = rng.integers(0, 256, (batch_size, height, width, card["channels"])).astype(np.uint8)
    return {"encode" if kind == "encoder" else "classify": {"images": images}}


def _flatten_inputs(inputs):
    flat = {}
    for batch_size, signatures in inputs.items():
        for signature, arguments in signatures.items():
            for name, value in arguments.items():
                flat[f"{batch_size}/{signature}/{name}"] = value
    return flat


def _reference_outputs(card, model, arguments):
    ((signature, inputs),) = arguments.items()
    if signature == "generate_from_latent" and card["kind"] == "semantic_generator":
        from ganaug.models.spade import spade_decoder_of

        images = np.asarray(spade_decoder_of(model)([inputs["latent"], inputs["mask"].astype(np.int32)], training=False))
        return {"images": np.clip(np.rint((images + 1.0) * 127.5), 0, 255).astype(np.uint8)}
    if signature == "generate_from_latent":
        model_inputs = [inputs["latent"], inputs["label"]] if card["conditional"] else inputs["latent"]
        images = np.asarray(model(model_inputs, training=False), dtype=np.float32)
        return {"images": np.clip(np.rint((images + 1.0) * 127.5), 0, 255).astype(np.uint8)}
    images = (inputs["images"].astype(np.float32) - 127.5) / 127.5
    output = np.asarray(model(images, training=False), dtype=np.float32)
    if signature == "encode":
        return {"latent": output}
    return {"probabilities": output, "class_index": output.argmax(-1).astype(np.int32)}


_VALIDATION_SCRIPT = """
import collections, os, sys
import numpy as np
import tensorflow as tf
assert "ganaug" not in sys.modules
loaded = tf.saved_model.load({export!r})
inputs = np.load(os.path.join({tmp!r}, "inputs.npz"))
grouped = collections.defaultdict(dict)
for key in inputs.files:
    batch, signature, name = key.split("/")
    grouped[(batch, signature)][name] = tf.constant(inputs[key])
outputs = {{}}
for (batch, signature), arguments in grouped.items():
    result = loaded.signatures[signature](**arguments)
    for name, value in result.items():
        if value.dtype != tf.string:
            outputs[batch + "/" + name] = value.numpy()
assert "ganaug" not in sys.modules, "the export imported ganaug"
np.savez(os.path.join({tmp!r}, "outputs.npz"), **outputs)
"""
