"""`make_dataset`: source -> decode -> (cache) -> joint augmentation -> batch -> prefetch.

The pipeline yields raw pixels, float32 in 0..255: normalisation for each backbone lives
inside every model (`segtf.models.layers.Preprocess`), so it is never done here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

import segtf.data.augment as augment
import segtf.data.decode as decode
from segtf.data.sources import is_tfds_source, is_tfrecord_dir, list_source
from segtf.data.validate import validate_pairs
from segtf.tasks import TASKS

logger = logging.getLogger(__name__)

AUTOTUNE = tf.data.AUTOTUNE


@dataclass
class Decoded:
    """Unbatched (image uint8 (H, W, 3), mask int32 (H, W, C)) pairs and what is known."""

    dataset: tf.data.Dataset
    count: int | None
    same_size: bool  # every pair has one size (so full-size batches of > 1 work)
    shuffled: bool = False  # already shuffled upstream (cheap: file names / records)


def _crop_size(crop_size) -> tuple[int, int] | None:
    if crop_size is None:
        return None
    size = (crop_size, crop_size) if isinstance(crop_size, int) else tuple(crop_size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"crop_size must be an int or (height, width), got {crop_size!r}")
    return int(size[0]), int(size[1])


def _shuffle(ds, count, seed):
    return ds.shuffle(min(count or 1024, 4096), seed=seed, reshuffle_each_iteration=True)


def _from_files(source, rules: dict, skip_bad: bool, shuffle_seed, shuffle: bool) -> Decoded:
    listing = list_source(source)
    report = validate_pairs(listing.pairs, report=listing, skip_bad=skip_bad, **rules)
    if not report.pairs:
        raise ValueError(f"{source}: no usable image/mask pairs")
    images, masks = zip(*report.pairs, strict=True)
    pil_images = decode.needs_pil(images, report.image_modes, decode.TF_IMAGE_MODES)
    pil_masks = decode.needs_pil(masks, report.mask_modes, decode.TF_MASK_MODES)
    ds = tf.data.Dataset.from_tensor_slices((list(images), list(masks)))
    if shuffle:
        ds = _shuffle(ds, len(images), shuffle_seed)
    ds = ds.map(
        lambda i, m: (decode.read_image(i, pil_images), decode.read_mask(m, pil_masks)),
        num_parallel_calls=AUTOTUNE,
    )
    same_size = len(set(report.sizes.values())) == 1
    return Decoded(ds, len(report.pairs), same_size, shuffled=shuffle)


def _from_tfrecords(directory, shuffle_seed, shuffle: bool) -> Decoded:
    from segtf.data.tfrecords import parse_example, read_manifest, tfrecord_dataset

    manifest = read_manifest(directory)
    ds = tfrecord_dataset(directory, parallel=shuffle)
    if shuffle:
        ds = _shuffle(ds, manifest["count"], shuffle_seed)

    def parse(record):
        example = parse_example(record)
        return (
            decode.decode_image_bytes(example["image/encoded"]),
            decode.decode_mask_bytes(example["mask/encoded"]),
        )

    ds = ds.map(parse, num_parallel_calls=AUTOTUNE)
    same_size = len({tuple(s) for s in manifest["sizes"]}) == 1
    return Decoded(ds, manifest["count"], same_size, shuffled=shuffle)


def decoded_pairs(
    source,
    *,
    rules: dict,
    skip_bad: bool = False,
    data_dir=None,
    shuffle: bool = False,
    seed: int | None = None,
) -> Decoded:
    """Any source -> unbatched decoded pairs (files are validated first)."""
    if is_tfds_source(source):
        from segtf.data.tfds_source import tfds_dataset

        return Decoded(tfds_dataset(source, data_dir), None, same_size=False)
    if isinstance(source, str | Path) and is_tfrecord_dir(Path(source)):
        return _from_tfrecords(source, seed, shuffle)
    return _from_files(source, rules, skip_bad, seed, shuffle)


def _labels(task, ignore_label, label_map, palette):
    def convert(image, mask):
        image = tf.cast(image, tf.float32)
        if task == "foreground":
            return image, decode.to_foreground_alpha(mask)
        labels = decode.to_semantic_labels(
            mask, ignore_label=ignore_label, label_map=label_map, palette=palette
        )
        return image, labels

    return convert


def make_dataset(
    source,
    *,
    num_classes: int,
    task: str = "semantic",
    crop_size=None,
    batch_size: int = 8,
    training: bool = False,
    seed: int | None = None,
    ignore_label: int = 255,
    label_map: dict[int, int] | None = None,
    cache: bool = False,
    skip_bad: bool = False,
    palette=None,
    data_dir: str | None = None,
    jitter: bool = True,
) -> tf.data.Dataset:
    """Builds the input pipeline for training or evaluation.

    Args:
        source: a folder (`images/`+`masks/`, `im/`+`gt/`, ...), a list file (`IMAGE MASK`
            lines), a TFRecord dir (from `segtf data convert`), a list of (image, mask)
            paths, or "tfds:NAME[:split]" (prepared under `data_dir`).
        num_classes: classes of a semantic task (1 for foreground).
        task: "semantic" (int32 class masks) or "foreground" (float32 alpha in 0..1).
        crop_size: int or (h, w). Training: random scale 0.5-2 + random crop of this size;
            evaluation: pad + centre crop. None keeps full-size images (batch_size must be 1
            unless every image has the same size).
        batch_size: images per batch.
        training: shuffle + augment (scale, crop, flip, photometric jitter).
        seed: makes shuffling and augmentation reproducible (and tf.data deterministic).
        ignore_label: label of pixels to skip; crops pad masks with it.
        label_map: raw mask value -> label, applied in-graph (CamVid: {11: 255}).
        cache: keep decoded pairs in memory after the first epoch.
        skip_bad: leave bad files out (logged) instead of raising `DataError`.
        palette: RGB colours; colour-coded masks map colour i -> class i.
        data_dir: TFDS data dir for "tfds:" sources.
        jitter: photometric jitter when training.

    Returns:
        `tf.data.Dataset` of (images float32 (B, h, w, 3) in 0..255, masks): int32 (B, h, w)
        with ignore pixels == ignore_label (semantic) or float32 (B, h, w, 1) (foreground).

    Raises:
        DataError: bad files (before any training step runs), unless skip_bad.
        ValueError / FileNotFoundError: bad arguments or paths.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if num_classes < 1 or batch_size < 1:
        raise ValueError(
            f"num_classes and batch_size must be >= 1, got {num_classes}, {batch_size}"
        )
    crop = _crop_size(crop_size)
    rules = dict(
        num_classes=num_classes,
        task=task,
        ignore_label=ignore_label,
        label_map=label_map,
        palette=palette,
    )
    decoded = decoded_pairs(
        source,
        rules=rules,
        skip_bad=skip_bad,
        data_dir=data_dir,
        shuffle=training and not cache,
        seed=seed,
    )
    if crop is None and batch_size > 1 and not decoded.same_size:
        raise ValueError(
            f"batch_size={batch_size} with full-size images needs every image to "
            "have the same size (they differ or are unknown): pass crop_size=... "
            "or batch_size=1"
        )
    ds = decoded.dataset
    if cache:
        ds = ds.cache()
        if training:
            ds = _shuffle(ds, decoded.count, seed)
    ds = ds.map(_labels(task, ignore_label, label_map, palette), num_parallel_calls=AUTOTUNE)
    ds = _augment_or_crop(ds, crop, training, seed, task, ignore_label, jitter)
    if task == "semantic":
        ds = ds.map(lambda image, mask: (image, mask[..., 0]), num_parallel_calls=AUTOTUNE)
    drop = training and decoded.count is not None and decoded.count >= batch_size
    ds = ds.batch(batch_size, drop_remainder=drop).prefetch(AUTOTUNE)
    options = tf.data.Options()
    # Evaluation keeps file order; training trades order for speed unless a seed is given.
    options.deterministic = seed is not None or not training
    return ds.with_options(options)


