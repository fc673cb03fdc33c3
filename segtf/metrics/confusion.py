"""Streaming confusion matrix with an ignore label, in numpy (evaluation) and keras.ops
(validation inside a training step)."""

from __future__ import annotations

import numpy as np
from keras import ops


def confusion_matrix(labels, predictions, num_classes: int, ignore_label: int = 255) -> np.ndarray:
    """`cm[t, p]` = number of pixels with true class t predicted as p; pixels whose label is
    `ignore_label` (or otherwise outside 0..num_classes-1) are skipped."""
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    predictions = np.asarray(predictions).reshape(-1).astype(np.int64)
    if labels.shape != predictions.shape:
        raise ValueError(f"labels {labels.shape} and predictions {predictions.shape} differ")
    keep = (labels != ignore_label) & (labels >= 0) & (labels < num_classes)
    index = labels[keep] * num_classes + predictions[keep]
    return np.bincount(index, minlength=num_classes**2).reshape(num_classes, num_classes)


def confusion_matrix_ops(labels, predictions, num_classes: int, ignore_label: int = 255):
    """The same in keras.ops (float32 matrix), usable inside a compiled step on any backend."""
    labels = ops.reshape(ops.cast(labels, "int32"), (-1,))
    predictions = ops.reshape(ops.cast(predictions, "int32"), (-1,))
    keep = ops.logical_and(ops.greater_equal(labels, 0), ops.less(labels, num_classes))
    keep = ops.logical_and(keep, ops.not_equal(labels, ignore_label))
    safe = ops.where(keep, labels, ops.zeros_like(labels))
    true_hot = ops.one_hot(safe, num_classes, dtype="float32") * ops.expand_dims(
        ops.cast(keep, "float32"), -1
    )
    pred_hot = ops.one_hot(predictions, num_classes, dtype="float32")
    return ops.matmul(ops.transpose(true_hot), pred_hot)


class ConfusionMatrix:
    """Accumulates a confusion matrix over batches: `update(labels, predictions)`, `.matrix`."""

    def __init__(self, num_classes: int, ignore_label: int = 255):
        self.num_classes = int(num_classes)
        self.ignore_label = int(ignore_label)
        self.matrix = np.zeros((self.num_classes, self.num_classes), np.int64)

    def update(self, labels, predictions) -> None:
        self.matrix += confusion_matrix(labels, predictions, self.num_classes, self.ignore_label)

    def add(self, matrix) -> None:
        self.matrix += np.asarray(matrix).round().astype(np.int64)

    def reset(self) -> None:
        self.matrix[:] = 0
