"""Segmentation: the paper's mPA/mIoU against hand-computed confusion matrices, the segmenter, the experiment."""

import numpy as np
import pytest

from ganaug.segmentation import build_segmentation_model, confusion_matrix, segmentation_scores
from ganaug.segmentation.evaluation import derangement, mask_following, run_segmentation_experiment, table_one
from ganaug.segmentation.metrics import per_image_confusions, scores_from_confusion


def test_scores_against_a_hand_computed_confusion_matrix():
    truth = np.array([[0, 0, 1], [1, 2, 2]])
    predicted = np.array([[0, 1, 1], [1, 2, 0]])
    confusion = confusion_matrix(truth, predicted, 3)
    np.testing.assert_array_equal(confusion, [[1, 1, 0], [0, 2, 0], [1, 0, 1]])
    scores = scores_from_confusion(confusion)
    # class 0: TP 1, FP 1, FN 1, TN 3 -> PA 4/6, IoU 1/3; class 1: TP 2, FP 1, FN 0, TN 3 -> PA 5/6,
    # IoU 2/3; class 2: TP 1, FP 0, FN 1, TN 4 -> PA 5/6, IoU 1/2
    np.testing.assert_allclose(scores["pixel_accuracy"], [4 / 6, 5 / 6, 5 / 6])
    np.testing.assert_allclose(scores["iou"], [1 / 3, 2 / 3, 1 / 2])
    np.testing.assert_allclose(scores["mPA"], (4 / 6 + 5 / 6 + 5 / 6) / 3)
    np.testing.assert_allclose(scores["mIoU"], (1 / 3 + 2 / 3 + 1 / 2) / 3)
    np.testing.assert_allclose(scores["recall"], [1 / 2, 1, 1 / 2])
    np.testing.assert_allclose(scores["overall_accuracy"], 4 / 6)
    # a class absent from truth and prediction is left out of the means
    absent = segmentation_scores(truth, predicted, 4)
    assert np.isnan(absent["iou"][3]) and absent["mIoU"] == pytest.approx(scores["mIoU"])
    np.testing.assert_array_equal(per_image_confusions(truth[None], predicted[None], 3)[0], confusion)
    with pytest.raises(ValueError, match="predicted_masks range"):
        confusion_matrix(truth, predicted + 5, 3)


def test_segmentation_model_shapes_and_errors():
    model = build_segmentation_model("unet_small", 4, 16, filters=4)
    assert model.output_shape == (None, 16, 16, 4)
    with pytest.raises(ValueError, match="Received: architecture='fcn'"):
        build_segmentation_model("fcn", 4, 16)
    with pytest.raises(ValueError, match="Received: image_size=20"):
        build_segmentation_model("unet_small", 4, 20)


def test_derangement_has_no_fixed_point():
    order = derangement(5, seed=1)
    assert sorted(order) == list(range(5)) and not np.any(order == np.arange(5))


def _colour_pairs(count, seed):
    rng = np.random.default_rng(seed)
    masks = np.kron(rng.integers(0, 3, (count, 4, 4)), np.ones((4, 4), np.int64)).astype(np.int32)
    colours = np.array([[0.8, 0.8, 0.8], [-0.8, 0.0, 0.6], [0.6, -0.7, -0.6]], np.float32)
    return colours[masks] + 0.05 * rng.normal(size=(count, 16, 16, 3)).astype(np.float32), masks


class _ColourGenerator:
    """Stands in for a SPADE decoder in the experiment: paints each label its colour (or ignores it)."""

    def __init__(self, follow):
        import keras

        from ganaug.models.spade import MaskOneHot

        z = keras.Input((2,))
        masks = keras.Input((16, 16), dtype="int32")
        one_hot = MaskOneHot(3)(masks)
        colours = np.array([[0.8, 0.8, 0.8], [-0.8, 0.0, 0.6], [0.6, -0.7, -0.6]], np.float32)
        if follow:
            out = keras.layers.Lambda(lambda m: keras.ops.einsum("nhwl,lc->nhwc", m, colours))(one_hot)
        else:
            out = keras.layers.Lambda(lambda m: keras.ops.zeros_like(m) + colours[0])(one_hot)
        self.model = keras.Model([z, masks], out)


def test_mask_following_separates_a_following_generator_from_one_that_ignores_masks():
    from ganaug.segmentation import train_segmenter

    images, masks = _colour_pairs(32, 0)
    segmenter = train_segmenter(images, masks, num_labels=3, steps=40, batch_size=16, filters=4, seed=0)
    test_masks = _colour_pairs(16, 1)[1]
    following = mask_following(_ColourGenerator(True).model, segmenter, test_masks, num_labels=3)
    ignoring = mask_following(_ColourGenerator(False).model, segmenter, test_masks, num_labels=3)
    assert following["generated"]["mIoU"] > following["shuffled_control"]["mIoU"] + 0.2
    assert abs(ignoring["margin"]) < 0.1


@pytest.mark.slow
def test_experiment_runs_every_arm_and_seed_with_intervals():
    images, masks = _colour_pairs(32, 0)
    test_masks = _colour_pairs(16, 1)[1]
    result = run_segmentation_experiment(
        _ColourGenerator(True).model, images, masks, *_colour_pairs(16, 2), num_labels=3, new_masks=test_masks,
        arms=("real", "synthetic_new"), seeds=(0, 1), steps=3, batch_size=16, filters=4, num_bootstrap=20,
    )
    assert set(result["arms"]) == {"real", "synthetic_new"}
    real = result["arms"]["real"]
    assert len(real["per_seed"]) == 2 and real["mIoU"]["ci_seeds"][0] <= real["mIoU"]["mean"] <= real["mIoU"]["ci_seeds"][1]
    assert "delta_vs_real" in result["arms"]["synthetic_new"]
    table = table_one(result)
    assert "| synthetic_new |" in table and "mIoU" in table
    with pytest.raises(ValueError, match="new_masks=None"):
        run_segmentation_experiment(_ColourGenerator(True).model, images, masks, images, masks, num_labels=3,
                                    arms=("synthetic_new",))
