"""Precise BatchNorm statistics: recompute the population mean / variance with final weights.

During training, BatchNorm's moving averages trail the weights: with a high learning rate and
~150 BN layers (a thin Xception), the stale statistics compound and inference-mode outputs can
be far worse than training-mode ones. Recomputing them as a plain average of per-batch
statistics over some training batches, with the weights frozen, fixes that ("Precise BN":
Wu & Johnson, "Rethinking 'Batch' in BatchNorm", 2021; Detectron2's PreciseBN hook).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import keras

logger = logging.getLogger(__name__)


def batchnorm_layers(model: keras.Model) -> list[keras.layers.BatchNormalization]:
    return [layer for layer in model._flatten_layers(include_self=False)
            if isinstance(layer, keras.layers.BatchNormalization)]


def recalibrate_batchnorm(model: keras.Model, batches: Iterable, max_batches: int = 50) -> int:
    """Replaces every BN layer's moving statistics by their average over `batches`.

    `batches` yields images (or `(images, labels)` tuples, labels ignored). Runs eagerly in
    training mode, setting each layer's momentum to 1 - 1/i so the "moving" average becomes
    an exact running mean; momentum is restored afterwards. Returns the batches used.
    """
    layers = batchnorm_layers(model)
    momenta = [layer.momentum for layer in layers]
    used = 0
    try:
        for used, batch in enumerate(batches, start=1):
            images = batch[0] if isinstance(batch, (tuple, list)) else batch
            for layer in layers:
                layer.momentum = 1.0 - 1.0 / used
            model(images, training=True)
            if used >= max_batches:
                break
    finally:
        for layer, momentum in zip(layers, momenta, strict=True):
            layer.momentum = momentum
    logger.info("recalibrated %d BatchNorm layers on %d batches", len(layers), used)
    return used
