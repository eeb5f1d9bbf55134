"""Edits rendered by a generator: class inversion, soft-label interpolation, image paths, figures."""

import numpy as np
import pytest

from ganaug.latent import (
    generate_images,
    interpolate_images,
    interpolate_labels,
    invert_class,
    soft_label_generator,
    swapped_labels,
)
from ganaug.latent.figures import (
    class_inversion_figure,
    edit_figure,
    interpolation_figure,
    interpolation_strip,
    reconstruction_figure,
    save_interpolation_gif,
)
from ganaug.models import build_cdcgan_generator, build_dcgan_generator, sample_latent

LATENT_DIM = 4


@pytest.fixture
def conditional_generator():
    return build_cdcgan_generator(
        num_classes=3, image_size=16, latent_dim=LATENT_DIM, generator_filters=8, seed=0
    )


def test_class_inversion_keeps_z_and_changes_only_the_label(conditional_generator):
    codes = sample_latent(4, LATENT_DIM, seed=0)
    labels = np.array([0, 1, 2, 0], np.int32)
    targets = swapped_labels(labels, num_classes=3)
    np.testing.assert_array_equal(targets, [1, 2, 0, 1])
    result = invert_class(conditional_generator, codes=codes, labels=labels, target_labels=targets)
    np.testing.assert_array_equal(result.codes, codes)
    np.testing.assert_array_equal(result.target_labels, targets)
    np.testing.assert_allclose(result.inverted, generate_images(conditional_generator, codes, targets), atol=1e-6)
    np.testing.assert_allclose(result.reconstructions, generate_images(conditional_generator, codes, labels), atol=1e-6)
    assert not np.allclose(result.inverted, result.reconstructions)
    # Swapping to the same label changes nothing.
    same = invert_class(conditional_generator, codes=codes, labels=labels, target_labels=labels)
    np.testing.assert_allclose(same.inverted, same.reconstructions, atol=1e-6)
    # From images: reverse search first, then the same codes under the other label.
    from_images = invert_class(
        conditional_generator, images=result.reconstructions[:2], labels=labels[:2], target_labels=1,
        inversion_options={"steps": 3, "verbose": 0},
    )
    assert from_images.errors.shape == (2,)
    np.testing.assert_allclose(
        from_images.inverted, generate_images(conditional_generator, from_images.codes, [1, 1]), atol=1e-6
    )
    with pytest.raises(ValueError, match="Received: images=array, codes=array"):
        invert_class(conditional_generator, images=result.inverted, codes=codes, labels=labels, target_labels=targets)
    with pytest.raises(ValueError, match="num_classes=1"):
        swapped_labels(labels, num_classes=1)


def test_soft_label_view_reproduces_hard_labels_and_interpolates(conditional_generator):
    view = soft_label_generator(conditional_generator)
    assert view.inputs[1].shape[-1] == 3
    codes = sample_latent(2, LATENT_DIM, seed=1)
    path = interpolate_labels(conditional_generator, codes, 0, 2, num_steps=5)
    assert path["images"].shape == (2, 5, 16, 16, 3)
    np.testing.assert_allclose(path["soft_labels"][2], [0.5, 0.0, 0.5])
    np.testing.assert_allclose(path["images"][:, 0], generate_images(conditional_generator, codes, [0, 0]), atol=1e-5)
    np.testing.assert_allclose(path["images"][:, -1], generate_images(conditional_generator, codes, [2, 2]), atol=1e-5)
    single = interpolate_labels(conditional_generator, codes[0], 1, 0, num_steps=3)
    assert single["images"].shape == (3, 16, 16, 3)
    with pytest.raises(ValueError, match="end_label=3"):
        interpolate_labels(conditional_generator, codes, 0, 3)
    unconditional = build_dcgan_generator(image_size=16, latent_dim=LATENT_DIM, generator_filters=8, seed=0)
    with pytest.raises(ValueError, match="1 input"):
        soft_label_generator(unconditional)


def test_interpolate_images_inverts_endpoints_and_walks_between_them():
    generator = build_dcgan_generator(image_size=16, latent_dim=LATENT_DIM, generator_filters=8, seed=0)
    codes = sample_latent(2, LATENT_DIM, seed=2)
    images = generate_images(generator, codes)
    path = interpolate_images(
        generator, images[0], images[1], num_steps=4, method="slerp",
        inversion_options={"steps": 0, "initial_codes": codes, "verbose": 0},
    )
    assert path.codes.shape == (4, LATENT_DIM) and path.images.shape == (4, 16, 16, 3)
    np.testing.assert_allclose(path.codes[0], codes[0], atol=1e-6)
    np.testing.assert_allclose(path.codes[-1], codes[1], atol=1e-6)
    np.testing.assert_allclose(path.images[[0, -1]], images, atol=1e-5)
    assert path.soft_labels is None
    with pytest.raises(ValueError, match="labels="):
        interpolate_images(generator, images[0], images[1], labels=(0, 1))


def test_interpolate_images_between_classes_moves_the_label(conditional_generator):
    codes = sample_latent(2, LATENT_DIM, seed=3)
    images = generate_images(conditional_generator, codes, [0, 2])
    path = interpolate_images(
        conditional_generator, images[0], images[1], labels=(0, 2), num_steps=3,
        inversion_options={"steps": 0, "initial_codes": codes, "verbose": 0},
    )
    np.testing.assert_allclose(path.soft_labels, [[1, 0, 0], [0.5, 0, 0.5], [0, 0, 1]])
    np.testing.assert_allclose(path.images[[0, -1]], images, atol=1e-5)


def test_figures_have_the_expected_layout(tmp_path, rng):
    images = rng.uniform(-1, 1, (3, 8, 8, 3)).astype(np.float32)
    figure = reconstruction_figure(images, images, errors=[0.1, 0.2, 0.3], column_labels=["a", "b", "c"])
    assert len(figure.axes) == 6
    assert figure.axes[0].get_title() == "a\n0.1"
    strip = interpolation_strip(images)
    assert strip.shape == (8 + 4, 3 * 10 + 2, 3) and strip.dtype == np.uint8
    assert len(interpolation_figure(np.stack([images, images])).axes) == 6
    assert len(edit_figure(np.concatenate([images, images]), [-1, 0, 1], row_labels=["x", "y"]).axes) == 6
    assert len(class_inversion_figure(images, images, labels=[0, 1, 0], target_labels=[1, 0, 1], class_names=["n", "t"]).axes) == 6
    path = save_interpolation_gif(tmp_path / "path.gif", images)
    from PIL import Image

    with Image.open(path) as gif:
        assert gif.n_frames == 4  # 3 forward + 1 back (bounce, endpoints not repeated)
    with pytest.raises(ValueError, match="errors.shape"):
        reconstruction_figure(images, images, errors=[0.1])
