"""Augmentation pipeline: budgets, synthesis files, the split and the experiment protocol."""

import csv
import json
import os

import keras
import numpy as np
import pytest

from data_readers.decode import write_image
from data_readers.image_reader import ImageReader
from ganaug.augment import (
    check_no_test_leak,
    class_counts_of,
    headline_table,
    per_class_delta_table,
    positive_control_set,
    run_augmentation_experiment,
    split_dataset,
    synthesis_budget,
    synthesize_dataset,
    verdict,
    wrong_labels,
)


@pytest.mark.parametrize(
    "mode, kwargs, expected",
    [
        ("grow", {"fraction": 0.5}, [50, 5, 2, 0]),
        ("balance", {}, [0, 90, 96, 100]),
        ("fixed", {"counts": 7}, [7, 7, 7, 7]),
        ("fixed", {"counts": [1, 2, 3, 4]}, [1, 2, 3, 4]),
    ],
)
def test_budget_gives_exact_counts(mode, kwargs, expected):
    assert synthesis_budget([100, 10, 4, 0], mode=mode, **kwargs) == expected


def test_budget_rejects_bad_arguments():
    with pytest.raises(ValueError, match="mode"):
        synthesis_budget([1, 2], mode="double")
    with pytest.raises(ValueError, match="fraction"):
        synthesis_budget([1, 2], fraction=-0.1)
    with pytest.raises(ValueError, match="counts"):
        synthesis_budget([1, 2], mode="fixed", counts=[1])
    assert class_counts_of([0, 2, 2], 4) == [1, 0, 2, 0]


def tiny_conditional_generator(num_classes=3, latent_dim=4, size=16):
    latent = keras.Input((latent_dim,), name="latent")
    label = keras.Input((), dtype="int32", name="label")
    x = keras.layers.Concatenate()([latent, keras.layers.Embedding(num_classes, 4)(label)])
    x = keras.layers.Dense(size * size * 3, activation="tanh")(x)
    return keras.Model([latent, label], keras.layers.Reshape((size, size, 3))(x), name="tiny_cgen")


def tiny_encoder(latent_dim=4, size=16):
    image = keras.Input((size, size, 3))
    x = keras.layers.Flatten()(image)
    return keras.Model(image, keras.layers.Dense(latent_dim)(x), name="tiny_encoder")


def make_folder_dataset(root, counts, size=16, seed=0):
    """Class k images are bright in channel k, so a classifier can learn them quickly."""
    rng = np.random.default_rng(seed)
    paths, labels = [], []
    for k, count in enumerate(counts):
        os.makedirs(root / f"class{k}", exist_ok=True)
        for i in range(count):
            image = rng.integers(0, 80, (size, size, 3)).astype(np.uint8)
            image[..., k % 3] += 150
            path = root / f"class{k}" / f"{i:03d}.png"
            write_image(str(path), image)
            paths.append(str(path))
            labels.append(k)
    return paths, np.array(labels, np.int32), [f"class{k}" for k in range(len(counts))]


@pytest.mark.parametrize("method", ["conditional", "perturbation", "interpolation"])
def test_synthesis_writes_requested_counts_and_manifest(tmp_path, method):
    paths, labels, names = make_folder_dataset(tmp_path / "real", [6, 4, 3])
    budget = [5, 0, 3]
    generator, encoder = tiny_conditional_generator(), tiny_encoder()
    summary = synthesize_dataset(
        tmp_path / "synthetic", budget, generator=generator, class_names=names,
        method=method, encoder=encoder, real_paths=paths, real_labels=labels, seed=1, verbose=0,
    )
    reader = ImageReader.from_csv(summary["manifest"], class_names=names, shuffle=False)
    assert np.bincount(reader.labels, minlength=3).tolist() == budget
    with open(summary["manifest"]) as f:
        rows = list(csv.DictReader(f))
    assert {row["method"] for row in rows} == {method}
    codes = np.load(tmp_path / "synthetic" / "latents.npy")
    assert codes.shape == (8, 4)
    if method != "conditional":
        sources = {row["source_a"] for row in rows}
        assert sources <= set(paths)
        for row in rows:
            assert names[labels[paths.index(row["source_a"])]] == row["label"]
    images = np.concatenate([batch[0] for batch in reader])
    assert images.shape == (8, 16, 16, 3) and images.min() >= -1 and images.max() <= 1
    again = synthesize_dataset(
        tmp_path / "again", budget, generator=generator, class_names=names,
        method=method, encoder=encoder, real_paths=paths, real_labels=labels, seed=1, verbose=0,
    )
    np.testing.assert_array_equal(codes, np.load(os.path.join(again["out_dir"], "latents.npy")))


