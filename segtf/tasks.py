"""Where semantic and foreground models differ in what a user is shown: one place.

A foreground model predicts one alpha channel, but its results have two classes
(background, then the foreground, named by the model's single class name when it has one).
`segment()`, the viewer and reports all take their names and colours from here.
"""

from __future__ import annotations

import numpy as np

import segtf.palette

TASKS = ("semantic", "foreground")
FOREGROUND_PALETTE = ((0, 0, 0), (255, 64, 128))  # background, foreground
# Alpha 128 of 255 marks a trimap's unknown band (the Oxford pet border): foreground losses,
# validation and metrics skip it rather than count it either way.
UNDECIDED_ALPHA = 128


def display_class_names(task: str, class_names, num_classes: int) -> tuple[str, ...]:
    """Names of the classes a result holds, index by index."""
    names = tuple(class_names or ())
    if task == "foreground":
        # config.json's class_names=["foreground"] names the foreground, never index 0.
        if len(names) >= 2:
            return names[:2]
        return ("background", names[0] if names else "foreground")
    if names:
        return names
    return tuple(f"class_{i}" for i in range(num_classes))


def display_palette(task: str, palette, num_classes: int) -> np.ndarray:
    """(classes, 3) uint8 colours: the model's own, completed with the VOC colour map."""
    if task == "foreground":
        if palette is not None and len(palette) >= 2:
            return np.asarray(palette[:2], np.uint8)
        return np.asarray(FOREGROUND_PALETTE, np.uint8)
    return segtf.palette.as_palette(palette, num_classes)


def result_classes(info) -> tuple[tuple[str, ...], np.ndarray]:
    """(class names, palette) for results of the model described by a `zoo.ModelInfo`."""
    num = 2 if info.task == "foreground" else info.model.num_classes
    names = display_class_names(info.task, info.class_names, num)
    return names, display_palette(info.task, info.palette, len(names))


# --- logits -> probabilities -> labels: the one definition, for every task -------------
FOREGROUND_THRESHOLD = 0.5  # alpha at or above this is foreground (logit >= 0)


def probabilities(logits, task: str):
    """Model logits -> sigmoid alpha (foreground, C == 1) or softmax over classes. Takes
    NumPy arrays or backend tensors (keras.ops), so graphs and NumPy code share it."""
    from keras import ops

    return ops.sigmoid(logits) if task == "foreground" else ops.softmax(logits, axis=-1)


def labels_from_probabilities(probs, task: str, threshold: float = FOREGROUND_THRESHOLD):
    """(H, W, C) probabilities -> (H, W) int32 labels: alpha >= threshold is class 1, else
    the most probable class."""
    probs = np.asarray(probs)
    if task == "foreground":
        return (probs[..., 0] >= threshold).astype(np.int32)
    return np.argmax(probs, axis=-1).astype(np.int32)


def predicted_labels(logits, task: str) -> np.ndarray:
    """(H, W, C) logits -> (H, W) int32 labels, without computing probabilities."""
    logits = np.asarray(logits)
    if task == "foreground":
        return (logits[..., 0] >= 0).astype(np.int32)
    return np.argmax(logits, axis=-1).astype(np.int32)
