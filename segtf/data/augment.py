"""Joint image + mask augmentation with stateless (seeded, reproducible) tf.image ops.

Random scale 0.5-2.0, random crop with padding (image padded with the mean pixel, mask
with the ignore label), horizontal flip, photometric jitter. Masks are only ever resized
with nearest neighbour.

Why tf.image and not the Keras / keras-cv preprocessing layers: the geometric ops must share
one random draw between image and mask *and* be reproducible per element from a seed across
`num_parallel_calls` workers. Stateless tf.image ops take an explicit per-element seed, so a
given `seed` gives the same stream of crops on every run; Keras' RandomFlip / RandomCrop keep
their own seed state, and keras-cv's mask-aware layers need a dict input and resize masks
through their own code path. Doing it here keeps the semantics in one readable place.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from segtf.data.augmentation import (
    ASPECT_RANGE,
    BRIGHTNESS_DELTA,
    CONTRAST_RANGE,
    FLIP_PROBABILITY,
    MEAN_PIXEL,
    SATURATION_RANGE,
    SCALE_RANGE,
)


def pad_to_at_least(image, mask, height, width, mask_pad_value):
    """Pads bottom / right so the pair is at least (height, width): image with the mean
    pixel, mask with `mask_pad_value` (the ignore label, or 0 for foreground)."""
    shape = tf.shape(image)
    target_h = tf.maximum(shape[0], height)
    target_w = tf.maximum(shape[1], width)
    mean = tf.constant(MEAN_PIXEL, image.dtype)
    image = tf.image.pad_to_bounding_box(image - mean, 0, 0, target_h, target_w) + mean
    pad = tf.cast(mask_pad_value, mask.dtype)
    mask = tf.image.pad_to_bounding_box(mask - pad, 0, 0, target_h, target_w) + pad
    return image, mask


def stretch(scale, seed, aspect_range):
    """(height scale, width scale): `scale` stretched to an aspect ratio drawn log-uniform
    from `aspect_range` (its own seed, so runs without a stretch draw as before)."""
    if tuple(aspect_range) == (1.0, 1.0):
        return scale, scale
    low, high = (float(v) for v in aspect_range)
    log_aspect = tf.random.stateless_uniform(
        [], tf.random.experimental.stateless_fold_in(seed, 1), np.log(low), np.log(high)
    )
    root = tf.exp(log_aspect / 2)
    return scale / root, scale * root


def random_scale_crop(image, mask, crop_size, seed, mask_pad_value, scale_range=SCALE_RANGE,
                      aspect_range=ASPECT_RANGE):
    """Scales by s ~ U(scale_range) (stretched, see `stretch`) then takes a random
    `crop_size` crop (padding if small).

    Implemented as "crop a (crop / s) window, then resize it to crop_size", which is the same
    geometry as resizing the whole image first but costs only crop-sized resizes.
    """
    scale_seed, crop_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    crop_h, crop_w = crop_size
    scale = tf.random.stateless_uniform([], scale_seed, scale_range[0], scale_range[1])
    scale_h, scale_w = stretch(scale, scale_seed, aspect_range)
    window_h = tf.cast(tf.math.ceil(crop_h / scale_h), tf.int32)
    window_w = tf.cast(tf.math.ceil(crop_w / scale_w), tf.int32)
    image, mask = pad_to_at_least(image, mask, window_h, window_w, mask_pad_value)
    shape = tf.shape(image)
    limits = tf.stack([shape[0] - window_h + 1, shape[1] - window_w + 1])
    offset = tf.random.stateless_uniform([2], crop_seed, 0, tf.int32.max, tf.int32) % limits
    image = image[offset[0] : offset[0] + window_h, offset[1] : offset[1] + window_w]
    mask = mask[offset[0] : offset[0] + window_h, offset[1] : offset[1] + window_w]
    image = tf.image.resize(image, crop_size, method="bilinear")
    mask = tf.image.resize(mask, crop_size, method="nearest")
    return image, mask


def random_flip(image, mask, seed):
    flip = tf.random.stateless_uniform([], seed) < FLIP_PROBABILITY
    image = tf.cond(flip, lambda: tf.reverse(image, [1]), lambda: image)
    mask = tf.cond(flip, lambda: tf.reverse(mask, [1]), lambda: mask)
    return image, mask


def photometric_jitter(image, seed, strength: float = 1.0):
    """Brightness, contrast and saturation jitter on 0..255 pixels (image only)."""
    seeds = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    image = tf.image.stateless_random_brightness(image, BRIGHTNESS_DELTA * strength, seeds[0])
    contrast, saturation = CONTRAST_RANGE * strength, SATURATION_RANGE * strength
    image = tf.image.stateless_random_contrast(image, 1 - contrast, 1 + contrast, seeds[1])
    image = tf.image.stateless_random_saturation(
        image, 1 - saturation, 1 + saturation, seeds[2]
    )
    return tf.clip_by_value(image, 0.0, 255.0)


def augment_pair(
    image, mask, seed, crop_size, mask_pad_value, jitter: bool = True, scale_range=SCALE_RANGE,
    aspect_range=ASPECT_RANGE,
):
    """Training augmentation of one pair: float32 image (H, W, 3), mask (H, W, 1)."""
    seeds = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    if crop_size is not None:
        image, mask = random_scale_crop(
            image, mask, crop_size, seeds[0], mask_pad_value, scale_range, aspect_range
        )
    image, mask = random_flip(image, mask, seeds[1])
    if jitter:
        image = photometric_jitter(image, seeds[2])
    return image, mask


def center_pad_crop(image, mask, crop_size, mask_pad_value):
    """Evaluation: pads (mean / ignore) to at least crop_size, then takes the centre crop."""
    crop_h, crop_w = crop_size
    image, mask = pad_to_at_least(image, mask, crop_h, crop_w, mask_pad_value)
    shape = tf.shape(image)
    top, left = (shape[0] - crop_h) // 2, (shape[1] - crop_w) // 2
    image = image[top : top + crop_h, left : left + crop_w]
    mask = mask[top : top + crop_h, left : left + crop_w]
    image.set_shape([crop_h, crop_w, 3])
    mask.set_shape([crop_h, crop_w, None])
    return image, mask
