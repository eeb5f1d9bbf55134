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
   its direction should *not* beat its permutation null.

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

    classes = sorted(d for d in os.listdir(args.heldout) if os.path.isdir(os.path.join(args.heldout, d)))
    per_class = max(1, args.images // len(classes))
    paths = [p for c in classes for p in _paths(args.heldout, c, per_class, rng)]
    images = read_images(paths, image_size=32)
    results = {"num_images": len(paths), "steps": args.steps, "learning_rate": args.learning_rate, "classes": classes}
    reconstructions = {}
    for name, run in (
        ("w+", lambda: invert_images_w(stylegan, images, space="w+", steps=args.steps,
                                       learning_rate=args.learning_rate, verbose=0)),
        ("w", lambda: invert_images_w(stylegan, images, space="w", steps=args.steps,
                                      learning_rate=args.learning_rate, verbose=0)),
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
    labels = (("w+", "StyleGAN W+ (from w_avg)"), ("w", "StyleGAN W  (from w_avg)"), ("z", "DCGAN Z    (prior draw)"))
    for name, label in labels:
        print(f"  {label}: PSNR {results[name]['mean_psnr']:.2f} dB, SSIM {results[name]['mean_ssim']:.3f} "
              f"({results[name]['seconds']:.0f} s)")
    paired = results["paired_psnr_difference_w_plus_minus_z"]
    print(f"  paired PSNR W+ - Z: {paired['mean']:+.2f} dB (95 % bootstrap {paired['interval_95'][0]:+.2f} to "
          f"{paired['interval_95'][1]:+.2f}); W+ better on {paired['fraction_w_plus_better']:.0%} of images")
    return results, images, reconstructions


def train_real_classifier(args, class_names):
    """A small CNN trained on the real training images only (the judge of the edits)."""
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
    model = build_classifier("small_cnn", num_classes=len(class_names), image_size=32, seed=args.seed)
    model, _ = train_classifier(model, (images, labels), steps=args.classifier_steps, seed=args.seed, verbose=0)
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


def w_codes(stylegan, paths, args):
    from data_readers.image_reader import read_images
    from ganaug.latent import invert_images_w

    images = read_images(paths, image_size=32)
    return images, invert_images_w(stylegan, images, space="w", steps=args.steps, learning_rate=args.learning_rate,
                                   verbose=0).codes


def direction_experiment(args, stylegan, classifier, class_names, rng):
    """Measurements 2 and 3: the source -> target direction, and two groups of the source class."""
    from ganaug.figures import save_figure
    from ganaug.latent import WeakDirectionWarning, direction_response, edit_along, latent_direction
    from ganaug.latent.figures import edit_figure, response_figure

    source, target = args.source, args.target
    per_group = args.codes_per_group
    source_paths = _paths(args.data, source, 2 * per_group, rng)
    target_paths = _paths(args.data, target, per_group, rng)
    start = time.perf_counter()
    _, source_codes = w_codes(stylegan, source_paths, args)
    _, target_codes = w_codes(stylegan, target_paths, args)
    held_out_paths = _paths(args.heldout, source, args.edit_images, rng)
    held_out_images, held_out_codes = w_codes(stylegan, held_out_paths, args)
    search_seconds = time.perf_counter() - start
    results = {"source": source, "target": target, "codes_per_group": per_group, "space": "w",
               "search_seconds": search_seconds}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WeakDirectionWarning)
        direction = latent_direction(source_codes[:per_group], target_codes[: len(target_codes)], method="lda",
                                     folds=5, permutations=args.permutations, seed=args.seed,
                                     provenance=f"{source} -> {target}, W codes of training images")
        one_class = latent_direction(source_codes[:per_group], source_codes[per_group : 2 * per_group], method="lda",
                                     folds=5, permutations=args.permutations, seed=args.seed,
                                     provenance=f"two random groups of {source}")
    results["direction"] = direction.summary()
    results["one_class"] = one_class.summary()
    projected = (target_codes @ direction.vector).mean() - (source_codes[:per_group] @ direction.vector).mean()
    strengths = [float(s * projected) for s in args.strengths]
    results["class_mean_distance"] = float(projected)
    results["strengths_in_class_mean_distances"] = list(args.strengths)
    results["strengths"] = strengths
    strip = edit_along(stylegan, direction, codes=held_out_codes, originals=held_out_images, strengths=strengths,
                       space="w")
    target_index = class_names.index(target)
    response = direction_response(classifier, strip, target_class=target_index)
    results["response"] = response.summary()
    if args.also_w_plus:
        # The same W direction applied to every row of the held-out images' W+ codes (closer reconstructions).
        from ganaug.latent import invert_images_w

        plus_codes = invert_images_w(stylegan, held_out_images, space="w+", steps=args.steps,
                                     learning_rate=args.learning_rate, verbose=0).codes
        plus_strip = edit_along(stylegan, direction, codes=plus_codes, originals=held_out_images, strengths=strengths,
                                space="w+")
        plus = direction_response(classifier, plus_strip, target_class=target_index)
        results["w_plus_response"] = plus.summary()
        print(f"  W+ codes of the same images, W direction on every row: P({target}) "
              f"{', '.join(f'{p:.3f}' for p in results['w_plus_response']['mean_probability'])}, monotone for "
              f"{plus.fraction_monotone:.0%}, rising for {results['w_plus_response']['fraction_rising']:.0%}; SSIM to "
              f"the original {', '.join(f'{v:.3f}' for v in results['w_plus_response']['mean_ssim'])}")
        save_figure(response_figure(plus, class_name=target, title=f"{source} -> {target}: W direction on W+ codes"),
                    os.path.join(args.out, "response_w_plus.png"))
    # The same strengths along the one-class direction: the classifier's response to a null edit.
    null_strip = edit_along(stylegan, one_class, codes=held_out_codes, originals=held_out_images,
                            strengths=strengths, space="w")
    results["one_class_response"] = direction_response(classifier, null_strip, target_class=target_index).summary()

    def describe(summary):
        return (f"held-out separation {summary['held_out_separation']:.2f} (AUC {summary['held_out_auc']:.2f}) vs "
                f"null 95th percentile {summary['null_separation_95']:.2f}, p = {summary['p_value']:.3f}, "
                f"beats null: {summary['beats_null']}; in-sample {summary['in_sample_separation']:.2f}")

    print(f"Direction {source} -> {target} in W ({per_group} vs {len(target_codes)} training codes, "
          f"{args.permutations} permutations): {describe(results['direction'])}")
    print(f"Two random groups of {source} ({per_group} vs {per_group}): {describe(results['one_class'])}")
    summary = results["response"]
    print(f"Edits of {len(held_out_paths)} held-out {source} images along the direction, strengths "
          f"{', '.join(f'{s:g}' for s in args.strengths)} x d (d = {projected:.3f}):")
    print(f"  P({target}) mean per strength: {', '.join(f'{p:.3f}' for p in summary['mean_probability'])} "
          f"(of the original images: {summary['mean_original_probability']:.3f})")
    print(f"  monotone rise for {summary['fraction_monotone']:.0%} of images (tolerance {summary['tolerance']:g}); "
          f"rising at all for {summary['fraction_rising']:.0%}")
    print(f"  SSIM to the original: {', '.join(f'{v:.3f}' for v in summary['mean_ssim'])}; to the unedited "
          f"rendering: {', '.join(f'{v:.3f}' for v in summary['mean_ssim_to_reconstruction'])}")
    print(f"  MSE to the original: {', '.join(f'{v:.4f}' for v in summary['mean_mse'])}")
    null = results["one_class_response"]
    print(f"  along the one-class direction instead: P({target}) "
          f"{', '.join(f'{p:.3f}' for p in null['mean_probability'])}, "
          f"monotone for {null['fraction_monotone']:.0%}")
    shown = min(8, len(held_out_paths))
    labels = [f"{p:.2f}" for p in response.probabilities[:shown, 0]]
    figure = edit_figure(strip.images[:shown], args.strengths, row_labels=[f"P0={label}" for label in labels],
                         title=f"held-out {source} images edited towards {target} in W (strength x d)")
    save_figure(figure, os.path.join(args.out, "edits.png"))
    figure = response_figure(response, class_name=target,
                             title=f"{source} -> {target} in W: {len(held_out_paths)} held-out images")
    save_figure(figure, os.path.join(args.out, "response.png"))
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stylegan-run", required=True)
    parser.add_argument("--dcgan-run", required=True)
    parser.add_argument("--data", required=True, help="the training data set (folder per class)")
    parser.add_argument("--heldout", required=True, help="held-out real images (folder per class), e.g. another seed")
    parser.add_argument("--out", required=True)
    parser.add_argument("--steps", type=int, default=200, help="reverse-search steps of every search (default 200)")
    parser.add_argument("--learning-rate", type=float, default=0.05)
    parser.add_argument("--images", type=int, default=64, help="held-out images of the reverse-search comparison")
    parser.add_argument("--source", default="lymphocyte")
    parser.add_argument("--target", default="large_granular_lymphocyte")
    parser.add_argument("--codes-per-group", type=int, default=100)
    parser.add_argument("--edit-images", type=int, default=60, help="held-out source images to edit")
    parser.add_argument("--strengths", type=float, nargs="+", default=[0.0, 0.5, 1.0, 1.5, 2.0])
    parser.add_argument("--permutations", type=int, default=200)
    parser.add_argument("--classifier-steps", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-reverse-search", action="store_true")
    parser.add_argument("--also-w-plus", action="store_true",
                        help="also edit the held-out images' W+ codes along the W direction (every row)")
    args = parser.parse_args(argv)

    from ganaug.figures import labelled_grid_figure, save_figure
    from ganaug.runs import load_run_model, read_config

    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    stylegan = load_run_model(args.stylegan_run, "generator")
    dcgan_config = read_config(args.dcgan_run)
    dcgan = load_run_model(args.dcgan_run, "generator")
    class_names = list(read_config(args.stylegan_run)["class_names"])
    record = {"arguments": vars(args)}
    started = time.perf_counter()
    if not args.skip_reverse_search:
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
    classifier = train_real_classifier(args, class_names)
    record["classifier"] = {"architecture": "small_cnn", "steps": args.classifier_steps,
                            "held_out_accuracy": held_out_accuracy(classifier, args, class_names),
                            "seconds": time.perf_counter() - start}
    print(f"Classifier trained on the real training images: held-out accuracy "
          f"{record['classifier']['held_out_accuracy']:.3f} ({record['classifier']['seconds']:.0f} s)")
    record["directions"] = direction_experiment(args, stylegan, classifier, class_names, rng)
    record["seconds"] = time.perf_counter() - started
    with open(os.path.join(args.out, "style_editing.json"), "w") as f:
        json.dump(record, f, indent=1)
    print(f"Done in {record['seconds']:.0f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
