"""``ganaug demo``: the toolkit's main job, end to end, on the embedded blood-cell data set.

The steps (``STEPS``, small functions over a ``DemoState``) of Klang & Carlberg's CellaVision thesis
and the checks of Fernández et al. 2021, at a size a 2-core CPU finishes in about 20 minutes:

1. make the embedded data set (``data_readers.synthetic``) and one fixed train/validation/test split,
   with a ``control`` part of held-out real training images for the positive control;
2. train the vanilla GAN (DCGAN, preset ``fernandez2021`` scaled down) on the training part;
3. build the AC-GAN on the frozen vanilla generator and discriminator and train its new layers;
4. train Fernández et al.'s conditional DCGAN;
5. train SNGAN with a projection discriminator (Miyato et al. 2018; Miyato & Koyama 2018);
6. compare the three conditional generators in one feature space and select one by a declared
   rule (``ganaug.evaluation.compare_generators``);
7. train the image-to-latent encoder against the frozen vanilla generator;
8. reverse search and interpolation figures (Fernández et al. 2021);
9. evaluate the selected generator (FID/KID, precision/recall, diversity, memorisation, TSTR/TRTS);
10. grow every class by 50 % with the selected generator and run the augmentation experiment
    (baseline, classical, synthetic, a positive control of held-out real images and a negative
    control of shuffled labels; several seeds; three confidence intervals; detectable effects);
11. Grad-CAM on real vs generated images of the commonest and the rarest class;
12. export the generator, encoder and classifier as SavedModels; write ``report.html``/``report.md``.

Each finished step's results are kept in ``steps/``: a demo stopped in step 6 and run again with the
same settings continues at step 6, with the same results.

Every size is a parameter (``DEMO_PRESETS``): ``"cpu"`` is the default, ``"smoke"`` takes a few
minutes (for tests and notebooks), ``"gpu"`` is closer to the thesis (256 px needs a GPU).

Two choices differ from the thesis, on purpose: the vanilla GAN uses the DCGAN of Fernández et al.
(batch norm, Adam beta_1 = 0.5), which trains far better in a few hundred CPU steps than the
thesis's dropout discriminator with Adam 1e-5; and the AC-GAN's mapping network ends in a linear
layer instead of ReLU, because a ReLU output covers only the positive half of the frozen
generator's N(0, I) latent space and collapsed every class onto one image in our runs (the thesis
reports a collapse on class 0 too). ``--gan-preset klang_carlberg2020`` and
``acgan_options={"mapping_output_activation": "relu"}`` restore the thesis's choices.
"""

import copy
import dataclasses
import json
import os
import pickle
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
        "cdcgan_steps": 600,
        "cdcgan_options": {"diffaugment": "color,translation,cutout"},
        "sngan_preset": "sngan_cpu",
        "sngan_options": {"model_options": {"generator_filters": 32, "discriminator_filters": 32}},
        "sngan_steps": 4500,
        "sngan_balanced_classes": False,
        "classifier_steps": None,
        "controls": True,
        "arms": ("baseline", "classical", "synthetic"),
        "seeds": (0, 1, 2),
        "evaluation_samples": 600,
        "growth_fraction": 0.5,
        "scenario": "full",
        "classical_options": {},
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
        "cdcgan_steps": 8,
        "cdcgan_options": {"diffaugment": "color,translation,cutout"},
        "sngan_preset": "sngan_cpu",
        "sngan_options": {"model_options": {"generator_filters": 8, "discriminator_filters": 8}},
        "sngan_steps": 8,
        "sngan_balanced_classes": False,
        "classifier_steps": 20,
        "controls": True,
        "arms": ("baseline", "classical", "synthetic"),
        "seeds": (0, 1),
        "evaluation_samples": 64,
        "growth_fraction": 0.5,
        "scenario": "full",
        "classical_options": {},
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
        "cdcgan_steps": 20000,
        "cdcgan_options": {"diffaugment": "color,translation,cutout"},
        "sngan_preset": "miyato2018",
        "sngan_options": {},
        "sngan_steps": 50000,
        "sngan_balanced_classes": False,
        "classifier_steps": None,
        "controls": True,
        "arms": ("baseline", "classical", "synthetic", "classical+synthetic"),
        "seeds": (0, 1, 2, 3, 4),
        "evaluation_samples": 5000,
        "growth_fraction": 0.5,
        "scenario": "full",
        "classical_options": {},
    },
}


