"""Edit strips along a direction (z, W, W+) and their dose response: a classifier's target-class
probability against the strength, monotone per image, and the identity drift. Tiny 16 px models."""

import json
import warnings

import keras
import numpy as np
import pytest

from _gan_test_models import LATENT_DIM, tiny_generator
from ganaug import models
from ganaug.latent import (
    EditStrip,
    WeakDirectionWarning,
    direction_response,
    edit_along,
    generate_images,
    latent_direction,
    latents_to_w,
    synthesize,
)
from ganaug.latent.figures import response_figure

TINY_STYLE = dict(image_size=16, channel_base=64, channel_max=8)
STYLE_LATENT, W_DIM = 6, 8


@pytest.fixture(scope="module")
def style_generator():
    generator = models.build_stylegan_generator(latent_dim=STYLE_LATENT, w_dim=W_DIM, mapping_layers=2, seed=0,
                                                **TINY_STYLE)
    z = np.random.default_rng(0).standard_normal((128, STYLE_LATENT)).astype("float32")
    models.update_w_avg(generator, models.mapping_of(generator)(z), decay=0.0)
    return generator


def _brightness_classifier(image_size=16, scale=4.0):
    """Two classes; P(class 1) = sigmoid(scale * mean pixel): brighter images are more "class 1"."""
    images = keras.Input((image_size, image_size, 3))
    mean = keras.layers.GlobalAveragePooling2D()(images)
    logit = keras.layers.Dense(1, use_bias=False, kernel_initializer=keras.initializers.Constant(scale / 3.0))(mean)
    probabilities = keras.layers.Concatenate()([keras.layers.Activation("sigmoid")(-logit),
                                                keras.layers.Activation("sigmoid")(logit)])
    return keras.Model(images, probabilities, name="brightness")


def test_edit_along_moves_codes_by_the_unit_step_and_renders_a_strip_per_code():
    generator = tiny_generator()
    codes = np.random.default_rng(1).standard_normal((3, LATENT_DIM)).astype("float32")
    direction = np.zeros(LATENT_DIM, np.float32)
    direction[2] = 5.0  # normalised inside: a unit step along axis 2
    strip = edit_along(generator, direction, codes=codes, strengths=(-1.0, 0.0, 2.0))
    assert strip.images.shape == (3, 3, 16, 16, 3) and strip.codes.shape == (3, 3, LATENT_DIM)
    np.testing.assert_allclose(strip.codes[:, 2, 2] - codes[:, 2], 2.0, rtol=1e-6)
    np.testing.assert_array_equal(strip.codes[:, 0, :2], codes[:, :2])
    np.testing.assert_allclose(strip.images[:, 1], generate_images(generator, codes), atol=1e-6)
    np.testing.assert_allclose(strip.reconstructions, strip.originals)
    assert strip.flat_images().shape == (9, 16, 16, 3)


def test_a_w_direction_moves_every_w_plus_row_like_a_w_edit(style_generator):
    w = latents_to_w(style_generator, np.random.default_rng(2).standard_normal((2, STYLE_LATENT)).astype("float32"))
    direction = np.random.default_rng(3).standard_normal(W_DIM).astype("float32")
    in_w = edit_along(style_generator, direction, codes=w, strengths=(-1.0, 1.0), space="w")
    in_w_plus = edit_along(style_generator, direction, codes=w, strengths=(-1.0, 1.0), space="w+")
    assert in_w_plus.codes.shape == (2, 2, models.num_ws_for(16), W_DIM)
    np.testing.assert_allclose(in_w_plus.images, in_w.images, atol=1e-5)
    np.testing.assert_allclose(in_w.images[:, 1], synthesize(style_generator, in_w.codes[:, 1]), atol=1e-6)


def test_edit_along_inverts_images_first_and_keeps_them_as_originals(style_generator):
    w = latents_to_w(style_generator, np.random.default_rng(4).standard_normal((2, STYLE_LATENT)).astype("float32"))
    targets = synthesize(style_generator, w)
    before = style_generator.get_weights()
    strip = edit_along(style_generator, np.ones(W_DIM, np.float32), images=targets, strengths=(0.0, 1.0), space="w",
                       inversion_steps=5)
    np.testing.assert_array_equal(strip.originals, targets)
    assert not np.allclose(strip.reconstructions, targets)  # 5 steps from w_avg: not yet the target
    assert all(np.array_equal(a, b) for a, b in zip(before, style_generator.get_weights()))


