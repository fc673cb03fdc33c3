"""The trainer's data for a `TrainConfig`: the endless training stream (tf.data on the
TensorFlow backend, a NumPy `PyDataset` anywhere), validation pairs in memory, class
weights. Any `segtf.data` source, or `synthetic[:N]` (learnable shapes, for smoke tests).

Built once per run; only a resume that starts mid-epoch builds the stream a second time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import keras
import numpy as np

from segtf.data.arrays import ArrayPairs, load_pairs
from segtf.data.validate import LabelRules
from segtf.tasks import TASKS
from segtf.training.config import TrainConfig, source_list

logger = logging.getLogger(__name__)

PIPELINES = ("auto", "tf.data", "numpy")


@dataclass
class LabelInfo:
    """What the labels are, from the dataset spec and the config."""

    num_classes: int
    task: str
    class_names: tuple[str, ...]
    palette: tuple[tuple[int, int, int], ...]
    label_map: dict | None
    dataset: str

    def rules(self, ignore_label: int) -> LabelRules:
        return LabelRules(
            self.num_classes, self.task, ignore_label, self.label_map, self.palette or None
        )


def label_info(config: TrainConfig) -> LabelInfo:
    """Classes, task, names and palette from `config.dataset` (a spec) and the config."""
    from segtf.data import get_dataset_spec

    spec = get_dataset_spec(config.dataset) if config.dataset else None
    num_classes = config.num_classes or (spec.num_classes if spec else 0)
    if num_classes < 1:
        raise ValueError("num_classes is unknown: set dataset (e.g. camvid) or num_classes")
    task = run_task(config, spec)
    check_classes_fit_task(task, num_classes)
    names = spec.class_names if spec else tuple(str(i) for i in range(num_classes))
    return LabelInfo(
        num_classes,
        task,
        tuple(names),
        spec.palette if spec else (),
        dict(spec.label_map) if spec and spec.label_map else None,
        spec.name if spec else "",
    )


def run_task(config: TrainConfig, spec) -> str:
    """The run's task: `task`, else `model_overrides.task` (the two must agree), else the
    dataset spec's, else the registry model's. The model is always built with this task."""
    from segtf.models import get_config

    override = config.model_overrides.get("task", "")
    if config.task and override and config.task != override:
        raise ValueError(
            f"task={config.task} and model_overrides.task={override} disagree: set one of them"
        )
    task = config.task or override or (spec.task if spec else "")
    task = task or get_config(config.model).task
    if task not in TASKS:
        raise ValueError(f"task={task!r}: use one of {TASKS}")
    return task


def check_classes_fit_task(task: str, num_classes: int) -> None:
    """Refuses class counts the task cannot train: a softmax over one class is constant (its
    loss is 0 and nothing learns), and a foreground model predicts one alpha channel."""
    if task == "semantic" and num_classes < 2:
        raise ValueError(
            "num_classes=1 with task semantic: a softmax over one class is constant, so "
            "nothing would learn; for a foreground (alpha) model set task=foreground, or "
            "give at least 2 classes"
        )
    if task == "foreground" and num_classes != 1:
        raise ValueError(
            f"num_classes={num_classes} with task foreground: a foreground model predicts "
            "one alpha channel; set num_classes=1, or task=semantic for several classes"
        )


def input_pipeline(config: TrainConfig) -> str:
    """"tf.data" or "numpy" for this run."""
    if config.input_pipeline not in PIPELINES:
        raise ValueError(f"input_pipeline must be one of {PIPELINES}, got {config.input_pipeline!r}")
    if config.input_pipeline != "auto":
        if config.input_pipeline == "tf.data" and keras.backend.backend() != "tensorflow":
            raise ValueError(
                "input_pipeline tf.data needs the TensorFlow backend "
                f"(KERAS_BACKEND is {keras.backend.backend()}): use input_pipeline=numpy"
            )
        return config.input_pipeline
    return "tf.data" if keras.backend.backend() == "tensorflow" else "numpy"


def synthetic_arrays(count: int, size: tuple[int, int], num_classes: int, task: str, seed: int):
    """uint8 images whose colour says the class of each rectangle (so a model can learn
    them) and their masks: labels, or alpha 0 / 255 for foreground."""
    rng = np.random.default_rng(seed)
    h, w = size
    images = np.zeros((count, h, w, 3), np.float32)
    masks = np.zeros((count, h, w), np.uint8)
    colours = rng.integers(0, 256, (max(num_classes, 2), 3))
    for i in range(count):
        images[i] = colours[0]
        for _ in range(3):
            c = int(rng.integers(1, max(num_classes, 2)))
            y, x = rng.integers(0, h // 2), rng.integers(0, w // 2)
            masks[i, y : y + h // 2, x : x + w // 2] = c
            images[i, y : y + h // 2, x : x + w // 2] = colours[c]
    images += rng.normal(0, 8, images.shape).astype(np.float32)
    images = np.clip(images, 0, 255).astype(np.uint8)
    if task == "foreground":
        return images, (masks > 0).astype(np.uint8) * 255
    masks[:, :2, :2] = 255  # a few ignored pixels
    return images, masks


def _synthetic(source: str, config: TrainConfig, labels: LabelInfo, seed: int) -> ArrayPairs:
    count = int(source.split(":", 1)[1]) if ":" in source else 16
    images, masks = synthetic_arrays(
        count, config.val_crop_size or config.crop_size, labels.num_classes, labels.task, seed
    )
    return ArrayPairs(source, list(images), list(masks))


def load_source(source: str, config: TrainConfig, labels: LabelInfo, seed: int = 1,
                max_items: int = 0) -> ArrayPairs:
    """One source decoded into memory (validation, and training on the NumPy pipeline)."""
    if source.startswith("synthetic"):
        return _synthetic(source, config, labels, seed)
    return load_pairs(
        source,
        labels.rules(config.ignore_label),
        max_side=config.max_side,
        skip_bad=config.skip_bad,
        max_items=max_items,
    )


@dataclass
class TrainData:
    """Everything the trainer reads."""

    config: TrainConfig
    labels: LabelInfo
    pipeline: str
    steps_per_epoch: int
    val: list[ArrayPairs]
    output_names: list[str] | None = None
    _train_arrays: list[ArrayPairs] | None = None
    _train_sources: list | None = None

    def stream(self, start_step: int = 0, seed_offset: int = 0):
        """Endless batches (images, targets) from global step `start_step` on."""
        cfg, labels = self.config, self.labels
        common = dict(
            batch_size=cfg.batch_size,
            crop_size=cfg.crop_size,
            task=labels.task,
            seed=cfg.seed + seed_offset,
            start_step=start_step,
            weights=cfg.train_weights,
            scale_range=cfg.scale_range,
            aspect_range=cfg.aspect_range,
            output_names=self.output_names,
        )
        if self.pipeline == "numpy":
            from segtf.data.pydataset import TrainingBatches

            pad = 0 if labels.task == "foreground" else cfg.ignore_label
            return TrainingBatches(
                self._train_arrays, pad_value=pad, workers=cfg.workers, **common
            )
        from segtf.data.pipeline import training_stream

        return training_stream(
            self._train_sources,
            num_classes=labels.num_classes,
            ignore_label=cfg.ignore_label,
            label_map=labels.label_map,
            palette=labels.palette or None,
            cache=cfg.cache,
            skip_bad=cfg.skip_bad,
            max_side=cfg.max_side,
            **common,
        )

    def calibration_batches(self, count: int):
        """`count` training batches' images (for precise BatchNorm statistics), drawn from a
        stream of their own so the training stream is not disturbed."""
        stream = self.stream(start_step=0, seed_offset=7919)
        if self.pipeline == "numpy":
            return [stream[i][0] for i in range(count)]
        return [images for images, _ in stream.take(count)]


def _count_items(source: str, config: TrainConfig) -> int:
    from segtf.data import find_pairs

    try:
        return len(find_pairs(source, skip_bad=config.skip_bad))
    except (ValueError, TypeError) as err:
        raise ValueError(
            f"cannot count the training images of {source!r} ({err}); set steps_per_epoch"
        ) from err


def make_train_data(config: TrainConfig, labels: LabelInfo, output_names=None) -> TrainData:
    """Lists (and for the NumPy pipeline decodes) the training sources and loads the
    validation pairs."""
    sources = source_list(config.train_data)
    if not sources:
        raise ValueError("train_data is empty: pass a dataset folder / list file or synthetic:N")
    pipeline = input_pipeline(config)
    arrays, stream_sources = None, []
    if pipeline == "numpy":
        arrays = [load_source(s, config, labels) for s in sources]
        counts = [len(a) for a in arrays]
    else:
        for s in sources:
            stream_sources.append(load_source(s, config, labels) if s.startswith("synthetic") else s)
        counts = [len(s) if isinstance(s, ArrayPairs) else _count_items(s, config)
                  for s in stream_sources]
    spe = config.steps_per_epoch or max(1, sum(counts) // config.batch_size)
    val = [
        load_source(s, config, labels, seed=0, max_items=config.val_max_images)
        for s in source_list(config.val_data)
    ]
    logger.info(
        "training data: %s (%s images), %s pipeline, %d steps per epoch",
        ", ".join(sources), "+".join(map(str, counts)), pipeline, spe,
    )
    return TrainData(config, labels, pipeline, spe, val, output_names, arrays, stream_sources)


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
    sources = [s for s in source_list(config.train_data) if not s.startswith("synthetic")]
    if not sources:
        return None
    if len(sources) > 1:
        raise ValueError(
            "class_weights=median_frequency reads one training source, got "
            f"{len(sources)}: give class_weights as a list, one number per class"
        )
    from segtf.data import class_statistics

    stats = class_statistics(
        sources[0],
        num_classes=labels.num_classes,
        ignore_label=config.ignore_label,
        label_map=labels.label_map,
        palette=labels.palette or None,
        skip_bad=config.skip_bad,
    )
    weights = [float(w) for w in stats.median_frequency_weights]
    logger.info("median frequency class weights: %s", [round(w, 3) for w in weights])
    return weights
