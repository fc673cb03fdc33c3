"""Pairs decoded into memory as NumPy arrays: the input of the trainer's NumPy pipeline
(`segtf.data.pydataset`) and of validation on every backend. No TensorFlow needed.

The same listing and validation pass as `make_dataset` (every bad file named before
training), the same label rules (palette, `label_map`, ignore label, soft alpha), decoded
with PIL. Images are uint8 (H, W, 3); semantic masks uint8 / int32 (H, W) labels,
foreground masks uint8 (H, W) alpha in 0..255.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from PIL import Image

from segtf.data.sources import list_source
from segtf.data.validate import LabelRules, mask_values, validate_pairs

logger = logging.getLogger(__name__)


@dataclass
class ArrayPairs:
    """Decoded pairs of one source, in memory."""

    source: str
    images: list[np.ndarray]
    masks: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.images)


def shrink_pair(image: np.ndarray, mask: np.ndarray, max_side: int):
    """Shrinks a pair so its longer side is at most `max_side` (masks: nearest)."""
    h, w = mask.shape[:2]
    if not max_side or max(h, w) <= max_side:
        return image, mask
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    image = np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR, reducing_gap=3.0))
    mask = np.asarray(Image.fromarray(mask).resize(size, Image.NEAREST))
    return image, mask


def mask_labels(mask: Image.Image, rules: LabelRules) -> np.ndarray:
    """A mask file's pixels as training labels: semantic class indices after the palette and
    `label_map` (uint8 when they fit), or foreground alpha in 0..255 (0/1 masks scaled)."""
    values = mask_values(mask, rules)
    if rules.task == "foreground":
        alpha = values.astype(np.float32)
        if alpha.max() <= 1.0:
            alpha = alpha * 255.0
        return np.clip(alpha, 0, 255).astype(np.uint8)
    labels = values.astype(np.int32)
    raw = labels.copy()  # every entry maps a *raw* value, so {1: 0, 0: 1} swaps
    for value, label in (rules.label_map or {}).items():
        labels[raw == value] = label
    return labels.astype(np.uint8) if labels.max(initial=0) < 256 else labels


def read_pair(image_path: str, mask_path: str, rules: LabelRules, max_side: int = 0):
    with Image.open(image_path) as image:
        rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    with Image.open(mask_path) as mask:
        labels = mask_labels(mask, rules)
    return shrink_pair(rgb, labels, max_side)


def load_pairs(
    source: str,
    rules: LabelRules,
    *,
    max_side: int = 0,
    skip_bad: bool = False,
    max_items: int = 0,
    workers: int = 4,
) -> ArrayPairs:
    """Lists, validates and decodes every pair of `source` (a folder or list file)."""
    listing = list_source(source)
    report = validate_pairs(
        listing.pairs,
        report=listing,
        skip_bad=skip_bad,
        num_classes=rules.num_classes,
        task=rules.task,
        ignore_label=rules.ignore_label,
        label_map=rules.label_map,
        palette=rules.palette,
    )
    pairs = report.pairs[:max_items] if max_items else report.pairs
    if not pairs:
        raise ValueError(f"{source}: no usable image/mask pairs")
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        decoded = list(pool.map(lambda p: read_pair(p[0], p[1], rules, max_side), pairs))
    logger.info("loaded %d pairs from %s", len(decoded), source)
    images, masks = (list(x) for x in zip(*decoded, strict=True))
    return ArrayPairs(str(source), images, masks)