def test_edit_along_rejects_bad_arguments_naming_them(style_generator):
    generator = tiny_generator()
    codes = np.zeros((2, LATENT_DIM), np.float32)
    with pytest.raises(ValueError, match="exactly one of `codes` and `images`"):
        edit_along(generator, np.ones(LATENT_DIM), strengths=(0.0, 1.0))
    with pytest.raises(ValueError, match="space='w' needs a StyleGAN"):
        edit_along(generator, np.ones(LATENT_DIM), codes=codes, space="w")
    with pytest.raises(ValueError, match="strengths=\\(1.0,\\)"):
        edit_along(generator, np.ones(LATENT_DIM), codes=codes, strengths=(1.0,))
    with pytest.raises(ValueError, match="direction of length 3"):
        edit_along(generator, np.ones(3), codes=codes)
    with pytest.raises(ValueError, match="length 48 \\(flattened W\\+\\) or 8 \\(W\\)"):
        edit_along(style_generator, np.ones(5), codes=np.zeros((1, W_DIM), np.float32), space="w+")
    with pytest.raises(ValueError, match="originals.shape=\\(1, 16, 16, 3\\)"):
        edit_along(generator, np.ones(LATENT_DIM), codes=codes, originals=np.zeros((1, 16, 16, 3), np.float32))


def _strip(rows, strengths):
    """A strip of flat grey images whose brightness per row and strength is given."""
    rows = np.asarray(rows, np.float32)
    images = np.broadcast_to(rows[:, :, None, None, None], (*rows.shape, 16, 16, 3)).astype(np.float32)
    originals = images[:, list(strengths).index(0.0)].copy()
    return EditStrip(images=images.copy(), codes=np.zeros((*rows.shape, 1), np.float32),
                     strengths=np.asarray(strengths, np.float32), space="z", originals=originals,
                     reconstructions=originals.copy())


def test_response_counts_monotone_rises_and_measures_drift_against_the_original():
    classifier = _brightness_classifier()
    # Strengths unsorted on purpose: the response sorts them. Row 0 brightens steadily (monotone),
    # row 1 brightens then darkens (not monotone), row 2 darkens (falls: not monotone), row 3 flat.
    strengths = (1.0, -1.0, 0.0, 2.0)
    brightness = [[0.2, -0.4, 0.0, 0.5], [0.4, -0.4, 0.0, -0.2], [-0.2, 0.3, 0.0, -0.5], [0.1, 0.1, 0.1, 0.1]]
    response = direction_response(classifier, _strip(brightness, strengths), target_class=1)
    np.testing.assert_array_equal(response.strengths, [-1.0, 0.0, 1.0, 2.0])
    expected = 1.0 / (1.0 + np.exp(-4.0 * np.array(brightness)[:, [1, 2, 0, 3]]))
    np.testing.assert_allclose(response.probabilities, expected, rtol=1e-5)
    np.testing.assert_array_equal(response.monotone, [True, False, False, False])
    assert response.fraction_monotone == 0.25
    np.testing.assert_allclose(response.rise, expected[:, -1] - expected[:, 0], rtol=1e-5)
    np.testing.assert_allclose(response.spearman[:3], [1.0, 0.4, -1.0], atol=1e-6)  # 1 - 6 * (0 + 1 + 1 + 4) / (4 * 15)
    assert np.isnan(response.spearman[3])
    # Drift: zero / one at strength 0 (the original), MSE = squared brightness difference elsewhere.
    np.testing.assert_allclose(response.mse[:, 1], 0.0, atol=1e-7)
    np.testing.assert_allclose(response.ssim[:, 1], 1.0, atol=1e-5)
    np.testing.assert_allclose(response.mse[0], (np.array([-0.4, 0.0, 0.2, 0.5]) - 0.0) ** 2, rtol=1e-5)
    assert np.all(response.ssim[:3, [0, 2, 3]] < 1.0)
    np.testing.assert_allclose(response.original_probabilities, expected[:, 1], rtol=1e-5)
    # The other class falls where class 1 rises: none of the monotone rows stays monotone.
    assert not direction_response(classifier, _strip(brightness, strengths), target_class=0).monotone[0]
    summary = response.summary()
    json.dumps(summary)
    assert summary["fraction_monotone"] == 0.25 and summary["strengths"] == [-1.0, 0.0, 1.0, 2.0]
    figure = response_figure(response, class_name="bright")
    assert len(figure.axes) == 3


