"""Model builders: DeepLabV3+, PSPNet and the PSP+ASPP hybrid on a shared backbone."""

from __future__ import annotations

import keras
from keras import layers

from segtf.models.aspp import aspp
from segtf.models.blocks import conv_bn_relu
from segtf.models.config import ModelConfig
from segtf.models.decoder import classifier, deeplab_decoder
from segtf.models.efficientnet_lite import EFFICIENTNET_LITE_VARIANTS, efficientnet_lite_features
from segtf.models.layers import Preprocess, ResizeToSide
from segtf.models.psp import psp_head, pyramid_pooling
from segtf.models.resnet import resnet50_features
from segtf.models.xception import XCEPTION_VARIANTS, xception_features

BACKBONES = (*XCEPTION_VARIANTS, "resnet50", *EFFICIENTNET_LITE_VARIANTS)


def working_input(images, config: ModelConfig):
    """The input at the model's working size (`config.working_side`), or unchanged."""
    if config.working_side:
        square = config.working_aspect == "square"
        return ResizeToSide(config.working_side, square=square, name="working_size")(images)
    return images


def backbone_features(images, config: ModelConfig) -> dict:
    """Normalises 0..255 RGB images for the backbone and returns its pyramid features."""
    if config.backbone == "resnet50":
        x = Preprocess("caffe", name="preprocess")(images)
        return resnet50_features(x, config.output_stride, config.backbone_weights)
    if config.backbone in EFFICIENTNET_LITE_VARIANTS:
        x = Preprocess("efficientnet_lite", name="preprocess")(images)
        return efficientnet_lite_features(x, config.backbone, config.output_stride)
    if config.backbone in XCEPTION_VARIANTS:
        if config.backbone_weights:
            raise ValueError(
                f"backbone_weights={config.backbone_weights!r}: no ImageNet weights exist "
                f"offline for {config.backbone} (it trains from scratch, as in the paper); "
                "use an EfficientNet-Lite backbone (segtf[pretrained]) or a local ResNet50 "
                "file, or load whole-model weights with model.load_weights"
            )
        x = Preprocess("xception", name="preprocess")(images)
        return xception_features(x, config.backbone, config.output_stride, config.width)
    raise ValueError(f"Unknown backbone {config.backbone!r}; valid: {list(BACKBONES)}")


def deeplabv3plus_head(features: dict, config: ModelConfig):
    context = aspp(
        features["P5"],
        config.head_filters,
        config.output_stride,
        config.separable_head,
        config.dropout,
    )
    return deeplab_decoder(
        context, features["P2"], config.head_filters, separable=config.separable_head
    )


def pspnet_head(features: dict, config: ModelConfig):
    return psp_head(
        features["P5"], filters=config.head_filters, bins=config.psp_bins, dropout=config.dropout
    )


def psp_aspp_head(features: dict, config: ModelConfig):
    """The seed project's hybrid: PSP and ASPP context fused, then the DeepLabV3+ decoder."""
    deep = features["P5"]
    aspp_context = aspp(
        deep,
        config.head_filters,
        config.output_stride,
        config.separable_head,
        dropout=0.0,
        name="aspp",
    )
    psp_context = pyramid_pooling(deep, config.psp_bins, name="psp")
    x = layers.Concatenate(name="fuse_concat")([aspp_context, psp_context])
    x = conv_bn_relu(x, config.head_filters, kernel=1, name="fuse")
    if config.dropout:
        x = layers.Dropout(config.dropout, name="fuse_dropout")(x)
    return deeplab_decoder(x, features["P2"], config.head_filters, separable=config.separable_head)


HEADS = {"deeplabv3plus": deeplabv3plus_head, "pspnet": pspnet_head, "psp_aspp": psp_aspp_head}


def auxiliary_classifier(features: dict, config: ModelConfig, reference):
    """PSPNet's auxiliary head on stride-16 features; used for the training loss only."""
    x = conv_bn_relu(features["P4"], max(64, config.head_filters // 2), name="aux")
    x = layers.Dropout(config.dropout, name="aux_dropout")(x)
    return classifier(x, config.num_classes, reference, name="aux_classifier")


def build_segmentation_model(
    config: ModelConfig, name: str = "segtf_model", with_aux: bool = False
) -> keras.Model:
    """Builds a model from 0..255 RGB images `(batch, H, W, 3)` (any H, W) to float32
    logits `(batch, H, W, num_classes)`; with `with_aux`, a dict that adds `aux_logits`."""
    if config.architecture not in HEADS:
        raise ValueError(f"Unknown architecture {config.architecture!r}; valid: {sorted(HEADS)}")
    if config.num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {config.num_classes}")
    images = keras.Input((None, None, 3), name="images")
    features = backbone_features(working_input(images, config), config)
    x = HEADS[config.architecture](features, config)
    logits = classifier(x, config.num_classes, images)
    if with_aux:
        aux = auxiliary_classifier(features, config, images)
        return keras.Model(images, {"logits": logits, "aux_logits": aux}, name=name)
    return keras.Model(images, logits, name=name)
