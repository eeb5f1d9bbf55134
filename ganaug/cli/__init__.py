"""The ``ganaug`` command line: one module per command, each thin.

Every module in this package (other than private ones) defines ``register(subparsers)``, which adds
its sub-command and sets ``func`` to a function taking the parsed ``argparse.Namespace``. Commands
only parse flags and call library functions; they import TensorFlow lazily so that
``ganaug --help`` stays fast.
"""

import argparse
import importlib
import os
import pkgutil
import sys

# TensorFlow's C++ start-up chatter (CUDA probing, CPU features) is noise on the command line.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from ganaug import __version__


def build_parser():
    """Returns the ``argparse`` parser with every command registered."""
    parser = argparse.ArgumentParser(
        prog="ganaug",
        description="GAN-based augmentation and latent-space editing of medical images.",
    )
    parser.add_argument("--version", action="version", version=f"ganaug {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="<command>")
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        module.register(subparsers)
    return parser


def main(argv=None):
    """Entry point of the ``ganaug`` console script.

    Args:
        argv: the arguments (without the program name); ``sys.argv[1:]`` when None.

    Returns:
        The process exit code.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        result = args.func(args)
    except (ValueError, TypeError, OSError) as error:
        print(f"ganaug {args.command}: error: {error}", file=sys.stderr)
        return 2
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
