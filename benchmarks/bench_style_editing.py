"""Issue 18's measured figures: W+ vs Z reverse search, and a class direction in W that is (or is not) real.

Run on the embedded blood-cell data set (``ganaug make-dataset``) with a trained StyleGAN run and a
trained DCGAN run (``ganaug train stylegan|dcgan``); see ``docs/style_editing.md`` for the exact
commands and the figures of one run. Three measurements, each printed:

1. **Reverse search, same step budget**: held-out real images (never seen by either GAN) are
   inverted by the StyleGAN in W+ (and W) from ``w_avg`` and by the DCGAN in z from a prior draw,
   Adam with the same step size and number of steps; mean PSNR / SSIM of each, and the paired
   per-image PSNR difference W+ - Z with a bootstrap 95 % interval.
2. **A direction between two classes** (default lymphocyte -> large granular lymphocyte): the W
   codes (reverse search) of training images of both classes give an LDA direction with its
   cross-validated held-out separation and permutation null (``latent_direction``); held-out
   images of the source class are edited along it (``edit_along``) and a classifier trained on
   the real training images scores every edit (``direction_response``): the fraction of held-out
   images whose target-class probability rises monotonically with the strength, and the SSIM /
   MSE drift to the original image.
3. **Two groups drawn from one class** (the source class split at random): the same procedure;
   its direction should *not* beat its permutation null; repeated over ``--control-splits``
   random splits, about 5 % of them may (the rate of a calibrated test), no more.

Whose verdict is it? ``--seed`` draws the images and codes and, unless ``--classifier-seed`` /
``--encoder-seed`` say otherwise, seeds the judge classifier and the W encoder too. With
``--judges K`` the edits are judged by the mean probability of K classifiers (seeds
``--classifier-seed + i``, ``build_classifier_ensemble``), and every judge also scores the very
same edits alone: the spread across judges is the part of the verdict that is the classifier's.
Changing only ``--encoder-seed`` gives the encoder's part. With ``--judge-views dihedral`` the judge
(one classifier or the ensemble) is averaged over the 8 rotations and mirrors of every image
(``build_dihedral_average``: a cell has no preferred orientation), and the same judge without the
average, and every judge alone with and without it, score the same edits too.

``--directions lda mean_difference`` fits each ``latent_direction`` method to the same codes and scores it on
the same held-out images with the same judges (a row per method; the LDA row keeps its plain label).

Strengths are in units of the direction's in-sample class-mean distance ``d`` along the unit
vector (``--strengths 0 0.5 1 1.5 2`` means 0 to 2d), so that "1" moves a code by the distance
between the two classes' means.

Usage::

    python benchmarks/bench_style_editing.py --stylegan-run RUN --dcgan-run RUN --data TRAIN --heldout HELDOUT \
        --out OUT [--steps 200] [--images 64]
"""

import argparse
import json
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402


def _paths(folder, class_name, count, rng):
    names = sorted(f for f in os.listdir(os.path.join(folder, class_name)) if f.endswith(".png"))
    chosen = rng.choice(len(names), size=min(count, len(names)), replace=False)
    return [os.path.join(folder, class_name, names[i]) for i in sorted(chosen)]


