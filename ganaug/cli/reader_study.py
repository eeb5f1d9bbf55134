"""``ganaug reader-study create|serve|analyse``: a blinded real-vs-synthetic reading by experts.

The command only parses flags and calls :mod:`ganaug.reader_study` (Klang & Carlberg's and SHI-GAN's
expert readings, Falahkheirkhah et al. Table 2, as a web study).
"""


def register(subparsers):
    """Adds the ``reader-study`` command and its three sub-commands."""
    parser = subparsers.add_parser(
        "reader-study",
        help="blinded real-vs-synthetic reading by experts in a browser",
        description="Create a blinded reader study (a balanced, seeded set of real and synthetic images "
        "in one SQLite file), serve it to readers in their browsers, and analyse the answers.",
    )
    commands = parser.add_subparsers(dest="reader_study_command", metavar="<create|serve|analyse>")
    parser.set_defaults(func=lambda args: parser.print_help() or 2)

    create = commands.add_parser(
        "create", help="sample the images and write STUDY.db",
        description="Sample per-reader/2 real and per-reader/2 synthetic images (class-stratified, "
        "seeded), re-encode every one identically (same size, same PNG writer, no metadata) under "
        "random ids, and print one secret link per reader and an admin link.",
    )
    create.add_argument("--real", required=True, metavar="DIR", help="folder of real images (class folders give classes)")
    source = create.add_mutually_exclusive_group(required=True)
    source.add_argument("--synthetic", metavar="DIR", help="folder of synthetic images")
    source.add_argument("--run", metavar="RUN", help="a trained run: generate the synthetic images")
    create.add_argument("--n", type=int, default=None, help="images to generate with --run (default per-reader/2)")
    create.add_argument("--readers", nargs="+", required=True, metavar="NAME", help="reader names")
    create.add_argument("--per-reader", type=int, default=40, help="images per reader, half real (default 40)")
    create.add_argument("--task", default="realness",
                        help="comma-separated: realness, quality (1-5), label (class); default realness")
    create.add_argument("--classes", nargs="+", default=None, metavar="NAME",
                        help="class list for the label task (default: the class folders or the run's classes)")
    create.add_argument("--image-size", type=int, nargs="+", default=None, metavar="PX",
                        help="size of every study image: S or H W (default: the synthetic images' size)")
    create.add_argument("--png-compression", type=int, default=0,
                        help="zlib level 0-9; 0 (default) gives every image the same file size")
    create.add_argument("--seed", type=int, default=0)
    create.add_argument("--name", default=None, help="study title shown to readers")
    create.add_argument("--base-url", default=None, help="where it will be served, for the printed links")
    create.add_argument("--overwrite", action="store_true", help="replace an existing STUDY.db")
    create.add_argument("--out", required=True, metavar="STUDY.db")
    create.set_defaults(func=run_create)

    serve = commands.add_parser(
        "serve", help="serve STUDY.db to the readers",
        description="Serve the study: readers open their links; the admin link shows live progress and results.",
    )
    serve.add_argument("study", metavar="STUDY.db")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--log-requests", action="store_true", help="log every request (paths contain secrets)")
    serve.set_defaults(func=run_serve)

    analyse = commands.add_parser(
        "analyse", help="statistics, CSV, JSON and a report from STUDY.db",
        description="Per reader and pooled: accuracy, sensitivity and specificity for 'synthetic' with "
        "Wilson intervals and a binomial test against 0.5; quality real vs synthetic; label accuracy and "
        "kappa; Cohen's kappa per reader pair and Fleiss' kappa. Writes answers.csv, summary.csv, "
        "results.json, accuracy_by_reader.png and report.html/.md.",
    )
    analyse.add_argument("study", metavar="STUDY.db")
    analyse.add_argument("--out", required=True, metavar="DIR")
    analyse.add_argument("--confidence", type=float, default=0.95)
    analyse.set_defaults(func=run_analyse)


def _image_size(values):
    if values is None:
        return None
    if len(values) not in (1, 2):
        raise ValueError(f"`--image-size` takes S or H W. Received: image_size={values}")
    return tuple(values) if len(values) == 2 else (values[0], values[0])


def run_create(args):
    """Creates the study and prints its links."""
    from ganaug.reader_study import create, links

    options = dict(
        readers=args.readers, per_reader=args.per_reader, tasks=args.task, class_names=args.classes,
        image_size=_image_size(args.image_size), png_compression=args.png_compression, seed=args.seed,
        overwrite=args.overwrite, name=args.name,
    )
    if args.run:
        info = create.create_study_from_run(args.out, run=args.run, real_dir=args.real, num_images=args.n, **options)
    else:
        if args.n is not None:
            raise ValueError(f"`--n` needs --run. Received: n={args.n}")
        info = create.create_study(args.out, real_dir=args.real, synthetic_dir=args.synthetic, **options)
    print(
        f"Wrote {info.path}: {info.num_real} real + {info.num_synthetic} synthetic images "
        f"({info.image_size[0]}x{info.image_size[1]} px) for {len(info.readers)} readers; "
        f"tasks: {', '.join(info.tasks)}"
    )
    if info.skipped:
        print(f"Skipped {len(info.skipped)} unreadable files (replaced by the next candidates).")
    print(links.format_links(info.links(args.base_url or links.DEFAULT_BASE_URL)))
    print(f"Serve it with: ganaug reader-study serve {info.path}")
    return 0


def run_serve(args):
    """Serves the study until Ctrl-C."""
    from ganaug.reader_study import links, server, storage

    def ready(httpd):
        connection = storage.connect(args.study)
        try:
            admin = storage.read_meta(connection)["admin_token"]
            study_links = links.study_links(storage.reader_links(connection), admin, server.base_url(httpd))
        finally:
            connection.close()
        print(f"Serving {args.study} on {server.base_url(httpd)} (Ctrl-C to stop)")
        print(links.format_links(study_links), flush=True)

    server.serve(args.study, host=args.host, port=args.port, log_requests=args.log_requests, on_ready=ready)
    return 0


def run_analyse(args):
    """Analyses the study and prints the headline table."""
    from ganaug.reader_study import analysis

    paths = analysis.write_analysis(args.study, args.out, confidence=args.confidence)
    meta, _, _, _ = analysis.load_study(args.study)
    for caption, table in analysis.headline_tables(paths["results"], meta["tasks"])[:1]:
        print(caption)
        print(table)
    print(f"Wrote {paths['answers_csv']}, {paths['summary_csv']}, {paths['results_json']}, "
          f"{paths['figure']} and {paths['html']}")
    return 0
