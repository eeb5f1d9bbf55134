"""`ganaug edit interpolate|arithmetic|class-invert|direction`: latent edits of image files on a run.

Every sub-command inverts its images first (the flags of ``ganaug invert``), then calls one
``ganaug.latent`` tool and writes its figure and codes to OUT. ``direction`` reports the direction's
separation held out (cross-validated) next to a permutation null and the in-sample figure
(``ganaug.latent.latent_direction``), works in StyleGAN's W or W+ space too (``--space``), renders
the edit strips with ``ganaug.latent.edit_along`` and, given a classifier trained on real images
(``--classifier``), measures the dose response and the identity drift of the edits
(``ganaug.latent.direction_response``: response.png and response.json). A one-class control runs
beside it unless ``--no-control``: the ``--negative`` group split into two random halves gives a
direction measured the same way (it should not beat its null), and the same images edited along it
tell, image by image, whether the class direction raises the target probability more than a move
with no class in it does (``DirectionResponse.specificity``): a drift of the renderings alone can
look monotone.
"""

import os

from ganaug.cli.invert import add_inversion_arguments, image_paths, invert_files, invert_files_w, label_indices, load_run


def register(subparsers):
    parser = subparsers.add_parser(
        "edit",
        help="Edit images in the latent space: interpolate, arithmetic, class-invert, direction.",
        description="Latent-space edits of image files on a run's generator (Fernández et al. 2021; "
        "Saboo et al.). Images are first inverted by reverse search (see `ganaug invert`).",
    )
    operations = parser.add_subparsers(dest="operation", metavar="<operation>", required=True)

    interpolate = operations.add_parser("interpolate", help="path between two images (PNG strip + GIF)")
    interpolate.add_argument("--images", nargs=2, required=True, metavar=("START", "END"))
    interpolate.add_argument("--num-steps", type=int, default=8, help="images on the path (default 8)")
    interpolate.add_argument("--method", choices=("linear", "slerp"), default="linear")
    add_inversion_arguments(interpolate)
    interpolate.set_defaults(func=run_interpolate)

    arithmetic = operations.add_parser(
        "arithmetic",
        help="sum of averaged groups: mean(plus_1) + ... - mean(minus_1) - ...",
    )
    arithmetic.add_argument("--plus", nargs="+", action="append", required=True, metavar="IMAGE",
                            help="a group of images whose averaged code is added (repeatable)")
    arithmetic.add_argument("--minus", nargs="+", action="append", default=[], metavar="IMAGE",
                            help="a group of images whose averaged code is subtracted (repeatable)")
    add_inversion_arguments(arithmetic)
    arithmetic.set_defaults(func=run_arithmetic)

    class_invert = operations.add_parser("class-invert", help="same z, another label (conditional runs)")
    class_invert.add_argument("--images", nargs="+", required=True)
    class_invert.add_argument("--target-label", default=None,
                              help="class name or index to render with (default: the next class)")
    add_inversion_arguments(class_invert)
    class_invert.set_defaults(func=run_class_invert)

    direction = operations.add_parser(
        "direction", help="direction between two groups (held-out separation vs a permutation null), then edit along it",
    )
    direction.add_argument("--negative", nargs="+", required=True, help="images (or folders) of group a")
    direction.add_argument("--positive", nargs="+", required=True, help="images (or folders) of group b")
    direction.add_argument("--images", nargs="+", required=True, help="images to edit")
    direction.add_argument("--method", choices=("lda", "fisher", "logistic", "mean_difference"), default="lda")
    direction.add_argument("--strengths", nargs="+", type=float, default=[-2.0, -1.0, 0.0, 1.0, 2.0])
    direction.add_argument("--space", choices=("z", "w", "w+"), default="z",
                           help="latent space: z (any run), or StyleGAN's W / W+ (reverse search from w_avg)")
    direction.add_argument("--folds", type=int, default=5,
                           help="cross-validation folds of the held-out separation (default 5; lowered to what "
                           "the smaller group allows, >= 2 codes per fold)")
    direction.add_argument("--permutations", type=int, default=200,
                           help="label permutations of the null (default 200; 0: no null)")
    direction.add_argument("--classifier", default=None,
                           help="a .keras classifier trained on real images (images in [-1, 1] -> class probabilities): "
                           "measure the target-class probability and the identity drift of the edits against the "
                           "strength (response.png, response.json)")
    direction.add_argument("--target-class", default=None,
                           help="with --classifier: the class the direction points to, a name of the run's class_names "
                           "or an index (default: the parent folder name of the --positive images)")
    direction.add_argument("--dihedral-average", action="store_true",
                           help="with --classifier: judge by its mean over the 8 rotations and mirrors of each image "
                           "(build_dihedral_average; for images with no preferred orientation, e.g. cells)")
    direction.add_argument("--tolerance", type=float, default=1e-3,
                           help="with --classifier: the largest fall of the probability between neighbouring "
                           "strengths still counted as monotone (default 0.001)")
    direction.add_argument("--no-control", action="store_true",
                           help="skip the one-class control (two random halves of the --negative group: its "
                           "direction should not beat its null; with --classifier, the edits are compared with "
                           "edits along it, image by image)")
    add_inversion_arguments(direction)
    direction.set_defaults(func=run_direction)


