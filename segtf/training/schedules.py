"""Poly learning-rate decay with linear warm-up (DeepLab / PSPNet), as a serialisable Keras
schedule. The rate is a pure function of the optimizer step, so resuming restores it."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="segtf")
class PolyWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """`lr(t) = peak * t / warmup` for t < warmup, then
    `end + (peak - end) * (1 - (t - warmup) / (total - warmup)) ** power`, constant `end`
    after `total_steps`."""

    def __init__(
        self,
        peak_learning_rate: float,
        total_steps: int,
        warmup_steps: int = 0,
        power: float = 0.9,
        end_learning_rate: float = 0.0,
    ):
        if total_steps < 1 or not 0 <= warmup_steps < max(total_steps, 1):
            raise ValueError(
                f"need 0 <= warmup_steps ({warmup_steps}) < total_steps ({total_steps})"
            )
        self.peak_learning_rate = float(peak_learning_rate)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.power = float(power)
        self.end_learning_rate = float(end_learning_rate)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        peak, end = self.peak_learning_rate, self.end_learning_rate
        warm = float(max(self.warmup_steps, 1))
        warmup_lr = peak * ops.minimum(step + 1.0, warm) / warm
        span = float(self.total_steps - self.warmup_steps)
        progress = ops.clip((step - self.warmup_steps) / span, 0.0, 1.0)
        poly_lr = end + (peak - end) * ops.power(1.0 - progress, self.power)
        return ops.where(step < self.warmup_steps, warmup_lr, poly_lr)

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "power": self.power,
            "end_learning_rate": self.end_learning_rate,
        }
