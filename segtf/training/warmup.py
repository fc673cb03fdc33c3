"""Warm-up of the layers `init_from` could not fill, before the run's own training.

A model folder holds the inference graph only, so a run started from one gets its
deep-supervision / auxiliary heads (and a new classifier when the classes differ) fresh from
their initialisation. Their first, large and random gradients then reach every shared layer
they sit on. Training those new layers alone first, every loaded layer frozen, is the
"linear probe, then fine-tune" recipe (Kumar et al., ICLR 2022): the fine-tuning starts from
heads that already agree with the features.
"""

from __future__ import annotations

import logging

import keras

logger = logging.getLogger(__name__)


def frozen_except(model: keras.Model, new_layers: set[str]) -> list:
    """Freezes every trainable layer with weights except `new_layers`; returns those frozen
    (a frozen BatchNormalization also runs on its moving statistics, as at inference)."""
    frozen = [
        layer
        for layer in model.layers
        if layer.weights and layer.trainable and layer.name not in new_layers
    ]
    for layer in frozen:
        layer.trainable = False
    return frozen


def warm_up_new_layers(
    model: keras.Model,
    new_layers: list[str],
    stream,
    steps: int,
    learning_rate: float,
    compile_args: dict,
) -> dict:
    """Trains only `new_layers` for `steps` batches of `stream` (Adam at `learning_rate`,
    a fresh optimizer the run's schedule never sees), then unfreezes everything.

    Returns the mean loss over the first and the last tenth of the steps
    ({"first_loss", "last_loss"}). The caller compiles the model again with the run's
    optimizer: the warm-up's compile replaces it.
    """
    if not new_layers:
        raise ValueError("no new layers to warm up: init_from filled every layer")
    frozen = frozen_except(model, set(new_layers))
    try:
        model.compile(optimizer=keras.optimizers.Adam(learning_rate), **compile_args)
        losses = LossRecorder()
        model.fit(stream, epochs=1, steps_per_epoch=steps, callbacks=[losses], verbose=2)
    finally:
        for layer in frozen:
            layer.trainable = True
    logger.info(
        "warmed up %d new layers (%s) for %d steps, the other %d frozen: loss %.4f over "
        "the first tenth of the steps, %.4f over the last",
        len(new_layers), ", ".join(new_layers), steps, len(frozen), *losses.ends(),
    )
    first, last = losses.ends()
    return {"first_loss": first, "last_loss": last}


class LossRecorder(keras.callbacks.Callback):
    """Per-batch losses, recovered from Keras' running mean (`logs["loss"]` after batch k is
    the mean of batches 0..k, so batch k's loss is (k + 1) m_k - k m_(k-1))."""

    def __init__(self):
        super().__init__()
        self.totals = []

    def on_train_batch_end(self, batch, logs=None):
        self.totals.append((batch + 1) * float((logs or {}).get("loss", float("nan"))))

    def ends(self) -> tuple[float, float]:
        """Mean loss over the first and over the last tenth of the batches (at least one)."""
        n = len(self.totals)
        if not n:
            return float("nan"), float("nan")
        k = max(1, n // 10)
        before_last = self.totals[n - k - 1] if n > k else 0.0
        return self.totals[k - 1] / k, (self.totals[-1] - before_last) / k
