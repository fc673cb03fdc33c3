"""Per-class pixel statistics and median-frequency balancing weights.

Median frequency balancing (Eigen & Fergus, ICCV 2015; used by SegNet, Badrinarayanan et
al., TPAMI 2017): `freq(c)` = pixels of class c / total pixels of the images where c is
present; `weight(c) = median(freq) / freq(c)`. Rare classes get weights > 1.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from segtf.data.sources import is_tfds_source, is_tfrecord_dir, list_source
from segtf.data.validate import LabelRules, mask_values, validate_pairs

logger = logging.getLogger(__name__)


@dataclass
class ClassStatistics:
    """Pixel counts of one dataset (semantic labels after label_map / palette)."""

    counts: np.ndarray  # (num_classes,) labelled pixels per class
    present_pixels: np.ndarray  # (num_classes,) total pixels of the images containing c
    ignored: int  # pixels == ignore_label
    total: int  # all pixels
    images: int

    @property
    def share(self) -> np.ndarray:
        """Fraction of *all* pixels (ignored ones included) that are class c."""
        return self.counts / max(self.total, 1)

    @property
    def frequencies(self) -> np.ndarray:
        """Fraction of labelled (non-ignored) pixels that are class c."""
        return self.counts / max(int(self.counts.sum()), 1)

    @property
    def median_frequency_weights(self) -> np.ndarray:
        """SegNet's median frequency balancing; 0 for classes that never occur."""
        freq = np.divide(
            self.counts,
            self.present_pixels,
            out=np.zeros(len(self.counts)),
            where=self.present_pixels > 0,
        )
        present = freq > 0
        if not present.any():
            return np.zeros_like(freq)
        median = float(np.median(freq[present]))
        return np.divide(median, freq, out=np.zeros_like(freq), where=present)

    def table(self, class_names=None) -> str:
        """A plain-text table: class, pixels, share of all pixels, frequency, weight."""
        names = list(class_names or [str(c) for c in range(len(self.counts))])
        rows = [f"{'class':<14} {'pixels':>12} {'share':>7} {'freq':>7} {'weight':>7}"]
        weights = self.median_frequency_weights
        for c, name in enumerate(names):
            rows.append(
                f"{name[:14]:<14} {int(self.counts[c]):>12d} {self.share[c]:>7.2%} "
                f"{self.frequencies[c]:>7.2%} {weights[c]:>7.3f}"
            )
        rows.append(
            f"{'(ignored)':<14} {self.ignored:>12d} {self.ignored / max(self.total, 1):>7.2%}"
        )
        rows.append(f"{self.images} images, {self.total} pixels")
        return "\n".join(rows)


def _accumulate(label_arrays, num_classes: int, ignore_label: int) -> ClassStatistics:
    counts = np.zeros(num_classes, np.int64)
    present = np.zeros(num_classes, np.int64)
    ignored = total = images = 0
    for labels in label_arrays:
        hist = np.bincount(labels.ravel(), minlength=max(num_classes, ignore_label + 1))
        counts += hist[:num_classes]
        present += np.where(hist[:num_classes] > 0, labels.size, 0)
        ignored += int(hist[ignore_label]) if ignore_label < len(hist) else 0
        total += labels.size
        images += 1
    return ClassStatistics(counts, present, ignored, total, images)


def _file_labels(pairs, rules: LabelRules, workers: int = 4):
    lookup = np.arange(65536, dtype=np.int64)
    for raw, label in (rules.label_map or {}).items():
        lookup[raw] = label

    def labels(pair):
        with Image.open(pair[1]) as mask:
            mask.load()
            return lookup[mask_values(mask, rules)]

    with ThreadPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(labels, pairs)


def _pipeline_labels(source, rules: LabelRules, data_dir):
    from segtf.data.decode import to_semantic_labels
    from segtf.data.pipeline import decoded_pairs

    decoded = decoded_pairs(source, rules={}, data_dir=data_dir)
    ds = decoded.dataset.map(
        lambda image, mask: to_semantic_labels(
            mask, ignore_label=rules.ignore_label, label_map=rules.label_map, palette=rules.palette
        )[..., 0]
    )
    yield from ds.as_numpy_iterator()


def class_statistics(
    source,
    *,
    num_classes: int,
    ignore_label: int = 255,
    label_map: dict[int, int] | None = None,
    palette=None,
    skip_bad: bool = False,
    data_dir: str | None = None,
) -> ClassStatistics:
    """Counts the pixels of each class in a dataset (same sources as `make_dataset`).

    File sources are validated first (bad files raise `DataError` unless skip_bad) and read
    with PIL; TFRecord and TFDS sources through the tf.data decoders.
    """
    rules = LabelRules(num_classes, "semantic", ignore_label, label_map, palette)
    if is_tfds_source(source) or (isinstance(source, str | Path) and is_tfrecord_dir(Path(source))):
        arrays = _pipeline_labels(source, rules, data_dir)
    else:
        listing = list_source(source)
        report = validate_pairs(
            listing.pairs,
            report=listing,
            skip_bad=skip_bad,
            num_classes=num_classes,
            ignore_label=ignore_label,
            label_map=label_map,
            palette=palette,
        )
        arrays = _file_labels(report.pairs, rules)
    stats = _accumulate(arrays, num_classes, ignore_label)
    absent = [c for c in range(num_classes) if stats.counts[c] == 0]
    if absent:
        logger.warning("classes %s never occur: their weight is 0", absent)
    return stats
