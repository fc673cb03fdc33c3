"""Training and validation datasets for a `TrainConfig`: any `segtf.data` source, or
`synthetic[:N]` (learnable random shapes, for smoke tests and benchmarks)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from segtf.training.config import TrainConfig

logger = logging.getLogger(__name__)


@dataclass
class LabelInfo:
    """What the labels are, from the dataset spec and the config."""

    num_classes: int
    task: str
    class_names: tuple[str, ...]
    palette: tuple[tuple[int, int, int], ...]
    label_map: dict | None
    dataset: str


@dataclass
class TrainData:
    train: Callable[[int, int, int], tf.data.Dataset]  # (epoch, skip, take) -> batches
    val: tf.data.Dataset | None
    steps_per_epoch: int


def label_info(config: TrainConfig) -> LabelInfo:
    """Classes, task, names and palette from `config.dataset` (a spec) and the config."""
    from segtf.data import get_dataset_spec

    spec = get_dataset_spec(config.dataset) if config.dataset else None
    num_classes = config.num_classes or (spec.num_classes if spec else 0)
    if num_classes < 1:
        raise ValueError("num_classes is unknown: set dataset (e.g. camvid) or num_classes")
    task = config.task or (spec.task if spec else "semantic")
    names = spec.class_names if spec else tuple(str(i) for i in range(num_classes))
    return LabelInfo(
        num_classes,
        task,
        tuple(names),
        spec.palette if spec else (),
        dict(spec.label_map) if spec and spec.label_map else None,
        spec.name if spec else "",
    )


def synthetic_arrays(count: int, size: tuple[int, int], num_classes: int, task: str, seed: int):
    """Images whose colour says the class of each rectangle, so a model can learn them."""
    rng = np.random.default_rng(seed)
    h, w = size
    images = np.zeros((count, h, w, 3), np.float32)
    masks = np.zeros((count, h, w), np.int32)
    colours = rng.integers(0, 256, (max(num_classes, 2), 3))
    for i in range(count):
        images[i] = colours[0]
        for _ in range(3):
            c = int(rng.integers(1, max(num_classes, 2)))
            y, x = rng.integers(0, h // 2), rng.integers(0, w // 2)
            masks[i, y : y + h // 2, x : x + w // 2] = c
            images[i, y : y + h // 2, x : x + w // 2] = colours[c]
    images += rng.normal(0, 8, images.shape).astype(np.float32)
    if task == "foreground":
        return np.clip(images, 0, 255), (masks > 0).astype(np.float32)[..., None]
    masks[:, :2, :2] = 255  # a few ignored pixels
    return np.clip(images, 0, 255), masks


def _synthetic_count(source: str) -> int:
    return int(source.split(":", 1)[1]) if ":" in source else 16


def _shard_by_data(ds: tf.data.Dataset) -> tf.data.Dataset:
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options)


def _count_training_items(config: TrainConfig) -> int:
    if config.train_data.startswith("synthetic"):
        return _synthetic_count(config.train_data)
    from segtf.data import find_pairs

    try:
        return len(find_pairs(config.train_data, skip_bad=config.skip_bad))
    except (ValueError, TypeError) as err:
        raise ValueError(
            f"cannot count the training images of {config.train_data!r} ({err}); "
            "set steps_per_epoch"
        ) from err


def make_train_data(config: TrainConfig, labels: LabelInfo) -> TrainData:
    """Per-epoch training datasets (reshuffled with seed + epoch, so a resumed epoch sees the
    same batches) and the validation dataset."""
    if not config.train_data:
        raise ValueError("train_data is empty: pass a dataset folder / list file or synthetic:N")
    spe = config.steps_per_epoch or max(1, _count_training_items(config) // config.batch_size)

    def train(epoch: int, skip: int, take: int) -> tf.data.Dataset:
        ds = _dataset(config, labels, config.train_data, training=True, seed=config.seed + epoch)
        return _shard_by_data(ds.repeat().skip(skip).take(take))

    val = None
    if config.val_data:
        val = _dataset(config, labels, config.val_data, training=False, seed=config.seed)
        if config.val_max_images:
            val = val.take(max(1, config.val_max_images // _val_batch(config)))
    return TrainData(train, val, spe)


def _val_batch(config: TrainConfig) -> int:
    return config.batch_size if config.val_crop_size else 1


def _dataset(config: TrainConfig, labels: LabelInfo, source: str, training: bool, seed: int):
    batch = config.batch_size if training else _val_batch(config)
    crop = config.crop_size if training else config.val_crop_size
    if source.startswith("synthetic"):
        size = crop or config.crop_size
        images, masks = synthetic_arrays(
            _synthetic_count(source),
            size,
            labels.num_classes,
            labels.task,
            seed=0 if not training else 1,
        )
        ds = tf.data.Dataset.from_tensor_slices((images, masks))
        if training:
            ds = ds.shuffle(len(images), seed=seed)
        return ds.batch(batch, drop_remainder=training)
    from segtf.data import make_dataset

    return make_dataset(
        source,
        num_classes=labels.num_classes,
        task=labels.task,
        crop_size=crop,
        batch_size=batch,
        training=training,
        seed=seed,
        ignore_label=config.ignore_label,
        label_map=labels.label_map,
        cache=config.cache,
        skip_bad=config.skip_bad,
        palette=labels.palette or None,
    )


def resolve_class_weights(config: TrainConfig, labels: LabelInfo) -> list[float] | None:
    """None, an explicit list, or SegNet's median frequency balancing over train_data."""
    value = config.class_weights
    if value in (None, "none", ""):
        return None
    if isinstance(value, list | tuple):
        if len(value) != labels.num_classes:
            raise ValueError(
                f"class_weights has {len(value)} values for {labels.num_classes} classes"
            )
        return [float(v) for v in value]
    if value != "median_frequency":
        raise ValueError(f"class_weights must be none, median_frequency or a list, got {value!r}")
    if config.train_data.startswith("synthetic"):
        return None
    from segtf.data import class_statistics

    stats = class_statistics(
        config.train_data,
        num_classes=labels.num_classes,
        ignore_label=config.ignore_label,
        label_map=labels.label_map,
        palette=labels.palette or None,
        skip_bad=config.skip_bad,
    )
    weights = [float(w) for w in stats.median_frequency_weights]
    logger.info("median frequency class weights: %s", [round(w, 3) for w in weights])
    return weights
