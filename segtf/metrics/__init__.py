"""Segmentation metrics: a streaming confusion matrix (numpy and Keras), semantic scores
(mIoU, per-class IoU, accuracies) and binary / foreground measures (MAE, F-measures,
S-measure, E-measure, boundary IoU)."""

from segtf.metrics.binary import BinaryMeasures, binary_scores
from segtf.metrics.confusion import ConfusionMatrix, confusion_matrix
from segtf.metrics.semantic import IgnoreLabelMeanIoU, semantic_scores

__all__ = [
    "BinaryMeasures",
    "ConfusionMatrix",
    "IgnoreLabelMeanIoU",
    "binary_scores",
    "confusion_matrix",
    "semantic_scores",
]
