"""Pyramid Pooling Module (Zhao et al., "Pyramid Scene Parsing Network", CVPR 2017)."""

from __future__ import annotations

from keras import layers

from segtf.models.blocks import conv_bn_relu
from segtf.models.layers import AdaptiveAveragePooling2D, ResizeLike


def pyramid_pooling(x, bins=(1, 2, 3, 6), filters: int | None = None, name: str = "psp"):
    """Pools into bins x bins grids (any input size), reduces each to C/len(bins), upsamples,
    and concatenates with the input features."""
    channels = x.shape[-1]
    reduced = filters or max(8, channels // len(bins))
    branches = [x]
    for b in bins:
        y = AdaptiveAveragePooling2D(b, name=f"{name}_pool{b}")(x)
        y = conv_bn_relu(y, reduced, kernel=1, name=f"{name}_reduce{b}")
        branches.append(ResizeLike("bilinear", name=f"{name}_up{b}")([y, x]))
    return layers.Concatenate(name=f"{name}_concat")(branches)


def psp_head(x, filters: int = 512, bins=(1, 2, 3, 6), dropout: float = 0.1, name: str = "psp"):
    """Pyramid pooling then a 3x3 fusion conv, as in PSPNet's head."""
    x = pyramid_pooling(x, bins, name=name)
    x = conv_bn_relu(x, filters, kernel=3, name=f"{name}_fuse")
    return layers.Dropout(dropout, name=f"{name}_dropout")(x) if dropout else x
