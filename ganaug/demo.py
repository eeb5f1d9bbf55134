"""``ganaug demo``: the toolkit's main job, end to end, on the embedded blood-cell data set.

The steps of Klang & Carlberg's CellaVision thesis (and the checks of Fernández et al. 2021), at a
size a 2-core CPU finishes in about a quarter of an hour:

1. make the embedded data set (``data_readers.synthetic``) and one fixed train/validation/test split;
2. train the vanilla GAN (DCGAN, preset ``fernandez2021`` scaled down) on the training part;
3. build the AC-GAN on the frozen vanilla generator and discriminator and train its new layers;
4. train the image-to-latent encoder against the frozen vanilla generator;
5. reverse search and interpolation figures (Fernández sec. 3.3);
6. evaluate the AC-GAN (FID/KID in a domain feature space, precision/recall, diversity,
   memorisation, TSTR/TRTS);
7. grow every class by 50 % with AC-GAN images and run the augmentation experiment (baseline,
   classical, synthetic, classical+synthetic; several seeds; confidence intervals);
8. Grad-CAM on real vs generated images of the rarest class;
9. export the generator, encoder and classifier as SavedModels; write ``report.html``/``report.md``.

Every size is a parameter (``DEMO_PRESETS``): ``"cpu"`` is the default, ``"smoke"`` takes about a
minute (for tests and notebooks), ``"gpu"`` is closer to the thesis (256 px needs a GPU).

Two choices differ from the thesis, on purpose: the vanilla GAN uses the DCGAN of Fernández et al.
(batch norm, Adam beta_1 = 0.5), which trains far better in a few hundred CPU steps than the
thesis's dropout discriminator with Adam 1e-5; and the AC-GAN's mapping network ends in a linear
layer instead of ReLU, because a ReLU output covers only the positive half of the frozen
generator's N(0, I) latent space and collapsed every class onto one image in our runs (the thesis
reports a collapse on class 0 too). ``--gan-preset klang_carlberg2020`` and
``acgan_options={"mapping_output_activation": "relu"}`` restore the thesis's choices.
"""

import copy
import json
import os
import time

import numpy as np

DEMO_PRESETS = {
    "cpu": {
        "image_size": 32,
        "num_images": 2400,
        "gan_preset": "fernandez2021",
        "model_options": {"generator_filters": 64, "discriminator_filters": 32},
        "acgan_options": {"mapping_output_activation": "linear"},
        "batch_size": 32,
        "learning_rate": 2e-4,
        "gan_steps": 900,
        "acgan_steps": 400,
        "encoder_steps": 300,
        "inversion_steps": 200,
        "classifier_epochs": 10,
        "seeds": (0, 1, 2),
        "evaluation_samples": 600,
        "growth_fraction": 0.5,
        "scenario": "full",
    },
    "smoke": {
        "image_size": 16,
        "num_images": 240,
        "gan_preset": "fernandez2021",
        "model_options": {"generator_filters": 16, "discriminator_filters": 8},
        "acgan_options": {"mapping_output_activation": "linear"},
        "batch_size": 16,
        "learning_rate": 2e-4,
        "gan_steps": 12,
        "acgan_steps": 8,
        "encoder_steps": 8,
        "inversion_steps": 10,
        "classifier_epochs": 1,
        "seeds": (0, 1),
        "evaluation_samples": 64,
        "growth_fraction": 0.5,
        "scenario": "full",
    },
    "gpu": {
        "image_size": 64,
        "num_images": 12000,
        "gan_preset": "fernandez2021",
        "model_options": {"generator_filters": 256, "discriminator_filters": 64},
        "acgan_options": {"mapping_output_activation": "linear"},
        "batch_size": 64,
        "learning_rate": 2e-4,
        "gan_steps": 20000,
        "acgan_steps": 5000,
        "encoder_steps": 5000,
        "inversion_steps": 500,
        "classifier_epochs": 30,
        "seeds": (0, 1, 2, 3, 4),
        "evaluation_samples": 5000,
        "growth_fraction": 0.5,
        "scenario": "full",
    },
}


