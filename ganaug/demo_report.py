"""The report of ``ganaug demo``: what was run, what came out, and what the numbers do and do not show."""

import json
import os

from ganaug.report import Report


def write_demo_report(state):
    """Writes ``report.html`` and ``report.md`` into ``state["out_dir"]`` and returns their paths.

    Args:
        state: the dict ``ganaug.demo.run_demo`` fills: configuration, figures, evaluation,
            experiment tables and verdict, Grad-CAM summaries, exports and timings.
    """
    config = state["config"]
    experiment = state["experiment"]
    report = Report(
        "ganaug demo: GAN augmentation of the embedded blood-cell data set",
        subtitle=f"ganaug demo --preset {config['demo_preset']} (image size {config['image_size']} px)",
    )

    section = report.section("Summary")
    section.text(
        "Does adding GAN-generated images to the training set make a white-blood-cell classifier better? "
        "This run repeats the protocol of Klang & Carlberg (CellaVision thesis: every class grown by 50 % with "
        "AC-GAN images, Xception retrained, weighted F1 compared) on the toolkit's embedded synthetic "
        "blood-smear data set, with a fixed split, several training seeds and confidence intervals. The classifier "
        "here is the small CNN of ganaug.models.build_classifier (Xception and InceptionV3 are options for a GPU)."
    )
    section.table(state["headline_table"], caption="Test-set scores per arm (mean ± std over seeds)")
    section.bullets(state["verdict"])

    section = report.section("Configuration")
    section.code(json.dumps(config, indent=2, default=str))
    section.table(_counts_table(state), caption="Images per class in the fixed split, and synthetic images added")

    section = report.section("Data")
    section.text(
        "The embedded data set is procedurally drawn (data_readers.synthetic): a pale background of red cells and one "
        "white cell per image whose class decides the nucleus shape, size, texture and granules, with random stain, "
        "brightness and pose, and class counts as imbalanced as the thesis's table. The test part of the split is "
        "never used for training the GAN, the encoder or any classifier."
    )
    section.figure(state["figure_data"], caption="Real training images, one row per class")

    section = report.section("Generators")
    section.text(
        f"Vanilla GAN (DCGAN, preset {config['gan_preset']} scaled to {config['image_size']} px, "
        f"{config['gan_steps']} steps), then the AC-GAN of the thesis on its frozen generator and discriminator "
        f"({config['acgan_steps']} steps): only the 3-layer mapping (z, class) -> z, the realness head and the "
        "3-layer auxiliary classifier train. Two deliberate departures from the thesis, both settings: the vanilla "
        "GAN is Fernández's DCGAN (batch norm, Adam beta_1 0.5), which trains in minutes on a CPU, and the mapping "
        f"ends in a {config['acgan_options'].get('mapping_output_activation', 'relu')} layer (a ReLU output reaches "
        "only the positive half of the frozen generator's latent space and collapsed all classes in our runs)."
    )
    vanilla_run = os.path.join(state["out_dir"], "runs", "vanilla")
    acgan_run = os.path.join(state["out_dir"], "runs", "acgan")
    for run, name in ((vanilla_run, "vanilla GAN"), (acgan_run, "AC-GAN")):
        curves = os.path.join(run, "loss_curves.png")
        if os.path.isfile(curves):
            section.figure(curves, caption=f"Loss curves of the {name}")
    section.figure(state["figure_vanilla_samples"], caption="Vanilla GAN samples (unconditional)", width=420)
    section.figure(state["figure_acgan_samples"], caption="AC-GAN samples, one row per requested class")

    section = report.section("Generator evaluation")
    evaluation = state["evaluation"]
    section.text(
        "Scores in a domain feature space: the penultimate layer of a small CNN trained on the real training images "
        "(ImageNet Inception features are neither available offline nor of this domain). The real held-out row is "
        "the reference a perfect generator would reach; FID is biased upwards at these sample sizes, KID is not."
    )
    tables = _markdown_tables(state["evaluation_markdown"])
    for table in tables:
        section.table(table)
    for name, path in sorted((evaluation.get("figures") or {}).items()):
        if isinstance(path, str) and path.endswith(".png") and os.path.isfile(path):
            section.figure(path, caption=name.replace("_", " "))

    section = report.section("Latent space")
    quality = state["latent_quality"]
    rows = "\n".join(
        f"| {name.replace('_', ' ')} | {values['mse']:.4f} | {values['psnr']:.2f} | {values['ssim']:.3f} |"
        for name, values in quality.items()
    )
    section.table("| method | MSE | PSNR (dB) | SSIM |\n|---|---|---|---|\n" + rows,
                  caption="Reconstruction of one real test image per class through the vanilla generator")
    section.figure(state["figure_reverse_search"], caption="Reverse search (Fernández 2021)")
    section.figure(state["figure_encoder"], caption="Image-to-latent encoder (Klang & Carlberg; cyclic loss of Saboo et al.)")
    section.figure(state["figure_interpolation"], caption="Spherical interpolation between two encoded test images")
    section.figure(state["figure_interpolation_gif"], caption="The same path, animated", width=160)

    section = report.section("Augmentation experiment")
    section.table(state["headline_table"], caption="Per arm (mean ± std over seeds)")
    section.table(state["per_class_table"], caption="Per-class F1 change vs baseline: mean [95 % CI over seeds; 95 % bootstrap CI over test images]")
    section.bullets(state["verdict"])
    for arm, path in state["figure_confusion"].items():
        section.figure(path, caption=f"Confusion matrix, {arm}", width=520)

    section = report.section("Grad-CAM: real vs generated evidence")
    section.text(
        "Fernández et al. (2021, sec. 4.1.1) checked with Grad-CAM that a classifier highlights the same evidence "
        "on generated as on real images. Below, the baseline classifier (seed 0) on real test images and AC-GAN "
        "images of the most common and of the rarest class."
    )
    for name, entry in state["gradcam"].items():
        section.text(f"{name}: {entry['summary']}")
        section.figure(entry["figure"], caption=f"Grad-CAM, class {name}")

    section = report.section("Exported models")
    section.bullets(f"{kind}: {path} (SavedModel + model_card.json)" for kind, path in state["exports"].items())

    section = report.section("What these numbers do and do not show")
    section.bullets([
        "The data set is synthetic: it shows the pipeline works and how to read its output, not how a GAN will help "
        "on your images. Run the same command on your data (`ganaug augment`).",
        "All scores are on one fixed test split that no model saw; the seed interval captures training variability, "
        "the bootstrap interval test-set variability. Neither captures variation between data sets.",
        "With 3 seeds a t-interval is wide: 'inconclusive' means this run cannot tell, not that there is no effect.",
        "The generator was trained for minutes on a CPU at low resolution; better generators may change the answer. "
        "Use the gpu preset or your own settings to scale up.",
        "FID/KID depend on the feature extractor (recorded above); compare them only within one extractor.",
    ])

    section = report.section("Timings")
    section.table(
        "| step | seconds |\n|---|---|\n"
        + "\n".join(f"| {name} | {seconds} |" for name, seconds in state["timings"].items())
    )
    return report.write(state["out_dir"])


def _counts_table(state):
    counts = state["experiment"]["counts"]
    lines = ["| class | train | validation | test | synthetic added |", "|---|---|---|---|---|"]
    for k, name in enumerate(state["class_names"]):
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
