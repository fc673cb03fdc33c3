"""Custom layers: run-time shape logic (so models accept any input size), normalisation, and
a `Conv2D` whose dilated convs run faster on TensorFlow.

Each one is registered so `.keras` files load with `safe_mode=True`: no Lambda layers.
They use `keras.ops` only, so the models run on the TensorFlow and JAX backends (one
exception, `Conv2D`, takes a faster TensorFlow op for dilated convs where it runs on TensorFlow).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

PACKAGE = "segtf"

# Per-channel statistics for each backbone's expected input (RGB order, 0..255 inputs).
NORMALIZATION = {
    # Xception / MobileNet style: scale to [-1, 1].
    "xception": {"mean": (127.5, 127.5, 127.5), "std": (127.5, 127.5, 127.5), "bgr": False},
    # keras.applications ResNet50 ("caffe" mode): BGR order, ImageNet mean, no scaling.
    "caffe": {"mean": (103.939, 116.779, 123.68), "std": (1.0, 1.0, 1.0), "bgr": True},
    # EfficientNet-Lite (TF Lite's convention): (x - 127) / 128.
    "efficientnet_lite": {"mean": (127.0, 127.0, 127.0), "std": (128.0, 128.0, 128.0), "bgr": False},
    # torchvision style: ImageNet mean / std.
    "imagenet": {"mean": (123.675, 116.28, 103.53), "std": (58.395, 57.12, 57.375), "bgr": False},
    # MediaPipe's models: RGB in 0..1.
    "unit": {"mean": (0.0, 0.0, 0.0), "std": (255.0, 255.0, 255.0), "bgr": False},
}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Conv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D` whose dilated convolution, at inference, is one native TF op.

    `keras.ops.conv` calls `tf.nn.convolution`, which runs a dilated conv as SpaceToBatch ->
    conv -> BatchToSpace; on a CPU that pads ASPP's small stride-16 maps to multiples of the
    rate and measured 2-12x slower than the Conv2D op's own `dilations` (oneDNN and Eigen both
    run it forward). Training keeps Keras's path: the op's gradient has no dilated kernel on
    CPUs without oneDNN. Same variables and the same class name as Keras's (weights files key
    layers by class name), so weights saved from either load into the other; other backends
    use `keras.ops.conv`.
    """

    def call(self, inputs, training=None):
        native = (
            not training
            and keras.backend.backend() == "tensorflow"
            and max(self.dilation_rate) > 1
            and self.groups == 1
            and self.data_format == "channels_last"
        )
        if not native:
            return super().call(inputs)
        import tensorflow as tf

        outputs = tf.nn.conv2d(
            inputs,
            self.kernel,
            strides=list(self.strides),
            padding=self.explicit_padding(),
            dilations=list(self.dilation_rate),
        )
        if self.use_bias:
            outputs = ops.add(outputs, ops.reshape(self.bias, (1, 1, 1, self.filters)))
        return self.activation(outputs) if self.activation is not None else outputs

    def explicit_padding(self):
        """"same" as explicit pads (TF's split: the odd pixel after): ONNX Runtime refuses a
        dilated conv with SAME auto-padding, which is what tf2onnx writes for "SAME"."""
        if self.padding != "same":
            return self.padding.upper()
        pads = []
        for size, rate in zip(self.kernel_size, self.dilation_rate, strict=True):
            total = rate * (size - 1)
            pads.append([total // 2, total - total // 2])
        return [[0, 0], *pads, [0, 0]]


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
        mean = ops.convert_to_tensor(spec["mean"], dtype=self.compute_dtype)
        std = ops.convert_to_tensor(spec["std"], dtype=self.compute_dtype)
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


@keras.saving.register_keras_serializable(package=PACKAGE)
class PatchReference(keras.layers.Layer):
    """BiRefNet's source reference: the image cut into `patch x patch` pixel patches, one per
    position of a reference feature map, stacked on the channel axis (space-to-depth).

    The image is resized to exactly `patch` pixels per feature position first, so the patches
    line up with the features for any input size.
    """

    def __init__(self, patch: int, **kwargs):
        super().__init__(**kwargs)
        self.patch = int(patch)

    def call(self, inputs):
        image, reference = inputs
        p = self.patch
        shape = ops.shape(reference)
        h, w = shape[1], shape[2]
        image = ops.image.resize(
            ops.cast(image, self.compute_dtype), (h * p, w * p), interpolation="bilinear"
        )
        channels = image.shape[-1]
        x = ops.reshape(image, (-1, h, p, w, p, channels))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        return ops.reshape(x, (-1, h, w, p * p * channels))

    def compute_output_shape(self, input_shapes):
        image_shape, ref_shape = input_shapes
        return (image_shape[0], ref_shape[1], ref_shape[2], self.patch**2 * image_shape[-1])

    def get_config(self):
        return {**super().get_config(), "patch": self.patch}


def sobel_magnitude(x, epsilon: float = 1e-6):
    """Sobel gradient magnitude of the channel mean of `x` (B, H, W, C) -> (B, H, W, 1).

    `epsilon` keeps the square root differentiable where the image is flat."""
    gray = ops.mean(ops.cast(x, "float32"), axis=-1, keepdims=True)
    kx = ops.convert_to_tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    kernel = ops.stack([kx, ops.transpose(kx)], axis=-1)[:, :, None, :]  # (3, 3, 1, 2)
    padded = ops.pad(gray, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="symmetric")
    grad = ops.conv(padded, kernel, padding="valid")
    return ops.sqrt(ops.sum(ops.square(grad), axis=-1, keepdims=True) + epsilon)


@keras.saving.register_keras_serializable(package=PACKAGE)
class SobelGradient(keras.layers.Layer):
    """BiRefNet's target reference: the image's gradient map at a feature map's resolution.

    Inputs `[image, reference]`: the (normalised) image is resized to the reference's size,
    then the Sobel magnitude is taken, so each stage sees edges at its own scale.
    """

    def call(self, inputs):
        image, reference = inputs
        size = ops.shape(reference)[1:3]
        image = ops.image.resize(ops.cast(image, "float32"), size, interpolation="bilinear")
        return ops.cast(sobel_magnitude(image / 255.0), self.compute_dtype)  # 0..255 -> 0..1

    def compute_output_shape(self, input_shapes):
        image_shape, ref_shape = input_shapes
        return (image_shape[0], ref_shape[1], ref_shape[2], 1)


def side_size(height: int, width: int, side: int) -> tuple[int, int]:
    """(height, width) scaled so the longer side is `side`, in float32 and rounded half to
    even, exactly as `ResizeToSide` computes it inside a graph from dynamic shapes."""
    h, w = np.float32(height), np.float32(width)
    scale = np.float32(side) / max(h, w)
    return int(np.round(h * scale)), int(np.round(w * scale))


def working_size(shape, side: int, square: bool = False):
    """`(height, width)` that `ResizeToSide(side, square)` resizes a `shape` (B, H, W, C) batch
    to: Python ints for static shapes (JAX, eager calls), int32 tensors inside a graph."""
    if square:
        return side, side
    if isinstance(shape[1], int) and isinstance(shape[2], int):
        return side_size(shape[1], shape[2], side)
    h = ops.cast(shape[1], "float32")
    w = ops.cast(shape[2], "float32")
    scale = side / ops.maximum(h, w)
    return ops.cast(ops.round(h * scale), "int32"), ops.cast(ops.round(w * scale), "int32")


@keras.saving.register_keras_serializable(package=PACKAGE)
class ResizeToSide(keras.layers.Layer):
    """Resizes images so the longer side is `side` pixels, keeping the aspect ratio (or, with
    `square`, to `side` x `side`).

    Foreground models are trained on images shrunk to a working size; putting that resize
    inside the model (and the resize back in its last layer) makes `segment()`, evaluation,
    the viewer and the SavedModel all run at the scale the weights learned.
    """

    def __init__(self, side: int, square: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.side = int(side)
        self.square = bool(square)  # side x side whatever the aspect ratio

    def call(self, images):
        return ops.image.resize(
            ops.cast(images, self.compute_dtype),
            working_size(ops.shape(images), self.side, self.square),
            interpolation="bilinear",
            antialias=True,
        )

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None, None, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "side": self.side, "square": self.square}
