"""Synthetic data for classifier training: budgets, synthesis to files, the experiment protocol.

The question both source theses asked — does adding GAN images to the training set make the
classifier better? — answered with a fixed split, paired seeds, three confidence intervals (over
seeds, over test images, over both), positive and negative controls, and the smallest effect the
experiment could have detected.
"""

from ganaug.augment.budgets import BUDGET_MODES, class_counts_of, synthesis_budget
from ganaug.augment.controls import positive_control_set, wrong_labels
from ganaug.augment.experiment import (
    ALL_ARMS,
    ARMS,
    CONTROL_ARMS,
    check_no_test_leak,
    control_findings,
    headline_table,
    per_class_delta_table,
    run_augmentation_experiment,
    seeds_for_detectable_effect,
    verdict,
)
from ganaug.augment.figures import forest_plot
from ganaug.augment.split import SCENARIOS, DataSplit, split_dataset
from ganaug.augment.statistics import (
    INTERVALS,
    VERDICT_INTERVAL,
    minimum_detectable_effect,
    paired_intervals,
    seeds_needed,
)
from ganaug.augment.synthesis import SYNTHESIS_METHODS, synthesis_sources, synthesize_dataset

__all__ = [
    "ALL_ARMS", "ARMS", "BUDGET_MODES", "CONTROL_ARMS", "INTERVALS", "SCENARIOS", "SYNTHESIS_METHODS",
    "VERDICT_INTERVAL", "DataSplit", "check_no_test_leak", "class_counts_of", "control_findings", "forest_plot",
    "headline_table", "minimum_detectable_effect", "paired_intervals", "per_class_delta_table",
    "positive_control_set", "run_augmentation_experiment", "seeds_for_detectable_effect", "seeds_needed",
    "split_dataset", "synthesis_budget", "synthesis_sources", "synthesize_dataset", "verdict", "wrong_labels",
]
