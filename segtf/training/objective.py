"""The training objective: a loss per model output ("logits" plus auxiliary /
deep-supervision keys), weighted and summed."""

from __future__ import annotations

import logging

from keras import ops

from segtf.losses import get_loss
from segtf.training.config import TrainConfig

logger = logging.getLogger(__name__)


class Objective:
    """`objective(masks, outputs) -> (total, {key: loss})`; outputs a tensor or a dict."""

    def __init__(self, config: TrainConfig, num_classes: int, task: str, class_weights=None):
        kwargs = dict(
            num_classes=num_classes,
            ignore_label=config.ignore_label,
            class_weights=class_weights,
            label_smoothing=config.label_smoothing,
            focal_gamma=config.focal_gamma,
        )
        self.task = task
        self.terms = {"logits": (get_loss(config.loss, **kwargs), 1.0)}
        for key, spec in (config.aux_losses or {}).items():
            name, weight = (spec, 1.0) if isinstance(spec, str) else (spec[0], float(spec[1]))
            self.terms[key] = (get_loss(name, **kwargs), weight)

    def check_outputs(self, keys: list[str]) -> None:
        """Logs which configured losses apply to this model's outputs."""
        if "logits" not in keys:
            raise ValueError(f"the model's outputs {keys} have no 'logits'")
        unused = [k for k in self.terms if k not in keys]
        if unused:
            logger.info(
                "outputs %s are not produced by this model: their losses are unused", unused
            )
        missing = [k for k in keys if k not in self.terms]
        if missing:
            logger.warning("outputs %s have no loss in aux_losses: they are not trained", missing)

    def _target_for(self, masks, output):
        if tuple(masks.shape[1:3]) == tuple(output.shape[1:3]) and None not in masks.shape[1:3]:
            return masks
        size = ops.shape(output)[1:3]
        if self.task == "foreground":  # soft targets: bilinear
            return ops.image.resize(ops.cast(masks, "float32"), size, interpolation="bilinear")
        resized = ops.image.resize(
            ops.cast(masks[..., None], "float32"), size, interpolation="nearest"
        )
        return ops.cast(resized[..., 0], "int32")

    def __call__(self, masks, outputs):
        if not isinstance(outputs, dict):
            outputs = {"logits": outputs}
        total, parts = 0.0, {}
        for key, (loss, weight) in self.terms.items():
            if key not in outputs:
                continue
            output = outputs[key]
            target = masks if key == "logits" else self._target_for(masks, output)
            parts[key] = loss(target, output)
            total = total + weight * parts[key]
        return total, parts
