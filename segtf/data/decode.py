"""Decoding files into tensors: images as uint8 (H, W, 3), masks as labels.

Everything runs in the tf.data graph (`tf.io.decode_image`) except files TensorFlow cannot
read faithfully (palette-mode "P" masks, whose class indices TF would expand to colours;
16-bit / 1-bit masks; TIFF / WebP / CMYK images): those go through PIL in
`tf.numpy_function`. The validation pass tells which route a dataset needs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

TF_IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}
TF_IMAGE_MODES = {"RGB", "L", "RGBA", "LA", "P"}
TF_MASK_MODES = {"L", "RGB", "RGBA", "LA"}


def needs_pil(paths, modes: set[str], tf_modes: set[str]) -> bool:
    """True when some file is in a format or mode `tf.io.decode_image` gets wrong."""
    if not modes <= tf_modes:
        return True
    return any(Path(p).suffix.lower() not in TF_IMAGE_EXTENSIONS for p in paths)


def _pil_image(path: bytes) -> np.ndarray:
    with Image.open(path.decode()) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8)


def _pil_mask(path: bytes) -> np.ndarray:
    with Image.open(path.decode()) as image:
        array = np.asarray(image)
    if array.ndim == 2:
        array = array[..., None]
    return array[..., :3].astype(np.int32)


def decode_image_bytes(data: tf.Tensor) -> tf.Tensor:
    """Encoded PNG / JPEG / BMP / GIF bytes -> uint8 (H, W, 3)."""
    image = tf.io.decode_image(data, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def decode_mask_bytes(data: tf.Tensor) -> tf.Tensor:
    """Encoded mask bytes -> int32 (H, W, C), C = 1 (index / alpha masks) or 3+ (colour)."""
    mask = tf.io.decode_image(data, channels=0, expand_animations=False)
    mask.set_shape([None, None, None])
    return tf.cast(mask, tf.int32)


def read_image(path: tf.Tensor, use_pil: bool = False) -> tf.Tensor:
    if use_pil:
        image = tf.numpy_function(_pil_image, [path], tf.uint8, stateful=False)
        image.set_shape([None, None, 3])
        return image
    return decode_image_bytes(tf.io.read_file(path))


def read_mask(path: tf.Tensor, use_pil: bool = False) -> tf.Tensor:
    if use_pil:
        mask = tf.numpy_function(_pil_mask, [path], tf.int32, stateful=False)
        mask.set_shape([None, None, None])
        return mask
    return decode_mask_bytes(tf.io.read_file(path))


def palette_to_index(mask: tf.Tensor, palette, ignore_label: int) -> tf.Tensor:
    """Colour mask (H, W, >=3) -> (H, W) index of its palette colour; other colours -> ignore."""
    rgb = mask[..., :3]
    codes = rgb[..., 0] * 65536 + rgb[..., 1] * 256 + rgb[..., 2]
    palette_codes = tf.constant([r * 65536 + g * 256 + b for r, g, b in palette], tf.int32)
    matches = tf.equal(codes[..., None], palette_codes)
    index = tf.argmax(tf.cast(matches, tf.int32), axis=-1, output_type=tf.int32)
    return tf.where(tf.reduce_any(matches, axis=-1), index, ignore_label)


def to_semantic_labels(
    mask: tf.Tensor,
    *,
    ignore_label: int = 255,
    label_map: dict[int, int] | None = None,
    palette=None,
) -> tf.Tensor:
    """Decoded mask -> int32 (H, W, 1) labels: palette lookup, then `label_map` (in-graph)."""
    channels = mask.shape[-1]
    if palette and channels is not None:  # known at trace time: build only the branch that runs
        labels = palette_to_index(mask, palette, ignore_label) if channels >= 3 else mask[..., 0]
    elif palette:
        labels = tf.cond(
            tf.shape(mask)[-1] >= 3,
            lambda: palette_to_index(mask, palette, ignore_label),
            lambda: mask[..., 0],
        )
    else:
        labels = mask[..., 0]  # grey masks stored as RGB have R == G == B (validated)
    raw_labels = labels  # every entry maps a *raw* value, so {1: 0, 0: 1} swaps
    for raw, label in (label_map or {}).items():
        labels = tf.where(raw_labels == raw, tf.constant(label, tf.int32), labels)
    return labels[..., None]


def to_foreground_alpha(mask: tf.Tensor) -> tf.Tensor:
    """Decoded mask -> float32 (H, W, 1) in 0..1: 0/255 and soft 0..255 masks are divided
    by 255; masks already in 0..1 (every value 0 or 1) are kept.

    RGBA masks whose colour is black carry the matte in alpha (channel 3)."""
    if mask.shape[-1] is not None and mask.shape[-1] != 4:
        alpha = mask[..., 0]
    else:
        channels = tf.shape(mask)[-1]
        alpha = tf.cond(
            tf.logical_and(channels == 4, tf.reduce_max(mask[..., :3]) == 0),
            lambda: tf.gather(mask, channels - 1, axis=-1),
            lambda: mask[..., 0],
        )
    alpha = tf.cast(alpha, tf.float32)
    scale = tf.where(tf.reduce_max(alpha) > 1.0, 255.0, 1.0)
    return (alpha / scale)[..., None]