def _augment_or_crop(ds, crop, training, seed, task, ignore_label, jitter):
    pad_value = 0 if task == "foreground" else ignore_label
    if training:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        ds = tf.data.Dataset.zip((ds, seeds))
        return ds.map(
            lambda pair, s: augment.augment_pair(pair[0], pair[1], s, crop, pad_value, jitter),
            num_parallel_calls=AUTOTUNE,
        )
    if crop is not None:
        return ds.map(
            lambda i, m: augment.center_pad_crop(i, m, crop, pad_value), num_parallel_calls=AUTOTUNE
        )
    return ds


def _shrink(max_side: int):
    """Shrinks a decoded pair whose longer side exceeds `max_side` (masks: nearest)."""

    def shrink(image, mask):
        shape = tf.shape(image)[:2]
        longer = tf.cast(tf.reduce_max(shape), tf.float32)
        scale = tf.minimum(1.0, max_side / longer)
        size = tf.maximum(1, tf.cast(tf.round(tf.cast(shape, tf.float32) * scale), tf.int32))
        image = tf.cast(tf.image.resize(image, size, antialias=True), tf.uint8)
        mask = tf.image.resize(mask, size, method="nearest")
        return image, mask

    return shrink


def _endless_pairs(source, index: int, rules: dict, seed: int, cache: bool, skip_bad, max_side):
    """One source (or in-memory `ArrayPairs` of one size) as an endless, reshuffled stream
    of labelled pairs."""
    from segtf.data.arrays import ArrayPairs

    label_map, palette = rules["label_map"], rules["palette"]
    if isinstance(source, ArrayPairs):
        masks = np.stack(source.masks).astype(np.int32)[..., None]
        pairs = tf.data.Dataset.from_tensor_slices((np.stack(source.images), masks))
        decoded = Decoded(pairs, len(source), same_size=True)
        # In-memory masks already hold training labels: mapping them again would look up
        # class indices in the colour palette and undo a label_map that swaps values.
        label_map, palette = None, None
    else:
        decoded = decoded_pairs(source, rules=rules, skip_bad=skip_bad, shuffle=False)
    ds = decoded.dataset
    if max_side:
        ds = ds.map(_shrink(max_side), num_parallel_calls=AUTOTUNE)
    if cache:
        ds = ds.cache()
    ds = _shuffle(ds, decoded.count, seed + 1000 * index).repeat()
    labels = _labels(rules["task"], rules["ignore_label"], label_map, palette)
    return ds.map(labels, num_parallel_calls=AUTOTUNE), decoded.count


