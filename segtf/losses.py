"""Segmentation losses as Keras losses, written with `keras.ops` (they run on TF and JAX).

Labels mark pixels to skip with `ignore_label`; those pixels add nothing to the loss and
do not count in its mean.
"""

from __future__ import annotations

import keras
from keras import ops

PACKAGE = "segtf"


@keras.saving.register_keras_serializable(package=PACKAGE)
class SegmentationCrossEntropy(keras.losses.Loss):
    """Softmax cross-entropy over classes with an ignore label and optional class weights.

    The mean is taken over non-ignored pixels (weighted by their class weight, as in
    PyTorch's `CrossEntropyLoss(weight=..., ignore_index=...)`).
    """

    def __init__(self, num_classes: int, ignore_label: int = 255, class_weights=None,
                 label_smoothing: float = 0.0, name: str = "segmentation_cross_entropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes = int(num_classes)
        self.ignore_label = int(ignore_label)
        self.class_weights = None if class_weights is None else [float(w) for w in class_weights]
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        labels = ops.cast(ops.reshape(y_true, ops.shape(y_pred)[:-1]), "int32")
        valid = ops.not_equal(labels, self.ignore_label)
        safe = ops.where(valid, labels, ops.zeros_like(labels))
        one_hot = ops.one_hot(safe, self.num_classes, dtype="float32")
        if self.label_smoothing:
            one_hot = one_hot * (1.0 - self.label_smoothing) + self.label_smoothing / self.num_classes
        log_probs = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)
        per_pixel = -ops.sum(one_hot * log_probs, axis=-1)
        weights = ops.cast(valid, "float32")
        if self.class_weights is not None:
            table = ops.convert_to_tensor(self.class_weights, dtype="float32")
            weights = weights * ops.take(table, safe)
        total = ops.sum(per_pixel * weights)
        return total / ops.maximum(ops.sum(weights), 1e-6)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "ignore_label": self.ignore_label, "class_weights": self.class_weights,
                "label_smoothing": self.label_smoothing}
