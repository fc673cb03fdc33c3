"""The model zoo: model folders with config, weights and card; one loader for all of segtf.

A model folder holds `config.json` (the `ModelInfo` below), `model.weights.h5` and
`MODEL_CARD.md`. `load_model` accepts a zoo name (`models/<name>/`), a folder path or a
`.keras` file, and is what `segment()`, evaluation, export and the viewer all use.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import os
import pathlib
import shutil
from dataclasses import dataclass, field

import keras

from segtf.atomic import atomic_path, temporary_sibling
from segtf.models.config import ModelConfig
from segtf.resources import resource_path

logger = logging.getLogger(__name__)

ZOO_DIR = pathlib.Path(os.environ.get("SEGTF_ZOO") or resource_path("models"))
DEFAULT_MODEL = "foreground_refiner_efficientnet_lite2"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
CARD_FILE = "MODEL_CARD.md"


@dataclass
class ModelInfo:
    """What a model folder says about its model (written as config.json)."""

    name: str
    model: ModelConfig
    class_names: tuple[str, ...] = ()
    palette: tuple[tuple[int, int, int], ...] = ()
    ignore_label: int = 255
    dataset: str = ""
    metrics: dict = field(default_factory=dict)  # copied from what `segtf evaluate` printed
    extra: dict = field(default_factory=dict)

    @property
    def task(self) -> str:
        return self.model.task

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["model"] = self.model.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ModelInfo:
        data = dict(data)
        data["model"] = ModelConfig.from_dict(data["model"])
        data["class_names"] = tuple(data.get("class_names", ()))
        data["palette"] = tuple(tuple(c) for c in data.get("palette", ()))
        return cls(**data)


def list_zoo() -> list[str]:
    """Names of the model folders shipped in `models/`."""
    if not ZOO_DIR.is_dir():
        return []
    return sorted(p.name for p in ZOO_DIR.iterdir() if (p / CONFIG_FILE).is_file())


def resolve_model_path(name_or_path: str | os.PathLike) -> pathlib.Path:
    """Turns "default", a zoo name, a folder or a `.keras` file into an existing path."""
    text = str(name_or_path)
    if text == "default":
        text = DEFAULT_MODEL
    path = pathlib.Path(text).expanduser()
    if path.exists():
        return path
    if (ZOO_DIR / text / CONFIG_FILE).is_file():
        return ZOO_DIR / text
    raise ValueError(
        f"No model named or found at {text!r}. Zoo models: "
        f"{', '.join(list_zoo()) or '(none)'}; or pass a model folder or .keras file."
    )


def load_info(name_or_path: str | os.PathLike) -> ModelInfo:
    """Reads a model folder's config.json (or the info stored with a `.keras` file)."""
    path = resolve_model_path(name_or_path)
    config_path = path / CONFIG_FILE if path.is_dir() else path.with_suffix(".json")
    if not config_path.is_file():
        raise ValueError(
            f"{path}: no {config_path.name} beside it; save models with "
            "segtf.zoo.save_model_folder so their classes and palette travel along"
        )
    fix = "restore the folder from its source (reinstall or re-download the model), or re-save it"
    try:
        with open(config_path, encoding="utf-8") as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{config_path}: not valid JSON ({err}); {fix}") from None
    if not isinstance(data, dict) or not isinstance(data.get("model"), dict):
        raise ValueError(f"{config_path}: has no 'model' section (the model config); {fix}")
    known = {f.name for f in dataclasses.fields(ModelInfo)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{config_path}: unknown keys {unknown}; valid: {sorted(known)}")
    try:
        return ModelInfo.from_dict(data)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{config_path}: {err}; {fix}") from None


@contextlib.contextmanager
def float32_policy():
    """Builds inference models in float32 whatever global policy a training run in this
    process left behind (a mixed policy would make inference slower and use more memory)."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def load_model(name_or_path: str | os.PathLike = "default") -> tuple[keras.Model, ModelInfo]:
    """Loads a model and its info. `.keras` files load with `safe_mode=True`."""
    import segtf.models.layers  # noqa: F401  (registers the custom layers for deserialisation)
    from segtf.models import build_from_config

    path = resolve_model_path(name_or_path)
    info = load_info(path)
    if path.suffix == ".keras":
        try:
            model = keras.saving.load_model(path, safe_mode=True)
        except Exception as err:  # noqa: BLE001  (zip / h5 / deserialisation errors)
            raise ValueError(
                f"{path}: not a loadable .keras model ({type(err).__name__}: "
                f"{str(err).splitlines()[0][:200] if str(err) else ''}); re-save it with "
                "model.save(...) or use a model folder"
            ) from None
    else:
        # The folder's weights replace any ImageNet initialisation: do not read it.
        config = dataclasses.replace(info.model, backbone_weights=None)
        with float32_policy():
            model = build_from_config(config, name=info.name)
        load_folder_weights(model, path)
    logger.info("loaded model %s from %s", info.name, path)
    return model, info


def file_stamp(path: pathlib.Path) -> tuple[float, float]:
    """(config, weights) modification times: part of the cache key, so a retrained or
    re-packaged model is reloaded without restarting anything."""
    if not path.is_dir():
        return (path.stat().st_mtime if path.exists() else 0.0, 0.0)
    return tuple(
        (path / name).stat().st_mtime if (path / name).is_file() else 0.0
        for name in (CONFIG_FILE, WEIGHTS_FILE)
    )


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, stamp: tuple[float, float]):
    return load_model(path)


def load_model_cached(name_or_path: str | os.PathLike = "default"):
    """`load_model` through a cache of the four most recent models (keyed on the resolved
    path and the files' modification times): what `segment()`, export and the viewer use."""
    path = resolve_model_path(name_or_path).resolve()
    return _load_cached(str(path), file_stamp(path))


def info_for_bare_model(model: keras.Model) -> ModelInfo:
    """A ModelInfo for a Keras model passed without a model folder (classes unnamed)."""
    output = model.output["logits"] if isinstance(model.output, dict) else model.output
    channels = int(output.shape[-1])
    task = "foreground" if channels == 1 else "semantic"
    return ModelInfo(name=model.name, model=ModelConfig(num_classes=channels, task=task))


def resolve_model(model, info: ModelInfo | None = None) -> tuple[keras.Model, ModelInfo]:
    """(keras.Model, ModelInfo) from a zoo name / folder / `.keras` path, or a model."""
    if isinstance(model, keras.Model):
        return model, info or info_for_bare_model(model)
    return load_model_cached(model)


def load_folder_weights(model: keras.Model, folder: pathlib.Path) -> None:
    """Loads `folder/model.weights.h5` into `model`, naming the folder, file and fix on error."""
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise ValueError(f"{folder}: missing {WEIGHTS_FILE}; restore the model folder")
    try:
        model.load_weights(weights)
    except Exception as err:  # noqa: BLE001  (h5py / Keras raise many types here)
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(
            f"{weights}: cannot be loaded into the model {CONFIG_FILE} describes ({first[:200]}); "
            "the file is damaged or belongs to another model or class count: restore the "
            "folder, or save the weights again with segtf.zoo.save_model_folder"
        ) from None


def _atomic_write_text(path: pathlib.Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def save_model_folder(
    model: keras.Model,
    info: ModelInfo,
    folder: str | os.PathLike,
    card: str | None = None,
    overwrite: bool = False,
) -> pathlib.Path:
    """Writes weights + config.json (+ card) into `folder`, atomically: a temporary sibling
    folder is filled, then swapped in, so a crash never leaves half a model."""
    folder = pathlib.Path(folder)
    if folder.exists() and not overwrite:
        raise FileExistsError(f"{folder} exists; pass overwrite=True to replace it")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(folder, directory=True)
    try:
        model.save_weights(tmp / WEIGHTS_FILE)
        _atomic_write_text(tmp / CONFIG_FILE, json.dumps(info.to_dict(), indent=2) + "\n")
        if card is not None:
            _atomic_write_text(tmp / CARD_FILE, card)
        elif (folder / CARD_FILE).is_file():
            shutil.copy2(folder / CARD_FILE, tmp / CARD_FILE)
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(folder, old)
            os.replace(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
