"""Grad-CAM explanations and the real-vs-generated evidence comparison (Fernández et al. 2021, 4.1.1).

``gradcam_heatmaps`` computes Grad-CAM / Grad-CAM++ heatmaps for any Keras image classifier,
``overlay`` and ``evidence_panel_figure`` draw them (the layout of Fernández et al.'s Fig. 6) and
``compare_evidence`` measures whether a classifier looks at the same evidence in real and in
generated images.
"""

from ganaug.explain.compare import (
    compare_evidence,
    compare_heatmaps,
    evidence_comparison_figure,
    heatmap_similarity,
    heatmap_statistics,
)
from ganaug.explain.gradcam import (
    METHODS,
    BaseCAM,
    GradCAM,
    GradCAMPlusPlus,
    build_cam,
    gradcam_heatmaps,
)
from ganaug.explain.overlay import (
    colorize_heatmaps,
    evidence_panel,
    evidence_panel_figure,
    overlay,
    save_overlays,
)

__all__ = [
    "BaseCAM",
    "GradCAM",
    "GradCAMPlusPlus",
    "METHODS",
    "build_cam",
    "colorize_heatmaps",
    "compare_evidence",
    "compare_heatmaps",
    "evidence_comparison_figure",
    "evidence_panel",
    "evidence_panel_figure",
    "gradcam_heatmaps",
    "heatmap_similarity",
    "heatmap_statistics",
    "overlay",
    "save_overlays",
]
