"""Reader studies: blinded expert reading of real vs synthetic images in a small web app on SQLite.

Both theses ganaug follows ended with experts judging images by hand. Klang & Carlberg's medical
technologist sorted real from generated blood cells (recall 0.88, specificity 0.54 for
"generated"); SHI-GAN's four pathologists (Falahkheirkhah et al., Table 2) judged 160 real + 160
synthetic images in surveys of 40 — real-vs-synthetic accuracy 0.45-0.63, quality 4.52 real vs
4.37 synthetic, Gleason grading with Cohen's kappa 0.69-0.73 and Fleiss' kappa 0.72 (real) vs 0.66
(synthetic). This package makes that study a tool a lab runs:

* :func:`create_study` / :func:`create_study_from_run` (``create.py``): a balanced, seeded sample,
  every image re-encoded identically (``encoding.py``) under opaque ids, one secret link per reader
  and one for the admin (``links.py``), per-reader seeded orders (``sampling.py``), all in one
  SQLite file (``storage.py``);
* :func:`create_app` (``app.py``, ``reader_views.py``, ``admin_views.py``, ``db.py``): the Flask
  app — one image at a time, progress, resume, keyboard shortcuts; live admin progress, results
  and CSV/JSON exports — and :func:`serve` (``server.py``) on loopback by default;
* ``stats.py``: the statistics as plain functions (Wilson intervals, exact binomial test, Cohen's
  and Fleiss' kappa, t and Welch intervals); ``analysis.py`` applies them per reader and pooled
  and writes :func:`write_analysis`'s CSV, JSON, figure and report;
* ``loadtest.py``: concurrent simulated readers over loopback (tests and the benchmark).

On the command line: ``ganaug reader-study create|serve|analyse`` (see the README).
Importing this package does not import TensorFlow or Flask; the web modules import Flask.
"""

__all__ = ["create_app", "create_study", "create_study_from_run", "serve", "write_analysis"]


def __getattr__(name):
    if name in ("create_study", "create_study_from_run"):
        from ganaug.reader_study import create

        return getattr(create, name)
    if name == "create_app":
        from ganaug.reader_study.app import create_app

        return create_app
    if name == "serve":
        from ganaug.reader_study.server import serve

        return serve
    if name == "write_analysis":
        from ganaug.reader_study.analysis import write_analysis

        return write_analysis
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
