"""DeepLabv3+ decoder: refine the context with low-level (stride 4) features."""

from __future__ import annotations

from keras import layers

from segtf.models.blocks import conv_bn_relu, sep_conv_bn_relu
from segtf.models.layers import ResizeLike


def deeplab_decoder(
    context,
    low_level,
    filters: int = 256,
    low_level_filters: int = 48,
    separable: bool = True,
    name: str = "decoder",
):
    """Project low-level features to 48 channels, upsample the context to their size,
    concatenate, and apply two 3x3 (separable) convs."""
    low = conv_bn_relu(low_level, low_level_filters, kernel=1, name=f"{name}_low")
    up = ResizeLike("bilinear", name=f"{name}_up")([context, low])
    x = layers.Concatenate(name=f"{name}_concat")([up, low])
    block = sep_conv_bn_relu if separable else conv_bn_relu
    x = block(x, filters, name=f"{name}_conv1")
    return block(x, filters, name=f"{name}_conv2")


def classifier(x, num_classes: int, reference, name: str = "classifier",
               kernel_initializer="glorot_uniform"):
    """1x1 classifier, then bilinear resize to the input size; logits are float32 always."""
    x = layers.Conv2D(num_classes, 1, kernel_initializer=kernel_initializer,
                      name=f"{name}_conv")(x)
    return ResizeLike("bilinear", dtype="float32", name=f"{name}_logits")([x, reference])