def demo_config(preset="cpu", **overrides):
    """Returns the demo settings of ``preset`` with ``overrides`` (None values ignored) applied.

    Raises:
        ValueError: for an unknown preset or setting.
        TypeError: for a ``sngan_balanced_classes`` that is not a bool.
    """
    from ganaug.models._validation import check_bool

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
    check_bool(config["sngan_balanced_classes"], "sngan_balanced_classes")
    if len(config["seeds"]) < 2:
        raise ValueError(f"`seeds` needs at least 2 seeds for a confidence interval. Received: seeds={config['seeds']}")
    config["demo_preset"] = preset
    return config


@dataclasses.dataclass
class DemoState:
    """What the demo's steps share: the settings, the output folder and each finished step's results.

    ``results[step_name]`` holds what a step returned (picklable: numbers, paths, tables, the
    split); models live in the run folders (``run_dir(name)``) and are loaded where needed.
    """

    config: dict
    out_dir: str
    verbose: int = 1
    results: dict = dataclasses.field(default_factory=dict)
    timings: dict = dataclasses.field(default_factory=dict)

    @property
    def figures_dir(self):
        return os.path.join(self.out_dir, "figures")

    @property
    def split(self):
        return self.results["data"]["split"]

    @property
    def class_names(self):
        return self.results["data"]["class_names"]

    @property
    def seed(self):
        return self.config["seed"]

    def run_dir(self, name):
        return os.path.join(self.out_dir, "runs", name)

    def say(self, *args):
        if self.verbose:
            print(*args)

    def train_reader(self, *, batch_size=None, shuffle=True, balanced=False):
        from data_readers.image_reader import ImageReader

        split = self.split
        return ImageReader.from_paths(
            split.train_paths, split.train_labels, class_names=self.class_names,
            batch_size=batch_size or self.config["batch_size"], seed=self.seed, shuffle=shuffle,
            drop_remainder=shuffle, balanced=balanced,
        )

    def generator(self, name):
        from ganaug import runs

        return runs.load_run_model(self.run_dir(name), "generator")

    def latent_distribution(self, name):
        from ganaug import runs

        return runs.read_config(self.run_dir(name))["latent_distribution"]


def run_demo(out_dir="runs/demo", *, preset="cpu", seed=0, verbose=1, restart=False, **overrides):
    """Runs the whole pipeline on the embedded data set and writes the report.

    The pipeline is the list ``STEPS`` of small functions over a ``DemoState``. Each finished step's
    results are stored in ``out_dir/steps/``; a demo that was stopped (killed, Ctrl-C, an error)
    and is run again with the same settings continues at the step that did not finish, with the
    same results as an uninterrupted run (every step is deterministic given its seeds).

    Args:
        out_dir: the demo's folder (data, runs, synthetic images, figures, exports, report).
        preset: ``"cpu"`` (default, about 20 min on 2 cores), ``"smoke"`` or ``"gpu"``.
        seed: seed of the data set, the split and every training.
        verbose: 0 silent, 1 progress of each step.
        restart: run every step again even if an earlier run with the same settings finished some.
        **overrides: any setting of ``DEMO_PRESETS`` (``image_size``, ``gan_steps``, ...).

    Returns:
        dict with the headline numbers, the selected generator and the paths of the report.
    """
    config = demo_config(preset, **overrides)
    config["seed"] = seed
    state = DemoState(config=config, out_dir=os.path.abspath(os.fspath(out_dir)), verbose=verbose)
    os.makedirs(state.figures_dir, exist_ok=True)
    store = _StepStore(os.path.join(state.out_dir, "steps"), config, restart=restart)
    for index, (name, function) in enumerate(STEPS):
        stored = store.load(index, name)
        if stored is not None:
            state.results[name], state.timings[name] = stored
            state.say(f"=== {name}: done in an earlier run ({state.timings[name]} s)")
            continue
        state.say(f"\n=== {name}")
        started = time.time()
        state.results[name] = function(state) or {}
        state.timings[name] = round(time.time() - started, 1)
        store.save(index, name, state.results[name], state.timings[name])
    return _finish(state)


