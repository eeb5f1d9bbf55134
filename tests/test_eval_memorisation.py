"""The memorisation check finds planted copies of training images."""

import numpy as np
import pytest

from ganaug.evaluation.memorisation import closest_pairs_figure, downsampled_pixels, memorisation_report


def test_downsampled_pixels_average_blocks():
    images = np.zeros((1, 4, 4, 1), np.float32)
    images[0, :2, :2, 0] = 1.0
    np.testing.assert_allclose(downsampled_pixels(images, size=2), [[1.0, 0.0, 0.0, 0.0]])


def test_planted_copies_are_found(rng, tmp_path):
    real = rng.uniform(-1, 1, size=(40, 16, 16, 3)).astype(np.float32)
    generated = rng.uniform(-1, 1, size=(12, 16, 16, 3)).astype(np.float32)
    planted = {3: 5, 7: 21, 10: 38}  # generated index -> copied training index
    for g, r in planted.items():
        generated[g] = np.clip(real[r] + 0.002 * rng.normal(size=real[r].shape), -1, 1)
    report = memorisation_report(
        generated, real,
        generated_features=generated.reshape(12, -1) * 2.0, real_features=real.reshape(40, -1) * 2.0,
        pixel_size=8,
    )
    for space in ("pixel", "feature"):
        entry = report[space]
        np.testing.assert_array_equal(entry["suspected_copies"], sorted(planted))
        for g, r in planted.items():
            assert entry["nearest_real_index"][g] == r
            assert entry["ratio"][g] < 0.05
        assert entry["suspected_copy_fraction"] == pytest.approx(3 / 12)
        assert entry["ratio_quantiles"]["q00"] < 0.05 < entry["ratio_quantiles"]["q25"]
    figure = closest_pairs_figure(generated, real, report, num_pairs=4)
    path = tmp_path / "pairs.png"
    figure.savefig(path)
    assert path.stat().st_size > 1000
    assert len(figure.axes) == 8  # 4 pairs x (generated, nearest real)


def test_errors_name_the_argument(rng):
    images = rng.uniform(-1, 1, size=(4, 8, 8, 3))
    with pytest.raises(ValueError, match="Received: generated_images.shape"):
        memorisation_report(images[:, :4], images)
    with pytest.raises(ValueError, match="Received: copy_ratio_threshold=0"):
        memorisation_report(images, images, copy_ratio_threshold=0)
    report = memorisation_report(images, images)
    with pytest.raises(ValueError, match="Received: space='feature'"):
        closest_pairs_figure(images, images, report, space="feature")
