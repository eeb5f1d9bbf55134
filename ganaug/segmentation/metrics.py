"""Pixel accuracy and intersection over union per class and their means (SHI-GAN, equations 1-2).

Falahkheirkhah et al. (section 2.6) define, for each class with its one-vs-rest TP, TN, FP, FN
pixel counts, ``PA = (TP + TN) / (TP + TN + FP + FN)`` and ``IoU = TP / (TP + FP + FN)``; mPA and
mIoU are their averages over the classes. (This PA is the one-vs-rest accuracy; the FCN paper's
"mean accuracy", per-class recall ``TP / (TP + FN)``, is reported beside it as ``recall``.) A class
absent from both the truth and the prediction has an undefined IoU and recall: it is left out of
the means (NaN per class).
"""

import numpy as np


def confusion_matrix(true_masks, predicted_masks, num_labels):
    """Returns the ``(num_labels, num_labels)`` pixel confusion matrix, rows = truth, columns = prediction.

    Args:
        true_masks, predicted_masks: integer arrays of the same shape (any, e.g. ``(N, H, W)``).
        num_labels: number of classes; values must lie in ``[0, num_labels)``.

    Raises:
        ValueError: for different shapes or out-of-range values.
    """
    true_masks = np.asarray(true_masks).astype(np.int64).ravel()
    predicted_masks = np.asarray(predicted_masks).astype(np.int64).ravel()
    if true_masks.shape != predicted_masks.shape:
        raise ValueError(
            f"true and predicted masks must have the same shape. Received: {true_masks.shape} and {predicted_masks.shape}"
        )
    for name, values in (("true_masks", true_masks), ("predicted_masks", predicted_masks)):
        if values.size and (values.min() < 0 or values.max() >= num_labels):
            raise ValueError(f"{name} values must be in [0, {num_labels}). Received: {name} range "
                             f"[{values.min()}, {values.max()}]")
    counts = np.bincount(true_masks * num_labels + predicted_masks, minlength=num_labels * num_labels)
    return counts.reshape(num_labels, num_labels)


def scores_from_confusion(confusion):
    """Returns per-class and mean PA, IoU and recall from a confusion matrix.

    Returns:
        dict with ``pixel_accuracy``, ``iou``, ``recall`` (lists per class, NaN where undefined),
        ``mPA``, ``mIoU``, ``mean_recall`` and ``overall_accuracy`` (trace / total).
    """
    confusion = np.asarray(confusion, np.float64)
    total = confusion.sum()
    tp = np.diag(confusion)
    fp = confusion.sum(0) - tp
    fn = confusion.sum(1) - tp
    tn = total - tp - fp - fn
    present = (tp + fp + fn) > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        pa = np.where(present, (tp + tn) / total, np.nan)
        iou = np.where(present, tp / (tp + fp + fn), np.nan)
        recall = np.where(tp + fn > 0, tp / (tp + fn), np.nan)
    return {
        "pixel_accuracy": pa.tolist(),
        "iou": iou.tolist(),
        "recall": recall.tolist(),
        "mPA": float(np.nanmean(pa)) if present.any() else float("nan"),
        "mIoU": float(np.nanmean(iou)) if present.any() else float("nan"),
        "mean_recall": float(np.nanmean(recall)) if np.isfinite(recall).any() else float("nan"),
        "overall_accuracy": float(tp.sum() / total) if total else float("nan"),
    }


def segmentation_scores(true_masks, predicted_masks, num_labels):
    """Returns ``scores_from_confusion(confusion_matrix(true_masks, predicted_masks, num_labels))``."""
    return scores_from_confusion(confusion_matrix(true_masks, predicted_masks, num_labels))


def per_image_confusions(true_masks, predicted_masks, num_labels):
    """Returns ``(N, num_labels, num_labels)``: one confusion matrix per image (for the bootstrap)."""
    true_masks = np.asarray(true_masks).astype(np.int64)
    predicted_masks = np.asarray(predicted_masks).astype(np.int64)
    if true_masks.shape != predicted_masks.shape or true_masks.ndim < 2:
        raise ValueError(f"masks must be (N, ...) of one shape. Received: {true_masks.shape} and {predicted_masks.shape}")
    n = len(true_masks)
    codes = true_masks.reshape(n, -1) * num_labels + predicted_masks.reshape(n, -1)
    offsets = np.arange(n)[:, None] * num_labels * num_labels
    counts = np.bincount((codes + offsets).ravel(), minlength=n * num_labels * num_labels)
    return counts.reshape(n, num_labels, num_labels)
