"""A small, fast foreground network: MediaPipe's selfie segmentation architecture.

Transcribed from the published `selfie_segmentation.tflite` graph (google-ai-edge/mediapipe,
Apache-2.0): a MobileNetV3-small style encoder to 1/16 (hard-swish, squeeze-excite, 3x3 / 5x5
depthwise convs), a LR-ASPP style head (1x1 conv gated by global context), and a decoder that
climbs 1/8 -> 1/4 -> 1/2 fusing each skip through a squeeze-excite gate and a residual
depthwise conv, then a 2x2 transposed conv to full resolution. Convs carry biases and no
BatchNorm, as in the published (folded) file, so its weights load one to one
(`segtf.models.pretrained.mediapipe`) and fine-tuning starts from them.

Every conv is named `selfie_kN` with N its order among the file's kernel ops, which is how the
weights are matched; about 0.1 M parameters, ~0.1 GFLOPs at 256 x 256.
"""

from __future__ import annotations

import collections
import itertools

import keras
from keras import layers

from segtf.models.config import ModelConfig
from segtf.models.layers import Preprocess, ResizeLike
from segtf.models.segmentation import working_input

# Encoder blocks after the stem: (expand, out, kernel, stride, activation, squeeze-excite).
ENCODER = (
    (16, 16, 3, 2, "relu", 8),
    (72, 24, 3, 2, "relu", 0),
    (88, 24, 3, 1, "relu", 0),
    (96, 32, 5, 2, "hard_swish", 24),
    (128, 32, 5, 1, "hard_swish", 32),
    (128, 32, 5, 1, "hard_swish", 32),
    (96, 32, 5, 1, "hard_swish", 24),
    (96, 32, 5, 1, "hard_swish", 24),
)
SKIP_AFTER = {0: "P2", 2: "P3"}  # encoder outputs the decoder fuses (1/4 and 1/8)
HEAD_FILTERS = 128


class _Names:
    """`selfie_k0`, `selfie_k1`, ...: conv names in the order of the file's kernel ops;
    `selfie_add0`, ... for the other layers (names fixed by build order, so weights move
    between builds by name)."""

    def __init__(self):
        self._counters = collections.defaultdict(itertools.count)

    def __call__(self, kind: str = "k") -> str:
        return f"selfie_{kind}{next(self._counters[kind])}"


def conv(x, filters: int, kernel: int, names: _Names, stride: int = 1, activation=None):
    return layers.Conv2D(filters, kernel, strides=stride, padding="same",
                         activation=activation, name=names())(x)


def depthwise(x, kernel: int, names: _Names, stride: int = 1, activation=None):
    return layers.DepthwiseConv2D(kernel, strides=stride, padding="same",
                                  activation=activation, name=names())(x)


def squeeze_excite(x, gated, squeeze: int, names: _Names):
    """Channel gate from the global average of `x`, applied to `gated`."""
    channels = gated.shape[-1]
    context = layers.GlobalAveragePooling2D(keepdims=True, name=names("pool"))(x)
    context = conv(context, squeeze, 1, names, activation="relu")
    context = conv(context, channels, 1, names, activation="sigmoid")
    return layers.Multiply(name=names("mul"))([gated, context])


def inverted_residual(x, block, names: _Names, expand_first: bool = True):
    """MobileNetV3 block: 1x1 expand, depthwise, optional squeeze-excite, 1x1 project."""
    expand, out, kernel, stride, activation, se = block
    shortcut = x
    y = conv(x, expand, 1, names, activation=activation) if expand_first else x
    y = depthwise(y, kernel, names, stride, activation)
    if se:
        y = squeeze_excite(y, y, se, names)
    y = conv(y, out, 1, names)
    if stride == 1 and shortcut.shape[-1] == out:
        return layers.Add(name=names("add"))([y, shortcut])
    return y


def encoder(x, names: _Names) -> dict:
    """Pyramid features P1 (1/2) .. P4 (1/16)."""
    x = conv(x, 16, 3, names, stride=2, activation="hard_swish")
    features = {"P1": x}
    for index, block in enumerate(ENCODER):
        x = inverted_residual(x, block, names)
        if index in SKIP_AFTER:
            features[SKIP_AFTER[index]] = x
    features["P4"] = x
    return features


def context_head(x, names: _Names):
    """LR-ASPP: a 1x1 conv gated by a sigmoid of the global context."""
    features = conv(x, HEAD_FILTERS, 1, names, activation="relu")
    context = layers.GlobalAveragePooling2D(keepdims=True, name=names("pool"))(x)
    gate = conv(context, HEAD_FILTERS, 1, names, activation="sigmoid")
    return layers.Multiply(name=names("mul"))([features, gate])


def decoder_stage(x, skip, names: _Names):
    """Up to the skip's size, then the skip gated by squeeze-excite of (skip + x), and a
    residual depthwise refinement."""
    x = ResizeLike("bilinear", name=names("up"))([x, skip])
    x = conv(x, skip.shape[-1], 1, names)
    fused = layers.Add(name=names("add"))([skip, x])
    gated = squeeze_excite(fused, skip, skip.shape[-1], names)
    y = layers.Add(name=names("add"))([gated, x])
    y = conv(y, skip.shape[-1], 1, names, activation="relu")
    refined = depthwise(y, 3, names, activation="relu")
    return layers.Add(name=names("add"))([y, refined])


def build_selfie(config: ModelConfig, name: str = "selfie", with_aux: bool = False) -> keras.Model:
    """0..255 RGB `(batch, H, W, 3)` -> foreground logits `(batch, H, W, 1)`."""
    if config.num_classes != 1 or config.width != 1.0:
        raise ValueError("the selfie architecture is a one-channel foreground model at "
                         "width 1.0 (its published weights fix every shape)")
    names = _Names()
    inputs = keras.Input((None, None, 3), name="images")
    images = working_input(inputs, config)
    x = Preprocess("unit", name="preprocess")(images)
    features = encoder(x, names)
    x = context_head(features["P4"], names)
    for level in ("P3", "P2", "P1"):
        x = decoder_stage(x, features[level], names)
    x = layers.Conv2DTranspose(1, 2, strides=2, padding="valid", name=names())(x)
    logits = ResizeLike("bilinear", dtype="float32", name="logits")([x, inputs])
    return keras.Model(inputs, logits, name=name)
