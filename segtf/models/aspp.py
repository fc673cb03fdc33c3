"""Atrous Spatial Pyramid Pooling (Chen et al., DeepLabv3 2017 and DeepLabv3+ 2018)."""

from __future__ import annotations

from keras import layers

from segtf.models.blocks import conv_bn_relu, sep_conv_bn_relu
from segtf.models.layers import ResizeLike


def aspp_rates(output_stride: int) -> tuple[int, int, int]:
    """Atrous rates: (6, 12, 18) at output stride 16, doubled at 8, halved at 32."""
    return tuple(max(1, r * 16 // output_stride) for r in (6, 12, 18))


def image_pooling_branch(x, filters: int, name: str):
    """Global context: average the whole map, project, then resize to the *dynamic* size."""
    pooled = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_gap")(x)
    pooled = conv_bn_relu(pooled, filters, kernel=1, name=f"{name}_proj")
    return ResizeLike("bilinear", name=f"{name}_resize")([pooled, x])


def aspp(
    x,
    filters: int = 256,
    output_stride: int = 16,
    separable: bool = True,
    dropout: float = 0.1,
    name: str = "aspp",
):
    """1x1 branch, three 3x3 atrous branches, image pooling; concat, 1x1 projection, dropout."""
    branches = [conv_bn_relu(x, filters, kernel=1, name=f"{name}_b0")]
    for i, rate in enumerate(aspp_rates(output_stride), start=1):
        if separable:
            branches.append(sep_conv_bn_relu(x, filters, dilation=rate, name=f"{name}_b{i}"))
        else:
            branches.append(conv_bn_relu(x, filters, dilation=rate, name=f"{name}_b{i}"))
    branches.append(image_pooling_branch(x, filters, name=f"{name}_pool"))
    x = layers.Concatenate(name=f"{name}_concat")(branches)
    x = conv_bn_relu(x, filters, kernel=1, name=f"{name}_project")
    return layers.Dropout(dropout, name=f"{name}_dropout")(x) if dropout else x