def test_synthesis_rejects_bad_requests(tmp_path):
    generator = tiny_conditional_generator()
    with pytest.raises(ValueError, match="budget"):
        synthesize_dataset(tmp_path / "a", [1, 2], generator=generator, class_names=["a", "b", "c"], verbose=0)
    with pytest.raises(ValueError, match="encoder"):
        synthesize_dataset(tmp_path / "b", [1, 1, 1], generator=generator, class_names=["a", "b", "c"],
                           method="perturbation", verbose=0)
    with pytest.raises(ValueError, match="method"):
        synthesize_dataset(tmp_path / "c", [1, 1, 1], generator=generator, class_names=["a", "b", "c"],
                           method="dream", verbose=0)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("keep")
    with pytest.raises(FileExistsError):
        synthesize_dataset(tmp_path / "full", [1, 1, 1], generator=generator, class_names=["a", "b", "c"], verbose=0)


def test_split_is_stratified_disjoint_and_scenario_shrinks_training_only(tmp_path):
    paths = [f"/data/img{i}.png" for i in range(200)]
    labels = np.array([0] * 150 + [1] * 40 + [2] * 10)
    split = split_dataset(paths, labels, ["a", "b", "c"], seed=3)
    parts = [set(split.train_paths), set(split.validation_paths), set(split.test_paths)]
    assert set.union(*parts) == set(paths) and sum(map(len, parts)) == 200
    assert all(c >= 1 for c in split.counts()["test"]) and all(c >= 1 for c in split.counts()["validation"])
    again = split_dataset(paths, labels, ["a", "b", "c"], seed=3)
    assert again.test_paths == split.test_paths
    shrunk = split_dataset(paths, labels, ["a", "b", "c"], seed=3,
                           scenario={"majority_count": 20, "minority_count": 2, "minority_class": "rarest"})
    assert shrunk.counts()["train"] == [20, 20, 2]
    assert shrunk.test_paths == split.test_paths
    written = split.write(tmp_path / "split")
    with open(written["test"]) as f:
        assert len(list(csv.DictReader(f))) == len(split.test_paths)
    with pytest.raises(ValueError, match="scenario"):
        split_dataset(paths, labels, ["a", "b", "c"], scenario="huge")


def test_control_part_is_held_out_of_the_training_pool_and_never_from_test():
    paths = [f"/data/img{i}.png" for i in range(200)]
    labels = np.array([0] * 150 + [1] * 40 + [2] * 10)
    plain = split_dataset(paths, labels, ["a", "b", "c"], seed=3)
    held = split_dataset(paths, labels, ["a", "b", "c"], seed=3, control_fraction=1 / 3)
    assert held.test_paths == plain.test_paths and held.validation_paths == plain.validation_paths
    pool = np.array(plain.counts()["train"])
    control = np.array(held.counts()["control"])
    np.testing.assert_array_equal(control, np.ceil(pool / 3).astype(int))
    np.testing.assert_array_equal(np.array(held.counts()["train"]) + control, pool)
    # enough held-out images for a 50 % growth of what is left (control_fraction = 0.5 / 1.5)
    assert all(c >= b for c, b in zip(control, synthesis_budget(held.counts()["train"], fraction=0.5)))
    assert not set(held.control_paths) & (set(held.train_paths) | set(held.test_paths) | set(held.validation_paths))
    assert plain.control_paths == [] and plain.counts()["control"] == [0, 0, 0]
    # a scenario's cut images join the control part; several classes can be cut
    cut = split_dataset(paths, labels, ["a", "b", "c"], seed=3,
                        scenario={"minority_class": ["b", "c"], "minority_count": 2})
    assert cut.counts()["train"][1:] == [2, 2] and cut.counts()["control"] == [0, pool[1] - 2, pool[2] - 2]
    assert cut.test_paths == plain.test_paths
    with pytest.raises(ValueError, match="control_fraction"):
        split_dataset(paths, labels, ["a", "b", "c"], control_fraction=1.0)


def test_wrong_labels_change_every_label_and_keep_the_counts():
    labels = np.array([0] * 5 + [1] * 4 + [2] * 3 + [3] * 2)
    shuffled = wrong_labels(labels, num_classes=4, seed=0)
    assert np.all(shuffled != labels)
    np.testing.assert_array_equal(np.bincount(shuffled, minlength=4), np.bincount(labels, minlength=4))
    np.testing.assert_array_equal(shuffled, wrong_labels(labels, num_classes=4, seed=0))
    two = wrong_labels(np.array([1] * 6 + [3] * 6), num_classes=5, seed=1)
    assert np.all(two[:6] == 3) and np.all(two[6:] == 1)
    crowded = wrong_labels(np.array([0] * 8 + [1]), num_classes=3, seed=2)  # no count-keeping swap exists
    assert np.all(crowded != np.array([0] * 8 + [1]))


