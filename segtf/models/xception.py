"""Dilated (aligned) Xception backbone, as modified for DeepLabv3+.

Chen et al., "Encoder-Decoder with Atrous Separable Convolution for Semantic Image
Segmentation" (ECCV 2018), section 3.2: deeper middle flow, every max-pool replaced by a
strided depthwise-separable conv, BN + ReLU after each depthwise conv. Once the requested
`output_stride` is reached, strides turn into atrous rates (the DeepLab rule).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
from keras import layers

from segtf.models.blocks import batch_norm, conv_bn_relu, make_divisible, sep_conv_bn_relu
from segtf.models.layers import Preprocess


@dataclass(frozen=True)
class BlockSpec:
    filters: tuple[int, int, int]
    stride: int
    skip: str  # "conv" (1x1 projection), "sum" (identity) or "none"


def _entry(*specs):
    return tuple(BlockSpec(filters=(f, f, f), stride=s, skip="conv") for f, s in specs)


_MIDDLE = BlockSpec(filters=(728, 728, 728), stride=1, skip="sum")
_EXIT = (
    BlockSpec(filters=(728, 1024, 1024), stride=2, skip="conv"),
    BlockSpec(filters=(1536, 1536, 2048), stride=1, skip="none"),
)

# Variants as data: entry flow blocks and middle-flow repeats (DeepLab's xception_41/65/71).
# `xception_tiny` (one middle block) is for tests and smoke runs: the same block kinds and
# strides with half the layers of xception41, so building and tracing take half the time.
XCEPTION_VARIANTS = {
    "xception41": (_entry((128, 2), (256, 2), (728, 2)), 8),
    "xception65": (_entry((128, 2), (256, 2), (728, 2)), 16),
    "xception71": (_entry((128, 2), (256, 1), (256, 2), (728, 1), (728, 2)), 16),
    "xception_tiny": (_entry((128, 2), (256, 2), (728, 2)), 1),
}


def stride_or_dilation(stride: int, current_stride: int, dilation: int, output_stride: int):
    """Returns (layer_stride, layer_dilation, new_current_stride, new_dilation)."""
    if current_stride * stride > output_stride:  # keep resolution, widen the view instead
        return 1, dilation, current_stride, dilation * stride
    return stride, dilation, current_stride * stride, dilation


# TF 2.21's oneDNN kernel for a strided 1x1 conv corrupts the heap in the backward pass when
# it has fewer than 16 input channels (free(): corrupted unsorted chunks, exit 134 / 139; seen
# with width=0.125). Sub-sampling first and then a stride-1 1x1 conv is the same function with
# the same weights, and avoids that kernel. The sub-sampling pool is "valid": with a 1x1 window
# it takes the same pixels as "same", and tf2onnx writes "same" here as a negative pad that
# ONNX Runtime refuses.
_ONEDNN_SAFE_CHANNELS = 16


def strided_pointwise(x, filters: int, stride: int, name: str):
    """A 1x1 conv with `stride` (the Xception skip projection)."""
    if stride > 1 and x.shape[-1] is not None and x.shape[-1] < _ONEDNN_SAFE_CHANNELS:
        x = layers.MaxPooling2D(1, strides=stride, padding="valid", name=f"{name}_subsample")(x)
        stride = 1
    return layers.Conv2D(filters, 1, strides=stride, use_bias=False, name=name)(x)


def xception_block(x, spec: BlockSpec, width: float, stride: int, dilation: int, name: str):
    """Three separable convs with an optional residual; returns (output, pre_stride_feature)."""
    filters = [make_divisible(f * width) for f in spec.filters]
    shortcut = x
    pre_stride = None
    for i, f in enumerate(filters):
        last = i == 2
        if last:
            pre_stride = x
        x = sep_conv_bn_relu(
            x,
            f,
            strides=stride if last else 1,
            dilation=dilation,
            relu_after=not (last and spec.skip != "none"),
            name=f"{name}_sep{i + 1}",
        )
    if spec.skip == "conv":
        shortcut = strided_pointwise(shortcut, filters[-1], stride, name=f"{name}_skip_conv")
        shortcut = batch_norm(shortcut, f"{name}_skip_bn")
    if spec.skip != "none":
        x = layers.Add(name=f"{name}_add")([x, shortcut])
        x = layers.ReLU(name=f"{name}_relu")(x)
    return x, pre_stride


def xception_features(
    images,
    variant: str = "xception65",
    output_stride: int = 16,
    width: float = 1.0,
    name: str = "xception",
) -> dict:
    """Builds the backbone on `images` (already normalised); returns pyramid features.

    Keys are nominal levels `P1`..`P5` (level n would be 2^n smaller without dilation); with
    `output_stride` 16 the `P5` features stay at stride 16, with 8 `P4` and `P5` stay at 8.
    """
    if variant not in XCEPTION_VARIANTS:
        raise ValueError(
            f"Unknown Xception variant {variant!r}; valid: {sorted(XCEPTION_VARIANTS)}"
        )
    if output_stride not in (8, 16, 32):
        raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride}")
    entry, middle_repeats = XCEPTION_VARIANTS[variant]
    x = conv_bn_relu(images, make_divisible(32 * width), strides=2, name=f"{name}_stem1")
    x = conv_bn_relu(x, make_divisible(64 * width), name=f"{name}_stem2")
    features = {"P1": x}
    current_stride, dilation, level = 2, 1, 1
    blocks = [("entry", s) for s in entry] + [("middle", _MIDDLE)] * middle_repeats
    blocks += [("exit", s) for s in _EXIT]
    counters: dict[str, int] = {}
    for flow, spec in blocks:
        counters[flow] = counters.get(flow, 0) + 1
        block_name = f"{name}_{flow}{counters[flow]}"
        stride, block_dilation, current_stride, dilation = stride_or_dilation(
            spec.stride, current_stride, dilation, output_stride
        )
        x, pre_stride = xception_block(x, spec, width, stride, block_dilation, block_name)
        if spec.stride == 2:
            features[f"P{level}"] = pre_stride
            level += 1
    features[f"P{level}"] = x
    return features


def build_xception_backbone(
    variant: str = "xception65",
    output_stride: int = 16,
    width: float = 1.0,
    input_shape=(None, None, 3),
) -> keras.Model:
    """The backbone as a model from 0..255 RGB images to the dict of pyramid features."""
    images = keras.Input(input_shape, name="images")
    x = Preprocess("xception", name="preprocess")(images)
    features = xception_features(x, variant, output_stride, width)
    return keras.Model(images, features, name=f"{variant}_os{output_stride}")
