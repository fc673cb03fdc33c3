"""Validation scalars (per-class IoU) and sample predictions as TensorBoard images, next to
Keras' `TensorBoard` callback (which logs the training scalars). TensorFlow backend only.

Written with `tf.summary.write` and the scalars / images plugin metadata, so logging works
without the `tensorboard` package (install it to view the logs).
"""

from __future__ import annotations

import math
import pathlib

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import summary_pb2


def _metadata(plugin: str) -> bytes:
    meta = summary_pb2.SummaryMetadata()
    meta.plugin_data.plugin_name = plugin
    return meta.SerializeToString()


class TensorBoardLogger:
    """Validation scalars and sample predictions as images."""

    def __init__(self, log_dir: str | pathlib.Path | None):
        self.writers = {}
        if log_dir is not None:
            # A folder of its own: Keras' TensorBoard callback owns train/ and validation/.
            self.writers["validation"] = tf.summary.create_file_writer(
                str(pathlib.Path(log_dir) / "validation_images")
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