def test_positive_control_set_takes_the_requested_counts_and_warns_when_short():
    paths = [f"/data/img{i}.png" for i in range(200)]
    labels = np.array([0] * 150 + [1] * 40 + [2] * 10)
    split = split_dataset(paths, labels, ["a", "b", "c"], seed=3, control_fraction=1 / 3)
    picked, picked_labels, shortfall = positive_control_set(split, [5, 3, 0], seed=0)
    assert np.bincount(picked_labels, minlength=3).tolist() == [5, 3, 0] and shortfall == [0, 0, 0]
    assert set(picked) <= set(split.control_paths)
    with pytest.warns(UserWarning, match=r"c \("):
        _, short_labels, shortfall = positive_control_set(split, [0, 0, 50], seed=0)
    assert shortfall[2] == 50 - split.counts()["control"][2]


def test_leak_check_catches_test_files_in_training(tmp_path):
    paths, labels, names = make_folder_dataset(tmp_path / "real", [6, 6])
    split = split_dataset(paths, labels, names, seed=0)
    check_no_test_leak(split, synthetic_paths=[paths[0]] if paths[0] not in split.test_paths else [])
    with pytest.raises(ValueError, match="synthetic"):
        check_no_test_leak(split, synthetic_paths=[split.test_paths[0]])
    os.symlink(split.test_paths[0], tmp_path / "alias.png")
    with pytest.raises(ValueError, match="synthetic-source"):
        check_no_test_leak(split, synthetic_sources=[str(tmp_path / "alias.png")])


def test_tiny_experiment_end_to_end_is_reproducible(tmp_path):
    paths, labels, names = make_folder_dataset(tmp_path / "real", [24, 18, 12])
    split = split_dataset(paths, labels, names, seed=0)
    summary = synthesize_dataset(
        tmp_path / "synthetic", synthesis_budget(split.counts()["train"], fraction=0.5),
        generator=tiny_conditional_generator(), class_names=names, seed=0, verbose=0,
    )
    synthetic = ImageReader.from_csv(summary["manifest"], class_names=names, shuffle=False)
    options = dict(
        synthetic_paths=synthetic.paths, synthetic_labels=synthetic.labels, arms=("baseline", "synthetic"),
        seeds=(0, 1), steps=12, batch_size=8, num_bootstrap=50, verbose=0,
        classifier_options={"small_cnn_filters": (4, 8)},
    )
    result = run_augmentation_experiment(split, model_dir=str(tmp_path / "models"), **options)
    assert result["arms"] == ["baseline", "synthetic"]
    assert sorted(result["model_paths"]["baseline"]) == [0, 1]  # what the demo's Grad-CAM and export load
    assert keras.saving.load_model(result["model_paths"]["synthetic"][1], compile=False).output_shape == (None, 3)
    real, grown = len(split.train_paths), len(split.train_paths) + len(synthetic.paths)
    assert [r["num_train"] for r in result["runs"]] == [real, real, grown, grown]
    total_test = len(split.test_paths)
    assert result["confusion_matrices"]["baseline"].sum() == 2 * total_test
    delta = result["deltas"]["synthetic"]
    assert len(delta["per_class_f1"]) == 3
    low, high = delta["f1_weighted"]["ci_seeds"]
    assert low <= delta["f1_weighted"]["mean"] <= high
    differences = [s - b for s, b in zip(result["summary"]["synthetic"]["f1_weighted"]["values"],
                                         result["summary"]["baseline"]["f1_weighted"]["values"])]
    assert delta["f1_weighted"]["mean"] == pytest.approx(np.mean(differences))
    assert all(r["steps_trained"] == 12 for r in result["runs"])  # the same schedule for every arm
    assert {"ci_seeds", "ci_bootstrap", "ci_hierarchical", "call", "mde"} <= set(delta["f1_weighted"])
    assert "synthetic" in headline_table(result) and "class2" in per_class_delta_table(result)
    assert "MDE" in headline_table(result)
    sentences = verdict(result)
    assert any("Rare class" in sentence for sentence in sentences)
    assert "hierarchical" in sentences[0] and any("No controls were run" in s for s in sentences)
    repeat = run_augmentation_experiment(split, **options)
    assert repeat["summary"]["synthetic"]["f1_weighted"]["values"] == result["summary"]["synthetic"]["f1_weighted"]["values"]
    with pytest.raises(ValueError, match="seeds"):
        run_augmentation_experiment(split, seeds=(0,), arms=("baseline",))
    with pytest.raises(ValueError, match="control_fraction"):
        run_augmentation_experiment(split, arms=("baseline",), controls=True)


