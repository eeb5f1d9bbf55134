"""The demo's SNGAN measured against its training length: does more training close the TSTR gap?

Trains the demo's SNGAN (its data, split, preset, widths, batch size and seed: ``ganaug.demo``)
as one run, resumed from its checkpoint to each step count of ``--steps`` in turn, and after each
scores the EMA generator with ``compare_generators`` exactly as the demo's comparison step does
(the real training split as reference, the validation split held out; TRTS fidelity, TSTR, recall,
per-class recall and TSTR, collapse flags). A line per step count goes to ``curve.jsonl`` in
``--out`` (an interrupted run continues where it stopped) and the table is printed at the end,
with the issue-16 targets, and ``curve.png`` plots it.

    python benchmarks/tstr_by_steps.py --out /tmp/tstr_by_steps --steps 1500 3000 4500 6000 9000 [--balanced-classes]

The demo itself trains 4,500 steps on natural batches (``DEMO_PRESETS["cpu"]``); the step counts
beyond it show what a longer budget buys (``ganaug demo --sngan-steps N [--sngan-balanced-classes]``
trains the demo's SNGAN that way, or a GPU).
"""

import argparse
import json
import os
import time

from ganaug.evaluation.comparison import TARGETS


def read_curve(path):
    """Returns the lines already written to ``curve.jsonl`` (step count -> entry)."""
    if not os.path.isfile(path):
        return {}
    with open(path) as handle:
        return {entry["steps"]: entry for entry in map(json.loads, filter(str.strip, handle))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/ganaug_tstr_by_steps")
    parser.add_argument("--steps", type=int, nargs="+", default=[1500, 3000, 4500, 6000, 9000])
    parser.add_argument("--preset", default="cpu", help="the demo preset whose data and SNGAN settings are used")
    parser.add_argument("--balanced-classes", action="store_true", help="class-balanced real batches")
    parser.add_argument("--checkpoint-every", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    steps = sorted(set(args.steps))
    if steps[0] < 1:
        parser.error(f"--steps must be positive. Received: {steps}")

    from ganaug import demo
    from ganaug.figures import save_figure
    from ganaug.training import train_gan

    config = demo.demo_config(args.preset, sngan_balanced_classes=args.balanced_classes)
    config["seed"] = args.seed
    state = demo.DemoState(config=config, out_dir=os.path.abspath(args.out), verbose=0)
    os.makedirs(state.figures_dir, exist_ok=True)
    state.results["data"] = dict(demo.STEPS)["data"](state)
    names = state.class_names
    curve_path = os.path.join(state.out_dir, "curve.jsonl")
    done = read_curve(curve_path)
    for total in steps:
        if total in done:
            print(f"{total} steps: measured in an earlier run")
            continue
        started = time.time()
        train_gan("sngan", **demo.sngan_arguments(state), steps=total, sample_every=args.checkpoint_every,
                  checkpoint_every=args.checkpoint_every, verbose=1, resume="or_start")
        seconds = time.time() - started
        result = demo.generator_comparison(state, ["sngan"])  # scored as the demo's comparison step does
        row, per_class = result["rows"]["sngan"], result["per_class"]["sngan"]
        entry = {
            "steps": total, "train_seconds": round(seconds), "real_accuracy": result["real_accuracy"],
            **{key: row[key] for key in ("fidelity", "tstr_ratio", "recall", "mean_class_recall", "min_class_recall",
                                         "fid", "collapsed_classes", "failures")},
            "tstr_per_class": {name: per_class[name]["tstr_accuracy"] for name in names},
            "recall_per_class": {name: per_class[name]["recall"] for name in names},
        }
        done[total] = entry
        with open(curve_path, "a") as handle:
            handle.write(json.dumps(entry) + "\n")
        print(f"{total} steps ({entry['train_seconds']} s): fidelity {row['fidelity']:.3f}, "
              f"TSTR {row['tstr_ratio']:.2f}x, recall {row['recall']:.3f}", flush=True)

    real_accuracy = next(iter(done.values()))["real_accuracy"]
    print(f"\nThe demo's SNGAN ({args.preset} preset, seed {args.seed}, "
          f"{'class-balanced' if args.balanced_classes else 'natural'} batches); real-trained held-out accuracy "
          f"{real_accuracy:.3f}. Targets (issue 16): fidelity >= {real_accuracy - TARGETS['fidelity_gap']:.3f}, "
          f"TSTR >= {TARGETS['tstr_ratio']}x, recall >= {TARGETS['class_recall']} per class, none collapsed\n")
    print("| steps | TRTS fidelity | TSTR (x real) | recall | class recall mean / min | FID | collapsed |")
    print("|---|---|---|---|---|---|---|")
    for total in sorted(done):
        e = done[total]
        print(f"| {total} | {e['fidelity']:.3f} | {e['tstr_ratio']:.2f}x | {e['recall']:.3f} | "
              f"{e['mean_class_recall']:.3f} / {e['min_class_recall']:.3f} | {e['fid']:.2f} | "
              f"{', '.join(e['collapsed_classes']) or 'none'} |")
    print(f"\nFigure: {save_figure(curve_figure(done, real_accuracy), os.path.join(state.out_dir, 'curve.png'))}")


def curve_figure(done, real_accuracy):
    """Returns a figure of fidelity, TSTR, recall and the worst class's recall against steps."""
    import matplotlib.pyplot as plt

    steps = sorted(done)
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    left.plot(steps, [done[s]["fidelity"] for s in steps], "o-", label="TRTS fidelity")
    left.axhline(real_accuracy, color="grey", ls=":", label=f"real-trained accuracy {real_accuracy:.3f}")
    left.axhline(real_accuracy - TARGETS["fidelity_gap"], color="C0", ls="--", lw=0.8, label="fidelity target")
    left.plot(steps, [done[s]["tstr_ratio"] * real_accuracy for s in steps], "s-", color="C1", label="TSTR accuracy")
    left.axhline(TARGETS["tstr_ratio"] * real_accuracy, color="C1", ls="--", lw=0.8, label="TSTR target (0.8x)")
    left.set(xlabel="SNGAN steps", ylabel="accuracy on held-out real images", ylim=(0, 1))
    left.legend(fontsize=7, loc="lower right")
    right.plot(steps, [done[s]["recall"] for s in steps], "o-", label="recall")
    right.plot(steps, [done[s]["min_class_recall"] for s in steps], "v-", label="worst class's recall")
    right.axhline(TARGETS["class_recall"], color="C1", ls="--", lw=0.8, label="per-class target")
    right.set(xlabel="SNGAN steps", ylabel="recall (domain features)", ylim=(0, 1))
    right.legend(fontsize=7, loc="lower right")
    figure.suptitle("The demo's SNGAN against its training length (one run, resumed)")
    figure.tight_layout()
    return figure


if __name__ == "__main__":
    main()
