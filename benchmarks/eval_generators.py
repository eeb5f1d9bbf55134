"""Three routes to class-conditional images for the same CPU time, compared on the embedded data set.

Trains (1) the thesis's route, a vanilla DCGAN then the AC-GAN on its frozen backbone (the budget
split 70/30), (2) Fernández et al.'s conditional DCGAN and (3) SNGAN with a projection
discriminator, each for the same CPU time (``time.process_time`` of this process, so other load on
the machine does not count), then prints ``compare_generators``'s table: TRTS fidelity, TSTR,
FID/KID, precision/recall, coverage, per-class recall, collapse and memorisation, all in one
feature space, with the generator a declared rule selects.

    python benchmarks/eval_generators.py --cpu-seconds 300 --out /tmp/eval_generators

Training runs in chunks of ``--chunk`` steps resumed from checkpoints until the budget is spent, so
the step counts printed are what each family reached in that time.
"""

import argparse
import json
import os
import time


def train_for(family, budget, reader_factory, run_dir, chunk, **options):
    """Trains ``family`` in chunks until ``budget`` CPU seconds are spent; returns (steps, seconds)."""
    from ganaug.training import train_gan

    started, steps = time.process_time(), 0
    while time.process_time() - started < budget:
        steps += chunk
        train_gan(family, reader_factory(), run_dir=run_dir, steps=steps, resume="or_start",
                  checkpoint_every=chunk, sample_every=0, verbose=0, **options)
    return steps, round(time.process_time() - started, 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-seconds", type=float, default=300, help="CPU time per family")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--num-images", type=int, default=2400)
    parser.add_argument("--chunk", type=int, default=200, help="steps between budget checks")
    parser.add_argument("--out", default="/tmp/ganaug_eval_generators")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from data_readers.image_reader import ImageReader
    from data_readers.synthetic import make_blood_cell_dataset
    from ganaug import augment, runs
    from ganaug.evaluation.comparison import comparison_table, compare_generators, per_class_comparison_table

    data_dir = os.path.join(args.out, "data")
    if not os.path.isfile(os.path.join(data_dir, "manifest.csv")):
        make_blood_cell_dataset(data_dir, image_size=args.image_size, num_images=args.num_images, seed=args.seed,
                                overwrite=True, verbose=0)
    everything = ImageReader.from_folder(data_dir, shuffle=False)
    names = everything.class_names
    split = augment.split_dataset(everything.paths, everything.labels, names, seed=args.seed)

    def reader(batch_size=32, shuffle=True):
        return ImageReader.from_paths(split.train_paths, split.train_labels, class_names=names,
                                      batch_size=batch_size, seed=args.seed, shuffle=shuffle, drop_remainder=shuffle)

    common = dict(image_size=args.image_size, batch_size=32, seed=args.seed)
    small = {"generator_filters": 64, "discriminator_filters": 32}
    budget, spent = args.cpu_seconds, {}
    run = {name: os.path.join(args.out, name) for name in ("vanilla", "acgan", "cdcgan", "sngan")}
    spent["vanilla"] = train_for("dcgan", 0.7 * budget, reader, run["vanilla"], args.chunk,
                                 preset="fernandez2021", model_options=small, **common)
    spent["acgan"] = train_for("acgan", 0.3 * budget, reader, run["acgan"], args.chunk, base_run=run["vanilla"],
                               preset="fernandez2021", model_options={"mapping_output_activation": "linear"}, **common)
    spent["cdcgan"] = train_for("cdcgan", budget, reader, run["cdcgan"], args.chunk, preset="fernandez2021",
                                model_options=small, diffaugment="color,translation,cutout", **common)
    spent["sngan"] = train_for("sngan", budget, reader, run["sngan"], args.chunk, preset="sngan_cpu",
                               model_options={"generator_filters": 32, "discriminator_filters": 32},
                               **common)
    for name, (steps, seconds) in spent.items():
        print(f"{name:>8s}: {steps} steps in {seconds} CPU s")
    validation = ImageReader.from_paths(split.validation_paths, split.validation_labels, class_names=names, shuffle=False)
    generators = {name: runs.load_run_model(run[name], "generator") for name in ("acgan", "cdcgan", "sngan")}
    result = compare_generators(
        generators, reader(64, shuffle=False), holdout_data=validation, class_names=names,
        latent_distributions={name: runs.read_config(run[name])["latent_distribution"] for name in generators},
        seed=args.seed, verbose=1,
    )
    print(comparison_table(result))
    print(per_class_comparison_table(result, metric="recall"))
    print(f"Rule: {result['rule']}\nSelected: {result['reason']}")
    with open(os.path.join(args.out, "comparison.json"), "w") as handle:
        json.dump(dict(result, cpu_budget=budget, spent=spent), handle, indent=1, default=str)


if __name__ == "__main__":
    main()
