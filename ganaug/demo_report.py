"""The report of ``ganaug demo``: what was run, what came out, and what the numbers do and do not show."""

import json
import os

from ganaug.report import Report


def write_demo_report(state):
    """Writes ``report.html`` and ``report.md`` into ``state.out_dir`` and returns their paths.

    Args:
        state: the ``ganaug.demo.DemoState`` after every step ran (its ``results`` per step).
    """
    config, results = state.config, state.results
    outcome = results["augmentation experiment"]
    experiment, comparison = outcome["experiment"], results["generator comparison"]
    selected = comparison["selected"]
    report = Report(
        "ganaug demo: GAN augmentation of the embedded blood-cell data set",
        subtitle=f"ganaug demo --preset {config['demo_preset']} (image size {config['image_size']} px)",
    )

    section = report.section("Summary")
    section.text(
        "Does adding GAN-generated images to the training set make a white-blood-cell classifier better? "
        "This run repeats the protocol of Klang & Carlberg (CellaVision thesis: every class grown by 50 % with "
        "generated images, the classifier retrained, weighted F1 compared) on the toolkit's embedded synthetic "
        "blood-smear data set, with a fixed split, several training seeds, confidence intervals and two controls. "
        f"Three class-conditional generators were trained and compared; the {selected} run was selected by a "
        "declared rule and grew the classes. The classifier is the small CNN of ganaug.models.build_classifier."
    )
    section.table(outcome["headline_table"], caption="Test-set scores per arm (mean ± std over seeds)")
    section.bullets(outcome["verdict"])
    if outcome.get("figures", {}).get("forest"):
        section.figure(outcome["figures"]["forest"], caption="Change in F1 per class and overall, with the intervals")

    section = report.section("Configuration")
    section.code(json.dumps(config, indent=2, default=str))
    section.table(_counts_table(state), caption="Images per class in the fixed split, and synthetic images added")

    section = report.section("Data")
    section.text(
        "The embedded data set is procedurally drawn (data_readers.synthetic): a pale background of red cells and one "
        "white cell per image whose class decides the nucleus shape, size, texture and granules, with random stain, "
        "brightness and pose, and class counts as imbalanced as the thesis's table. The test part of the split is "
        "never used for training a GAN, the encoder or any classifier; the control part is held out of every "
        "training set and only enters the positive control arm."
    )
    section.figure(results["data"]["figure_data"], caption="Real training images, one row per class")

    section = report.section("Generators")
    section.text(
        f"Three routes to class-conditional images, all trained on the same training part. (1) The thesis's route: "
        f"a vanilla GAN (DCGAN, preset {config['gan_preset']} scaled to {config['image_size']} px, "
        f"{config['gan_steps']} steps), then the AC-GAN on its frozen generator and discriminator "
        f"({config['acgan_steps']} steps: only the 3-layer mapping (z, class) -> z, the realness head and the 3-layer "
        f"auxiliary classifier train; the mapping ends in a "
        f"{config['acgan_options'].get('mapping_output_activation', 'relu')} layer). (2) Fernández et al.'s "
        f"conditional DCGAN ({config['cdcgan_steps']} steps). (3) SNGAN with a projection discriminator (preset "
        f"{config['sngan_preset']}, {config['sngan_steps']} discriminator steps, hinge loss, spectral norm, "
        "class-conditional batch norm, DiffAugment, EMA generator"
        + (", class-balanced real batches)." if config["sngan_balanced_classes"] else ").")
    )
    grids = [(results["vanilla GAN"]["figure_samples"], "Vanilla GAN (unconditional)")]
    grids += [(results[step]["figure_samples"], f"{step} samples, one row per requested class")
              for step in ("AC-GAN", "cDCGAN", "SNGAN") if step in results]
    for path, caption in grids:
        section.figure(path, caption=caption)
    for run in ("vanilla", "acgan", "cdcgan", "sngan"):
        curves = os.path.join(state.run_dir(run), "loss_curves.png")
        if os.path.isfile(curves):
            section.figure(curves, caption=f"Loss curves of {run}", width=520)

    section = report.section("Generator comparison and selection")
    section.text(
        "Every generator is measured in the same feature space (the penultimate layer of a small CNN trained on the "
        "real training images) and against the same real-trained classifier. TRTS fidelity: the share of generated "
        "images that classifier assigns to the requested class; a perfect generator scores what it scores on held-out "
        "real images (the validation part here). TSTR: a classifier trained on generated images only, tested on the "
        "held-out real images. Recall per class (Kynkäänniemi et al. 2019): the share of a class's real images that "
        "lie within the generated images' manifold, i.e. whether the class is covered. "
        f"Rule: {comparison['comparison']['rule']}. Outcome: {comparison['reason']}."
    )
    section.table(comparison["table"], caption="One row per generator (held-out real images as the reference)")
    section.table(comparison["recall_table"], caption="Recall per class")
    section.table(comparison["fidelity_table"], caption="TRTS class fidelity per class")
    if comparison.get("tstr_table"):  # absent from a comparison step stored by an older version
        section.table(comparison["tstr_table"], caption="TSTR per class: the accuracy, on each class's held-out real "
                      "images, of a classifier trained on that generator's images only (real held-out column: the "
                      "real-trained classifier's)")

    section = report.section(f"Evaluation of the selected generator ({selected})")
    evaluation = results["generator evaluation"]
    section.text(
        "FID/KID, precision/recall, density/coverage, per-class diversity and memorisation in the domain feature space. "
        "The real held-out row is the reference a perfect generator would reach; FID is biased upwards at these "
        "sample sizes, KID is not."
    )
    for table in _markdown_tables(evaluation["markdown"]):
        section.table(table)
    for name, path in sorted((evaluation["evaluation"].get("figures") or {}).items()):
        if isinstance(path, str) and path.endswith(".png") and os.path.isfile(path):
            section.figure(path, caption=name.replace("_", " "))

    section = report.section("Latent space")
    latent = results["latent space"]
    rows = "\n".join(
        f"| {name.replace('_', ' ')} | {values['mse']:.4f} | {values['psnr']:.2f} | {values['ssim']:.3f} |"
        for name, values in latent["latent_quality"].items()
    )
    section.table("| method | MSE | PSNR (dB) | SSIM |\n|---|---|---|---|\n" + rows,
                  caption="Reconstruction of one real test image per class through the vanilla generator")
    section.figure(latent["figure_reverse_search"], caption="Reverse search (Fernández 2021)")
    section.figure(latent["figure_encoder"], caption="Image-to-latent encoder (Klang & Carlberg; cyclic training after Saboo et al.)")
    section.figure(latent["figure_interpolation"], caption="Spherical interpolation between two encoded test images")
    section.figure(latent["figure_interpolation_gif"], caption="The same path, animated", width=160)

    section = report.section("Augmentation experiment")
    section.table(outcome["headline_table"], caption="Per arm (mean ± std over seeds)")
    section.table(outcome["per_class_table"], caption="Per-class F1 change vs baseline with its intervals")
    section.bullets(outcome["verdict"])
    if outcome.get("controls"):
        section.text("Controls: can this experiment see an effect at all?")
        section.bullets(_control_lines(outcome["controls"]))
    if outcome.get("figures", {}).get("forest"):
        section.figure(outcome["figures"]["forest"], caption="Change in F1 per class and overall, with the intervals")
    for arm, path in outcome["figures"]["confusion"].items():
        section.figure(path, caption=f"Confusion matrix, {arm}", width=520)

    section = report.section("Grad-CAM: real vs generated evidence")
    section.text(
        "Fernández et al. (2021, sec. 4.1.1) checked with Grad-CAM that a classifier highlights the same evidence "
        f"on generated as on real images. Below, the baseline classifier (first seed) on real test images and {selected} "
        "images of the most common and of the rarest class."
    )
    for name, entry in results["Grad-CAM"]["gradcam"].items():
        section.text(f"{name}: {entry['summary']}")
        section.figure(entry["figure"], caption=f"Grad-CAM, class {name}")

    section = report.section("Exported models")
    section.bullets(f"{kind}: {path} (SavedModel + model_card.json)" for kind, path in results["export"]["exports"].items())

    section = report.section("What these numbers do and do not show")
    section.bullets([
        "The data set is synthetic: it shows the pipeline works and how to read its output, not how a GAN will help "
        "on your images. Run the same command on your data (`ganaug augment`).",
        "All scores are on one fixed test split that no model saw; the seed interval captures training variability, "
        "the bootstrap interval test-set variability, the hierarchical one both. None captures variation between data "
        "sets.",
        "The positive control (held-out real images in place of synthetic ones) says what a perfect generator could "
        "show here; the negative control (shuffled labels) what a harmful one would.",
        "The generators were trained for minutes on a CPU at low resolution; better generators may change the answer. "
        "Use the gpu preset or your own settings to scale up.",
        "FID/KID depend on the feature extractor (recorded above); compare them only within one extractor.",
    ])

    section = report.section("Timings")
    section.table(
        "| step | seconds |\n|---|---|\n"
        + "\n".join(f"| {name} | {seconds} |" for name, seconds in state.timings.items())
    )
    return report.write(state.out_dir)


def _control_lines(findings):
    if isinstance(findings, dict):
        lines = []
        for key, value in findings.items():
            if isinstance(value, (list, tuple)):
                lines.extend(str(v) for v in value)
            elif isinstance(value, str):
                lines.append(value)
        return lines or [json.dumps(findings, default=str)]
    return [str(line) for line in findings]


def _counts_table(state):
    counts = state.results["augmentation experiment"]["experiment"]["counts"]
    lines = ["| class | train | validation | test | synthetic added |", "|---|---|---|---|---|"]
    for k, name in enumerate(state.class_names):
        lines.append(f"| {name} | {counts['train'][k]} | {counts['validation'][k]} | {counts['test'][k]} | "
                     f"{counts['synthetic'][k]} |")
    return "\n".join(lines)


def _markdown_tables(markdown):
    tables, current = [], []
    for line in markdown.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append("\n".join(current))
            current = []
    if current:
        tables.append("\n".join(current))
    return tables
