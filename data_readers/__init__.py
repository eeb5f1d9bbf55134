"""Images in: streaming readers, whole-slide patch extraction and the embedded data set.

Nothing in ``data_readers`` imports ``ganaug``; the toolkit imports it, never the reverse.
"""
