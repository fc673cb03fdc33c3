"""ResNet50 backbone from keras.applications (the keras.io DeepLabV3+ tutorial's choice).

Weights come from a local file only: `weights="imagenet"` would download, which fails on
air-gapped machines, so it is refused with a message saying how to pass a local file.
"""

from __future__ import annotations

import os

import keras

# Layer names of keras.applications.ResNet50 at each stride.
_RESNET50_LEVELS = {
    "P1": "conv1_relu",
    "P2": "conv2_block3_out",
    "P3": "conv3_block4_out",
    "P4": "conv4_block6_out",
    "P5": "conv5_block3_out",
}


def check_local_weights(weights: str | None) -> str | None:
    if weights is None:
        return None
    if weights == "imagenet":
        raise ValueError(
            "backbone_weights='imagenet' would download from the internet. Download "
            "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5 once and pass its local path "
            "as backbone_weights (segtf train: --set model_overrides.backbone_weights=PATH "
            "instead of --init-from imagenet)."
        )
    if not os.path.isfile(weights):
        raise FileNotFoundError(f"backbone weights file not found: {weights!r}")
    return weights


def resnet50_features(images, output_stride: int = 32, weights: str | None = None) -> dict:
    """Pyramid features of ResNet50 on `images` (already caffe-normalised).

    keras.applications' ResNet50 has no atrous option, so output stride 16 follows the keras.io
    tutorial: the context comes from the stride-16 stage and stage 5 is dropped.
    """
    if output_stride not in (16, 32):
        raise ValueError(
            f"the ResNet50 backbone supports output_stride 16 or 32, got {output_stride}"
        )
    net = keras.applications.ResNet50(
        include_top=False, weights=check_local_weights(weights), input_tensor=images
    )
    features = {k: net.get_layer(v).output for k, v in _RESNET50_LEVELS.items()}
    if output_stride == 16:
        features["P5"] = features["P4"]
    return features