def _prepare(args, paths, *, labels=None):
    from ganaug.latent import is_conditional

    config, generator, encoder = load_run(args.run, with_encoder=args.encoder)
    labels = label_indices(labels if labels is not None else args.labels, paths, config,
                           conditional=is_conditional(generator))
    images, result = invert_files(args, generator, config, encoder, paths, labels)
    os.makedirs(args.out, exist_ok=True)
    return config, generator, images, result, labels


def run_interpolate(args):
    import numpy as np

    from ganaug.figures import save_figure, save_png
    from ganaug.latent import generate_images, interpolate_codes, soft_label_generator
    from ganaug.latent.figures import interpolation_figure, interpolation_strip, save_interpolation_gif

    paths = image_paths(args.images)
    if len(paths) != 2:
        raise ValueError(f"`--images` must name exactly two image files. Received: images={args.images}")
    config, generator, images, result, labels = _prepare(args, paths)
    path = interpolate_codes(result.codes[0], result.codes[1], num_steps=args.num_steps, method=args.method)
    if labels is None or labels[0] == labels[1]:
        path_labels = None if labels is None else np.full(len(path), labels[0], np.int32)
        frames = generate_images(generator, path, path_labels)
    else:
        # Interpolate the code and the class together through the soft one-hot label view.
        view = soft_label_generator(generator)
        eye = np.eye(int(view.inputs[1].shape[-1]), dtype=np.float32)
        weights = np.linspace(0.0, 1.0, len(path), dtype=np.float32)[:, None]
        soft_labels = (1.0 - weights) * eye[labels[0]] + weights * eye[labels[1]]
        frames = np.asarray(view([path, soft_labels], training=False))
    np.save(os.path.join(args.out, "codes.npy"), path)
    save_png(os.path.join(args.out, "interpolation_strip.png"), interpolation_strip(frames))
    figure = interpolation_figure(
        np.stack([np.concatenate([images[:1], frames[1:-1], images[1:]]), frames]),
        row_labels=["targets", args.method], title=f"{os.path.basename(paths[0])} -> {os.path.basename(paths[1])}",
    )
    save_figure(figure, os.path.join(args.out, "interpolation.png"))
    save_interpolation_gif(os.path.join(args.out, "interpolation.gif"), frames)
    if not args.quiet:
        print(f"Wrote a {args.num_steps}-step {args.method} path to {args.out}")
    return 0


