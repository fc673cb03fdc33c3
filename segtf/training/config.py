"""The training configuration: one dataclass, a comment per field, loaded from a named
experiment, a YAML / JSON file and `key=value` overrides (in that order)."""

from __future__ import annotations

import dataclasses
import json
import pathlib
from dataclasses import dataclass, field
from typing import Any

import yaml


@dataclass
class TrainConfig:
    """Everything `train_tf.py` needs; written resolved as `config.yaml` next to checkpoints."""

    experiment: str = ""  # registry name this config started from ("" = none)
    # --- model ---
    model: str = "deeplabv3plus_lite"  # a name from segtf.models.list_models()
    model_overrides: dict = field(default_factory=dict)  # ModelConfig fields, e.g. {width: 0.5}
    # --- data (any source segtf.data.make_dataset accepts, or "synthetic[:N]" for smoke tests)
    dataset: str = ""  # dataset spec ("camvid"): class names, palette, label map, task
    # Training source(s): a folder, list file, TFRecord dir or "tfds:NAME", or a list of them
    # (e.g. horse + person + pet for one foreground model), drawn with train_weights.
    train_data: str | list = ""
    train_weights: list = field(default_factory=list)  # per source; [] = by image count
    val_data: str | list = ""  # validation source(s) ("" = none); the score is their mean
    num_classes: int = 0  # 0 = from the dataset spec
    task: str = ""  # "semantic" / "foreground"; "" = from the dataset spec or model config
    ignore_label: int = 255  # label excluded from losses and metrics
    crop_size: tuple[int, int] = (256, 256)  # training crops (after the random scale)
    scale_range: tuple[float, float] = (0.5, 2.0)  # random scale before the crop
    # random stretch (width / height, log-uniform) with the scale; (1, 1) = none
    aspect_range: tuple[float, float] = (1.0, 1.0)
    max_side: int = 0  # shrink pairs whose longer side exceeds this on load (0 = keep size)
    val_crop_size: tuple[int, int] | None = None  # None = validate at full size (batch 1)
    val_max_images: int = 0  # validate on the first N images only (0 = all)
    precise_bn_batches: int = 20  # recompute BatchNorm statistics on N training batches before
    # validation and the final save (0 = off): stale moving averages can wreck inference mode
    cache: bool = False  # keep decoded images in memory after the first epoch
    # "tf.data" (TensorFlow backend), "numpy" (a keras.utils.PyDataset, any backend, no
    # TensorFlow needed), or "auto": tf.data on TensorFlow, numpy on JAX / torch.
    input_pipeline: str = "auto"
    workers: int = 1  # numpy pipeline: worker processes preparing batches
    skip_bad: bool = False  # drop unreadable pairs (logged) instead of stopping
    # --- schedule ---
    batch_size: int = 8  # global batch, split evenly across replicas
    epochs: int = 10  # passes over steps_per_epoch batches
    steps_per_epoch: int = 0  # 0 = training images // batch_size
    max_steps: int = 0  # > 0: stop after this many steps in total (overrides epochs)
    time_budget: float = 0.0  # wall-clock seconds; > 0: stop cleanly (validated, checkpointed)
    # when spent, even mid-epoch; `--resume` continues from there
    # > 0: stop cleanly (validated, checkpointed) once this step is reached, the learning-rate
    # schedule still that of the whole run: replays a leg that a time budget cut on another
    # machine at the step its log names; `--resume` (with it cleared or raised) continues
    stop_at_step: int = 0
    optimizer: str = "sgd"  # "sgd" (with momentum) or "adamw"
    learning_rate: float = 0.01  # peak learning rate (after warm-up)
    end_learning_rate: float = 0.0  # where the poly decay ends
    poly_power: float = 0.9  # lr = peak * (1 - t / T) ** power (DeepLab / PSPNet)
    warmup_steps: int = 0  # linear warm-up from 0 to the peak
    momentum: float = 0.9  # SGD momentum (AdamW: beta_1)
    weight_decay: float = 1e-4  # decoupled weight decay (Keras optimizers)
    clipnorm: float = 0.0  # global gradient-norm clipping (0 = off)
    # --- losses: the main "logits" output, and auxiliary outputs by key ---
    loss: str = "cross_entropy"  # see segtf.losses.get_loss (e.g. "focal", "ce_dice", "birefnet")
    aux_losses: dict = field(default_factory=lambda: {"aux_logits": ["cross_entropy", 0.4]})
    # output key -> [loss name, weight]; PSPNet uses 0.4 on aux_logits
    class_weights: Any = None  # None, "median_frequency" (SegNet) or a list per class
    label_smoothing: float = 0.0  # for cross-entropy
    focal_gamma: float = 2.0  # for the focal loss
    # --- runtime ---
    precision: str = "auto"  # auto | float32 | mixed_float16 | mixed_bfloat16
    strategy: str = "auto"  # auto | default | mirrored | multi_worker | tpu
    seed: int = 42  # data order, augmentation and initialisation
    out_dir: str = "runs/default"  # checkpoints, logs, the resolved config and the model folder
    checkpoint_every: int = 500  # steps between checkpoints (0 = at epoch ends only)
    keep_checkpoints: int = 3  # most recent checkpoints kept (the best is kept separately)
    resume: bool = False  # continue from the latest checkpoint in out_dir
    overwrite: bool = False  # a fresh run may write into a non-empty out_dir
    # Start from: a zoo name or model folder, a .weights.h5 file, or "imagenet" (the
    # backbone's installed ImageNet weights). Layers whose shapes differ (the classifier when
    # num_classes changes) keep their fresh initialisation: fine-tuning to your own classes.
    init_from: str = ""
    # > 0: before training, train only the layers init_from left at their initialisation
    # (deep-supervision / aux heads a model folder does not hold, a new classifier) for N
    # steps, every loaded layer frozen, so their random first gradients do not disturb it
    head_warmup_steps: int = 0
    # Adam, constant, for that warm-up only (the refiner's five 1x1 stage heads: loss 1.57 -> 0.70
    # in 60 steps at 1e-2, 1.99 -> 1.27 at 1e-3)
    head_warmup_learning_rate: float = 1e-2
    # True: every layer init_from filled stays frozen for the whole run (a frozen BatchNorm runs
    # on its moving statistics) and only the new ones train, so the result is the loaded model
    # plus what its new layers add (new heads on a trained model, a probe of its features)
    freeze_loaded_layers: bool = False
    val_every: int = 1  # validate every N epochs
    log_every: int = 20  # steps between TensorBoard scalar writes
    image_summaries: int = 2  # validation predictions written as TensorBoard images
    model_name: str = ""  # name of the saved model folder (default: experiment or model)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"Unknown training config keys {unknown}; valid: {sorted(known)}")
        values = dict(data)
        for key in ("crop_size", "val_crop_size"):
            values[key] = _size(values[key]) if values.get(key) is not None else values.get(key)
        for key in ("scale_range", "aspect_range"):
            if values.get(key) is not None:
                values[key] = _range(key, values[key])
        for key in SOURCE_FIELDS:
            if key in values:
                values[key] = _sources(key, values[key])
        for f in dataclasses.fields(cls):
            if f.name in values and f.name not in SOURCE_FIELDS:
                values[f.name] = _checked(f, values[f.name])
        _check_model_overrides(values.get("model_overrides") or {})
        return cls(**values)