def training_stream(
    sources,
    *,
    num_classes: int,
    task: str,
    crop_size,
    batch_size: int,
    seed: int,
    start_step: int = 0,
    weights=(),
    scale_range=augment.SCALE_RANGE,
    aspect_range=augment.ASPECT_RANGE,
    ignore_label: int = 255,
    label_map=None,
    palette=None,
    cache: bool = True,
    skip_bad: bool = False,
    max_side: int = 0,
    jitter: bool = True,
    output_names=None,
) -> tf.data.Dataset:
    """The trainer's tf.data input, built once per run: every source decoded (and cached),
    reshuffled each pass and repeated without end, sources drawn with `weights` (default:
    by image count), augmented, batched. Element `i` depends only on (seed, i), so
    `start_step` skips straight to where an interrupted run stopped: the skip happens
    before augmentation, on (cached) decoded pairs.
    """
    rules = dict(
        num_classes=num_classes,
        task=task,
        ignore_label=ignore_label,
        label_map=label_map,
        palette=palette,
    )
    streams, counts = zip(
        *(
            _endless_pairs(s, i, rules, seed, cache, skip_bad, max_side)
            for i, s in enumerate(sources)
        ),
        strict=True,
    )
    if len(streams) == 1:
        ds = streams[0]
    else:
        chosen = [float(w) for w in weights] if len(weights) else [float(c or 1) for c in counts]
        if len(chosen) != len(streams):
            raise ValueError(f"train_weights {chosen} must give one weight per training source")
        ds = tf.data.Dataset.sample_from_datasets(
            list(streams), weights=chosen, seed=seed, stop_on_empty_dataset=False
        )
    seeds = tf.data.Dataset.random(seed=seed).batch(2)
    ds = tf.data.Dataset.zip((ds, seeds)).skip(start_step * batch_size)
    crop = _crop_size(crop_size)
    pad_value = 0 if task == "foreground" else ignore_label

    def prepare(pair, s):
        image, mask = augment.augment_pair(
            pair[0], pair[1], s, crop, pad_value, jitter, tuple(scale_range),
            tuple(aspect_range),
        )
        target = mask if task == "foreground" else mask[..., 0]
        return image, ({k: target for k in output_names} if output_names else target)

    ds = ds.map(prepare, num_parallel_calls=AUTOTUNE).batch(batch_size, drop_remainder=True)
    options = tf.data.Options()
    options.deterministic = True
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.prefetch(AUTOTUNE).with_options(options)
