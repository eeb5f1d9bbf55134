"""The generator contract (GeneratorSpec) and the one sampling function (generate_images)."""

import numpy as np
import pytest

import ganaug.latent
import ganaug.training
from _gan_test_models import IMAGE_SIZE, LATENT_DIM, tiny_generator, tiny_images
from data_readers.image_reader import ImageReader
from ganaug.models import GeneratorSpec, build_cdcgan_generator
from ganaug.models.prior import sample_latent
from ganaug.training.data import TrainingData
from ganaug.training.sampling import generate_images


def _conditional(num_classes=3):
    return build_cdcgan_generator(image_size=IMAGE_SIZE, latent_dim=LATENT_DIM, num_classes=num_classes,
                                  generator_filters=8, kernel_size=3, seed=1)


def test_spec_reads_the_contract_and_the_run_config():
    spec = GeneratorSpec.of(tiny_generator())
    assert spec == GeneratorSpec(conditional=False, latent_dim=LATENT_DIM, image_shape=(IMAGE_SIZE, IMAGE_SIZE, 3),
                                 num_classes=None, latent_distribution=None, family="dcgan")
    conditional = GeneratorSpec.of(_conditional(4), {"latent_distribution": "uniform"})
    assert (conditional.conditional, conditional.num_classes, conditional.family) == (True, 4, "cdcgan")
    assert conditional.latent_distribution == "uniform"
    with pytest.raises(TypeError, match="Received: generator=str"):
        GeneratorSpec.of("generator.keras")


def test_one_generate_images_serves_both_call_styles():
    assert ganaug.latent.generate_images is generate_images is ganaug.training.generate_images
    generator = _conditional()
    codes = sample_latent(5, LATENT_DIM, distribution="uniform", seed=7)
    from_prior = generate_images(generator, 5, labels=[0, 1, 2, 0, 1], latent_distribution="uniform", seed=7,
                                 batch_size=2)
    from_codes = generate_images(generator, codes, [0, 1, 2, 0, 1])  # the latent tools' call
    # the same latents; another batch size may round the forward pass differently in the last bit
    np.testing.assert_allclose(from_prior, from_codes, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(from_codes, generate_images(generator, 5, labels=np.array([0, 1, 2, 0, 1]),
                                                              latents=codes))
    assert generate_images(generator, codes[:0], []).shape == (0, IMAGE_SIZE, IMAGE_SIZE, 3)
    assert generate_images(generator, codes, 2).shape == (5, IMAGE_SIZE, IMAGE_SIZE, 3)  # one label for all


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"num_images": 0}, "Received: num_images=0"),
        ({"num_images": 2, "labels": None}, "Received: labels=None"),
        ({"num_images": 2, "labels": [0.5, 1.0]}, "Received: labels.dtype=float64"),
        ({"num_images": 2, "labels": [0, -1]}, r"Received: labels=\[0, -1\]"),
        ({"num_images": np.zeros((2, LATENT_DIM + 1)), "labels": [0, 1]}, r"Received: latents.shape=\(2, 9\)"),
        ({"num_images": np.full((1, LATENT_DIM), np.nan), "labels": [0]}, "NaN"),
        ({"num_images": 2, "labels": [0, 1], "batch_size": 0}, "Received: batch_size=0"),
    ],
)
def test_generate_images_names_the_bad_value(arguments, message):
    with pytest.raises(ValueError, match=message):
        generate_images(_conditional(), **arguments)


def test_unconditional_generator_refuses_labels():
    with pytest.raises(ValueError, match="unconditional"):
        generate_images(tiny_generator(), 2, labels=[0, 1])


def test_training_data_records_the_readers_source_not_its_class_name(tmp_path):
    from data_readers.decode import to_uint8, write_image

    for k, name in enumerate(("a", "b")):
        (tmp_path / name).mkdir()
        for i, image in enumerate(tiny_images(4, seed=k)):
            write_image(str(tmp_path / name / f"{i}.png"), to_uint8(image))
    description = TrainingData(ImageReader.from_folder(tmp_path, batch_size=2), seed=0).description
    assert description.startswith("ImageReader: 8 files from ") and str(tmp_path) in description
    other = TrainingData(ImageReader.from_paths(sorted(map(str, tmp_path.glob("a/*.png"))), batch_size=2)).description
    assert "4 files" in other and other != description
