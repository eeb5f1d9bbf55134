"""Semantic segmentation to evaluate semantic-map synthesis (SHI-GAN, Falahkheirkhah et al., section 2.6).

``build_segmentation_model`` (a small U-Net with residual blocks), ``train_segmenter``, the paper's
mPA / mIoU (``metrics``), how well generated images follow their masks (``mask_following``) and
the Table-1 experiment: segmenters trained on real, synthetic and real + synthetic pairs
(``experiment``).
"""

from ganaug.segmentation.metrics import confusion_matrix, segmentation_scores
from ganaug.segmentation.models import SEGMENTATION_ARCHITECTURES, build_segmentation_model
from ganaug.segmentation.training import predict_masks, train_segmenter

__all__ = [
    "SEGMENTATION_ARCHITECTURES",
    "build_segmentation_model",
    "confusion_matrix",
    "predict_masks",
    "segmentation_scores",
    "train_segmenter",
]