SOURCE_FIELDS = ("train_data", "val_data")


def _sources(key: str, value):
    """A source field holds one path / spec or a list of them ("" or None: none)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return value[0] if len(value) == 1 else list(value)
    raise ValueError(
        f"training config key {key!r} takes a source (e.g. {key}=data/train) or a list of "
        f"them (e.g. {key}=[data/horse, data/person]), got {value!r}"
    )


def source_list(value) -> list[str]:
    """`train_data` / `val_data` as a list ("" = none)."""
    if not value:
        return []
    return [value] if isinstance(value, str) else list(value)


def _range(key: str, value) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) != 2 or not 0 < value[0] <= value[1]:
        raise ValueError(f"{key} takes [low, high] with 0 < low <= high, got {value!r}")
    return (float(value[0]), float(value[1]))


def _default_of(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else None


def _checked(f: dataclasses.Field, value):
    """`value` for field `f`, converted where lossless (3 -> 3.0), else a ValueError that
    names the key and what it takes."""
    default = _default_of(f)
    if value is None or default is None:
        return value
    kind = type(default)
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "1e-5" (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(default, str | dict | list | tuple):
        if isinstance(value, type(default)) or (
            isinstance(default, tuple | list) and isinstance(value, tuple | list)
        ):
            return value
    else:
        return value
    raise ValueError(
        f"training config key {f.name!r} takes {kind.__name__} (e.g. {f.name}={default!r}), "
        f"got {value!r}"
    )


def _check_model_overrides(overrides: dict) -> None:
    from segtf.models.config import ModelConfig

    known = {f.name for f in dataclasses.fields(ModelConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(
            f"unknown model_overrides keys {unknown} (e.g. model_overrides.width=0.5); "
            f"valid: {sorted(known)}"
        )


def _size(value) -> tuple[int, int]:
    if isinstance(value, int | float | str):
        return (int(value), int(value))
    if len(value) != 2:
        raise ValueError(f"a size is an int or [height, width], got {value!r}")
    return (int(value[0]), int(value[1]))


def load_file(path: str | pathlib.Path) -> dict:
    """Reads a YAML or JSON config file into a dict."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as err:
        detail = str(err).replace("\n", " ")
        raise ValueError(f"config file {path} cannot be read: {detail}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of config keys, got {type(data).__name__}")
    return data


def parse_overrides(items: list[str]) -> dict:
    """`["epochs=3", "crop_size=[64,64]", "model_overrides.width=0.5"]` -> nested dict;
    values are parsed as YAML."""
    out: dict = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"override {item!r} is not KEY=VALUE (e.g. epochs=3)")
        key, text = item.split("=", 1)
        target = out
        *parents, leaf = key.strip().split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = yaml.safe_load(text)
    return out


def merge(base: dict, update: dict) -> dict:
    """Recursive dict merge (dict fields such as model_overrides merge key by key)."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def write_config(config: TrainConfig, path: str | pathlib.Path) -> None:
    """Writes the resolved config as YAML (atomically)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    data = json.loads(json.dumps(config.to_dict()))  # tuples -> lists for plain YAML
    tmp.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    tmp.replace(path)
