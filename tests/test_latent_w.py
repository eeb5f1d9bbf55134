"""StyleGAN's W and W+ spaces: mapping, rendering, reverse search from w_avg, Saboo's encoder into W,
and directions measured on W codes. Tiny 16 px models (widths 4-8)."""

import json
import warnings

import numpy as np
import pytest

from ganaug import models
from ganaug.latent import (
    WeakDirectionWarning,
    class_w_averages,
    edit,
    fixed_noise,
    invert_images_w,
    latent_direction,
    latents_to_w,
    reconstruction_quality,
    synthesize,
    train_w_encoder,
)

TINY = dict(image_size=16, channel_base=64, channel_max=8)
LATENT, W_DIM = 6, 8


@pytest.fixture(scope="module")
def generator():
    generator = models.build_stylegan_generator(latent_dim=LATENT, w_dim=W_DIM, mapping_layers=2, seed=0, **TINY)
    z = np.random.default_rng(0).standard_normal((256, LATENT)).astype("float32")
    models.update_w_avg(generator, models.mapping_of(generator)(z), decay=0.0)
    return generator


def _noise_modes(model):
    return [layer.noise_mode for layer in model._flatten_layers() if isinstance(layer, models.NoiseInjection)]


def _all_weights(model):
    return [np.array(v.numpy()) for v in model.variables]


def test_codes_render_deterministically_and_noise_modes_come_back(generator):
    z = np.random.default_rng(1).standard_normal((3, LATENT)).astype("float32")
    w = latents_to_w(generator, z)
    assert w.shape == (3, W_DIM)
    np.testing.assert_allclose(latents_to_w(generator, z, truncation_psi=0.0), np.tile(models.w_avg_of(generator), (3, 1)))
    images = synthesize(generator, w)
    np.testing.assert_array_equal(images, synthesize(generator, w))  # const noise: same code, same image
    num_ws = models.num_ws_for(16)
    np.testing.assert_allclose(synthesize(generator, np.repeat(w[:, None], num_ws, axis=1)), images, atol=1e-6)
    assert set(_noise_modes(generator)) == {"random"}
    with fixed_noise(generator, "none"):
        assert set(_noise_modes(generator)) == {"none"}
    assert set(_noise_modes(generator)) == {"random"}
    with pytest.raises(ValueError, match=r"codes.shape=\(3, 5\)"):
        synthesize(generator, np.zeros((3, 5), np.float32))


@pytest.mark.parametrize("space", ["w", "w+"])
def test_reverse_search_from_w_avg_lowers_the_error_on_a_generated_image(generator, space):
    w_true = latents_to_w(generator, np.random.default_rng(2).standard_normal((2, LATENT)).astype("float32"))
    targets = synthesize(generator, w_true)
    before = generator.get_weights()
    result = invert_images_w(generator, targets, space=space, steps=30, learning_rate=0.05, verbose=0)
    expected_shape = (2, W_DIM) if space == "w" else (2, models.num_ws_for(16), W_DIM)
    assert result.codes.shape == expected_shape and result.space == space
    start = reconstruction_quality(targets, synthesize(generator, np.tile(models.w_avg_of(generator), (2, 1))))
    found = reconstruction_quality(targets, result.reconstructions)
    assert found["mean_mse"] < 0.7 * start["mean_mse"], (start["mean_mse"], found["mean_mse"])
    assert result.errors.mean() < result.loss_history[0]
    np.testing.assert_allclose(synthesize(generator, result.codes), result.reconstructions, atol=1e-5)
    assert all(np.array_equal(a, b) for a, b in zip(before, generator.get_weights()))
    assert set(_noise_modes(generator)) == {"random"}


def test_reverse_search_rejects_random_noise_and_bad_starts(generator):
    targets = np.zeros((2, 16, 16, 3), np.float32)
    with pytest.raises(ValueError, match="noise_mode='random'"):
        invert_images_w(generator, targets, noise_mode="random", verbose=0)
    with pytest.raises(ValueError, match="space='z'"):
        invert_images_w(generator, targets, space="z", verbose=0)
    with pytest.raises(ValueError, match="initial_codes"):
        invert_images_w(generator, targets, initial_codes=np.zeros((3, W_DIM), np.float32), verbose=0)
    with pytest.raises(ValueError, match="StyleGAN generator"):
        invert_images_w(models.synthesis_of(generator), targets, verbose=0)