def make_data(state):
    """Step 1: the embedded data set, one fixed split (with the positive control's held-out images)."""
    from data_readers.image_reader import ImageReader, read_images
    from data_readers.synthetic import make_blood_cell_dataset
    from ganaug import augment

    config = state.config
    data_dir = os.path.join(state.out_dir, "data")
    if not os.path.isfile(os.path.join(data_dir, "manifest.csv")):
        make_blood_cell_dataset(data_dir, image_size=config["image_size"], num_images=config["num_images"],
                                seed=state.seed, overwrite=True, verbose=state.verbose)
    everything = ImageReader.from_folder(data_dir, shuffle=False)
    class_names = everything.class_names
    control_fraction = config["growth_fraction"] / (1 + config["growth_fraction"]) if config["controls"] else 0.0
    split = augment.split_dataset(everything.paths, everything.labels, class_names, seed=state.seed,
                                  scenario=config["scenario"], control_fraction=control_fraction)
    split_files = split.write(os.path.join(state.out_dir, "split"))
    state.say(f"{len(everything.paths)} images, {len(class_names)} classes; train/val/test/control = "
              f"{len(split.train_paths)}/{len(split.validation_paths)}/{len(split.test_paths)}/{len(split.control_paths)}")
    rows = [read_images([p for p, label in zip(split.train_paths, split.train_labels) if label == k][:8])
            for k in range(len(class_names))]
    figure = _save_rows(os.path.join(state.figures_dir, "data_examples.png"), rows, class_names,
                        "Real training images per class")
    return {"data_dir": data_dir, "split": split, "split_files": split_files, "class_names": class_names,
            "counts": split.counts(), "figure_data": figure}


def _gan_options(state):
    config = state.config
    return dict(image_size=config["image_size"], batch_size=config["batch_size"], seed=state.seed,
                verbose=1 if state.verbose else 0, overwrite=True)