def run_arithmetic(args):
    import numpy as np

    from ganaug.figures import labelled_grid_figure, save_figure
    from ganaug.latent import LatentCode, codes_from_array, generate_images, mean_code
    from ganaug.runs import write_json_atomic

    groups = [("+", image_paths(group)) for group in args.plus] + [("-", image_paths(group)) for group in args.minus]
    paths = [path for _, group in groups for path in group]
    config, generator, images, result, labels = _prepare(args, paths)
    names = [os.path.splitext(os.path.basename(p))[0] for p in paths]
    leaves = codes_from_array(result.codes, names=names, labels=labels)
    total, start, terms = None, 0, []
    for sign, group in groups:
        term = mean_code(leaves[start : start + len(group)])
        start += len(group)
        terms.append(term)
        if total is None:
            total = term if sign == "+" else -term
        else:
            total = total + term if sign == "+" else total - term
    term_labels = None if labels is None else np.full(len(terms), labels[0], np.int32)
    result_label = None if labels is None else labels[:1]
    pictures = np.concatenate([
        generate_images(generator, np.concatenate([t.as_batch() for t in terms]), term_labels),
        generate_images(generator, total.as_batch(), result_label),
    ])
    column_labels = [f"{sign} {term.provenance}" for (sign, _), term in zip(groups, terms)] + ["result"]
    figure = labelled_grid_figure([pictures], column_labels=column_labels, title=total.provenance)
    save_figure(figure, os.path.join(args.out, "arithmetic.png"))
    np.save(os.path.join(args.out, "codes.npy"), np.concatenate([result.codes, total.as_batch()]))
    write_json_atomic(os.path.join(args.out, "arithmetic.json"), {**total.to_dict(), "paths": paths})
    if not args.quiet:
        print(f"{total.provenance} -> {args.out}")
    return 0


def run_class_invert(args):
    import numpy as np

    from ganaug.figures import save_figure
    from ganaug.latent import invert_class, is_conditional, swapped_labels
    from ganaug.latent.figures import class_inversion_figure

    paths = image_paths(args.images)
    config, generator, images, result, labels = _prepare(args, paths)
    if not is_conditional(generator):
        raise ValueError("class-invert needs a conditional run (cdcgan or acgan). Received: run=" + args.run)
    num_classes = int(config.get("num_classes") or len(config.get("class_names") or []))
    if args.target_label is None:
        targets = swapped_labels(labels, num_classes=num_classes)
    else:
        targets = label_indices([args.target_label], paths, config, conditional=True, name="target_label")
    inversion = invert_class(generator, codes=result.codes, labels=labels, target_labels=targets)
    figure = class_inversion_figure(
        inversion.reconstructions, inversion.inverted, class_names=config.get("class_names"),
        labels=labels, target_labels=targets, title="class inversion (same z)",
    )
    save_figure(figure, os.path.join(args.out, "class_inversion.png"))
    np.save(os.path.join(args.out, "codes.npy"), inversion.codes)
    np.save(os.path.join(args.out, "target_labels.npy"), targets)
    if not args.quiet:
        print(f"Class-inverted {len(paths)} images -> {args.out}")
    return 0