def test_class_w_averages_are_the_mapping_means_per_class_and_start_a_search():
    generator = models.build_stylegan_generator(latent_dim=LATENT, w_dim=W_DIM, mapping_layers=2, num_classes=3,
                                                seed=0, **TINY)
    averages = class_w_averages(generator, samples_per_class=64, seed=7)
    assert averages.shape == (3, W_DIM) and averages.dtype == np.float32
    z = models.sample_latent(64, LATENT, seed=7)
    for c in range(3):
        expected = latents_to_w(generator, z, np.full((64,), c, np.int32)).mean(axis=0)
        np.testing.assert_allclose(averages[c], expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(averages[0], averages[1])  # the label moves w
    np.testing.assert_array_equal(averages, class_w_averages(generator, samples_per_class=64, seed=7))
    targets = synthesize(generator, averages[1:2])
    start = np.tile(averages.mean(axis=0), (1, 1))
    result = invert_images_w(generator, targets, steps=2, initial_codes=start, verbose=0)
    assert result.codes.shape == (1, W_DIM)


def test_class_w_averages_reject_an_unconditional_generator_and_bad_counts(generator):
    with pytest.raises(ValueError, match="conditional StyleGAN generator"):
        class_w_averages(generator)
    conditional = models.build_stylegan_generator(latent_dim=LATENT, w_dim=W_DIM, mapping_layers=1, num_classes=2,
                                                  seed=0, **TINY)
    with pytest.raises(ValueError, match="samples_per_class"):
        class_w_averages(conditional, samples_per_class=0)


@pytest.mark.parametrize("real_content", ["encoder", "discriminator"])
def test_saboo_encoder_trains_into_w_with_the_generator_bit_identical(generator, real_content):
    discriminator = models.build_stylegan_discriminator(seed=1, **TINY) if real_content == "discriminator" else None
    real = synthesize(generator, latents_to_w(generator, np.random.default_rng(3).standard_normal((8, LATENT))
                                              .astype("float32")))
    before = _all_weights(generator)
    result = train_w_encoder(generator, real, steps=3, batch_size=4, learning_rate=1e-3, real_content=real_content,
                             discriminator=discriminator, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, _all_weights(generator)))
    assert set(_noise_modes(generator)) == {"random"}
    assert result.history["step"] == [1, 2, 3]
    for name in ("code_loss", "synthetic_l2", "synthetic_ssim", "synthetic_content", "real_l2", "real_ssim",
                 "real_content"):
        assert len(result.history[name]) == 3 and np.all(np.isfinite(result.history[name])), name
    assert result.encoder.outputs[0].shape[-1] == W_DIM
    codes = result.encoder.predict(real[:2], verbose=0)
    assert codes.shape == (2, W_DIM)
    # The codes seed a W search (a W+ search accepts W starts too).
    assert invert_images_w(generator, real[:2], space="w+", steps=1, initial_codes=codes, verbose=0).codes.shape[1] == 6


def test_directions_on_w_codes_are_measured_held_out_and_edit_in_w(generator):
    rng = np.random.default_rng(4)
    shift = np.zeros(LATENT, np.float32)
    shift[0] = 3.0
    codes_a = latents_to_w(generator, rng.standard_normal((24, LATENT)).astype("float32"))
    codes_b = latents_to_w(generator, (rng.standard_normal((24, LATENT)) + shift).astype("float32"))
    direction = latent_direction(codes_a, codes_b, folds=3, permutations=19, seed=0)
    assert direction.vector.shape == (W_DIM,)
    assert direction.beats_null and direction.held_out_separation > 1.0
    summary = direction.summary()
    assert summary["in_sample_separation"] >= summary["held_out_separation"] > summary["null_separation_95"]
    moved = edit(codes_a[:2], direction, strengths=(-1.0, 0.0, 1.0))
    assert moved.shape == (6, W_DIM)
    assert synthesize(generator, moved).shape == (6, 16, 16, 3)


def test_edit_direction_command_reports_the_held_out_figures_in_w(tmp_path, generator):
    from ganaug.cli import main
    from ganaug.figures import save_png
    from ganaug.runs import create_run_dir, model_path, write_config

    run_dir = create_run_dir(tmp_path / "run")
    generator.save(model_path(run_dir, "generator"))
    write_config(run_dir, {"family": "stylegan", "image_size": 16, "channels": 3, "latent_dim": LATENT,
                           "latent_distribution": "normal", "class_names": None, "num_classes": None, "seed": 0})
    rng = np.random.default_rng(5)
    images = synthesize(generator, latents_to_w(generator, rng.standard_normal((8, LATENT)).astype("float32")))
    images = images / max(np.abs(images).max(), 1e-6)
    paths = [save_png(str(tmp_path / "images" / f"img{i}.png"), image) for i, image in enumerate(images)]
    out = tmp_path / "direction"
    with warnings.catch_warnings():  # two groups of one distribution: the direction may well not beat its null
        warnings.simplefilter("ignore", WeakDirectionWarning)
        code = main(["edit", "direction", "--run", run_dir, "--negative", *paths[:4], "--positive", *paths[4:],
                     "--images", paths[0], "--space", "w", "--strengths", "-1", "1", "--permutations", "9",
                     "--out", str(out), "--steps", "3", "--quiet"])
    assert code == 0
    record = json.loads((out / "direction.json").read_text())
    assert record["space"] == "w" and record["folds"] == 2  # lowered from 5: 4 codes per group
    for key in ("held_out_separation", "null_separation_95", "p_value", "in_sample_separation"):
        assert record[key] is not None, key
    assert record["separation"] == record["in_sample_separation"]
    assert np.load(out / "codes.npy").shape == (2, W_DIM)
    assert (out / "edits.png").stat().st_size > 0
