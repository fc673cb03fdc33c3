"""The trainer's NumPy input: an endless `keras.utils.PyDataset` of augmented batches drawn
from in-memory pairs of one or more sources. Runs on any Keras backend, no TensorFlow.

Batch `i` is a pure function of (seed, start_step + i): a resumed run sees exactly the
batches the interrupted one would have, and worker processes need no shared state.
"""

from __future__ import annotations

import keras
import numpy as np

from segtf.data.arrays import ArrayPairs
from segtf.data.augment_numpy import augment_pair
from segtf.data.augmentation import ASPECT_RANGE, SCALE_RANGE


def source_weights(sources: list[ArrayPairs], weights=()) -> np.ndarray:
    """Sampling probability per source: the given weights, or by image count."""
    raw = np.asarray(weights if len(weights) else [len(s) for s in sources], np.float64)
    if len(raw) != len(sources) or (raw < 0).any() or raw.sum() <= 0:
        raise ValueError(
            f"train_weights {list(weights)} must be {len(sources)} non-negative numbers "
            "with a positive sum (one per training source)"
        )
    return raw / raw.sum()


def to_targets(masks: np.ndarray, task: str, output_names=None):
    """Stacked masks -> what the loss reads: int32 labels, or float32 alpha (B, h, w, 1);
    one copy per trained output for multi-output models."""
    y = (masks.astype(np.float32) / 255.0)[..., None] if task == "foreground" else masks
    y = y.astype(np.int32) if task != "foreground" else y
    return {name: y for name in output_names} if output_names else y


class TrainingBatches(keras.utils.PyDataset):
    """Endless augmented batches (set `steps_per_epoch` in `fit`)."""

    def __init__(
        self,
        sources: list[ArrayPairs],
        *,
        batch_size: int,
        crop_size: tuple[int, int] | None,
        task: str,
        pad_value: int,
        seed: int,
        start_step: int = 0,
        weights=(),
        scale_range=SCALE_RANGE,
        aspect_range=ASPECT_RANGE,
        jitter: bool = True,
        output_names=None,
        workers: int = 1,
    ):
        super().__init__(workers=workers, use_multiprocessing=workers > 1, max_queue_size=16)
        self.sources, self.probabilities = sources, source_weights(sources, weights)
        self.batch_size, self.crop_size, self.task = batch_size, crop_size, task
        self.pad_value, self.seed, self.start_step = pad_value, seed, start_step
        self.scale_range, self.jitter, self.output_names = scale_range, jitter, output_names
        self.aspect_range = aspect_range

    @property
    def num_batches(self):
        return None  # endless: fit's steps_per_epoch cuts it into epochs

    def pick(self, rng) -> tuple[np.ndarray, np.ndarray]:
        source = self.sources[rng.choice(len(self.sources), p=self.probabilities)]
        index = int(rng.integers(len(source)))
        return source.images[index], source.masks[index]

    def images_and_masks(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng((self.seed, step))
        pairs = [
            augment_pair(
                *self.pick(rng),
                rng,
                self.crop_size,
                self.pad_value,
                self.jitter,
                self.scale_range,
                self.aspect_range,
            )
            for _ in range(self.batch_size)
        ]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])

    def __getitem__(self, index: int):
        images, masks = self.images_and_masks(self.start_step + index)
        return images, to_targets(masks, self.task, self.output_names)
