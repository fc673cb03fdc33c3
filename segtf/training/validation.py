"""Validation during training, on any backend: each validation set's pairs (in memory) go
through the model one at a time; `keras.metrics.MeanIoU` accumulates the confusion matrix
(foreground: background / foreground at alpha 0.5). The run's score is the mean of the
sets' mean IoU.

Sets whose images differ in size are padded to one size (mean pixel, ignored label) so a
compiling backend builds one graph per set, not one per image; predictions are cropped
back before scoring.
"""

from __future__ import annotations

import keras
import numpy as np

from segtf.data.arrays import ArrayPairs
from segtf.data.augmentation import MEAN_PIXEL
from segtf.metrics.semantic import semantic_scores
from segtf.palette import comparison_panel
from segtf.tasks import UNDECIDED_ALPHA, predicted_labels

PAD_MULTIPLE = 32


def common_size(pairs: ArrayPairs) -> tuple[int, int] | None:
    """None when all images share a size, else the padded size that holds any of them."""
    sizes = {m.shape[:2] for m in pairs.masks}
    if len(sizes) == 1:
        return None
    h = max(s[0] for s in sizes)
    w = max(s[1] for s in sizes)
    return (-(-h // PAD_MULTIPLE) * PAD_MULTIPLE, -(-w // PAD_MULTIPLE) * PAD_MULTIPLE)


def padded(image: np.ndarray, size) -> np.ndarray:
    if size is None:
        return image.astype(np.float32)[None]
    out = np.empty((1, *size, 3), np.float32)
    out[:] = MEAN_PIXEL
    out[0, : image.shape[0], : image.shape[1]] = image
    return out


def truth_labels(mask: np.ndarray, task: str, ignore_label: int) -> np.ndarray:
    """Validation truth: class labels, or foreground at alpha > 0.5 with alpha exactly 0.5
    (128: a trimap's unknown band, as in the Oxford pet masks) ignored, as `segtf evaluate`
    and the accuracy benchmark do."""
    if task != "foreground":
        return mask.astype(np.int32)
    return np.where(mask == UNDECIDED_ALPHA, ignore_label, mask > UNDECIDED_ALPHA).astype(np.int32)


def logits_of(model: keras.Model, images: np.ndarray) -> np.ndarray:
    outputs = model.predict_on_batch(images)
    return np.asarray(outputs["logits"] if isinstance(outputs, dict) else outputs, np.float32)


def validate_set(model, pairs: ArrayPairs, task: str, num_classes: int, ignore_label: int,
                 class_names, panels: list, max_panels: int, palette) -> dict:
    n = 2 if task == "foreground" else num_classes
    metric = keras.metrics.MeanIoU(
        num_classes=n, ignore_class=ignore_label, sparse_y_true=True, sparse_y_pred=True
    )
    size = common_size(pairs)
    for image, mask in zip(pairs.images, pairs.masks, strict=True):
        h, w = mask.shape[:2]
        logits = logits_of(model, padded(image, size))[0, :h, :w]
        prediction = predicted_labels(logits, task)
        metric.update_state(truth_labels(mask, task, ignore_label), prediction)
        if len(panels) < max_panels:
            truth = mask / 255.0 if task == "foreground" else mask
            # tanh form of the sigmoid: no overflow warning for very negative logits
            shown = 0.5 + 0.5 * np.tanh(0.5 * logits[..., 0]) if task == "foreground" else prediction
            panels.append(comparison_panel(image, shown, truth, palette, task))
    matrix = keras.ops.convert_to_numpy(metric.total_cm).astype(np.float64)
    names = ("background", "foreground") if task == "foreground" else class_names
    return semantic_scores(matrix, names)


def validate(model, val_sets: list[ArrayPairs], labels, ignore_label: int, max_panels: int = 0):
    """{"score": mean of the sets' mean IoU, "mean_iou", "pixel_accuracy", per set
    "<set>/mean_iou", "per_class_iou" of the first set} and up to `max_panels` images."""
    panels: list = []
    results = [
        validate_set(model, pairs, labels.task, labels.num_classes, ignore_label,
                     labels.class_names, panels, max_panels, labels.palette)
        for pairs in val_sets
    ]
    scores = {
        "score": float(np.mean([r["mean_iou"] for r in results])),
        "mean_iou": float(np.mean([r["mean_iou"] for r in results])),
        "pixel_accuracy": float(np.mean([r["pixel_accuracy"] for r in results])),
        "per_class_iou": results[0]["per_class_iou"],
    }
    if len(results) > 1:
        for pairs, result in zip(val_sets, results, strict=True):
            scores[f"{set_name(pairs.source)}/mean_iou"] = result["mean_iou"]
    return scores, panels


def set_name(source: str) -> str:
    """A short name for a validation source: its dataset folder (".../horse/val" -> horse)."""
    parts = [p for p in str(source).replace("\\", "/").split("/") if p]
    tail = [p for p in parts if p not in ("val", "valid", "validation", "test", "val.txt")]
    return tail[-1] if tail else str(source)
