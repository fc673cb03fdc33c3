"""Where semantic and foreground models differ in what a user is shown: one place.

A foreground model predicts one alpha channel, but its results have two classes
(background, then the foreground, named by the model's single class name when it has one).
`segment()`, the viewer and reports all take their names and colours from here.
"""

from __future__ import annotations

import numpy as np

import segtf.palette

FOREGROUND_PALETTE = ((0, 0, 0), (255, 64, 128))  # background, foreground


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