def test_augment_command_runs_on_a_folder_with_a_run(tmp_path):
    from ganaug import runs
    from ganaug.cli import main

    make_folder_dataset(tmp_path / "data", [10, 8, 6])
    run = runs.create_run_dir(tmp_path / "run")
    runs.write_config(run, {"family": "cdcgan", "latent_dim": 4, "latent_distribution": "normal",
                            "class_names": ["class0", "class1", "class2"], "data": str(tmp_path / "elsewhere")})
    tiny_conditional_generator().save(runs.model_path(run, "generator"))
    code = main(["augment", "--data", str(tmp_path / "data"), "--run", run, "--out", str(tmp_path / "out"),
                 "--steps", "3", "--seeds", "0", "1", "--arms", "baseline", "synthetic", "--controls", "--quiet"])
    assert code == 0
    assert (tmp_path / "out" / "report.html").exists() and (tmp_path / "out" / "experiment.json").exists()
    assert (tmp_path / "out" / "split" / "test.csv").exists() and (tmp_path / "out" / "split" / "control.csv").exists()
    assert (tmp_path / "out" / "forest_plot.png").stat().st_size > 1000
    saved = json.loads((tmp_path / "out" / "experiment.json").read_text())
    assert saved["arms"] == ["baseline", "synthetic", "positive_control", "negative_control"]
    assert "positive" in saved["controls"] and "negative" in saved["controls"]
    assert main(["augment", "--data", str(tmp_path / "missing"), "--run", run, "--out", str(tmp_path / "x")]) == 2


def test_table4_scenarios_give_the_papers_counts_and_one_test_set():
    # Fernández et al. 2021, Table 4: 500 negative + 68 positive for training, 500 + 500 unseen test
    # images; the balanced reference arm 500 + 500. "normal" is class 0: the positive class is named.
    paths = [f"/wsi/patch{i}.png" for i in range(2400)]
    labels = np.array([0] * 1200 + [1] * 1200)
    names = ["normal", "tumor"]
    imbalanced = split_dataset(paths, labels, names, scenario="fernandez2021_table4", seed=0)
    balanced = split_dataset(paths, labels, names, scenario="fernandez2021_table4_balanced", seed=0)
    assert imbalanced.counts()["train"] == [500, 68]
    assert balanced.counts()["train"] == [500, 500]
    assert imbalanced.counts()["test"] == balanced.counts()["test"] == [500, 500]
    assert imbalanced.test_paths == balanced.test_paths
    with pytest.raises(ValueError, match=r"minority_class=.tumor."):
        split_dataset(paths, labels, ["negative", "positive"], scenario="fernandez2021_table4", seed=0)
    with pytest.raises(ValueError, match="test_count=500"):
        split_dataset(paths[:400], labels[:400], ["normal"], scenario="fernandez2021_table4_balanced")


def test_experiment_refuses_a_synthetic_image_made_from_a_test_image(tmp_path):
    from ganaug.augment import synthesis_sources

    paths, labels, names = make_folder_dataset(tmp_path / "real", [8, 8])
    split = split_dataset(paths, labels, names, seed=0)
    test_index = paths.index(split.test_paths[0])
    summary = synthesize_dataset(  # perturbation of E(x) for a test image x: the test image leaks
        tmp_path / "synthetic", [1, 0], generator=tiny_conditional_generator(2), class_names=names,
        method="perturbation", encoder=tiny_encoder(), real_paths=[paths[test_index]],
        real_labels=[labels[test_index]] if labels[test_index] == 0 else [0], seed=0, verbose=0,
    )
    synthetic = ImageReader.from_csv(summary["manifest"], class_names=names, shuffle=False)
    assert synthesis_sources(summary["manifest"]) == [paths[test_index]]
    with pytest.raises(ValueError, match="synthetic-source"):
        run_augmentation_experiment(
            split, synthetic_paths=synthetic.paths, synthetic_labels=synthetic.labels,
            synthetic_sources=synthesis_sources(summary["manifest"]), arms=("baseline", "synthetic"), seeds=(0, 1),
            steps=2, verbose=0,
        )


def test_classical_augmentation_is_rotate_and_zoom_with_flips_an_option():
    from ganaug.training.classifier import classical_augmentation, train_classifier

    assert [type(layer).__name__ for layer in classical_augmentation().layers] == ["RandomRotation", "RandomZoom"]
    flipping = classical_augmentation(flip="horizontal")
    assert [type(layer).__name__ for layer in flipping.layers] == ["RandomFlip", "RandomRotation", "RandomZoom"]
    with pytest.raises(ValueError, match="Received: shear=0.1"):
        train_classifier(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")]),
                         (np.zeros((4, 4), np.float32), np.zeros(4, np.int32)), steps=1, augment="classical",
                         augmentation_options={"shear": 0.1}, verbose=0)
