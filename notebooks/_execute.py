"""Executes the numbered notebooks top to bottom and saves them with their outputs.

Usage (from the repository root)::

    .venv/bin/python notebooks/_execute.py                 # full CPU run of every notebook, saved in place
    .venv/bin/python notebooks/_execute.py 02 05           # only the notebooks whose names start so
    GANAUG_SMOKE=1 .venv/bin/python notebooks/_execute.py --no-save   # smoke run, nothing written

Each notebook runs in its own kernel with the notebook folder as working directory (as nbmake does),
so the data and runs land in ``notebooks/notebook_data/{full,smoke}/``. The wall time of each is
printed; a failing notebook stops the run with the failing cell's traceback.
"""

import argparse
import glob
import os
import sys
import time

import nbformat
from nbclient import NotebookClient

NOTEBOOK_DIR = os.path.dirname(os.path.abspath(__file__))


def notebook_paths(prefixes=()):
    """Returns the numbered notebooks, sorted, keeping those whose names start with a prefix."""
    paths = sorted(glob.glob(os.path.join(NOTEBOOK_DIR, "[0-9][0-9]_*.ipynb")))
    if prefixes:
        paths = [p for p in paths if os.path.basename(p).startswith(tuple(prefixes))]
    if not paths:
        raise ValueError(f"No notebook matches. Received: prefixes={list(prefixes)!r}")
    return paths


def execute_notebook(path, *, save=True, timeout=3600, kernel_name="python3"):
    """Runs one notebook in a fresh kernel and returns its wall time in seconds (saved if ``save``)."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name=kernel_name,
                            resources={"metadata": {"path": NOTEBOOK_DIR}},
                            # TensorFlow's C++ start-up logs go to the kernel's console, not the notebook
                            extra_arguments=["--IPKernelApp.capture_fd_output=False"])
    start = time.time()
    client.execute()
    elapsed = time.time() - start
    if save:
        nbformat.write(notebook, path)
    return elapsed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prefixes", nargs="*", help="run only notebooks whose names start with these")
    parser.add_argument("--no-save", action="store_true", help="do not write the outputs back")
    parser.add_argument("--timeout", type=int, default=3600, help="per-cell timeout in seconds")
    args = parser.parse_args(argv)
    mode = "smoke" if os.environ.get("GANAUG_SMOKE") == "1" else "full"
    for path in notebook_paths(args.prefixes):
        elapsed = execute_notebook(path, save=not args.no_save, timeout=args.timeout)
        size = os.path.getsize(path) / 1e6
        print(f"{os.path.basename(path)}: {elapsed:.0f} s ({mode}), {size:.2f} MB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
