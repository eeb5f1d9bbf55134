"""The ``ganaug`` command line: one module per command, each thin.

Every module in this package (other than private ones) defines ``register(subparsers)``, which adds
its sub-command and sets ``func`` to a function taking the parsed ``argparse.Namespace``. Commands
only parse flags and call library functions; they import TensorFlow lazily so that
``ganaug --help`` stays fast.

Failures: whatever goes wrong in a command ends in one line on stderr naming the cause,
``ganaug <command>: error: <cause>``, and exit code 2 (an interrupt: exit code 130); ``--debug``
(before or after the command, or ``GANAUG_DEBUG=1``) shows the traceback instead.
"""

import argparse
import importlib
import os
import pkgutil
import re
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
    parser.add_argument("--debug", action="store_true", help="show the traceback of a failure")
    subparsers = parser.add_subparsers(dest="command", metavar="<command>")
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        module.register(subparsers)
    _add_debug_flag(parser, top=True)
    return parser


def _add_debug_flag(parser, *, top=False):
    """Adds ``--debug`` to every (sub-)command, so that it may follow the command too."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                _add_debug_flag(command)
    if not top and "--debug" not in parser._option_string_actions:
        parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                            help="show the traceback of a failure")


_ERROR_LINE = re.compile(r"^\s*([A-Za-z_][\w.]*(?:Error|Exception)): (.+)$")
_PLAIN_TYPES = (ValueError, TypeError, OSError)
_TF_BOILERPLATE = ("Graph execution error", "Detected at node", "File ", "[[", "{{", "Traceback")


def error_summary(error):
    """Returns one line naming the cause of ``error`` (for TensorFlow errors, the Python error that
    a ``tf.numpy_function`` raised inside the graph, when there is one)."""
    op_error = _tf_op_error()
    if op_error is not None and isinstance(error, op_error):
        text = error.message or ""
        for line in text.splitlines():
            match = _ERROR_LINE.match(line)
            if match and match.group(1) != "Traceback":
                return match.group(2).strip()
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        for line in lines:  # a tf.debugging assert: "assertion failed: [message] [Condition ...]"
            if line.startswith("assertion failed: ["):
                return line[len("assertion failed: ["):].split("]", 1)[0]
        useful = [line for line in lines if not line.startswith(_TF_BOILERPLATE)]
        return f"{type(error).__name__}: {(useful or lines or [''])[0]}"
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    if len(lines) > 1:  # e.g. "Reloading the export failed:" + a child's traceback: add its last error
        inner = [m.group(0).strip() for m in map(_ERROR_LINE.match, lines[1:]) if m]
        if inner:
            text = f"{text} {inner[-1]}"
    if isinstance(error, KeyError) or not isinstance(error, _PLAIN_TYPES) or not text:
        text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return text


def _tf_op_error():
    module = sys.modules.get("tensorflow")  # only when TensorFlow was imported by the command
    errors = getattr(module, "errors", None)
    return getattr(errors, "OpError", None)


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
    debug = getattr(args, "debug", False) or os.environ.get("GANAUG_DEBUG") == "1"
    try:
        result = args.func(args)
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"ganaug {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # every failure: one line naming the cause, exit code 2
        if debug:
            raise
        print(f"ganaug {args.command}: error: {error_summary(error)} (--debug shows the traceback)",
              file=sys.stderr)
        return 2
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
