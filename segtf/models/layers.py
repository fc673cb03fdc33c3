"""Custom layers that need run-time shape logic (so models accept any input size).

Each one is registered so `.keras` files load with `safe_mode=True`: no Lambda layers.
They use `keras.ops` only, so the models run on the TensorFlow and JAX backends.
"""

from __future__ import annotations

import keras
from keras import ops

PACKAGE = "segtf"

# Per-channel statistics for each backbone's expected input (RGB order, 0..255 inputs).
NORMALIZATION = {
    # Xception / MobileNet style: scale to [-1, 1].
    "xception": {"mean": (127.5, 127.5, 127.5), "std": (127.5, 127.5, 127.5), "bgr": False},
    # keras.applications ResNet50 ("caffe" mode): BGR order, ImageNet mean, no scaling.
    "caffe": {"mean": (103.939, 116.779, 123.68), "std": (1.0, 1.0, 1.0), "bgr": True},
    # torchvision style: ImageNet mean / std.
    "imagenet": {"mean": (123.675, 116.28, 103.53), "std": (58.395, 57.12, 57.375), "bgr": False},
}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Preprocess(keras.layers.Layer):
    """Maps RGB pixels in 0..255 to what a backbone expects: the one place normalisation lives.

    Every segtf model starts with this layer, so `segment()`, training, evaluation and the
    exported SavedModel all feed raw pixels and can never disagree about normalisation.
    """

    def __init__(self, mode: str = "xception", **kwargs):
        super().__init__(**kwargs)
        if mode not in NORMALIZATION:
            raise ValueError(f"Unknown normalisation mode {mode!r}; valid: {sorted(NORMALIZATION)}")
        self.mode = mode

    def call(self, images):
        spec = NORMALIZATION[self.mode]
        x = ops.cast(images, self.compute_dtype)
        if spec["bgr"]:
            x = ops.flip(x, axis=-1)
            mean, std = spec["mean"], spec["std"]
        else:
            mean, std = spec["mean"], spec["std"]
        mean = ops.convert_to_tensor(mean, dtype=self.compute_dtype)
        std = ops.convert_to_tensor(std, dtype=self.compute_dtype)
        return (x - mean) / std

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ResizeLike(keras.layers.Layer):
    """Resizes `inputs[0]` to the spatial size of `inputs[1]`, read at run time.

    The size is taken from the reference tensor rather than fixed at build time, so the same
    model works for 512x512, 65x97 and `(None, None, 3)` inputs (unlike a static UpSampling2D).
    """

    def __init__(self, interpolation: str = "bilinear", **kwargs):
        super().__init__(**kwargs)
        self.interpolation = interpolation

    def call(self, inputs):
        x, reference = inputs
        size = ops.shape(reference)[1:3]
        x = ops.cast(x, self.compute_dtype)
        return ops.image.resize(x, size, interpolation=self.interpolation)

    def compute_output_shape(self, input_shapes):
        x_shape, ref_shape = input_shapes
        return (x_shape[0], ref_shape[1], ref_shape[2], x_shape[-1])

    def get_config(self):
        return {**super().get_config(), "interpolation": self.interpolation}


def _bin_matrix(length, bins: int, dtype):
    """(bins, length) averaging matrix with PyTorch's adaptive-pooling bin edges."""
    length_f = ops.cast(length, "float32")
    index = ops.cast(ops.arange(bins), "float32")
    start = ops.floor(index * length_f / bins)
    end = ops.ceil((index + 1.0) * length_f / bins)
    position = ops.cast(ops.arange(length), "float32")
    inside = ops.logical_and(position[None, :] >= start[:, None], position[None, :] < end[:, None])
    weights = ops.cast(inside, "float32")
    weights = weights / ops.sum(weights, axis=1, keepdims=True)
    return ops.cast(weights, dtype)


@keras.saving.register_keras_serializable(package=PACKAGE)
class AdaptiveAveragePooling2D(keras.layers.Layer):
    """Average-pools a feature map into a fixed `bins x bins` grid, for any input size.

    PSPNet's pyramid pooling (Zhao et al. 2017) needs this; Keras' AveragePooling2D would
    fix the input size. Written as two small matrix products, which run on TF and JAX.
    """

    def __init__(self, bins: int, **kwargs):
        super().__init__(**kwargs)
        self.bins = int(bins)

    def call(self, x):
        shape = ops.shape(x)
        rows = _bin_matrix(shape[1], self.bins, x.dtype)
        cols = _bin_matrix(shape[2], self.bins, x.dtype)
        x = ops.einsum("ih,bhwc->biwc", rows, x)
        return ops.einsum("jw,biwc->bijc", cols, x)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.bins, self.bins, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "bins": self.bins}
