"""SavedModel export: reload without ganaug, compare with Keras, signatures visible, errors."""

import json
import os
import subprocess
import sys

import cv2
import keras
import numpy as np
import pytest

from ganaug import export, runs


def tiny_generator(latent_dim=4, conditional=False, num_classes=3):
    latent = keras.Input((latent_dim,), name="latent")
    inputs = [latent]
    x = latent
    if conditional:
        label = keras.Input((), dtype="int32", name="label")
        inputs.append(label)
        x = keras.layers.Concatenate()([x, keras.layers.Embedding(num_classes, 2)(label)])
    x = keras.layers.Dense(4 * 4 * 8)(x)
    x = keras.layers.Reshape((4, 4, 8))(x)
    x = keras.layers.Conv2DTranspose(3, 3, strides=2, padding="same", activation="tanh")(x)
    return keras.Model(inputs if conditional else latent, x, name="tiny_generator")


def tiny_image_model(outputs, activation=None, size=8, channels=3):
    image = keras.Input((size, size, channels), name="image")
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu")(image)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(outputs, activation=activation)(x)
    return keras.Model(image, x)


def _call_in_fresh_process(path, calls, tmp_path):
    """Runs ``[(signature, arguments), ...]`` on the export in one process that never imports ganaug."""
    flat = {f"{i}|{name}": value for i, (_, arguments) in enumerate(calls) for name, value in arguments.items()}
    np.savez(tmp_path / "arguments.npz", **flat)
    signatures = [signature for signature, _ in calls]
    script = (
        "import sys, numpy as np, tensorflow as tf\n"
        f"m = tf.saved_model.load({str(path)!r})\n"
        f"flat = np.load({str(tmp_path / 'arguments.npz')!r})\n"
        "results = {}\n"
        f"for i, signature in enumerate({signatures!r}):\n"
        "    a = {k.split('|')[1]: tf.constant(flat[k]) for k in flat.files if k.split('|')[0] == str(i)}\n"
        "    for k, v in m.signatures[signature](**a).items():\n"
        "        results[f'{i}|{k}'] = v.numpy()\n"
        "assert 'ganaug' not in sys.modules\n"
        f"np.savez({str(tmp_path / 'out.npz')!r}, **results)\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    loaded = np.load(tmp_path / "out.npz", allow_pickle=True)
    outputs = [{} for _ in calls]
    for key in loaded.files:
        index, name = key.split("|")
        outputs[int(index)][name] = loaded[key]
    return outputs


def test_generator_export_matches_keras_in_fresh_process(tmp_path):
    generator = tiny_generator()
    path = export.export_generator(generator, tmp_path / "gen", latent_distribution="uniform")
    differences = export.validate_export(path, generator, batch_sizes=(1, 5))
    assert differences["images"] <= 1
    latent = np.random.default_rng(1).uniform(-1, 1, (2, 4)).astype(np.float32)
    seeded = {"num_images": np.int32(3), "seed": np.int64(7)}
    out, sampled, again = _call_in_fresh_process(
        path,
        [("generate_from_latent", {"latent": latent}), ("generate", seeded), ("generate", seeded)],
        tmp_path,
    )
    expected = np.clip(np.rint((np.asarray(generator(latent)) + 1) * 127.5), 0, 255)
    assert out["images"].dtype == np.uint8 and out["images"].shape == (2, 8, 8, 3)
    assert np.abs(out["images"].astype(int) - expected).max() <= 1
    assert sampled["images"].shape == (3, 8, 8, 3)
    assert sampled["latent"].min() >= -1 and sampled["latent"].max() <= 1
    np.testing.assert_array_equal(sampled["images"], again["images"])
    np.testing.assert_allclose(
        np.asarray(generator(sampled["latent"])), (sampled["images"] / 127.5 - 1), atol=1 / 127.5
    )
    card = export.read_model_card(path)
    assert card["latent_dim"] == 4 and card["latent_distribution"] == "uniform"
    assert card["tensorflow_version"] and card["ganaug_version"]


def test_conditional_generator_export(tmp_path):
    generator = tiny_generator(conditional=True)
    path = export.export_generator(generator, tmp_path / "cgen", class_names=["a", "b", "c"])
    export.validate_export(path, generator, batch_sizes=(1, 4))
    (out,) = _call_in_fresh_process(
        path, [("generate", {"num_images": np.int32(2), "seed": np.int64(0), "label": np.int32(2)})], tmp_path
    )
    np.testing.assert_array_equal(out["labels"], [2, 2])
    with pytest.raises(ValueError, match="class_names"):
        export.export_generator(generator, tmp_path / "nolabels")


def test_encoder_export_resizes_in_graph(tmp_path):
    encoder = tiny_image_model(5)
    path = export.export_encoder(encoder, tmp_path / "enc")
    export.validate_export(path, encoder, batch_sizes=(1, 2))
    big = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3)).astype(np.uint8)
    (out,) = _call_in_fresh_process(path, [("encode", {"images": big})], tmp_path)
    assert out["latent"].shape == (2, 5)


