"""Small building blocks shared by backbones and heads. Each builds one block and names it."""

from __future__ import annotations

from keras import layers

from segtf.models.layers import Conv2D as NativeDilationConv2D

BN_EPSILON = 1e-3
BN_MOMENTUM = 0.99


def make_divisible(channels: float, divisor: int = 8, minimum: int = 8) -> int:
    """Rounds a scaled channel count to a multiple of `divisor` (keeps kernels vector-friendly)."""
    rounded = max(minimum, int(channels + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * channels:  # never shrink by more than 10% through rounding
        rounded += divisor
    return rounded


def batch_norm(x, name: str):
    return layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=name)(x)


def conv_bn_relu(
    x,
    filters: int,
    kernel: int = 3,
    strides: int = 1,
    dilation: int = 1,
    name: str = "cbr",
    relu: bool = True,
):
    """Conv -> BN -> ReLU (a dilated conv through segtf's `Conv2D`: same weights, faster on TF)."""
    conv = NativeDilationConv2D if dilation > 1 else layers.Conv2D
    x = conv(
        filters,
        kernel,
        strides=strides,
        padding="same",
        dilation_rate=dilation,
        use_bias=False,
        name=f"{name}_conv",
    )(x)
    x = batch_norm(x, f"{name}_bn")
    return layers.ReLU(name=f"{name}_relu")(x) if relu else x


def sep_conv_bn_relu(
    x,
    filters: int,
    kernel: int = 3,
    strides: int = 1,
    dilation: int = 1,
    name: str = "sep",
    relu_after: bool = True,
):
    """Depthwise -> BN -> ReLU -> pointwise -> BN (-> ReLU), DeepLabv3+'s separable conv.

    BN + ReLU after the depthwise conv is what section 3.2 of Chen et al. (2018) adds to
    Xception. Strided depthwise convs replace max-pooling so atrous rates can apply.
    """
    x = layers.DepthwiseConv2D(
        kernel,
        strides=strides,
        padding="same",
        dilation_rate=dilation,
        use_bias=False,
        name=f"{name}_dw",
    )(x)
    x = batch_norm(x, f"{name}_dw_bn")
    x = layers.ReLU(name=f"{name}_dw_relu")(x)
    x = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_pw")(x)
    x = batch_norm(x, f"{name}_pw_bn")
    return layers.ReLU(name=f"{name}_pw_relu")(x) if relu_after else x