def run_direction(args):
    import sys

    import numpy as np

    from ganaug.figures import save_figure
    from ganaug.latent import edit_along
    from ganaug.latent.figures import edit_figure
    from ganaug.runs import write_json_atomic

    negative, positive, targets = image_paths(args.negative), image_paths(args.positive), image_paths(args.images)
    paths = negative + positive + targets
    groups = len(negative) + len(positive)
    classifier, target_class = _classifier_and_target(args, positive)
    if args.space == "z":
        config, generator, images, result, labels = _prepare(args, paths)
        codes = result.codes
    else:
        config, generator, _ = load_run(args.run)
        images, result = invert_files_w(args, generator, config, paths)
        os.makedirs(args.out, exist_ok=True)
        labels, codes = None, result.codes.reshape(len(paths), -1)  # W+ flattened: one vector per image
    direction, note = _measured_direction(
        codes[: len(negative)], codes[len(negative) : groups], method=args.method, folds=args.folds,
        permutations=args.permutations, seed=args.seed,
        provenance=f"{len(negative)} negative vs {len(positive)} positive images, {args.space} codes",
    )
    if note:
        print(f"Warning: {note}", file=sys.stderr)
    control, control_note = (None, "switched off (--no-control)") if args.no_control else _one_class_control(
        codes[: len(negative)], args)
    if control_note and not args.no_control:
        print(f"Warning: one-class control: {control_note}", file=sys.stderr)
    if control is not None and control.beats_null:
        print("Warning: the one-class control (two random halves of the --negative group) beats its null too "
              f"({_separation_text(control.summary())}): about 1 run in 20 does by chance; more often, the "
              "separation measure is not to be trusted on these codes", file=sys.stderr)

    def edits(vector):
        return edit_along(
            generator, vector, codes=result.codes[groups:], strengths=args.strengths, space=args.space,
            originals=images[groups:], labels=None if labels is None else labels[groups:], batch_size=args.batch_size,
        )

    strip = edits(direction)
    summary = direction.summary()
    figure = edit_figure(
        strip.images, args.strengths, row_labels=[os.path.basename(p) for p in targets],
        title=f"{args.method} direction in {args.space}: {_separation_text(summary)}",
    )
    save_figure(figure, os.path.join(args.out, "edits.png"))
    np.save(os.path.join(args.out, "direction.npy"), direction.vector)
    np.save(os.path.join(args.out, "codes.npy"), strip.codes.reshape(-1, *strip.codes.shape[2:]))
    write_json_atomic(os.path.join(args.out, "direction.json"), {
        **summary, "separation": direction.separation, "space": args.space, "note": note,
        "strengths": list(args.strengths), "negative": negative, "positive": positive, "images": targets,
        "one_class_control": None if control is None else {**control.summary(), "note": control_note},
        "one_class_control_note": control_note,
    })
    response_text = ""
    if classifier is not None:
        control_strip = None if control is None else edits(control)
        response_text = _write_response(args, config, classifier, target_class, strip, summary, control_strip)
    if not args.quiet:
        print(f"{args.method} direction in {args.space}: {_separation_text(summary)}{response_text} -> {args.out}")
    return 0


def _classifier_and_target(args, positive):
    """Returns ``(classifier, target_class_index)`` of ``--classifier`` / ``--target-class`` (None, None without)."""
    if args.classifier is None:
        if args.target_class is not None:
            raise ValueError(f"--target-class needs --classifier. Received: target_class={args.target_class!r}")
        if args.dihedral_average:
            raise ValueError("--dihedral-average needs --classifier.")
        return None, None
    if not os.path.isfile(args.classifier):
        raise FileNotFoundError(f"Classifier file not found: {args.classifier}")
    import keras

    from ganaug.runs import read_config

    classifier = keras.saving.load_model(args.classifier, compile=False)
    num_classes = int(classifier.outputs[0].shape[-1])
    class_names = list(read_config(args.run).get("class_names") or [])
    value = args.target_class
    if value is None:
        folders = {os.path.basename(os.path.dirname(os.path.abspath(path))) for path in positive}
        if len(folders) != 1:
            raise ValueError(
                f"Pass --target-class: the --positive images lie in several folders. Received: {sorted(folders)}"
            )
        value = folders.pop()
    if value in class_names:
        index = class_names.index(value)
    elif str(value).isdigit():
        index = int(value)
    else:
        raise ValueError(f"Unknown target class (known: {class_names}). Received: target_class={value!r}")
    if not 0 <= index < num_classes:
        raise ValueError(f"The classifier has {num_classes} classes. Received: target_class={value!r}")
    if args.dihedral_average:
        from ganaug.models import build_dihedral_average

        classifier = build_dihedral_average(classifier)
    return classifier, index


def _one_class_control(codes, args):
    """The direction between two random halves of the ``--negative`` codes, measured as the class direction.

    Returns ``(direction, note)``: ``(None, note)`` for fewer than 4 codes.
    """
    import numpy as np

    if len(codes) < 4:
        return None, f"{len(codes)} --negative images: 4 are needed for two halves of 2; no control"
    order = np.random.default_rng(args.seed).permutation(len(codes))
    half = len(codes) // 2
    return _measured_direction(
        codes[order[:half]], codes[order[half : 2 * half]], method=args.method, folds=args.folds,
        permutations=args.permutations, seed=args.seed, warn=False,
        provenance=f"two random halves of the {len(codes)} negative images, {args.space} codes (one-class control)",
    )


