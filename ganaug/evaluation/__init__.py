"""Evaluation of generators and classifiers: F1 tables, FID/KID in any feature space, precision/recall,
density/coverage, diversity and collapse, memorisation, TSTR/TRTS, and ``evaluate_generator``.
"""

from ganaug.evaluation.classification import (
    classification_metrics,
    confusion_matrix_figure,
    format_table,
    metrics_table,
)
from ganaug.evaluation.distribution import (
    distribution_metrics,
    fid_from_features,
    fid_is_reliable,
    frechet_distance,
    kid_from_features,
    mmd2_unbiased,
)
from ganaug.evaluation.diversity import diversity_report, mean_pairwise_distance
from ganaug.evaluation.evaluate import evaluate_generator, summary_markdown
from ganaug.evaluation.features import extract_features, extractor_identity, feature_extractor
from ganaug.evaluation.manifold import density_coverage, manifold_metrics, precision_recall
from ganaug.evaluation.memorisation import closest_pairs_figure, memorisation_report
from ganaug.evaluation.tstr import generate_labelled_images, tstr_trts

__all__ = [
    "classification_metrics",
    "closest_pairs_figure",
    "confusion_matrix_figure",
    "density_coverage",
    "distribution_metrics",
    "diversity_report",
    "evaluate_generator",
    "extract_features",
    "extractor_identity",
    "feature_extractor",
    "fid_from_features",
    "fid_is_reliable",
    "format_table",
    "frechet_distance",
    "generate_labelled_images",
    "kid_from_features",
    "manifold_metrics",
    "mean_pairwise_distance",
    "memorisation_report",
    "metrics_table",
    "mmd2_unbiased",
    "precision_recall",
    "summary_markdown",
    "tstr_trts",
]