def _bootstrap_interval(values, seed=0, rounds=2000):
    rng = np.random.default_rng(seed)
    means = [np.mean(rng.choice(values, size=len(values))) for _ in range(rounds)]
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def reverse_search(args, stylegan, dcgan, dcgan_config, rng):
    """Measurement 1: W+ / W reverse search of the StyleGAN vs Z reverse search of the DCGAN."""
    from data_readers.image_reader import read_images
    from ganaug.latent import invert_images, invert_images_w, reconstruction_quality

    start, _, _ = search_start(stylegan, args)

    classes = sorted(d for d in os.listdir(args.heldout) if os.path.isdir(os.path.join(args.heldout, d)))
    per_class = max(1, args.images // len(classes))
    paths = [p for c in classes for p in _paths(args.heldout, c, per_class, rng)]
    images = read_images(paths, image_size=32)
    starts = np.tile(start[None], (len(images), 1))
    results = {"num_images": len(paths), "steps": args.steps, "learning_rate": args.learning_rate, "classes": classes}
    reconstructions = {}
    for name, run in (
        ("w+", lambda: invert_images_w(stylegan, images, space="w+", steps=args.steps,
                                       learning_rate=args.learning_rate, initial_codes=starts, verbose=0)),
        ("w", lambda: invert_images_w(stylegan, images, space="w", steps=args.steps,
                                      learning_rate=args.learning_rate, initial_codes=starts, verbose=0)),
        ("z", lambda: invert_images(dcgan, images, steps=args.steps, learning_rate=args.learning_rate, restarts=1,
                                    latent_distribution=dcgan_config.get("latent_distribution", "normal"),
                                    seed=args.seed, verbose=0)),
    ):
        start = time.perf_counter()
        result = run()
        quality = reconstruction_quality(images, result.reconstructions)
        reconstructions[name] = result.reconstructions
        results[name] = {"mean_psnr": quality["mean_psnr"], "mean_ssim": quality["mean_ssim"],
                         "mean_mse": quality["mean_mse"], "psnr": quality["psnr"].tolist(),
                         "seconds": time.perf_counter() - start}
    difference = np.asarray(results["w+"]["psnr"]) - np.asarray(results["z"]["psnr"])
    results["paired_psnr_difference_w_plus_minus_z"] = {
        "mean": float(difference.mean()), "interval_95": _bootstrap_interval(difference, args.seed),
        "fraction_w_plus_better": float(np.mean(difference > 0)),
    }
    print(f"Reverse search of {len(paths)} held-out real images, {args.steps} Adam steps at lr {args.learning_rate}:")
    labels = (("w+", "StyleGAN W+ (from the start)"), ("w", "StyleGAN W  (from the start)"),
              ("z", "DCGAN Z    (prior draw)"))
    for name, label in labels:
        print(f"  {label}: PSNR {results[name]['mean_psnr']:.2f} dB, SSIM {results[name]['mean_ssim']:.3f} "
              f"({results[name]['seconds']:.0f} s)")
    paired = results["paired_psnr_difference_w_plus_minus_z"]
    print(f"  paired PSNR W+ - Z: {paired['mean']:+.2f} dB (95 % bootstrap {paired['interval_95'][0]:+.2f} to "
          f"{paired['interval_95'][1]:+.2f}); W+ better on {paired['fraction_w_plus_better']:.0%} of images")
    return results, images, reconstructions


def train_real_classifier(args, class_names, seed):
    """A small CNN trained on the real training images only (a judge of the edits), seeded ``seed``."""
    from data_readers.image_reader import read_images
    from ganaug.models import build_classifier
    from ganaug.training import train_classifier

    paths, labels = [], []
    for index, name in enumerate(class_names):
        folder = os.path.join(args.data, name)
        for file in sorted(os.listdir(folder)):
            if file.endswith(".png"):
                paths.append(os.path.join(folder, file))
                labels.append(index)
    images = read_images(paths, image_size=32)
    labels = np.asarray(labels, np.int32)
    model = build_classifier("small_cnn", num_classes=len(class_names), image_size=32, seed=seed)
    model, _ = train_classifier(model, (images, labels), steps=args.classifier_steps, seed=seed, verbose=0)
    return model


def held_out_accuracy(classifier, args, class_names):
    from data_readers.image_reader import read_images

    correct, total = 0, 0
    for index, name in enumerate(class_names):
        folder = os.path.join(args.heldout, name)
        if not os.path.isdir(folder):
            continue
        paths = [os.path.join(folder, f) for f in sorted(os.listdir(folder)) if f.endswith(".png")]
        predictions = np.argmax(classifier.predict(read_images(paths, image_size=32), verbose=0), axis=1)
        correct += int(np.sum(predictions == index))
        total += len(paths)
    return correct / max(total, 1)


def search_start(stylegan, args):
    """The code every W / W+ reverse search starts from, and what it is.

    An unconditional generator: its tracked ``w_avg`` (Karras et al.'s projector). A conditional
    one (``--start class_mean``, its default): the mean of the classes' mean w
    (``class_w_averages``), which weighs every class alike; the tracked ``w_avg`` weighs them by how
    often each was drawn in training (here with the training labels' frequencies), so it lies
    nearer the frequent classes. A class's own mean w is never a start: the start would then carry
    the label the direction is to find.
    """
    from ganaug.latent import class_w_averages
    from ganaug.models.spec import GeneratorSpec
    from ganaug.models import w_avg_of

    tracked = w_avg_of(stylegan)
    conditional = GeneratorSpec.of(stylegan).conditional
    choice = args.start or ("class_mean" if conditional else "w_avg")
    info = {"start": choice}
    if conditional:
        averages = class_w_averages(stylegan, samples_per_class=args.class_mean_samples, seed=args.seed)
        class_mean = averages.mean(axis=0)
        info["distance_tracked_w_avg_to_class_mean"] = float(np.linalg.norm(tracked - class_mean))
        info["mean_distance_between_class_means"] = float(np.mean(
            [np.linalg.norm(a - b) for i, a in enumerate(averages) for b in averages[i + 1 :]]))
        return (class_mean if choice == "class_mean" else tracked), averages, info
    if choice != "w_avg":
        raise ValueError(f"--start class_mean needs a conditional generator. Received: --start {choice}")
    return tracked, None, info


def search_codes(stylegan, images, args, start, space="w", initial_codes=None):
    from ganaug.latent import invert_images_w

    if initial_codes is None:
        initial_codes = np.tile(start[None], (len(images), 1))
    return invert_images_w(stylegan, images, space=space, steps=args.steps, learning_rate=args.learning_rate,
                           initial_codes=initial_codes, verbose=0).codes


def train_encoder_on(stylegan, args):
    """Saboo et al.'s encoder into W (``train_w_encoder``), trained on every real training image."""
    from data_readers.image_reader import read_images
    from ganaug.latent import train_w_encoder

    paths = [os.path.join(args.data, c, f) for c in sorted(os.listdir(args.data))
             if os.path.isdir(os.path.join(args.data, c))
             for f in sorted(os.listdir(os.path.join(args.data, c))) if f.endswith(".png")]
    start = time.perf_counter()
    result = train_w_encoder(stylegan, read_images(paths, image_size=32), steps=args.encoder_steps, batch_size=32,
                             seed=args.encoder_seed, verbose=0)
    history = {name: float(np.mean(values[-50:])) for name, values in result.history.items() if name != "step"}
    info = {"steps": args.encoder_steps, "seed": args.encoder_seed, "training_images": len(paths),
            "seconds": time.perf_counter() - start,
            "final_losses_mean_of_last_50": history}
    print(f"Saboo W encoder trained on {len(paths)} real images, {args.encoder_steps} steps "
          f"({info['seconds']:.0f} s): real L2 {history['real_l2']:.4f}, real 1-SSIM {history['real_ssim']:.3f}, "
          f"code L1 {history['code_loss']:.4f}")
    return result.encoder, info


def generator_class_check(stylegan, classifier, class_names, args):
    """How often the real-trained classifier calls a conditional generator's class-c samples class c."""
    from ganaug.latent import generate_images
    from ganaug.models import sample_latent

    accuracy = {}
    for index, name in enumerate(class_names):
        z = sample_latent(args.fakes_per_class, stylegan.inputs[0].shape[-1], seed=args.seed + index)
        fakes = generate_images(stylegan, z, np.full((len(z),), index, np.int32))
        predictions = np.argmax(classifier.predict(fakes, verbose=0), axis=1)
        accuracy[name] = float(np.mean(predictions == index))
    print("Real-trained classifier on the conditional generator's samples (fraction called their own class): "
          + ", ".join(f"{name} {value:.2f}" for name, value in accuracy.items()))
    return accuracy


def describe(summary):
    return (f"held-out separation {summary['held_out_separation']:.2f} (AUC {summary['held_out_auc']:.2f}) vs "
            f"null 95th percentile {summary['null_separation_95']:.2f}, p = {summary['p_value']:.3f}, "
            f"beats null: {summary['beats_null']}; in-sample {summary['in_sample_separation']:.2f}")


def print_response(label, summary, strengths):
    print(f"  {label}: P(target) mean per strength {', '.join(f'{p:.3f}' for p in summary['mean_probability'])} "
          f"at {', '.join(f'{s:g}' for s in strengths)} x d (originals {summary['mean_original_probability']:.3f}); "
          f"monotone for {summary['fraction_monotone']:.0%}, rising for {summary['fraction_rising']:.0%}, median "
          f"Spearman {summary['median_spearman'] if summary['median_spearman'] is None else round(summary['median_spearman'], 2)}")
    print(f"    SSIM to the original {', '.join(f'{v:.3f}' for v in summary['mean_ssim'])}; to the unedited rendering "
          f"{', '.join(f'{v:.3f}' for v in summary['mean_ssim_to_reconstruction'])}; MSE to the original "
          f"{', '.join(f'{v:.4f}' for v in summary['mean_mse'])}")


def edit_and_score(stylegan, classifier, direction, codes, originals, strengths, target_index, space="w"):
    from ganaug.latent import direction_response, edit_along

    strip = edit_along(stylegan, direction, codes=codes, originals=originals, strengths=strengths, space=space)
    return strip, direction_response(classifier, strip, target_class=target_index)


def one_class_controls(pool, per_group, args, first, method="lda"):
    """The one-class control repeated over ``--control-splits`` random splits of one class's codes.

    Two random halves of one class are exchangeable, so a sound procedure (the cross-validated
    separation and a null computed the same way) beats its null at the 5 % level for about one
    split in twenty, whatever the codes are. A single split therefore says "beats" now and then
    by design (session 5 saw p = 0.025 once in four runs). Repeating the split tells that apart
    from a flawed procedure (information leaking from the held-out folds, a null computed
    differently), which would beat its null far more often. The first split is the row's own
    control (the first and second half of the shuffled draw), passed in as ``first`` rather than
    fitted again; the others reshuffle the same codes. Returns the counts, every split's p-value and held-out separation, and the binomial tail
    probability of at least that many splits beating the null if each does so with probability 0.05.
    """
    from scipy.stats import binom

    from ganaug.latent import latent_direction

    rng = np.random.default_rng(args.seed + 7919)
    p_values, separations, beats = [], [], []
    for split in range(args.control_splits):
        if split == 0:
            control = first
        else:
            order = rng.permutation(len(pool))
            control = latent_direction(pool[order[:per_group]], pool[order[per_group : 2 * per_group]], method=method,
                                       folds=5, permutations=args.permutations, seed=args.seed + split, warn=False)
        p_values.append(float(control.p_value))
        separations.append(float(control.held_out_separation))
        beats.append(bool(control.beats_null))
    beating = int(sum(beats))
    return {"splits": args.control_splits, "beating_null": beating, "expected_beating": 0.05 * args.control_splits,
            "binomial_p": float(binom.sf(beating - 1, args.control_splits, 0.05)),
            "median_p_value": float(np.median(p_values)), "p_values": p_values,
            "held_out_separations": separations,
            "held_out_separation_range": [float(min(separations)), float(max(separations))]}


def member_responses(others, strip, null_strip, target_index, limit):
    """Other judges, each ``(label, classifier)``, on the very same edits: how much the verdict is the judge's."""
    from ganaug.latent import direction_response

    rows = []
    for judge, member in others:
        response = direction_response(member, strip, target_class=target_index)
        null = direction_response(member, null_strip, target_class=target_index)
        row = {"judge": judge, "fraction_monotone": float(response.summary()["fraction_monotone"]),
               "one_class_fraction_monotone": float(null.summary()["fraction_monotone"]),
               "fraction_monotone_and_above_control":
                   float(response.specificity(null)["fraction_monotone_and_above_control"])}
        if limit is not None:
            short, null_short = response.up_to(limit), null.up_to(limit)
            row.update({"fraction_monotone_up_to": float(short.summary()["fraction_monotone"]),
                        "one_class_fraction_monotone_up_to": float(null_short.summary()["fraction_monotone"]),
                        "fraction_monotone_and_above_control_up_to":
                            float(short.specificity(null_short)["fraction_monotone_and_above_control"])})
        rows.append(row)
    return rows


def direction_rows(args, stylegan, classifier, class_names, groups, codes, label, others=(), method="lda",
                   shared=None):
    """One measured row: the class direction and the one-class control on one set of codes, and the edits.

    ``classifier`` judges the edits; ``others`` (``(label, classifier)`` pairs: an ensemble's members
    alone, the judge without its dihedral average) also score the same edits. ``method`` is
    ``latent_direction``'s, for the class direction and the one-class control alike; a row of
    another method than LDA is labelled ``codes/method``. ``shared`` (a dict, one per set of codes) keeps
    what does not depend on the method, the edits along the generator's class-mean direction, so that
    the rows of several methods render them once."""
    from ganaug.figures import save_figure
    from ganaug.latent import WeakDirectionWarning, latent_direction
    from ganaug.latent.figures import edit_figure, response_figure

    source, target = args.source, args.target
    per_group = args.codes_per_group
    source_codes, target_codes, held_out_codes = codes["source"], codes["target"], codes["held_out"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WeakDirectionWarning)
        direction = latent_direction(source_codes[:per_group], target_codes, method=method, folds=5,
                                     permutations=args.permutations, seed=args.seed,
                                     provenance=f"{source} -> {target}, W codes ({label}) of training images")
        one_class = latent_direction(source_codes[:per_group], source_codes[per_group : 2 * per_group], method=method,
                                     folds=5, permutations=args.permutations, seed=args.seed,
                                     provenance=f"two random groups of {source} ({label})")
    controls = one_class_controls(source_codes[: 2 * per_group], per_group, args, one_class, method)
    if method != "lda":
        label = f"{label}/{method}"
    file_label = label.replace("/", "_")
    shared = {} if shared is None else shared
    projected = (target_codes @ direction.vector).mean() - (source_codes[:per_group] @ direction.vector).mean()
    # the shorter range fixed before the run (e.g. 1 d: from the source class to the target's mean)
    limit = None if args.monotone_up_to is None else args.monotone_up_to * abs(projected) * (1 + 1e-6)
    strengths = [float(s * projected) for s in args.strengths]
    target_index = class_names.index(target)
    held_out_images = groups["held_out"]
    strip, response = edit_and_score(stylegan, classifier, direction, held_out_codes, held_out_images, strengths,
                                     target_index)
    null_strip, null_response = edit_and_score(stylegan, classifier, one_class, held_out_codes, held_out_images,
                                               strengths, target_index)
    specificity = response.specificity(null_response)
    results = {"codes": label, "method": method, "codes_per_group": [per_group, int(len(target_codes))], "specificity": specificity,
               "probabilities": response.probabilities.tolist(),
               "one_class_probabilities": null_response.probabilities.tolist(),
               "direction": direction.summary(), "one_class": one_class.summary(), "one_class_splits": controls,
               "class_mean_distance": float(projected), "strengths_in_class_mean_distances": list(args.strengths),
               "strengths": strengths, "response": response.summary(),
               "one_class_response": null_response.summary()}
    print(f"[{label}] direction {source} -> {target} in W ({per_group} vs {len(target_codes)} training codes, "
          f"{args.permutations} permutations): {describe(results['direction'])}")
    print(f"[{label}] two random groups of {source} ({per_group} vs {per_group}): {describe(results['one_class'])}")
    print(f"[{label}] {controls['splits']} random splits of the same {2 * per_group} {source} codes: "
          f"{controls['beating_null']} beat their null (its 95th percentile; expected {controls['expected_beating']:.1f} if the test "
          f"is calibrated; binomial p = {controls['binomial_p']:.3f}), median p {controls['median_p_value']:.2f}, "
          f"held-out separations {controls['held_out_separation_range'][0]:.2f} to "
          f"{controls['held_out_separation_range'][1]:.2f}")
    print(f"[{label}] edits of {len(held_out_codes)} held-out {source} images (d = {projected:.3f}):")
    print_response("along the class direction", results["response"], args.strengths)
    print_response("along the one-class direction", results["one_class_response"], args.strengths)
    print(f"  paired with the one-class direction, image by image: the class direction raises P(target) more for "
          f"{specificity['fraction_rise_above_control']:.0%}; monotone and more for "
          f"{specificity['fraction_monotone_and_above_control']:.0%} (median rise {specificity['median_rise']:.3f} "
          f"against {specificity['median_control_rise']:.3f})")
    if args.monotone_up_to is not None:
        # the same rule on the same images, over the shorter range ``limit``
        shown_strengths = [s for s in args.strengths if s <= args.monotone_up_to]
        short, null_short = response.up_to(limit), null_response.up_to(limit)
        results["response_up_to"] = dict(short.summary(), strengths_in_class_mean_distances=shown_strengths)
        results["one_class_response_up_to"] = null_short.summary()
        results["specificity_up_to"] = short.specificity(null_short)
        print_response(f"along the class direction, 0 to {args.monotone_up_to:g} d only", results["response_up_to"],
                       shown_strengths)
        print_response(f"along the one-class direction, 0 to {args.monotone_up_to:g} d only",
                       results["one_class_response_up_to"], shown_strengths)
        print(f"    paired, 0 to {args.monotone_up_to:g} d: monotone and above the control for "
              f"{results['specificity_up_to']['fraction_monotone_and_above_control']:.0%}")
        save_figure(response_figure(short, class_name=target, title=f"{source} -> {target} in W ({label}), "
                                    f"0 to {args.monotone_up_to:g} d: {len(held_out_codes)} held-out images"),
                    os.path.join(args.out, f"response_{file_label}_up_to.png"))
    if others:
        results["judges"] = member_responses(others, strip, null_strip, target_index, limit)
        for row in results["judges"]:
            short = "" if limit is None else (
                f"; 0-{args.monotone_up_to:g} d: {row['fraction_monotone_up_to']:.0%} / "
                f"{row['one_class_fraction_monotone_up_to']:.0%}, above the control "
                f"{row['fraction_monotone_and_above_control_up_to']:.0%}")
            print(f"  {row['judge']}: monotone {row['fraction_monotone']:.0%} "
                  f"(one-class {row['one_class_fraction_monotone']:.0%}), above the control "
                  f"{row['fraction_monotone_and_above_control']:.0%}{short}")
    if "held_out_w_plus" in codes:
        # The same W direction applied to every row of the held-out images' W+ codes (closer reconstructions).
        plus_strip, plus = edit_and_score(stylegan, classifier, direction, codes["held_out_w_plus"], held_out_images,
                                          strengths, target_index, space="w+")
        results["w_plus_response"] = plus.summary()
        print_response("W+ codes, W direction on every row", results["w_plus_response"], args.strengths)
        save_figure(response_figure(plus, class_name=target, title=f"{source} -> {target}: W direction on W+ codes"),
                    os.path.join(args.out, f"response_w_plus_{file_label}.png"))
    if "class_means" in codes:
        # The generator's own class direction (its mapping's mean w of each class): no fit to the image codes.
        difference = codes["class_means"][target_index] - codes["class_means"][class_names.index(source)]
        length = float(np.linalg.norm(difference))
        unit = difference / length
        own_strengths = [float(s * length) for s in args.strengths]
        if "class_mean_response" not in shared:  # the same edits for every method's row
            shared["class_mean_response"] = edit_and_score(stylegan, classifier, unit, held_out_codes,
                                                           held_out_images, own_strengths, target_index)[1]
        own = shared["class_mean_response"]
        gap = float((target_codes @ unit).mean() - (source_codes[:per_group] @ unit).mean())
        spread = float(((source_codes[:per_group] @ unit).std() + (target_codes @ unit).std()) / 2)
        results["generator_class_direction"] = {
            "length": length, "strengths": own_strengths, "cosine_to_fitted_direction": float(unit @ direction.vector),
            "signed_separation_of_the_codes": gap / spread, "response": own.summary()}
        print(f"  the generator's class-mean direction (|w_{target} - w_{source}| = {length:.3f}, cosine to the {method} "
              f"direction {unit @ direction.vector:.2f}; the codes' signed separation along it {gap / spread:.2f}):")
        print_response("along it, strengths x its length", results["generator_class_direction"]["response"],
                       args.strengths)
    shown = min(8, len(held_out_codes))
    row_labels = [f"P0={p:.2f}" for p in response.probabilities[:shown, 0]]
    save_figure(edit_figure(strip.images[:shown], args.strengths, row_labels=row_labels,
                            title=f"held-out {source} images edited towards {target} in W ({label}; strength x d)"),
                os.path.join(args.out, f"edits_{file_label}.png"))
    save_figure(response_figure(response, class_name=target,
                                title=f"{source} -> {target} in W ({label}): {len(held_out_codes)} held-out images"),
                os.path.join(args.out, f"response_{file_label}.png"))
    return results


def direction_experiment(args, stylegan, classifier, class_names, rng, others=()):
    """Measurements 2 and 3 for every code source of ``--codes``: the direction, the one-class control, the edits."""
    from data_readers.image_reader import read_images
    from ganaug.latent import encode

    source, target = args.source, args.target
    per_group = args.codes_per_group
    # The source draw in random order: its first half gives the direction, its second the one-class
    # control, so the two halves must not follow the files' order (a generator may write them in order).
    paths = {"source": list(rng.permutation(_paths(args.data, source, 2 * per_group, rng))),
             "target": _paths(args.data, target, args.target_codes or per_group, rng),
             "held_out": _paths(args.heldout, source, args.edit_images, rng)}
    groups = {name: read_images(group, image_size=32) for name, group in paths.items()}
    start, class_means, start_info = search_start(stylegan, args)
    results = {"source": source, "target": target, "space": "w", "search": start_info, "rows": {}}
    print(f"Reverse searches start at {start_info['start']}" + (
        f" (tracked w_avg {start_info['distance_tracked_w_avg_to_class_mean']:.3f} from the mean of the class means; "
        f"class means {start_info['mean_distance_between_class_means']:.3f} apart on average)"
        if class_means is not None else ""))
    encoder = None
    if any(label.startswith("encoder") for label in args.codes):
        encoder, results["encoder"] = train_encoder_on(stylegan, args)
    for label in args.codes:
        began = time.perf_counter()
        if label == "search":
            codes = {name: search_codes(stylegan, images, args, start) for name, images in groups.items()}
        elif label == "encoder":
            codes = {name: encode(encoder, images) for name, images in groups.items()}
        else:  # "encoder+search": Saboo's encoder codes refined by reverse search
            codes = {name: search_codes(stylegan, images, args, start, initial_codes=encode(encoder, images))
                     for name, images in groups.items()}
        if args.also_w_plus and label == "search":
            codes["held_out_w_plus"] = search_codes(stylegan, groups["held_out"], args, start, space="w+")
        if class_means is not None:
            codes["class_means"] = class_means
        seconds = time.perf_counter() - began
        shared = {}
        for method in args.directions:
            row = direction_rows(args, stylegan, classifier, class_names, groups, codes, label, others, method,
                                 shared)
            row["code_seconds"] = seconds
            results["rows"][row["codes"]] = row
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stylegan-run", required=True)
    parser.add_argument("--dcgan-run", help="the DCGAN of the reverse-search comparison (not needed with "
                        "--skip-reverse-search)")
    parser.add_argument("--data", required=True, help="the training data set (folder per class)")
    parser.add_argument("--heldout", required=True, help="held-out real images (folder per class), e.g. another seed")
    parser.add_argument("--out", required=True)
    parser.add_argument("--steps", type=int, default=200, help="reverse-search steps of every search (default 200)")
    parser.add_argument("--learning-rate", type=float, default=0.05)
    parser.add_argument("--images", type=int, default=64, help="held-out images of the reverse-search comparison")
    parser.add_argument("--source", default="lymphocyte")
    parser.add_argument("--target", default="large_granular_lymphocyte")
    parser.add_argument("--codes-per-group", type=int, default=100,
                        help="source-class codes of the direction (the one-class control draws twice as many)")
    parser.add_argument("--target-codes", type=int, default=None,
                        help="target-class codes of the direction (default --codes-per-group)")
    parser.add_argument("--codes", nargs="+", default=["search"], choices=("search", "encoder", "encoder+search"),
                        help="where the W codes come from, one measured row each: reverse search, Saboo's encoder "
                        "(train_w_encoder), or the encoder's codes refined by reverse search")
    parser.add_argument("--start", choices=("w_avg", "class_mean"), default=None,
                        help="start of every reverse search: the tracked w_avg, or (conditional generators, their "
                        "default) the mean of the classes' mean w")
    parser.add_argument("--class-mean-samples", type=int, default=2000, help="z draws per class of the class means")
    parser.add_argument("--encoder-steps", type=int, default=1000)
    parser.add_argument("--fakes-per-class", type=int, default=200,
                        help="conditional generators: samples per class scored by the real-trained classifier")
    parser.add_argument("--edit-images", type=int, default=60, help="held-out source images to edit")
    parser.add_argument("--strengths", type=float, nargs="+", default=[0.0, 0.5, 1.0, 1.5, 2.0])
    parser.add_argument("--permutations", type=int, default=200)
    parser.add_argument("--directions", nargs="+", default=["lda"],
                        choices=("lda", "mean_difference", "logistic", "fisher"),
                        help="latent_direction methods, each a row on the same codes, edits and judges (default lda)")
    parser.add_argument("--monotone-up-to", type=float, default=None,
                        help="also check the dose response over the strengths up to this many d only (e.g. 1: "
                        "from the source class to the target class's mean)")
    parser.add_argument("--classifier-steps", type=int, default=1500)
    parser.add_argument("--control-splits", type=int, default=20,
                        help="random splits of the source codes of the repeated one-class control (default 20)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the draws of images and codes (and of the judges and the encoder unless set)")
    parser.add_argument("--classifier-seed", type=int, default=None,
                        help="seed of the (first) judge classifier (default --seed); judge i gets this + i")
    parser.add_argument("--encoder-seed", type=int, default=None, help="seed of the Saboo W encoder (default --seed)")
    parser.add_argument("--judges", type=int, default=1,
                        help="classifiers trained with seeds --classifier-seed + i whose mean probability judges "
                        "the edits (default 1); with more, each is also reported alone on the same edits")
    parser.add_argument("--judge-views", choices=("identity", "dihedral"), default="identity",
                        help="dihedral: the judge's probability is its mean over the 8 rotations and mirrors of each "
                        "image (build_dihedral_average); the judge without it is also reported on the same edits")
    parser.add_argument("--skip-reverse-search", action="store_true")
    parser.add_argument("--also-w-plus", action="store_true",
                        help="also edit the held-out images' W+ codes along the W direction (every row)")
    args = parser.parse_args(argv)

    from ganaug.figures import labelled_grid_figure, save_figure
    from ganaug.models import build_classifier_ensemble, build_dihedral_average
    from ganaug.runs import load_run_model, read_config

    if not args.skip_reverse_search and not args.dcgan_run:
        parser.error("--dcgan-run is required unless --skip-reverse-search")
    if args.monotone_up_to is not None and sum(s <= args.monotone_up_to for s in args.strengths) < 2:
        parser.error(f"--monotone-up-to {args.monotone_up_to:g} keeps fewer than two of --strengths {args.strengths}")
    if args.control_splits < 1:
        parser.error(f"--control-splits must be >= 1. Received: {args.control_splits}")
    if args.judges < 1:
        parser.error(f"--judges must be >= 1. Received: {args.judges}")
    args.classifier_seed = args.seed if args.classifier_seed is None else args.classifier_seed
    args.encoder_seed = args.seed if args.encoder_seed is None else args.encoder_seed
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    stylegan = load_run_model(args.stylegan_run, "generator")
    class_names = list(read_config(args.stylegan_run)["class_names"])
    record = {"arguments": vars(args), "stylegan_family": read_config(args.stylegan_run)["family"]}
    started = time.perf_counter()
    if not args.skip_reverse_search:
        dcgan_config = read_config(args.dcgan_run)
        dcgan = load_run_model(args.dcgan_run, "generator")
        record["reverse_search"], images, reconstructions = reverse_search(args, stylegan, dcgan, dcgan_config, rng)
        shown = slice(0, min(10, len(images)))
        figure = labelled_grid_figure(
            [images[shown], reconstructions["w+"][shown], reconstructions["w"][shown], reconstructions["z"][shown]],
            row_labels=["held-out real", "StyleGAN W+", "StyleGAN W", "DCGAN Z"],
            title=f"reverse search, {args.steps} steps each: PSNR W+ {record['reverse_search']['w+']['mean_psnr']:.1f}, "
            f"W {record['reverse_search']['w']['mean_psnr']:.1f}, Z {record['reverse_search']['z']['mean_psnr']:.1f} dB",
        )
        save_figure(figure, os.path.join(args.out, "reverse_search.png"))
    start = time.perf_counter()
    judges = [train_real_classifier(args, class_names, args.classifier_seed + index) for index in range(args.judges)]
    members = judges if len(judges) > 1 else []
    classifier = build_classifier_ensemble(judges) if members else judges[0]
    seeds = [args.classifier_seed + index for index in range(args.judges)]
    others = [(f"judge {index} alone (seed {seed})", judge) for index, (seed, judge) in enumerate(zip(seeds, members))]
    if args.judge_views == "dihedral":
        plain, classifier = classifier, build_dihedral_average(classifier)
        others = ([("the same judge without the dihedral average", plain)] + others
                  + [(f"judge {index} alone (seed {seed}), dihedral average", build_dihedral_average(judge))
                     for index, (seed, judge) in enumerate(zip(seeds, members))])
    record["classifier"] = {"architecture": "small_cnn", "steps": args.classifier_steps, "judges": args.judges,
                            "views": args.judge_views, "seeds": seeds,
                            "held_out_accuracy": held_out_accuracy(classifier, args, class_names),
                            "judges_held_out_accuracy": [held_out_accuracy(j, args, class_names) for j in members],
                            "seconds": time.perf_counter() - start}
    if args.judge_views == "dihedral":
        record["classifier"]["held_out_accuracy_without_dihedral_average"] = held_out_accuracy(plain, args, class_names)
    print(f"{'Ensemble of ' + str(args.judges) + ' classifiers' if members else 'Classifier'} trained on the real "
          f"training images: held-out accuracy {record['classifier']['held_out_accuracy']:.3f}"
          + (f" (each: {', '.join(f'{a:.3f}' for a in record['classifier']['judges_held_out_accuracy'])})" if members else "")
          + f" ({record['classifier']['seconds']:.0f} s)")
    from ganaug.latent import is_conditional

    if is_conditional(stylegan):
        record["classifier"]["own_class_fraction_of_generated_samples"] = generator_class_check(
            stylegan, classifier, class_names, args)
    record["directions"] = direction_experiment(args, stylegan, classifier, class_names, rng, others)
    record["seconds"] = time.perf_counter() - started
    with open(os.path.join(args.out, "style_editing.json"), "w") as f:
        json.dump(record, f, indent=1)
    print(f"Done in {record['seconds']:.0f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
