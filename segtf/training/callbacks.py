"""Training-loop hooks: TensorBoard scalars and images, a CSV history, a NaN stop."""

from __future__ import annotations

import csv
import logging
import math
import pathlib

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import summary_pb2

from segtf.palette import colorize_known

logger = logging.getLogger(__name__)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


def check_finite(loss: float, step: int, epoch: int, checkpoint: str | None) -> None:
    """Stops training with a message that says where and what to try."""
    if math.isfinite(loss):
        return
    resume = f"the last checkpoint is {checkpoint}" if checkpoint else "no checkpoint was written"
    raise TrainingDiverged(
        f"loss is {loss} at step {step} (epoch {epoch + 1}); training stopped ({resume}). "
        "Try a lower learning_rate, more warmup_steps, clipnorm=1.0 or precision=float32, "
        "and check the labels (values >= num_classes other than ignore_label)."
    )


def _metadata(plugin: str) -> bytes:
    meta = summary_pb2.SummaryMetadata()
    meta.plugin_data.plugin_name = plugin
    return meta.SerializeToString()


class TensorBoardLogger:
    """Scalars (losses, learning rate, validation) and sample predictions as images.

    Written with `tf.summary.write` and the scalars / images plugin metadata, so logging
    works without the `tensorboard` package (install it to view the logs).
    """

    def __init__(self, log_dir: str | pathlib.Path | None):
        self.writers = {}
        if log_dir is not None:
            for split in ("train", "validation"):
                self.writers[split] = tf.summary.create_file_writer(
                    str(pathlib.Path(log_dir) / split)
                )

    def scalars(self, split: str, step: int, values: dict) -> None:
        writer = self.writers.get(split)
        if writer is None:
            return
        with writer.as_default(step=step):
            for name, value in values.items():
                if isinstance(value, int | float | np.floating) and math.isfinite(float(value)):
                    tf.summary.write(
                        name, tf.constant(float(value), tf.float32), metadata=_metadata("scalars")
                    )
        writer.flush()

    def images(self, step: int, name: str, images: list[np.ndarray]) -> None:
        writer = self.writers.get("validation")
        if writer is None or not images:
            return
        with writer.as_default(step=step):
            h, w = images[0].shape[:2]
            encoded = [tf.io.encode_png(image).numpy() for image in images]
            tensor = tf.constant([str(w).encode(), str(h).encode(), *encoded])
            tf.summary.write(name, tensor, metadata=_metadata("images"))
        writer.flush()


class CsvHistory:
    """One row per epoch; appends on resume (the header is written once)."""

    def __init__(self, path: str | pathlib.Path | None, append: bool = False):
        self.path = None if path is None else pathlib.Path(path)
        self.fields: list[str] | None = None
        if self.path is not None and self.path.is_file() and not append:
            self.path.unlink()
        if self.path is not None and self.path.is_file():
            with open(self.path, encoding="utf-8") as f:
                header = f.readline().strip()
            self.fields = header.split(",") if header else None

    def append(self, row: dict) -> None:
        if self.path is None:
            return
        if self.fields is None:
            self.fields = list(row)
            with open(self.path, "w", encoding="utf-8", newline="") as f:
                csv.DictWriter(f, self.fields).writeheader()
        with open(self.path, "a", encoding="utf-8", newline="") as f:
            csv.DictWriter(f, self.fields, extrasaction="ignore").writerow(row)


def sample_panel(
    image: np.ndarray, truth: np.ndarray, prediction: np.ndarray, palette, task: str
) -> np.ndarray:
    """image | ground truth | prediction, side by side, uint8 (H, 3W, 3)."""
    image = np.clip(image, 0, 255).astype(np.uint8)
    if task == "foreground":
        gt = np.repeat((np.clip(truth.reshape(image.shape[:2]), 0, 1) * 255)[..., None], 3, -1)
        pr = np.repeat((np.clip(prediction, 0, 1) * 255)[..., None], 3, -1)
        return np.concatenate([image, gt.astype(np.uint8), pr.astype(np.uint8)], axis=1)
    return np.concatenate([image, colorize_known(truth, palette), colorize_known(prediction, palette)], axis=1)
