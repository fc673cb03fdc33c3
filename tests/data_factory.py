"""Tiny real PNG / JPEG segmentation datasets on disk, for tests (reusable by anyone).

    root = make_folder_dataset(tmp_path, n=3, num_classes=4)   # images/ + masks/
    pairs = find_pairs(root)

Images are deterministic random RGB; masks are blocky class maps (or 0/255 foreground).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

# The tests' model size (`--set model_overrides=...` / build keyword arguments): narrow, and on
# the Xception `_lite` models shallow too (xception_tiny: half the layers to build and trace).
TINY_MODEL = {"width": 0.125, "head_filters": 16, "backbone": "xception_tiny"}


def tiny_model_overrides(model_config) -> dict:
    """TINY_MODEL, except for the selfie architecture: its published weights fix every shape
    (and it is already tiny)."""
    return {} if model_config.architecture == "selfie" else TINY_MODEL

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def tiny_model_folder(root: Path, model: str, name: str, class_names=(), adjust=None,
                      **overrides) -> Path:
    """`root/name`: a zoo folder holding an untrained `model` at the tests' size (TINY_MODEL
    and `overrides`), `adjust(model)` applied before it is saved."""
    import segtf.models
    from segtf.zoo import ModelInfo, save_model_folder

    config = segtf.models.get_config(model, **TINY_MODEL, **overrides)
    info = ModelInfo(name=name, model=config, class_names=tuple(class_names))
    network = segtf.models.build_from_config(config)
    if adjust is not None:
        adjust(network)
    return save_model_folder(network, info, root / name)


def wake_zero_layers(model, seed: int = 7) -> None:
    """Gives every layer whose weights are all zero (the refiner's zero-initialised stage
    corrections) small random ones, so that what it computes reaches the output."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if weights and not any(np.any(w) for w in weights):
            layer.set_weights([rng.normal(0, 0.2, w.shape).astype("float32") for w in weights])


def tiny_refiner_folder(root: Path) -> Path:
    """A tiny foreground refiner working at a 48-pixel side (a resize LiteRT leaves out)."""
    return tiny_model_folder(root, "refiner_lite", "tiny_fg", ("foreground",), working_side=48,
                             input_size=(48, 64))


def tiny_refiner_on_deeplabv3plus_folder(root: Path) -> Path:
    """A tiny refiner on a DeepLabV3+ head working at a 48-pixel side, its stages'
    corrections made non-zero (`wake_zero_layers`)."""
    return tiny_model_folder(root, "refiner_on_deeplabv3plus_efficientnet_lite0", "tiny_fg_on_dl",
                             ("foreground",), adjust=wake_zero_layers, output_stride=16,
                             working_side=48, input_size=(48, 64))


def random_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def block_mask(
    height: int, width: int, num_classes: int, seed: int = 0, block: int = 8
) -> np.ndarray:
    """Class map made of `block`-sized squares (so nearest resizing keeps it meaningful)."""
    rng = np.random.default_rng(seed + 1000)
    small = rng.integers(0, num_classes, (-(-height // block), -(-width // block)))
    return np.kron(small, np.ones((block, block), np.int64))[:height, :width].astype(np.uint8)


def write_image(path: Path, array: np.ndarray, **save_kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **save_kwargs)
    return path


def make_folder_dataset(
    root: Path,
    n: int = 3,
    size: tuple[int, int] = (24, 32),
    num_classes: int = 4,
    image_ext: str = ".png",
    image_dir: str = "images",
    mask_dir: str = "masks",
    foreground: bool = False,
    sizes=None,
) -> Path:
    """Writes `n` pairs `root/image_dir/k.ext` + `root/mask_dir/k.png`; returns `root`.

    `sizes` (a list of (h, w)) gives each pair its own size; foreground masks are 0/255.
    """
    for k in range(n):
        h, w = sizes[k] if sizes else size
        write_image(root / image_dir / f"{k:03d}{image_ext}", random_image(h, w, k))
        mask = block_mask(h, w, 2 if foreground else num_classes, k)
        write_image(root / mask_dir / f"{k:03d}.png", mask * 255 if foreground else mask)
    return root


def make_list_dataset(
    root: Path,
    n: int = 3,
    size: tuple[int, int] = (24, 32),
    num_classes: int = 4,
    prefix: str = "/SegNet/CamVid",
) -> Path:
    """CamVid-style: `train/`, `trainannot/` and `train.txt` naming a non-existent prefix."""
    lines = []
    for k in range(n):
        name = f"f{k:03d}.png"
        write_image(root / "train" / name, random_image(*size, seed=k))
        write_image(root / "trainannot" / name, block_mask(*size, num_classes, k))
        lines.append(f"{prefix}/train/{name} {prefix}/trainannot/{name}")
    list_file = root / "train.txt"
    list_file.write_text("\n".join(lines) + "\n")
    return list_file


def truncate(path: Path, keep: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path