def _schedule(steps):
    return dict(steps=steps, sample_every=max(1, steps // 4), checkpoint_every=max(1, steps // 2))


def train_vanilla(state):
    """Step 2: the vanilla GAN (Fernández et al. 2021's DCGAN, scaled down), the AC-GAN's backbone."""
    from ganaug.figures import save_image_grid
    from ganaug.training import generate_images, train_gan

    config = state.config
    history = train_gan("dcgan", state.train_reader(), run_dir=state.run_dir("vanilla"), preset=config["gan_preset"],
                        generator_learning_rate=config["learning_rate"],
                        discriminator_learning_rate=config["learning_rate"], model_options=config["model_options"],
                        **_schedule(config["gan_steps"]), **_gan_options(state))
    samples = generate_images(state.generator("vanilla"), 64, latent_distribution=state.latent_distribution("vanilla"),
                              seed=state.seed)
    figure = save_image_grid(os.path.join(state.figures_dir, "vanilla_samples.png"), samples, num_columns=8)
    return {"history": _last(history), "figure_samples": figure}


def train_acgan(state):
    """Step 3: the AC-GAN of Klang & Carlberg on the frozen vanilla generator and discriminator."""
    from ganaug.training import train_gan

    config = state.config
    history = train_gan("acgan", state.train_reader(), run_dir=state.run_dir("acgan"), base_run=state.run_dir("vanilla"),
                        preset=config["gan_preset"], generator_learning_rate=config["learning_rate"],
                        discriminator_learning_rate=config["learning_rate"], model_options=config["acgan_options"],
                        **_schedule(config["acgan_steps"]), **_gan_options(state))
    return {"history": _last(history), "figure_samples": _class_samples(state, "acgan", "AC-GAN")}


def train_cdcgan(state):
    """Step 4: the conditional DCGAN of Fernández et al. 2021 (label at the input and the first conv)."""
    from ganaug.training import train_gan

    config = state.config
    history = train_gan("cdcgan", state.train_reader(), run_dir=state.run_dir("cdcgan"), preset=config["gan_preset"],
                        model_options=config["model_options"], **config["cdcgan_options"],
                        **_schedule(config["cdcgan_steps"]), **_gan_options(state))
    return {"history": _last(history), "figure_samples": _class_samples(state, "cdcgan", "cDCGAN")}


def train_sngan(state):
    """Step 5: SNGAN with a projection discriminator (Miyato et al. 2018; Miyato & Koyama 2018)."""
    from ganaug.training import train_gan

    history = train_gan("sngan", **sngan_arguments(state), **_schedule(state.config["sngan_steps"]),
                        verbose=1 if state.verbose else 0, overwrite=True)
    return {"history": _last(history), "figure_samples": _class_samples(state, "sngan", "SNGAN")}


def sngan_arguments(state):
    """Returns the ``train_gan("sngan", ...)`` arguments that make the demo's SNGAN.

    Its reader (``data``: the training part, class-balanced if ``sngan_balanced_classes``), run
    folder, preset and options, image size, batch size and seed; the schedule, verbosity and
    overwrite or resume are the caller's (``benchmarks/tstr_by_steps.py`` resumes it to longer runs).
    """
    config = state.config
    return dict(data=state.train_reader(balanced=config["sngan_balanced_classes"]), run_dir=state.run_dir("sngan"),
                preset=config["sngan_preset"], **config["sngan_options"], image_size=config["image_size"],
                batch_size=config["batch_size"], seed=state.seed)


def compare(state):
    """Step 6: the conditional generators side by side in one feature space; one is selected by rule."""
    from ganaug.evaluation.comparison import comparison_table, per_class_comparison_table

    result = generator_comparison(state, [run for step, run in GENERATORS.items() if step in state.results])
    from ganaug import runs

    runs.write_json_atomic(os.path.join(state.out_dir, "generator_comparison.json"), result)
    state.say(comparison_table(result))
    state.say(f"Selected: {result['reason']}")
    return {"comparison": result, "selected": result["selected"], "reason": result["reason"],
            "table": comparison_table(result),
            "recall_table": per_class_comparison_table(result, metric="recall"),
            "fidelity_table": per_class_comparison_table(result, metric="fidelity"),
            "tstr_table": per_class_comparison_table(result, metric="tstr_accuracy")}


def train_demo_encoder(state):
    """Step 7: the image-to-latent encoder against the frozen vanilla generator (cyclic training)."""
    from ganaug import runs
    from ganaug.latent import train_encoder

    config = state.config
    generator = state.generator("vanilla")
    result = train_encoder(generator, state.train_reader(), mode="cyclic", steps=config["encoder_steps"],
                           learning_rate=1e-4, batch_size=config["batch_size"],
                           latent_distribution=state.latent_distribution("vanilla"), seed=state.seed,
                           verbose=1 if state.verbose else 0, encoder=_encoder_for(generator, config, state.seed))
    path = runs.model_path(state.run_dir("vanilla"), "encoder")
    runs.save_model_atomic(result.encoder, path)
    return {"encoder": path}


def explore_latent_space(state):
    """Step 8: reverse search, encoding and interpolation of real test images (Fernández et al. 2021)."""
    import keras

    from data_readers.image_reader import read_images
    from ganaug.figures import save_figure
    from ganaug.latent import encode, interpolate_codes, invert_images, reconstruction_quality
    from ganaug.latent.figures import interpolation_figure, reconstruction_figure, save_interpolation_gif
    from ganaug.training import generate_images

    config, split = state.config, state.split
    generator = state.generator("vanilla")
    encoder = keras.saving.load_model(state.results["encoder"]["encoder"], compile=False)
    distribution = state.latent_distribution("vanilla")
    test_labels = split.test_labels.tolist()
    first_of_class = [test_labels.index(k) for k in range(len(state.class_names)) if k in test_labels]
    targets = read_images([split.test_paths[i] for i in first_of_class])
    searched = invert_images(generator, targets, steps=config["inversion_steps"], restarts=2,
                             latent_distribution=distribution, seed=state.seed, verbose=1 if state.verbose else 0)
    encoded = encode(encoder, targets)
    refined = invert_images(generator, targets, steps=max(1, config["inversion_steps"] // 4), initial_codes=encoded,
                            latent_distribution=distribution, seed=state.seed, verbose=0)
    encoder_images = generate_images(generator, len(encoded), latents=encoded, latent_distribution=distribution)
    quality = {
        "reverse_search": reconstruction_quality(targets, searched.reconstructions),
        "encoder": reconstruction_quality(targets, encoder_images),
        "encoder_then_search": reconstruction_quality(targets, refined.reconstructions),
    }
    figures = state.figures_dir
    results = {"latent_quality": {k: {m: float(v[m]) for m in ("mse", "psnr", "ssim")}
                                  for k, v in ((k, _means(v)) for k, v in quality.items())}}
    results["figure_reverse_search"] = save_figure(
        reconstruction_figure(targets, searched.reconstructions, errors=searched.errors,
                              title="Reverse search (Fernández 2021): targets (top) vs G(z*) (bottom)"),
        os.path.join(figures, "reverse_search.png"))
    results["figure_encoder"] = save_figure(
        reconstruction_figure(targets, encoder_images, title="Encoder: targets (top) vs G(E(x)) (bottom)"),
        os.path.join(figures, "encoder_reconstructions.png"))
    path_codes = interpolate_codes(encoded[0], encoded[1], num_steps=9, method="slerp")
    strip = generate_images(generator, len(path_codes), latents=path_codes, latent_distribution=distribution)
    results["figure_interpolation"] = save_figure(
        interpolation_figure(strip[None], row_labels=["slerp"],
                             title="Interpolation between the codes of two real test images"),
        os.path.join(figures, "interpolation.png"))
    results["figure_interpolation_gif"] = save_interpolation_gif(os.path.join(figures, "interpolation.gif"), strip)
    return results


def evaluate_selected(state):
    """Step 9: the full evaluation of the selected generator (FID/KID, diversity, memorisation, TSTR)."""
    from ganaug import runs
    from ganaug.evaluation import evaluate_generator, summary_markdown

    config = state.config
    selected = state.results["generator comparison"]["selected"]
    evaluation = evaluate_generator(
        state.generator(selected), state.train_reader(batch_size=64, shuffle=False), class_names=state.class_names,
        num_samples=config["evaluation_samples"], latent_distribution=state.latent_distribution(selected),
        classifier_steps=config["classifier_steps"], kid_subset_size=min(1000, config["evaluation_samples"] // 2),
        seed=state.seed, out_dir=os.path.join(state.out_dir, "evaluation"), verbose=0,
    )
    runs.update_metrics(state.run_dir(selected),
                        {"evaluation": {k: evaluation[k] for k in ("distribution", "manifold") if k in evaluation}})
    return {"evaluation": evaluation, "markdown": summary_markdown(evaluation)}


def run_experiment(state):
    """Step 10: grow every class by 50 % with the selected generator; the experiment with controls."""
    from data_readers.image_reader import ImageReader
    from ganaug import augment, runs

    config, split = state.config, state.split
    selected = state.results["generator comparison"]["selected"]
    budget = augment.synthesis_budget(split.counts()["train"], mode="grow", fraction=config["growth_fraction"])
    synthesis = augment.synthesize_dataset(
        os.path.join(state.out_dir, "synthetic"), budget, generator=state.generator(selected),
        class_names=state.class_names, method="conditional", latent_distribution=state.latent_distribution(selected),
        generator_name=state.run_dir(selected), seed=state.seed, overwrite=True, verbose=1 if state.verbose else 0)
    synthetic = ImageReader.from_csv(synthesis["manifest"], class_names=state.class_names, shuffle=False)
    experiment = augment.run_augmentation_experiment(
        split, synthetic_paths=synthetic.paths, synthetic_labels=synthetic.labels,
        synthetic_sources=augment.synthesis_sources(synthesis["manifest"]), seeds=config["seeds"],
        arms=config["arms"], classical_options=config["classical_options"], image_size=config["image_size"],
        controls=config["controls"], batch_size=32,
        steps=config["classifier_steps"], model_dir=os.path.join(state.out_dir, "classifiers"),
        verbose=1 if state.verbose else 0)
    runs.write_json_atomic(os.path.join(state.out_dir, "experiment.json"),
                           {k: v for k, v in experiment.items() if k != "runs"})
    figures = {"confusion": _confusion_figures(experiment, state.figures_dir)}
    from ganaug.augment.figures import forest_plot
    from ganaug.figures import save_figure

    figures["forest"] = save_figure(forest_plot(experiment, title=f"Change in F1 vs baseline ({selected} images)"),
                                    os.path.join(state.figures_dir, "forest_plot.png"))
    return {"experiment": experiment, "selected": selected, "headline_table": augment.headline_table(experiment),
            "classifier": experiment["model_paths"]["baseline"][config["seeds"][0]],
            "per_class_table": augment.per_class_delta_table(experiment), "verdict": augment.verdict(experiment),
            "controls": augment.control_findings(experiment) if config["controls"] else None, "figures": figures}


def compare_gradcam(state):
    """Step 11: Grad-CAM of the baseline classifier on real vs generated images (Fernández 2021)."""
    import keras

    from data_readers.image_reader import read_images
    from ganaug.explain import compare_evidence
    from ganaug.figures import save_figure
    from ganaug.training import generate_images

    config, split = state.config, state.split
    selected = state.results["generator comparison"]["selected"]
    generator, distribution = state.generator(selected), state.latent_distribution(selected)
    classifier = keras.saving.load_model(state.results["augmentation experiment"]["classifier"], compile=False)
    counts = split.counts()["train"]
    gradcam = {}
    for k in (int(np.argmax(counts)), int(np.argmin(counts))):
        real = read_images([p for p, label in zip(split.test_paths, split.test_labels) if label == k][:32])
        fake = generate_images(generator, len(real), labels=np.full(len(real), k, np.int32),
                               latent_distribution=distribution, seed=state.seed + 1)
        comparison = compare_evidence(classifier, real, fake, class_index=k, seed=state.seed)
        path = save_figure(comparison["figure"], os.path.join(state.figures_dir, f"gradcam_{state.class_names[k]}.png"))
        gradcam[state.class_names[k]] = {"summary": comparison["summary"], "figure": path}
    return {"gradcam": gradcam}


def export_models(state):
    """Step 12: SavedModels of the selected generator, the encoder and the baseline classifier."""
    import keras

    from ganaug.export import export_classifier, export_encoder, export_generator, validate_export

    config = state.config
    selected = state.results["generator comparison"]["selected"]
    export_dir = os.path.join(state.out_dir, "export")
    card = {"training_data": state.results["data"]["data_dir"], "demo_config": config, "generator_run": selected}
    classifier = keras.saving.load_model(state.results["augmentation experiment"]["classifier"], compile=False)
    encoder = keras.saving.load_model(state.results["encoder"]["encoder"], compile=False)
    baseline = state.results["augmentation experiment"]["experiment"]["summary"]["baseline"]
    exports = {
        "generator": export_generator(state.generator(selected), os.path.join(export_dir, "generator"),
                                      latent_distribution=state.latent_distribution(selected),
                                      class_names=state.class_names, model_card=card, overwrite=True),
        "encoder": export_encoder(encoder, os.path.join(export_dir, "encoder"), model_card=card, overwrite=True),
        "classifier": export_classifier(classifier, os.path.join(export_dir, "classifier"),
                                        class_names=state.class_names, model_card=dict(card, metrics=baseline),
                                        overwrite=True),
    }
    validate_export(exports["classifier"], classifier, batch_sizes=(1, 4))
    return {"exports": exports}


#: The conditional generators the demo trains and compares (step name -> run folder name).
GENERATORS = {"AC-GAN": "acgan", "cDCGAN": "cdcgan", "SNGAN": "sngan"}
STEPS = (
    ("data", make_data),
    ("vanilla GAN", train_vanilla),
    ("AC-GAN", train_acgan),
    ("cDCGAN", train_cdcgan),
    ("SNGAN", train_sngan),
    ("generator comparison", compare),
    ("encoder", train_demo_encoder),
    ("latent space", explore_latent_space),
    ("generator evaluation", evaluate_selected),
    ("augmentation experiment", run_experiment),
    ("Grad-CAM", compare_gradcam),
    ("export", export_models),
)


def _finish(state):
    from ganaug import runs
    from ganaug.demo_report import write_demo_report

    paths = write_demo_report(state)
    experiment = state.results["augmentation experiment"]
    state.say("\n" + state.results["generator comparison"]["table"])
    state.say("\n" + experiment["headline_table"])
    for sentence in experiment["verdict"]:
        state.say(sentence)
    state.say(f"\nReport: {paths['html']}\nTimings (s): {json.dumps(state.timings)}")
    summary = {
        "report": paths,
        "selected_generator": experiment["selected"],
        "headline": {arm: experiment["experiment"]["summary"][arm]["f1_weighted"]["mean"]
                     for arm in experiment["experiment"]["arms"]},
        "timings": state.timings,
    }
    runs.write_json_atomic(os.path.join(state.out_dir, "demo_summary.json"), summary)
    return summary


class _StepStore:
    """Finished steps' results on disk (``steps/NN_name.pkl``), valid for one demo configuration."""

    def __init__(self, directory, config, *, restart):
        import shutil

        from ganaug import runs

        self.directory = directory
        config_path = os.path.join(directory, "config.json")
        previous = None
        if os.path.isfile(config_path):
            with open(config_path) as handle:
                previous = json.load(handle)
        current = json.loads(json.dumps(config, default=str))
        if restart or previous != current:
            shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory, exist_ok=True)
        runs.write_json_atomic(config_path, current)

    def _path(self, index, name):
        return os.path.join(self.directory, f"{index:02d}_{name.replace(' ', '_').replace('-', '_')}.pkl")

    def load(self, index, name):
        path = self._path(index, name)
        if not os.path.isfile(path):
            return None
        with open(path, "rb") as handle:
            stored = pickle.load(handle)
        return stored["results"], stored["seconds"]

    def save(self, index, name, results, seconds):
        from ganaug import runs

        path = self._path(index, name)
        partial = f"{path}.tmp"
        with open(partial, "wb") as handle:
            pickle.dump({"results": results, "seconds": seconds}, handle)
        os.replace(partial, path)
        runs.apply_umask(path)


def _class_samples(state, name, title, per_class=8):
    from ganaug.training import generate_images

    labels = np.repeat(np.arange(len(state.class_names)), per_class).astype(np.int32)
    samples = generate_images(state.generator(name), len(labels), labels=labels,
                              latent_distribution=state.latent_distribution(name), seed=state.seed)
    rows = samples.reshape(len(state.class_names), per_class, *samples.shape[1:])
    return _save_rows(os.path.join(state.figures_dir, f"{name}_samples.png"), rows, state.class_names,
                      f"{title} samples, one row per requested class")


def generator_comparison(state, names):
    """Returns ``compare_generators`` of the demo's runs ``names`` as the demo scores them.

    The training part is the reference, the validation part is held out, and the TSTR/TRTS
    classifiers follow the preset's schedule.
    """
    from data_readers.image_reader import ImageReader
    from ganaug.evaluation.comparison import compare_generators

    split = state.split
    validation = ImageReader.from_paths(split.validation_paths, split.validation_labels, class_names=state.class_names,
                                        shuffle=False)
    return compare_generators(
        {name: state.generator(name) for name in names}, state.train_reader(batch_size=64, shuffle=False),
        holdout_data=validation, class_names=state.class_names,
        latent_distributions={name: state.latent_distribution(name) for name in names},
        classifier_options=_classifier_schedule(state), seed=state.seed, verbose=state.verbose,
    )


def _classifier_schedule(state):
    steps = state.config["classifier_steps"]
    return {} if steps is None else {"steps": steps}


def _encoder_for(generator, config, seed):
    from ganaug.models import build_encoder
    from ganaug.models.spec import GeneratorSpec

    spec = GeneratorSpec.of(generator)
    height, _, channels = spec.image_shape
    return build_encoder(image_size=height, channels=channels, latent_dim=spec.latent_dim,
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