def test_classifier_export_carries_class_names_and_matches_png_pipeline(tmp_path):
    classifier = tiny_image_model(3, activation="softmax")
    names = ["basophil", "lymphocyte", "neutrophil"]
    path = export.export_classifier(classifier, tmp_path / "clf", class_names=names)
    export.validate_export(path, classifier, batch_sizes=(1, 3))
    image = np.random.default_rng(2).integers(0, 256, (8, 8, 3)).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "cell.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    from_disk = cv2.cvtColor(cv2.imread(str(tmp_path / "cell.png")), cv2.COLOR_BGR2RGB)
    expected = np.asarray(classifier((from_disk[None].astype(np.float32) - 127.5) / 127.5))
    out, listed = _call_in_fresh_process(
        path, [("classify", {"images": from_disk[None]}), ("class_names", {})], tmp_path
    )
    np.testing.assert_allclose(out["probabilities"], expected, atol=1e-5)
    assert out["class_index"][0] == expected.argmax()
    assert out["class_name"][0].decode() == names[expected.argmax()]
    assert [n.decode() for n in listed["class_names"]] == names


def test_signatures_visible_to_saved_model_cli(tmp_path):
    path = export.export_classifier(tiny_image_model(2, "softmax"), tmp_path / "clf", class_names=["a", "b"])
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    result = subprocess.run([cli, "show", "--all", "--dir", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    for name in ("classify", "class_names", "serving_default", "class_index", "probabilities"):
        assert name in result.stdout


def test_bad_exports_raise_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="class_names"):
        export.export_classifier(tiny_image_model(3, "softmax"), tmp_path / "x", class_names=["a"])
    with pytest.raises(ValueError, match="image input"):
        export.export_encoder(tiny_generator(), tmp_path / "y")
    with pytest.raises(TypeError, match="keras.Model"):
        export.export_encoder(object(), tmp_path / "z")

    class Subclassed(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match="no defined inputs"):
        export.export_classifier(Subclassed(), tmp_path / "w", class_names=["a", "b"])
    export.export_encoder(tiny_image_model(2), tmp_path / "once")
    with pytest.raises(FileExistsError):
        export.export_encoder(tiny_image_model(2), tmp_path / "once")
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".export-")]


def test_export_run_writes_every_model_with_model_card(tmp_path):
    run = runs.create_run_dir(tmp_path / "run")
    runs.write_config(run, {"family": "dcgan", "latent_dim": 4, "latent_distribution": "normal",
                            "class_names": ["a", "b"], "data": "somewhere", "steps": 10})
    runs.update_metrics(run, {"fid": 12.0})
    tiny_generator().save(runs.model_path(run, "generator"))
    tiny_image_model(2, "softmax").save(runs.model_path(run, "classifier"))
    from ganaug.cli import main

    assert main(["export", "--run", run, "--out", str(tmp_path / "exports")]) == 0
    for kind in ("generator", "classifier"):
        card = json.loads((tmp_path / "exports" / kind / "model_card.json").read_text())
        assert card["kind"] == kind and card["metrics"] == {"fid": 12.0}
        assert card["training_data"] == "somewhere"
    assert not (tmp_path / "exports" / "encoder").exists()
    assert main(["export", "--run", run, "--what", "encoder", "--out", str(tmp_path / "e")]) == 2
