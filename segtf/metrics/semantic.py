"""Semantic segmentation scores from a confusion matrix, and a Keras mean-IoU metric that
skips an ignore label (keras.metrics.MeanIoU cannot: it counts ignored pixels as a class)."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from segtf.metrics.confusion import confusion_matrix_ops


def per_class_iou(matrix) -> np.ndarray:
    """IoU_c = TP / (TP + FP + FN); NaN for a class absent from both labels and predictions."""
    matrix = np.asarray(matrix, np.float64)
    tp = np.diag(matrix)
    union = matrix.sum(0) + matrix.sum(1) - tp
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, tp / np.maximum(union, 1), np.nan)


def semantic_scores(matrix, class_names: Sequence[str] = ()) -> dict:
    """mIoU (mean over classes that occur in labels or predictions), per-class IoU, pixel
    accuracy, mean class accuracy (over classes present in the labels) and frequency-weighted
    IoU, from `matrix[true, pred]` (ignored pixels already excluded)."""
    matrix = np.asarray(matrix, np.float64)
    n = matrix.shape[0]
    names = list(class_names) or [str(i) for i in range(n)]
    iou = per_class_iou(matrix)
    support = matrix.sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        class_acc = np.where(support > 0, np.diag(matrix) / np.maximum(support, 1), np.nan)
    total = matrix.sum()
    present = ~np.isnan(iou)
    freq = support / max(total, 1)
    return {
        "mean_iou": float(np.nanmean(iou)) if present.any() else float("nan"),
        "pixel_accuracy": float(np.trace(matrix) / total) if total else float("nan"),
        "mean_class_accuracy": float(np.nanmean(class_acc))
        if (support > 0).any()
        else float("nan"),
        "frequency_weighted_iou": float(np.sum(freq[present] * iou[present])),
        "per_class_iou": {
            name: (None if np.isnan(v) else float(v)) for name, v in zip(names, iou, strict=True)
        },
        "per_class_accuracy": {
            name: (None if np.isnan(v) else float(v))
            for name, v in zip(names, class_acc, strict=True)
        },
        "pixels": int(total),
    }


@keras.saving.register_keras_serializable(package="segtf")
class IgnoreLabelMeanIoU(keras.metrics.Metric):
    """Streaming mean IoU over `num_classes`, skipping pixels labelled `ignore_label`.

    `y_true`: int labels `(B, H, W)` or `(B, H, W, 1)`; `y_pred`: logits / probabilities
    `(B, H, W, C)` (argmax taken) or, for `num_classes == 2` with one channel, a foreground
    logit thresholded at 0. Classes absent from labels and predictions do not count.
    """

    def __init__(
        self,
        num_classes: int,
        ignore_label: int = 255,
        name: str = "mean_iou",
        dtype=None,
        **kwargs,
    ):
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.num_classes = int(num_classes)
        self.ignore_label = int(ignore_label)
        self.total_cm = self.add_variable(
            shape=(self.num_classes, self.num_classes),
            initializer="zeros",
            dtype="float32",
            name="total_cm",
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        if y_pred.shape[-1] == 1:
            predictions = ops.cast(ops.greater(y_pred[..., 0], 0), "int32")
        else:
            predictions = ops.argmax(y_pred, axis=-1)
        labels = ops.reshape(y_true, ops.shape(predictions))
        self.total_cm.assign_add(
            confusion_matrix_ops(labels, predictions, self.num_classes, self.ignore_label)
        )

    def result(self):
        cm = self.total_cm
        tp = ops.diagonal(cm)
        union = ops.sum(cm, axis=0) + ops.sum(cm, axis=1) - tp
        present = ops.cast(ops.greater(union, 0), "float32")
        iou = tp / ops.maximum(union, 1.0)
        return ops.sum(iou * present) / ops.maximum(ops.sum(present), 1.0)

    def reset_state(self):
        self.total_cm.assign(ops.zeros_like(self.total_cm))

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "ignore_label": self.ignore_label,
        }
