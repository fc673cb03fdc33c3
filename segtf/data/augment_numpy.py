"""The joint augmentation of `segtf.data.augmentation`, executed in NumPy + PIL (for the
trainer's NumPy pipeline, which runs without TensorFlow). Geometry as in `augment.py`:
crop a (crop / s) window, then resize it to the crop size."""

from __future__ import annotations

import numpy as np
from PIL import Image

from segtf.data.augmentation import (
    ASPECT_RANGE,
    BRIGHTNESS_DELTA,
    CONTRAST_RANGE,
    FLIP_PROBABILITY,
    MEAN_PIXEL,
    SATURATION_RANGE,
    SCALE_RANGE,
)


def pad_to_at_least(image: np.ndarray, mask: np.ndarray, height: int, width: int, pad_value):
    """Pads bottom / right: image with the mean pixel, mask with `pad_value`."""
    h, w = mask.shape[:2]
    if h >= height and w >= width:
        return image, mask
    new_h, new_w = max(h, height), max(w, width)
    padded = np.empty((new_h, new_w, 3), image.dtype)
    padded[:] = np.asarray(MEAN_PIXEL).round().astype(image.dtype)
    padded[:h, :w] = image
    padded_mask = np.full((new_h, new_w), pad_value, mask.dtype)
    padded_mask[:h, :w] = mask
    return padded, padded_mask


def stretch(scale: float, rng, aspect_range) -> tuple[float, float]:
    """(height scale, width scale), as `augment.stretch` (no draw without a stretch)."""
    if tuple(aspect_range) == (1.0, 1.0):
        return scale, scale
    root = np.exp(rng.uniform(np.log(aspect_range[0]), np.log(aspect_range[1])) / 2)
    return scale / root, scale * root


def random_scale_crop(image, mask, crop_size, rng, pad_value, scale_range=SCALE_RANGE,
                      aspect_range=ASPECT_RANGE):
    crop_h, crop_w = crop_size
    scale_h, scale_w = stretch(rng.uniform(*scale_range), rng, aspect_range)
    window_h, window_w = int(np.ceil(crop_h / scale_h)), int(np.ceil(crop_w / scale_w))
    image, mask = pad_to_at_least(image, mask, window_h, window_w, pad_value)
    h, w = mask.shape[:2]
    top = int(rng.integers(0, h - window_h + 1))
    left = int(rng.integers(0, w - window_w + 1))
    image = image[top : top + window_h, left : left + window_w]
    mask = mask[top : top + window_h, left : left + window_w]
    image = np.asarray(Image.fromarray(image).resize((crop_w, crop_h), Image.BILINEAR))
    mask = np.asarray(Image.fromarray(mask).resize((crop_w, crop_h), Image.NEAREST))
    return image, mask


def photometric_jitter(image: np.ndarray, rng, strength: float = 1.0) -> np.ndarray:
    """Brightness, contrast and saturation jitter; float32 0..255 out."""
    x = image.astype(np.float32)
    x = x + rng.uniform(-BRIGHTNESS_DELTA, BRIGHTNESS_DELTA) * strength
    contrast = 1 + rng.uniform(-CONTRAST_RANGE, CONTRAST_RANGE) * strength
    x = (x - x.mean(axis=(0, 1), keepdims=True)) * contrast + x.mean(axis=(0, 1), keepdims=True)
    saturation = 1 + rng.uniform(-SATURATION_RANGE, SATURATION_RANGE) * strength
    grey = x @ np.array([0.299, 0.587, 0.114], np.float32)
    x = grey[..., None] + (x - grey[..., None]) * saturation
    return np.clip(x, 0.0, 255.0)


def augment_pair(
    image, mask, rng, crop_size, pad_value, jitter: bool = True, scale_range=SCALE_RANGE,
    aspect_range=ASPECT_RANGE,
):
    """Training augmentation of one uint8 pair: float32 image (h, w, 3), mask (h, w)."""
    if crop_size is not None:
        image, mask = random_scale_crop(
            image, mask, crop_size, rng, pad_value, scale_range, aspect_range
        )
    if rng.random() < FLIP_PROBABILITY:
        image, mask = image[:, ::-1], mask[:, ::-1]
    image = photometric_jitter(image, rng) if jitter else image.astype(np.float32)
    return image, np.ascontiguousarray(mask)