def test_up_to_rechecks_a_shorter_range_with_the_same_rule():
    classifier = _brightness_classifier()
    # Row 0 rises to strength 1 and overshoots after it; row 1 falls on the way; row 2 rises throughout.
    strengths = (0.0, 0.5, 1.0, 2.0)
    brightness = [[0.0, 0.2, 0.4, -0.3], [0.0, -0.1, 0.3, 0.5], [0.0, 0.1, 0.2, 0.3]]
    response = direction_response(classifier, _strip(brightness, strengths), target_class=1)
    np.testing.assert_array_equal(response.monotone, [False, False, True])
    short = response.up_to(1.0)
    np.testing.assert_array_equal(short.strengths, [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(short.monotone, [True, False, True])
    assert short.fraction_monotone == 2 / 3
    np.testing.assert_allclose(short.probabilities, response.probabilities[:, :3])
    np.testing.assert_allclose(short.rise, response.probabilities[:, 2] - response.probabilities[:, 0], rtol=1e-6)
    np.testing.assert_allclose(short.spearman, [1.0, 0.5, 1.0], atol=1e-6)  # row 1 ranks 2, 1, 3: 1 - 6 * 2 / 24
    assert short.ssim.shape == (3, 3) and short.mse_to_reconstruction.shape == (3, 3)
    assert short.summary()["strengths"] == [0.0, 0.5, 1.0]
    with pytest.raises(ValueError, match="max_strength=0.2"):
        response.up_to(0.2)


def test_specificity_pairs_every_image_with_its_own_control():
    classifier = _brightness_classifier()
    strengths = (0.0, 0.5, 1.0)
    # Along the class direction: row 0 rises a lot, row 1 a little, row 2 rises then falls.
    edit = direction_response(classifier, _strip([[0.0, 0.3, 0.6], [0.0, 0.05, 0.1], [0.0, 0.4, 0.2]], strengths),
                              target_class=1)
    # Along the control: row 0 a little, row 1 more than the class direction, row 2 nothing.
    control = direction_response(classifier, _strip([[0.0, 0.05, 0.1], [0.0, 0.2, 0.4], [0.0, 0.0, 0.0]], strengths),
                                 target_class=1)
    result = edit.specificity(control)
    assert result["fraction_rise_above_control"] == 2 / 3  # rows 0 and 2
    assert result["fraction_monotone_and_above_control"] == 1 / 3  # row 0 (row 2 is not monotone)
    np.testing.assert_allclose(result["median_rise"], np.median(edit.rise), rtol=1e-6)
    np.testing.assert_allclose(result["median_control_rise"], np.median(control.rise), rtol=1e-6)
    with pytest.raises(ValueError, match="same images at the same strengths"):
        edit.specificity(control.up_to(0.5))
    with pytest.raises(TypeError, match="control=dict"):
        edit.specificity(result)


def test_tolerance_absorbs_tiny_falls_of_a_saturated_probability():
    classifier = _brightness_classifier(scale=20.0)
    strip = _strip([[0.0, 0.5, 0.49]], (0.0, 1.0, 2.0))  # near 1 at 0.5 (0.99995), a fall of 1e-5 after
    assert not direction_response(classifier, strip, target_class=1, tolerance=0.0).monotone[0]
    assert direction_response(classifier, strip, target_class=1, tolerance=1e-3).monotone[0]
    stuck = _strip([[-0.9, -0.6, -0.3]], (0.0, 1.0, 2.0))  # P ~ 1e-8 .. 2e-3: a rise, but not above tolerance
    assert direction_response(classifier, stuck, target_class=1, tolerance=0.0).monotone[0]
    assert not direction_response(classifier, stuck, target_class=1, tolerance=0.01).monotone[0]
    with pytest.raises(ValueError, match="target_class=2"):
        direction_response(classifier, strip, target_class=2)
    with pytest.raises(ValueError, match="tolerance=-1.0"):
        direction_response(classifier, strip, target_class=1, tolerance=-1.0)
    with pytest.raises(TypeError, match="strip=ndarray"):
        direction_response(classifier, strip.images, target_class=1)


def test_edit_direction_command_writes_the_response_curve_and_json(tmp_path, style_generator):
    from ganaug.cli import main
    from ganaug.figures import save_png
    from ganaug.runs import create_run_dir, model_path, write_config

    run_dir = create_run_dir(tmp_path / "run")
    style_generator.save(model_path(run_dir, "generator"))
    write_config(run_dir, {"family": "stylegan", "image_size": 16, "channels": 3, "latent_dim": STYLE_LATENT,
                           "latent_distribution": "normal", "class_names": ["dark", "bright"], "num_classes": 2,
                           "seed": 0})
    classifier_path = str(tmp_path / "classifier.keras")
    _brightness_classifier().save(classifier_path)
    rng = np.random.default_rng(5)
    images = synthesize(style_generator, latents_to_w(style_generator, rng.standard_normal((10, STYLE_LATENT))
                                                      .astype("float32")))
    images = images / max(np.abs(images).max(), 1e-6)
    paths = [
        save_png(str(tmp_path / ("dark" if i < 4 else "bright") / f"img{i}.png"),
                 np.clip(image + (0.5 if i >= 4 else -0.5), -1, 1))
        for i, image in enumerate(images)
    ]
    out = tmp_path / "direction"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WeakDirectionWarning)
        code = main(["edit", "direction", "--run", run_dir, "--negative", *paths[:4], "--positive", *paths[4:8],
                     "--images", *paths[8:], "--space", "w", "--strengths", "1", "-1", "0", "--permutations", "9",
                     "--classifier", classifier_path, "--out", str(out), "--steps", "3", "--quiet"])
    assert code == 0
    record = json.loads((out / "response.json").read_text())
    assert record["target_class"] == 1 and record["target_class_name"] == "bright"  # the --positive folder's name
    assert record["strengths"] == [-1.0, 0.0, 1.0] and len(record["per_image"]) == 2
    assert 0.0 <= record["fraction_monotone"] <= 1.0 and len(record["mean_ssim"]) == 3
    assert (out / "response.png").stat().st_size > 0 and (out / "edits.png").stat().st_size > 0
    assert np.load(out / "codes.npy").shape == (6, W_DIM)
    # The one-class control: two random halves of the 4 --negative images (2 vs 2: in-sample only, said so).
    control = json.loads((out / "direction.json").read_text())["one_class_control"]
    assert control["held_out_separation"] is None and "too few" in control["note"]
    paired = record["one_class_control"]
    assert 0.0 <= paired["fraction_monotone_and_above_control"] <= paired["fraction_rise_above_control"] <= 1.0
    assert all(entry["above_control"] == (entry["rise"] > entry["control_rise"]) for entry in record["per_image"])
    assert paired["fraction_rise_above_control"] == np.mean([e["above_control"] for e in record["per_image"]])
    off = tmp_path / "no_control"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WeakDirectionWarning)
        assert main(["edit", "direction", "--run", run_dir, "--negative", *paths[:4], "--positive", *paths[4:8],
                     "--images", paths[8], "--space", "w", "--strengths", "0", "1", "--permutations", "0",
                     "--classifier", classifier_path, "--no-control", "--out", str(off), "--steps", "1",
                     "--quiet"]) == 0
    assert "one_class_control" not in json.loads((off / "response.json").read_text())
    assert json.loads((off / "direction.json").read_text())["one_class_control"] is None
    # The judge averaged over the 8 dihedral views: a brightness classifier gives the same answer for every view.
    views = tmp_path / "dihedral"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WeakDirectionWarning)
        assert main(["edit", "direction", "--run", run_dir, "--negative", *paths[:4], "--positive", *paths[4:8],
                     "--images", paths[8], "--space", "w", "--strengths", "0", "1", "--permutations", "0",
                     "--classifier", classifier_path, "--no-control", "--dihedral-average", "--out", str(views),
                     "--steps", "1", "--quiet"]) == 0
    plain, averaged = (json.loads((folder / "response.json").read_text()) for folder in (off, views))
    assert averaged["dihedral_average"] and not plain["dihedral_average"]
    np.testing.assert_allclose(averaged["per_image"][0]["probabilities"], plain["per_image"][0]["probabilities"],
                               rtol=1e-4, atol=1e-5)
    assert main(["edit", "direction", "--run", run_dir, "--negative", *paths[:4], "--positive", *paths[4:8],
                 "--images", paths[8], "--dihedral-average", "--out", str(views), "--steps", "1", "--quiet"]) == 2
    assert main(["edit", "direction", "--run", run_dir, "--negative", *paths[:4], "--positive", *paths[4:8],
                 "--images", paths[8], "--target-class", "bright", "--out", str(out), "--steps", "1", "--quiet"]) == 2
