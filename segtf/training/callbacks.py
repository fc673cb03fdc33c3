"""The trainer's own Keras callbacks, for what Keras has no callback for: a wall-clock /
step limit that stops mid-epoch, step checkpoints that resume mid-epoch, and
validate-and-keep-best with precise BatchNorm statistics. (CSV history, NaN stop and
TensorBoard scalars are Keras' own `CSVLogger`, `TerminateOnNaN`, `TensorBoard`.)"""

from __future__ import annotations

import logging
import math
import time

import keras

from segtf.training.checkpoints import Checkpoints

logger = logging.getLogger(__name__)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


def diverged_message(loss: float, step: int, checkpoint: str | None) -> str:
    resume = f"the last checkpoint is {checkpoint}" if checkpoint else "no checkpoint was written"
    return (
        f"loss is {loss} at step {step}; training stopped ({resume}). "
        "Try a lower learning_rate, more warmup_steps, clipnorm=1.0 or precision=float32, "
        "and check the labels (values >= num_classes other than ignore_label)."
    )


class StepCounter(keras.callbacks.Callback):
    """Counts global steps (batches trained since the run began, over resumes), keeps the
    last batch loss (the other callbacks read both), logs progress every `log_every` steps
    and puts each epoch's wall time into its logs (`seconds`, so history.csv has it)."""

    def __init__(self, start_step: int, log_every: int = 0):
        super().__init__()
        self.step, self.log_every = start_step, log_every
        self.last_loss = float("nan")
        self._epoch_start = self._window_start = time.monotonic()
        self._window_steps = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        self._window_steps += 1
        self.last_loss = float((logs or {}).get("loss", float("nan")))
        if self.log_every and self.step % self.log_every == 0:
            now = time.monotonic()
            per_step = (now - self._window_start) / max(self._window_steps, 1)
            logger.info("step %d: loss %.4f, %.2f s/step", self.step, self.last_loss, per_step)
            self._window_start, self._window_steps = now, 0

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["seconds"] = round(time.monotonic() - self._epoch_start, 2)

    @property
    def finite(self) -> bool:
        return math.isfinite(self.last_loss)


class StopAt(keras.callbacks.Callback):
    """Stops after `total_steps`, at `stop_step` (> 0) or once `deadline` (time.monotonic)
    has passed, even mid-epoch; Keras still ends the epoch (validation, checkpoint) before
    stopping. `stopped_early` says why a run ended before `total_steps` ("" if it did not)."""

    def __init__(self, counter: StepCounter, total_steps: int, deadline: float | None,
                 stop_step: int = 0):
        super().__init__()
        self.counter, self.total_steps, self.deadline = counter, total_steps, deadline
        self.stop_step = stop_step
        self.stopped_early = ""

    def on_train_batch_end(self, batch, logs=None):
        step = self.counter.step
        if step >= self.total_steps:
            self.model.stop_training = True
        elif self.stop_step and step >= self.stop_step:
            self._stop(f"stop_at_step {self.stop_step} reached")
        elif self.deadline is not None and time.monotonic() >= self.deadline:
            self._stop("time budget spent")

    def _stop(self, reason: str) -> None:
        logger.info("%s at step %d: stopping", reason, self.counter.step)
        self.stopped_early, self.model.stop_training = reason, True


class SaveCheckpoints(keras.callbacks.Callback):
    """Model + optimizer state every `every` steps, at each epoch end and at the end."""

    def __init__(self, checkpoints: Checkpoints, counter: StepCounter, every: int, spe: int):
        super().__init__()
        self.checkpoints, self.counter = checkpoints, counter
        self.every, self.spe = every, spe

    def _save(self):
        if self.counter.finite and self.checkpoints.saved_step != self.counter.step:
            self.checkpoints.save(self.counter.step, self.spe, self.model)

    def on_train_batch_end(self, batch, logs=None):
        if self.every and self.counter.step % self.every == 0:
            self._save()

    def on_epoch_end(self, epoch, logs=None):
        self._save()

    def on_train_end(self, logs=None):
        self._save()


class ValidateAndKeepBest(keras.callbacks.Callback):
    """At chosen epoch ends: precise BatchNorm statistics, then validation; the scores go
    into the epoch's logs (so `CSVLogger` and `TensorBoard` record them) and the best
    weights are kept. Runs before the checkpoint callback, which then saves the recalibrated
    statistics."""

    def __init__(self, validate, calibrate, checkpoints, counter, every, stop, keys):
        super().__init__()
        self.validate, self.calibrate = validate, calibrate
        self.checkpoints, self.counter, self.every, self.stop = checkpoints, counter, every, stop
        self.keys = keys  # logged every epoch (NaN when not validated): CSVLogger fixes columns

    def _due(self, epoch: int) -> bool:
        last = self.model.stop_training or self.counter.step >= self.stop.total_steps
        return (epoch + 1) % self.every == 0 or last

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs.update({f"val_{k}": float("nan") for k in self.keys})
        if not self.counter.finite or not self._due(epoch):
            return
        self.calibrate()
        scores = self.validate(self.counter.step)
        logs.update({f"val_{k}": scores[k] for k in self.keys if k in scores})
        summary = ", ".join(f"{k} {scores[k]:.4f}" for k in self.keys if k in scores)
        logger.info("epoch %d (step %d) validation: %s", epoch + 1, self.counter.step, summary)
        self.checkpoints.save_if_best(self.model, scores["score"], self.counter.step)