def demo_config(preset="cpu", **overrides):
    """Returns the demo settings of ``preset`` with ``overrides`` (None values ignored) applied.

    Raises:
        ValueError: for an unknown preset or setting.
    """
    if preset not in DEMO_PRESETS:
        raise ValueError(f"`preset` must be one of {sorted(DEMO_PRESETS)}. Received: preset={preset!r}")
    config = copy.deepcopy(DEMO_PRESETS[preset])
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in config:
            raise ValueError(f"Unknown demo setting {key!r}; known: {sorted(config)}. Received: {key}={value!r}")
        config[key] = value
    size = config["image_size"]
    if not isinstance(size, int) or size < 16 or size > 512 or size & (size - 1):
        raise ValueError(f"`image_size` must be a power of two from 16 to 512. Received: image_size={size!r}")
    if len(config["seeds"]) < 2:
        raise ValueError(f"`seeds` needs at least 2 seeds for a confidence interval. Received: seeds={config['seeds']}")
    config["demo_preset"] = preset
    return config


def run_demo(out_dir="runs/demo", *, preset="cpu", seed=0, verbose=1, **overrides):
    """Runs the whole pipeline on the embedded data set and writes the report.

    Args:
        out_dir: the demo's folder (data, runs, synthetic images, figures, exports, report).
        preset: ``"cpu"`` (default, about 15 min on 2 cores), ``"smoke"`` or ``"gpu"``.
        seed: seed of the data set, the split and every training.
        verbose: 0 silent, 1 progress of each step.
        **overrides: any setting of ``DEMO_PRESETS`` (``image_size``, ``gan_steps``, ...).

    Returns:
        dict with the headline numbers and the paths of ``report.html``/``report.md``.
    """
    from data_readers.image_reader import ImageReader, read_images
    from data_readers.synthetic import make_blood_cell_dataset
    from ganaug import augment, runs
    from ganaug.figures import save_figure, save_image_grid
    from ganaug.latent import encode, interpolate_codes, invert_images, reconstruction_quality, train_encoder
    from ganaug.latent.figures import interpolation_figure, reconstruction_figure, save_interpolation_gif
    from ganaug.latent.inversion import generate_images as decode
    from ganaug.training import generate_images, train_gan

    config = demo_config(preset, **overrides)
    config["seed"] = seed
    out_dir = os.path.abspath(os.fspath(out_dir))
    figures_dir = os.path.join(out_dir, "figures")
    os.makedirs(figures_dir, exist_ok=True)
    timings, state = {}, {"config": config, "out_dir": out_dir}
    say = print if verbose else (lambda *a, **k: None)
    progress = 1 if verbose else 0

    def step(name):
        say(f"\n=== {name}")
        timings[name] = time.time()

    def done(name):
        timings[name] = round(time.time() - timings[name], 1)

    # 1. data and split -------------------------------------------------------------------------
    step("data")
    data_dir = os.path.join(out_dir, "data")
    if not os.path.isfile(os.path.join(data_dir, "manifest.csv")):
        make_blood_cell_dataset(data_dir, image_size=config["image_size"], num_images=config["num_images"],
                                seed=seed, overwrite=True, verbose=progress)
    everything = ImageReader.from_folder(data_dir, shuffle=False)
    class_names = everything.class_names
    split = augment.split_dataset(everything.paths, everything.labels, class_names, seed=seed,
                                  scenario=config["scenario"])
    state["split_files"] = split.write(os.path.join(out_dir, "split"))
    state["class_names"] = class_names
    state["counts"] = split.counts()
    say(f"{len(everything.paths)} images, {len(class_names)} classes; train/val/test = "
        f"{len(split.train_paths)}/{len(split.validation_paths)}/{len(split.test_paths)}")
    example_rows = [read_images([p for p, l in zip(split.train_paths, split.train_labels) if l == k][:8])
                    for k in range(len(class_names))]
    state["figure_data"] = _save_rows(os.path.join(figures_dir, "data_examples.png"), example_rows,
                                      class_names, "Real training images per class")

    def train_reader(batch_size=config["batch_size"], drop_remainder=True):
        return ImageReader.from_paths(split.train_paths, split.train_labels, class_names=class_names,
                                      batch_size=batch_size, seed=seed, drop_remainder=drop_remainder)

    done("data")

    # 2. vanilla GAN ----------------------------------------------------------------------------
    step("vanilla GAN (DCGAN)")
    vanilla_dir = os.path.join(out_dir, "runs", "vanilla")
    common = dict(preset=config["gan_preset"], image_size=config["image_size"], batch_size=config["batch_size"],
                  generator_learning_rate=config["learning_rate"],
                  discriminator_learning_rate=config["learning_rate"], seed=seed, verbose=progress)
    history = train_gan("dcgan", train_reader(), run_dir=vanilla_dir, steps=config["gan_steps"],
                        model_options=config["model_options"],
                        sample_every=max(1, config["gan_steps"] // 4), checkpoint_every=max(1, config["gan_steps"] // 2),
                        **common)
    state["vanilla_history"] = _last(history)
    done("vanilla GAN (DCGAN)")

    # 3. AC-GAN on the frozen backbone ------------------------------------------------------------
    step("AC-GAN on the frozen vanilla GAN")
    acgan_dir = os.path.join(out_dir, "runs", "acgan")
    history = train_gan("acgan", train_reader(), run_dir=acgan_dir, steps=config["acgan_steps"],
                        base_run=vanilla_dir, model_options=config["acgan_options"], sample_every=max(1, config["acgan_steps"] // 2),
                        checkpoint_every=max(1, config["acgan_steps"] // 2), **common)
    state["acgan_history"] = _last(history)
    run_config = runs.read_config(acgan_dir)
    latent_distribution = run_config["latent_distribution"]
    acgan_generator = runs.load_run_model(acgan_dir, "generator")
    vanilla_generator = runs.load_run_model(vanilla_dir, "generator")
    per_class = 8
    labels = np.repeat(np.arange(len(class_names)), per_class).astype(np.int32)
    samples = generate_images(acgan_generator, len(labels), labels=labels,
                              latent_distribution=latent_distribution, seed=seed)
    state["figure_acgan_samples"] = _save_rows(
        os.path.join(figures_dir, "acgan_samples.png"), samples.reshape(len(class_names), per_class, *samples.shape[1:]),
        class_names, "AC-GAN samples, one row per requested class")
    vanilla_samples = generate_images(vanilla_generator, 64, latent_distribution=latent_distribution, seed=seed)
    state["figure_vanilla_samples"] = save_image_grid(os.path.join(figures_dir, "vanilla_samples.png"),
                                                      vanilla_samples, num_columns=8)
    done("AC-GAN on the frozen vanilla GAN")

    # 4. encoder ----------------------------------------------------------------------------------
    step("image-to-latent encoder")
    encoder_result = train_encoder(vanilla_generator, train_reader(), mode="cyclic", steps=config["encoder_steps"],
                                   learning_rate=1e-4, batch_size=config["batch_size"],
                                   latent_distribution=latent_distribution, seed=seed, verbose=progress,
                                   encoder=_encoder_for(vanilla_generator, config, seed))
    encoder = encoder_result.encoder
    encoder.save(runs.model_path(vanilla_dir, "encoder"))
    done("image-to-latent encoder")

    # 5. latent space: reverse search, encoder, interpolation -------------------------------------
    step("latent space")
    first_of_class = [split.test_labels.tolist().index(k) for k in range(len(class_names)) if k in split.test_labels]
    targets = read_images([split.test_paths[i] for i in first_of_class])
    searched = invert_images(vanilla_generator, targets, steps=config["inversion_steps"], restarts=2,
                             latent_distribution=latent_distribution, seed=seed, verbose=progress)
    encoded = encode(encoder, targets)
    refined = invert_images(vanilla_generator, targets, steps=max(1, config["inversion_steps"] // 4),
                            initial_codes=encoded, latent_distribution=latent_distribution, seed=seed, verbose=0)
    encoder_images = decode(vanilla_generator, encoded)
    quality = {
        "reverse_search": reconstruction_quality(targets, searched.reconstructions),
        "encoder": reconstruction_quality(targets, encoder_images),
        "encoder_then_search": reconstruction_quality(targets, refined.reconstructions),
    }
    state["latent_quality"] = {k: {m: float(v[m]) for m in ("mse", "psnr", "ssim")} for k, v in
                               ((k, _means(v)) for k, v in quality.items())}
    figure = reconstruction_figure(targets, searched.reconstructions, errors=searched.errors,
                                   title="Reverse search (Fernández 2021): targets (top) vs G(z*) (bottom)")
    state["figure_reverse_search"] = save_figure(figure, os.path.join(figures_dir, "reverse_search.png"))
    figure = reconstruction_figure(targets, encoder_images, title="Encoder: targets (top) vs G(E(x)) (bottom)")
    state["figure_encoder"] = save_figure(figure, os.path.join(figures_dir, "encoder_reconstructions.png"))
    path_codes = interpolate_codes(encoded[0], encoded[1], num_steps=9, method="slerp")
    strip = decode(vanilla_generator, path_codes)
    figure = interpolation_figure(strip[None], row_labels=["slerp"],
                                  title="Interpolation between the codes of two real test images")
    state["figure_interpolation"] = save_figure(figure, os.path.join(figures_dir, "interpolation.png"))
    state["figure_interpolation_gif"] = save_interpolation_gif(os.path.join(figures_dir, "interpolation.gif"), strip)
    done("latent space")

    # 6. generator evaluation ---------------------------------------------------------------------
    step("generator evaluation")
    from ganaug.evaluation import evaluate_generator, summary_markdown

    evaluation_reader = ImageReader.from_paths(split.train_paths, split.train_labels, class_names=class_names,
                                               shuffle=False, batch_size=64)
    evaluation = evaluate_generator(
        acgan_generator, evaluation_reader, class_names=class_names, num_samples=config["evaluation_samples"],
        latent_distribution=latent_distribution, classifier_epochs=max(1, config["classifier_epochs"] // 2),
        kid_subset_size=min(1000, config["evaluation_samples"] // 2), seed=seed,
        out_dir=os.path.join(out_dir, "evaluation"), verbose=0,
    )
    state["evaluation"] = evaluation
    state["evaluation_markdown"] = summary_markdown(evaluation)
    runs.update_metrics(acgan_dir, {"evaluation": {k: evaluation[k] for k in ("distribution", "manifold") if k in evaluation}})
    done("generator evaluation")

    # 7. synthesis and the augmentation experiment ------------------------------------------------
    step("augmentation experiment")
    budget = augment.synthesis_budget(split.counts()["train"], mode="grow", fraction=config["growth_fraction"])
    synthesis = augment.synthesize_dataset(
        os.path.join(out_dir, "synthetic"), budget, generator=acgan_generator, class_names=class_names,
        method="conditional", latent_distribution=latent_distribution, generator_name=acgan_dir,
        seed=seed, overwrite=True, verbose=progress)
    synthetic = ImageReader.from_csv(synthesis["manifest"], class_names=class_names, shuffle=False)
    experiment = augment.run_augmentation_experiment(
        split, synthetic_paths=synthetic.paths, synthetic_labels=synthetic.labels, seeds=config["seeds"],
        image_size=config["image_size"], epochs=config["classifier_epochs"], batch_size=32,
        model_dir=os.path.join(out_dir, "classifiers"), verbose=progress)
    state["experiment"] = experiment
    state["headline_table"] = augment.headline_table(experiment)
    state["per_class_table"] = augment.per_class_delta_table(experiment)
    state["verdict"] = augment.verdict(experiment)
    state["figure_confusion"] = _confusion_figures(experiment, figures_dir)
    runs.write_json_atomic(os.path.join(out_dir, "experiment.json"), {k: v for k, v in experiment.items() if k != "runs"})
    done("augmentation experiment")

    # 8. Grad-CAM: real vs generated evidence -----------------------------------------------------
    step("Grad-CAM real vs generated")
    import keras

    from ganaug.explain import compare_evidence

    classifier_path = os.path.join(out_dir, "classifiers", f"baseline_seed{config['seeds'][0]}.keras")
    classifier = keras.saving.load_model(classifier_path)
    rarest = int(np.argmin(split.counts()["train"]))
    common_class = int(np.argmax(split.counts()["train"]))
    state["gradcam"] = {}
    for k in (common_class, rarest):
        real = read_images([p for p, l in zip(split.test_paths, split.test_labels) if l == k][:32])
        fake = generate_images(acgan_generator, len(real), labels=np.full(len(real), k, np.int32),
                               latent_distribution=latent_distribution, seed=seed + 1)
        comparison = compare_evidence(classifier, real, fake, class_index=k, seed=seed)
        path = save_figure(comparison["figure"], os.path.join(figures_dir, f"gradcam_{class_names[k]}.png"))
        state["gradcam"][class_names[k]] = {"summary": comparison["summary"], "figure": path}
    done("Grad-CAM real vs generated")

    # 9. export and report -------------------------------------------------------------------------
    step("export")
    from ganaug.export import export_classifier, export_encoder, export_generator, validate_export

    export_dir = os.path.join(out_dir, "export")
    card = {"training_data": data_dir, "demo_config": config}
    exports = {
        "generator": export_generator(acgan_generator, os.path.join(export_dir, "generator"),
                                      latent_distribution=latent_distribution, class_names=class_names,
                                      model_card=card, overwrite=True),
        "encoder": export_encoder(encoder, os.path.join(export_dir, "encoder"), model_card=card, overwrite=True),
        "classifier": export_classifier(classifier, os.path.join(export_dir, "classifier"), class_names=class_names,
                                        model_card=dict(card, metrics=experiment["summary"]["baseline"]),
                                        overwrite=True),
    }
    validate_export(exports["classifier"], classifier, batch_sizes=(1, 4))
    state["exports"] = exports
    done("export")

    state["timings"] = timings
    from ganaug.demo_report import write_demo_report

    paths = write_demo_report(state)
    say("\n" + state["headline_table"])
    for sentence in state["verdict"]:
        say(sentence)
    say(f"\nReport: {paths['html']}\nTimings (s): {json.dumps(timings)}")
    summary = {
        "report": paths,
        "headline": {arm: experiment["summary"][arm]["f1_weighted"]["mean"] for arm in experiment["arms"]},
        "timings": timings,
    }
    runs.write_json_atomic(os.path.join(out_dir, "demo_summary.json"), summary)
    return summary


def _encoder_for(generator, config, seed):
    from ganaug.models import build_encoder

    _, height, _, channels = generator.outputs[0].shape
    return build_encoder(image_size=int(height), channels=int(channels), latent_dim=int(generator.inputs[0].shape[-1]),
                         preset=config["gan_preset"], discriminator_filters=config["model_options"]["discriminator_filters"],
                         discriminator_batch_norm="none", seed=seed)


def _save_rows(path, rows, class_names, title):
    from ganaug.figures import labelled_grid_figure, save_figure

    return save_figure(labelled_grid_figure(rows, row_labels=class_names, title=title, cell_inches=0.8), path)


def _last(history):
    return {k: float(v[-1]) for k, v in history.items() if isinstance(v, list) and v and k != "step"}


def _means(quality):
    return {k: float(np.mean(v)) for k, v in quality.items() if k in ("mse", "psnr", "ssim")}


def _confusion_figures(experiment, figures_dir):
    from ganaug.evaluation.classification import confusion_matrix_figure
    from ganaug.figures import save_figure

    paths = {}
    for arm in experiment["arms"]:
        counts = experiment["confusion_matrices"][arm]
        rows = counts.sum(1, keepdims=True)
        metrics = {"confusion_matrix": counts, "class_names": experiment["class_names"],
                   "confusion_matrix_normalised": np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)}
        figure = confusion_matrix_figure(metrics, title=f"{arm} (summed over seeds)")
        paths[arm] = save_figure(figure, os.path.join(figures_dir, f"confusion_{arm.replace('+', '_')}.png"))
    return paths

