"""Peer models for the benchmarks, built without downloading anything.

- `keras_io_deeplabv3plus`: the keras.io DeepLabV3+ tutorial's model ("Multiclass semantic
  segmentation using DeepLabV3+", ResNet50 from keras.applications), reproduced as published
  except `weights=None` (its `"imagenet"` download fails offline; FLOPs and speed are the same).
- `keras_cv_deeplabv3plus`: `keras_cv.models.DeepLabV3Plus` on a ResNet50V2 backbone built
  from explicit stackwise arguments (the preset constructor fetches its config online).
"""

from __future__ import annotations

import keras
from keras import layers, ops


def _convolution_block(
    block_input, num_filters=256, kernel_size=3, dilation_rate=1, use_bias=False
):
    x = layers.Conv2D(
        num_filters,
        kernel_size=kernel_size,
        dilation_rate=dilation_rate,
        padding="same",
        use_bias=use_bias,
        kernel_initializer=keras.initializers.HeNormal(),
    )(block_input)
    x = layers.BatchNormalization()(x)
    return ops.nn.relu(x)


def _dilated_spatial_pyramid_pooling(dspp_input):
    dims = dspp_input.shape
    x = layers.AveragePooling2D(pool_size=(dims[-3], dims[-2]))(dspp_input)
    x = _convolution_block(x, kernel_size=1, use_bias=True)
    out_pool = layers.UpSampling2D(
        size=(dims[-3] // x.shape[1], dims[-2] // x.shape[2]), interpolation="bilinear"
    )(x)
    out_1 = _convolution_block(dspp_input, kernel_size=1, dilation_rate=1)
    out_6 = _convolution_block(dspp_input, kernel_size=3, dilation_rate=6)
    out_12 = _convolution_block(dspp_input, kernel_size=3, dilation_rate=12)
    out_18 = _convolution_block(dspp_input, kernel_size=3, dilation_rate=18)
    x = layers.Concatenate(axis=-1)([out_pool, out_1, out_6, out_12, out_18])
    return _convolution_block(x, kernel_size=1)


def keras_io_deeplabv3plus(image_size: int = 512, num_classes: int = 21) -> keras.Model:
    model_input = keras.Input(shape=(image_size, image_size, 3))
    preprocessed = keras.applications.resnet50.preprocess_input(model_input)
    resnet50 = keras.applications.ResNet50(
        weights=None, include_top=False, input_tensor=preprocessed
    )
    x = resnet50.get_layer("conv4_block6_2_relu").output
    x = _dilated_spatial_pyramid_pooling(x)
    input_a = layers.UpSampling2D(
        size=(image_size // 4 // x.shape[1], image_size // 4 // x.shape[2]),
        interpolation="bilinear",
    )(x)
    input_b = resnet50.get_layer("conv2_block3_2_relu").output
    input_b = _convolution_block(input_b, num_filters=48, kernel_size=1)
    x = layers.Concatenate(axis=-1)([input_a, input_b])
    x = _convolution_block(x)
    x = _convolution_block(x)
    x = layers.UpSampling2D(
        size=(image_size // x.shape[1], image_size // x.shape[2]), interpolation="bilinear"
    )(x)
    model_output = layers.Conv2D(num_classes, kernel_size=(1, 1), padding="same")(x)
    return keras.Model(inputs=model_input, outputs=model_output, name="keras_io_deeplabv3plus")


def keras_cv_deeplabv3plus(image_size: int = 512, num_classes: int = 21) -> keras.Model:
    import keras_cv

    backbone = keras_cv.models.ResNetV2Backbone(
        stackwise_filters=[64, 128, 256, 512],
        stackwise_blocks=[3, 4, 6, 3],
        stackwise_strides=[1, 2, 2, 2],
        include_rescaling=True,
        input_shape=(image_size, image_size, 3),
    )
    return keras_cv.models.DeepLabV3Plus(backbone=backbone, num_classes=num_classes)


PEERS = {
    "keras.io DeepLabV3+ (ResNet50)": keras_io_deeplabv3plus,
    "keras-cv DeepLabV3Plus (ResNet50V2)": keras_cv_deeplabv3plus,
}
