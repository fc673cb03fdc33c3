"""The training objective as Keras `compile` takes it: a loss per model output ("logits"
plus auxiliary / deep-supervision keys) and their weights. Outputs smaller than the mask
(auxiliary heads) get the mask resized to their size inside the loss."""

from __future__ import annotations

import logging

import keras
from keras import ops

from segtf.losses import get_loss
from segtf.training.config import TrainConfig

logger = logging.getLogger(__name__)


class ResizedTarget(keras.losses.Loss):
    """Applies `loss` after resizing the target to the prediction's size: nearest for
    labels, bilinear for soft foreground alpha. A no-op at the same size."""

    def __init__(self, loss: keras.losses.Loss, task: str, **kwargs):
        super().__init__(name=loss.name, **kwargs)
        self.loss, self.task = loss, task

    def call(self, y_true, y_pred):
        if tuple(y_true.shape[1:3]) != tuple(y_pred.shape[1:3]) or None in y_true.shape[1:3]:
            size = ops.shape(y_pred)[1:3]
            if self.task == "foreground":
                y_true = ops.image.resize(ops.cast(y_true, "float32"), size, "bilinear")
            else:
                labels = ops.cast(y_true[..., None], "float32")
                y_true = ops.cast(ops.image.resize(labels, size, "nearest")[..., 0], "int32")
        return self.loss.call(y_true, y_pred)


def output_losses(
    config: TrainConfig, num_classes: int, task: str, output_names: list[str], class_weights=None
) -> tuple[dict, dict]:
    """({output: loss}, {output: weight}) for the outputs that have a loss."""
    if "logits" not in output_names:
        raise ValueError(f"the model's outputs {output_names} have no 'logits'")
    kwargs = dict(
        num_classes=num_classes,
        ignore_label=config.ignore_label,
        class_weights=class_weights,
        label_smoothing=config.label_smoothing,
        focal_gamma=config.focal_gamma,
    )
    terms = {"logits": (config.loss, 1.0)}
    for key, spec in (config.aux_losses or {}).items():
        terms[key] = (spec, 1.0) if isinstance(spec, str) else (spec[0], float(spec[1]))
    unused = sorted(set(terms) - set(output_names))
    if unused:
        logger.info("outputs %s are not produced by this model: their losses are unused", unused)
    untrained = sorted(set(output_names) - set(terms))
    if untrained:
        logger.warning("outputs %s have no loss in aux_losses: they are not trained", untrained)
    # Built in the config's order ("logits" first), so a bad main loss is the one named.
    built = {key: setting_loss(key, name, kwargs) for key, (name, _) in terms.items()
             if key in output_names}
    losses, weights = {}, {}
    for key in output_names:
        if key in built:
            losses[key] = ResizedTarget(built[key], task)
            weights[key] = terms[key][1]
    return losses, weights


def setting_loss(key: str, name: str, kwargs: dict) -> keras.losses.Loss:
    """`get_loss`, its error naming the setting to change (`loss` or `aux_losses.<key>`)."""
    try:
        return get_loss(name, **kwargs)
    except ValueError as err:
        setting = "loss" if key == "logits" else f"aux_losses.{key}"
        raise ValueError(f"{setting}={name}: {err}") from None