def _write_response(args, config, classifier, target_class, strip, summary, control_strip=None):
    """Writes response.png / response.json of the edits and returns a one-line summary.

    With ``control_strip`` (the same images edited along the one-class control) the record also
    holds the control's response and, per image, whether the edit rose more than along the control.
    """
    from ganaug.figures import save_figure
    from ganaug.latent import direction_response
    from ganaug.latent.figures import response_figure
    from ganaug.runs import write_json_atomic

    class_names = list(config.get("class_names") or [])
    name = class_names[target_class] if target_class < len(class_names) else str(target_class)
    response = direction_response(classifier, strip, target_class=target_class, tolerance=args.tolerance,
                                  batch_size=args.batch_size)
    figure = response_figure(response, class_name=name, title=f"{args.method} direction in {args.space}: "
                             f"{_separation_text(summary)}")
    save_figure(figure, os.path.join(args.out, "response.png"))
    record = response.summary()
    record.update({
        "target_class_name": name, "classifier": os.path.abspath(args.classifier), "space": args.space,
        "dihedral_average": bool(args.dihedral_average),
        "per_image": [
            {"image": path, "monotone": bool(monotone), "rise": float(rise),
             "probabilities": [float(p) for p in row], "ssim": [float(v) for v in ssim]}
            for path, monotone, rise, row, ssim in zip(
                image_paths(args.images), response.monotone, response.rise, response.probabilities, response.ssim)
        ],
    })
    text = ""
    if control_strip is not None:
        control = direction_response(classifier, control_strip, target_class=target_class, tolerance=args.tolerance,
                                     batch_size=args.batch_size)
        specificity = response.specificity(control)
        record["one_class_control"] = {**specificity, "fraction_monotone": control.fraction_monotone,
                                       "mean_probability": control.summary()["mean_probability"]}
        for entry, rise in zip(record["per_image"], control.rise):
            entry["control_rise"] = float(rise)
            entry["above_control"] = bool(entry["rise"] > rise)
        text = (f"; monotone and above the one-class control for {specificity['fraction_monotone_and_above_control']:.0%}"
                f" (the control alone is monotone for {control.fraction_monotone:.0%})")
    write_json_atomic(os.path.join(args.out, "response.json"), record)
    return (f"; P({name}) rises monotonically for {response.fraction_monotone:.0%} of {len(response.monotone)} "
            f"images{text}, SSIM to the original {min(record['mean_ssim']):.2f}-{max(record['mean_ssim']):.2f}")


def _separation_text(summary):
    text = f"in-sample separation {summary['in_sample_separation']:.2f}"
    if summary["held_out_separation"] is None:
        return text + " (not validated)"
    text = f"held-out separation {summary['held_out_separation']:.2f}"
    if summary["null_separation_95"] is not None:
        text += f" (null 95th percentile {summary['null_separation_95']:.2f}, p = {summary['p_value']:.3f})"
    return text + f", in-sample {summary['in_sample_separation']:.2f}"


def _measured_direction(codes_a, codes_b, *, folds, **options):
    """``latent_direction`` with ``folds`` lowered to what the smaller group allows (2 codes per fold).

    Returns ``(direction, note)``; with fewer than 4 codes in a group nothing can be held out: the
    in-sample ``class_direction`` and a note that says so.
    """
    from ganaug.latent import class_direction, latent_direction

    usable = min(folds, len(codes_a) // 2, len(codes_b) // 2)
    if usable < 2:
        options.pop("permutations")
        options.pop("warn", None)
        direction = class_direction(codes_a, codes_b, **options)
        return direction, (f"{len(codes_a)} and {len(codes_b)} codes: too few to hold any out (4 per group are "
                           "needed for 2 folds); the separation is in-sample only, not validated")
    note = None if usable == folds else f"folds lowered from {folds} to {usable} (2 codes per fold in the smaller group)"
    return latent_direction(codes_a, codes_b, folds=usable, **options), note
