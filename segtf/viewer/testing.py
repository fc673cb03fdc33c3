"""Tiny untrained model folders, so the viewer can be tested (and demonstrated) without a
trained model. Their masks are noise; only the plumbing is real."""

from __future__ import annotations

import os
import pathlib

ROAD_CLASSES = ("sky", "road", "car")
ROAD_PALETTE = ((70, 130, 180), (128, 64, 128), (64, 0, 128))


def make_tiny_zoo(folder: str | os.PathLike, foreground: bool = True) -> list[pathlib.Path]:
    """Writes `tiny_road` (semantic, 3 classes) and, with `foreground`, `tiny_person`
    (foreground) model folders into `folder`; returns their paths."""
    import segtf.models
    from segtf import zoo

    folder = pathlib.Path(folder)
    small = dict(width=0.125, head_filters=16)
    specs = [("tiny_road", "semantic", 3, ROAD_CLASSES, ROAD_PALETTE, {"miou": 0.123})]
    if foreground:
        specs.append(("tiny_person", "foreground", 1, ("background", "person"), (), {"iou": 0.456}))
    paths = []
    for name, task, num_classes, classes, palette, metrics in specs:
        config = segtf.models.get_config(
            "deeplabv3plus_lite", num_classes=num_classes, task=task, **small
        )
        model = segtf.models.build_from_config(config, name=name)
        info = zoo.ModelInfo(
            name=name,
            model=config,
            class_names=classes,
            palette=palette,
            dataset="synthetic",
            metrics=metrics,
        )
        card = f"# {name}\n\nUntrained test model for the viewer.\n"
        paths.append(zoo.save_model_folder(model, info, folder / name, card=card, overwrite=True))
    return paths
