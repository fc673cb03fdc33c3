"""Checkpoint averaging (SWA, "model soups"): the element-wise mean of the weights of several
checkpoints of one architecture, taken layer by layer into an inference model. Checkpoints
of a fine-tuning leg and the one it started from lie in one basin, where the mean often
scores better than any one of them; whether it does is for the evaluation to show."""

from __future__ import annotations

import pathlib

import keras
import numpy as np


def checkpoint_weights(path: str | pathlib.Path, model_cfg) -> dict[str, list[np.ndarray]]:
    """The weights in a checkpoint (training graph) or model weights file, by layer name."""
    from segtf.training.trainer import donor_model

    path = pathlib.Path(path)
    if path.suffix != ".h5" or not path.is_file():
        raise ValueError(f"--average {path}: not a .weights.h5 file (a run's "
                         "checkpoints/ckpt-<step>.weights.h5 or best.weights.h5)")
    donor = donor_model(str(path), model_cfg)
    return {layer.name: [np.asarray(w) for w in layer.get_weights()] for layer in donor.layers}


def average_into(model: keras.Model, paths: list, model_cfg) -> None:
    """Sets every weighted layer of `model` to the mean of that layer in each of `paths`."""
    if len(paths) < 2:
        raise ValueError("--average: name at least two checkpoints to average")
    sources = [(path, checkpoint_weights(path, model_cfg)) for path in paths]
    for layer in model.layers:
        if not layer.weights:
            continue
        stacks = []
        for path, weights in sources:
            values = weights.get(layer.name)
            if values is None or [v.shape for v in values] != [tuple(w.shape) for w in layer.weights]:
                raise ValueError(f"--average {path}: no layer {layer.name!r} of this model's "
                                 "shapes in it; average checkpoints of this model's run only")
            stacks.append(values)
        layer.set_weights([np.mean(group, axis=0).astype(group[0].dtype)
                           for group in zip(*stacks, strict=True)])
