"""Synthetic data for classifier training: budgets, synthesis to files, the experiment protocol.

The question both source theses asked — does adding GAN images to the training set make the
classifier better? — answered with a fixed split, paired seeds and confidence intervals.
"""

from ganaug.augment.budgets import BUDGET_MODES, class_counts_of, synthesis_budget
from ganaug.augment.experiment import (
    ARMS,
    check_no_test_leak,
    headline_table,
    per_class_delta_table,
    run_augmentation_experiment,
    verdict,
)
from ganaug.augment.split import SCENARIOS, DataSplit, split_dataset
from ganaug.augment.synthesis import SYNTHESIS_METHODS, synthesize_dataset

__all__ = [
    "ARMS", "BUDGET_MODES", "SCENARIOS", "SYNTHESIS_METHODS", "DataSplit", "check_no_test_leak",
    "class_counts_of", "headline_table", "per_class_delta_table", "run_augmentation_experiment",
    "split_dataset", "synthesis_budget", "synthesize_dataset", "verdict",
]
