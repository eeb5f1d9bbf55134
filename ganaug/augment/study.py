"""``ganaug augment``: the augmentation experiment on any folder data set with a trained run."""

import os
import warnings


def run_augmentation_study(
    data,
    run_dir,
    out_dir,
    *,
    method="conditional",
    budget_mode="grow",
    fraction=0.5,
    counts=None,
    seeds=(0, 1, 2),
    arms=None,
    classical_options=None,
    architecture="small_cnn",
    epochs=None,
    steps=None,
    controls=False,
    control_fraction=None,
    scenario="full",
    split_seed=0,
    sigma=0.2,
    verbose=1,
):
    """Splits a folder data set, synthesises images with a trained run and runs the experiment.

    The generator of ``run_dir`` should have been trained on the training part of the same split
    (``out_dir/split/train.csv`` is written for that, with the same ``split_seed``); if the run's
    recorded training data is the whole ``data`` folder, a warning says that the generator has seen
    the test images.

    Args:
        data: a folder of class folders.
        run_dir: a trained run (``generator.keras``; conditional for ``method="conditional"``,
            ``encoder.keras`` for the perturbation and interpolation methods).
        out_dir: where the split, the synthetic images, the results and the report go.
        method: ``"conditional"``, ``"perturbation"`` or ``"interpolation"`` (``synthesize_dataset``).
        budget_mode, fraction, counts: the synthesis budget (``synthesis_budget``).
        seeds: classifier training seeds.
        arms: the arms to run (default: all four, or the two without synthetic data if none).
        classical_options: the classical arms' augmentation (``run_augmentation_experiment``;
            default rotate and zoom, the thesis's; ``{"flip": "horizontal_and_vertical"}`` adds flips).
        architecture: the classifier (``build_classifier``).
        epochs: classifier epochs (raised to the classifier's minimum number of steps); None for
            the default schedule (``ganaug.training.classifier.classifier_schedule``).
        steps: exact classifier optimiser steps (instead of ``epochs``).
        controls: add the positive control (held-out real images) and the negative control
            (synthetic images with wrong labels) arms.
        control_fraction: share of each class's training pool held out for the positive control
            (default with ``controls``: ``fraction / (1 + fraction)`` for ``budget_mode="grow"``, so
            there are as many held-out real images as synthetic ones; 1/3 otherwise).
        scenario: a ``SCENARIOS`` name or dict shrinking the training part.
        split_seed: seed of the split.
        sigma: perturbation standard deviation.
        verbose: 0 silent, 1 progress.

    Returns:
        dict: the experiment result plus ``report`` (paths), ``synthesis`` (summary) and
        ``figures`` (the forest plot).
    """
    from data_readers.image_reader import ImageReader
    from ganaug.augment.budgets import synthesis_budget
    from ganaug.augment.experiment import (ARMS, headline_table, per_class_delta_table,
                                           run_augmentation_experiment, verdict)
    from ganaug.augment.figures import forest_plot
    from ganaug.augment.split import split_dataset
    from ganaug.figures import save_figure
    from ganaug.augment.synthesis import synthesis_sources, synthesize_dataset
    from ganaug.models.spec import GeneratorSpec
    from ganaug.report import Report
    from ganaug.runs import load_run_model, read_config, write_json_atomic

    if not os.path.isdir(data):
        raise FileNotFoundError(f"Data folder not found: {data}")
    config = read_config(run_dir)
    trained_on = config.get("data")
    if trained_on and os.path.abspath(trained_on) == os.path.abspath(data):
        warnings.warn(
            f"The generator of {run_dir} was trained on the whole of {data}, test images included: the "
            "synthetic arms may be optimistic. Train it on the split's train.csv instead.",
            stacklevel=2,
        )
    reader = ImageReader.from_folder(data, shuffle=False)
    class_names = reader.class_names
    run_classes = config.get("class_names")
    if run_classes and list(run_classes) != list(class_names):
        raise ValueError(
            f"The run's classes {run_classes} differ from the data's {class_names}. "
            f"Received: run_dir={run_dir!r}, data={data!r}"
        )
    if control_fraction is None:
        control_fraction = (fraction / (1 + fraction) if budget_mode == "grow" else 1 / 3) if controls else 0.0
    split = split_dataset(reader.paths, reader.labels, class_names, seed=split_seed, scenario=scenario,
                          control_fraction=control_fraction)
    split.write(os.path.join(out_dir, "split"))
    generator = load_run_model(run_dir, "generator")
    spec = GeneratorSpec.of(generator)
    encoder = load_run_model(run_dir, "encoder") if method != "conditional" else None
    budget = synthesis_budget(split.counts()["train"], mode=budget_mode, fraction=fraction, counts=counts)
    synthesis = synthesize_dataset(
        os.path.join(out_dir, "synthetic"), budget, generator=generator, class_names=class_names, method=method,
        encoder=encoder, real_paths=split.train_paths, real_labels=split.train_labels,
        latent_distribution=config.get("latent_distribution", "normal"), sigma=sigma,
        generator_name=os.path.abspath(run_dir), seed=split_seed, overwrite=True, verbose=verbose,
    )
    synthetic = ImageReader.from_csv(synthesis["manifest"], class_names=class_names, shuffle=False)
    result = run_augmentation_experiment(
        split, synthetic_paths=synthetic.paths, synthetic_labels=synthetic.labels,
        synthetic_sources=synthesis_sources(synthesis["manifest"]),
        arms=arms or ARMS, classical_options=classical_options, controls=controls, seeds=seeds, architecture=architecture,
        image_size=spec.image_shape[0], channels=spec.image_shape[-1],
        epochs=epochs, steps=steps, verbose=verbose,
    )
    report = Report("ganaug augment: does synthetic data make the classifier better?",
                    subtitle=f"data {os.path.abspath(data)}, generator {os.path.abspath(run_dir)}, method {method}")
    section = report.section("Result")
    section.table(headline_table(result), caption="Per arm, mean ± std over seeds; change vs baseline with MDE and call")
    section.table(per_class_delta_table(result),
                  caption="Per-class F1 change vs baseline [95 % CI seeds; CI test images; CI both] (▲/▼: called)")
    section.bullets(verdict(result))
    figures = {"forest_plot": save_figure(forest_plot(result), os.path.join(out_dir, "forest_plot.png"))}
    section.figure(figures["forest_plot"], caption="Change vs baseline per class, with the three intervals")
    paths = report.write(out_dir)
    write_json_atomic(os.path.join(out_dir, "experiment.json"), {k: v for k, v in result.items() if k != "runs"})
    result["report"] = paths
    result["synthesis"] = synthesis
    result["figures"] = figures
    return result

