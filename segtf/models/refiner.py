"""Progressive high-resolution refiner for foreground / dichotomous segmentation.

After BiRefNet (Zheng et al., "Bilateral Reference for High-Resolution Dichotomous Image
Segmentation", 2024) and IS-Net (Qin et al., "Highly Accurate Dichotomous Image
Segmentation", ECCV 2022):

- a **localisation module** squeezes the deepest backbone features with global context
  (ASPP and PSP pooling) into a coarse foreground map at low resolution;
- a **reconstruction module** climbs back to full resolution stage by stage. Each stage takes
  the *source reference* (the input image cut into patches at that stage's scale,
  patch-embedded) and the *target reference* (the image's gradient map, from which the stage
  predicts an edge map that is supervised by the ground truth's gradients and used as
  attention), so high-resolution detail comes from the image itself;
- every stage predicts the foreground (deep supervision during training only).

`config.extra` chooses the localisation: `{"localisation": "context"}` (default: ASPP + PSP
on the deepest features, then stages at P4, P3, P2, P1) or `"deeplabv3plus"` (the DeepLabV3+
head itself, ASPP plus its P2 decoder, with the DeepLabV3+ model's layer names so a trained
DeepLabV3+ of the same backbone initialises it; then stages at P2 and P1 only, each
predicting a correction to the DeepLabV3+ prediction, so the model starts as that model).
`"stage_filters"` (default `head_filters`) sets the reconstruction stages' width apart from
the localisation's. `"stage_levels"` (e.g. `["P2"]`) keeps only some of the localisation's
stages, and `"full_resolution": false` drops the last pass at the working size, so the last
stage's prediction is the output; `"final_filters"` narrows that pass (default 16): cheaper
variants for a CPU time budget.
"""

from __future__ import annotations

import keras
from keras import layers

from segtf.models.aspp import aspp
from segtf.models.blocks import conv_bn_relu
from segtf.models.config import ModelConfig
from segtf.models.decoder import classifier
from segtf.models.layers import PatchReference, Preprocess, ResizeLike, SobelGradient
from segtf.models.psp import pyramid_pooling
from segtf.models.segmentation import backbone_features, deeplabv3plus_head, working_input

# Reconstruction stages from deep to shallow: (pyramid level, image patch size at that level).
# Patches are capped at 8x8 pixels so the patch embedding stays cheap at stride 16 and 32.
STAGES = (("P4", 8), ("P3", 8), ("P2", 4), ("P1", 2))
LOCALISATIONS = ("context", "deeplabv3plus")


def localisation_module(features: dict, config: ModelConfig, name: str = "loc"):
    """Global context on the deepest features: ASPP and PSP pooling, fused and squeezed."""
    deep = features["P5"]
    context = aspp(
        deep,
        config.head_filters,
        config.output_stride,
        separable=config.separable_head,
        dropout=0.0,
        name=f"{name}_aspp",
    )
    pooled = pyramid_pooling(
        deep, config.psp_bins, filters=max(8, config.head_filters // 4), name=f"{name}_psp"
    )
    x = layers.Concatenate(name=f"{name}_concat")([context, pooled])
    return conv_bn_relu(x, config.head_filters, kernel=1, name=f"{name}_squeeze")


def localisation(features: dict, config: ModelConfig):
    """(coarse features, the stages that follow, the coarse prediction's name, whether the
    stages predict corrections to that coarse prediction rather than alpha itself)."""
    kind = config.extra.get("localisation", "context")
    if kind == "context":
        return localisation_module(features, config), STAGES, "stage5", False
    if kind == "deeplabv3plus":
        # The DeepLabV3+ head and classifier under their own names: a trained DeepLabV3+ of
        # this backbone initialises them (init_from); the decoder already merged P4..P2.
        return deeplabv3plus_head(features, config), STAGES[2:], "classifier", True
    raise ValueError(f"refiner localisation {kind!r}: use one of {LOCALISATIONS} "
                     "(model_overrides.extra.localisation)")


def chosen_stages(stages: tuple, config: ModelConfig) -> tuple:
    """The localisation's stages, or the subset `extra.stage_levels` names (same order)."""
    levels = config.extra.get("stage_levels")
    if levels is None:
        return stages
    known = [level for level, _ in stages]
    unknown = sorted(set(levels) - set(known))
    if unknown or not levels:
        raise ValueError(f"refiner stage_levels {list(levels)}: choose a non-empty subset of "
                         f"{known} (model_overrides.extra.stage_levels)")
    return tuple((level, patch) for level, patch in stages if level in levels)


def full_resolution_pass(x, images, inputs, base, config: ModelConfig):
    """The last pass at the working size: the image itself (1x1 patches) is the last source
    reference. Returns the alpha logits at the input size. `extra.final_filters` sets its width
    and first squeezes the last stage's features to it (1x1 conv before upsampling): at the
    working size every channel costs memory traffic, which dominates this pass on a CPU."""
    filters = config.extra.get("final_filters")
    if filters is not None:
        x = conv_bn_relu(x, filters, kernel=1, name="final_squeeze")
    width = filters or 16
    x = ResizeLike("bilinear", name="final_up")([x, images])
    # Scale pixels to [-1, 1] before the full-resolution source reference conv.
    source = conv_bn_relu(
        Preprocess("xception", name="final_preprocess")(images), width, name="final_src"
    )
    x = layers.Concatenate(name="final_concat")([x, source])
    x = conv_bn_relu(x, width, name="final_conv")
    return stage_prediction(x, inputs, "final", base)


def stage_prediction(x, inputs, name: str, coarse=None):
    """A stage's alpha logits at the input size, or with `coarse` (logits at the working
    size) a correction added to them: its zero-initialised conv makes a new stage start as the
    coarse (trained DeepLabV3+) prediction and learn only what it changes, instead of
    relearning the whole alpha from noise. The sum is taken at the working size and resized
    once, so the network ends in one resize to the input size as every segtf model does
    (LiteRT and the SavedModel run the resizes outside it: `segtf.models.split`)."""
    if coarse is None:
        return classifier(x, 1, inputs, name)
    correction = classifier(x, 1, coarse, name, kernel_initializer="zeros")
    summed = layers.Add(dtype="float32", name=f"{name}_plus_coarse")([coarse, correction])
    return at_input_size(summed, inputs, name)


def at_input_size(logits, inputs, name: str):
    return ResizeLike("bilinear", dtype="float32", name=f"{name}_at_input")([logits, inputs])


def source_reference(images, reference, patch: int, filters: int, name: str):
    """Patch-embeds the image at the reference's resolution (BiRefNet's inward reference)."""
    patches = PatchReference(patch, name=f"{name}_patches")([images, reference])
    return conv_bn_relu(patches, filters, kernel=1, name=f"{name}_embed")


def target_reference(x, images, filters: int, name: str):
    """Predicts an edge map from features + the image gradient; returns (attended x, edges)."""
    gradient = SobelGradient(name=f"{name}_sobel")([images, x])
    g = layers.Concatenate(name=f"{name}_concat")([x, gradient])
    g = conv_bn_relu(g, filters, name=f"{name}_conv")
    edge_logits = layers.Conv2D(1, 1, name=f"{name}_edge")(g)
    attention = layers.Activation("sigmoid", name=f"{name}_attention")(edge_logits)
    attended = layers.Multiply(name=f"{name}_attend")([x, attention])
    return layers.Add(name=f"{name}_residual")([x, attended]), edge_logits


def reconstruction_stage(x, lateral, images, patch: int, filters: int, name: str):
    """Upsample, merge lateral features and both references, refine; returns (x, edges)."""
    x = ResizeLike("bilinear", name=f"{name}_up")([x, lateral])
    lateral = conv_bn_relu(lateral, filters, kernel=1, name=f"{name}_lateral")
    source = source_reference(images, lateral, patch, filters // 2, name=f"{name}_src")
    x = layers.Concatenate(name=f"{name}_concat")([x, lateral, source])
    x = conv_bn_relu(x, filters, name=f"{name}_conv1")
    x, edge_logits = target_reference(x, images, filters // 2, name=f"{name}_gdt")
    return conv_bn_relu(x, filters, name=f"{name}_conv2"), edge_logits


def build_refiner(
    config: ModelConfig, name: str = "refiner", with_aux: bool = False
) -> keras.Model:
    """Builds the refiner: 0..255 RGB `(batch, H, W, 3)` -> alpha logits `(batch, H, W, 1)`.

    `with_aux=True` returns the training graph: a dict with `logits`, each stage's
    `stageN_logits` (deep supervision) and `edgeN_logits` (gradient-reference supervision),
    all float32 at the input size. The inference graph has the same layers and weights.
    """
    if config.num_classes != 1:
        raise ValueError(
            f"the refiner predicts one alpha channel; num_classes must be 1, "
            f"got {config.num_classes}"
        )
    images = keras.Input((None, None, 3), name="images")
    # The whole network runs at the working size; only the outputs go back to the input size.
    inputs, images = images, working_input(images, config)
    features = backbone_features(images, config)
    filters = config.extra.get("stage_filters", config.head_filters)
    x, stages, coarse_name, corrects = localisation(features, config)
    if corrects:  # the coarse logits at the working size, which the stages correct
        base = classifier(x, 1, images, coarse_name)
        coarse = at_input_size(base, inputs, coarse_name)
    else:
        base, coarse = None, classifier(x, 1, inputs, coarse_name)
    aux = {"stage5_logits": coarse}
    for level, patch in chosen_stages(stages, config):
        width = max(16, filters // 2) if level in ("P2", "P1") else filters
        x, edge = reconstruction_stage(
            x, features[level], images, patch, width, name=f"stage{level[1]}"
        )
        last_stage = f"stage{level[1]}_logits"
        aux[last_stage] = stage_prediction(x, inputs, f"stage{level[1]}", base)
        aux[f"edge{level[1]}_logits"] = ResizeLike(
            "bilinear", dtype="float32", name=f"edge{level[1]}_logits"
        )([edge, inputs])
    if config.extra.get("full_resolution", True):
        logits = full_resolution_pass(x, images, inputs, base, config)
    else:  # the last stage's prediction is the output (and takes the main loss)
        logits = aux.pop(last_stage)
    if with_aux:
        return keras.Model(inputs, {"logits": logits, **aux}, name=name)
    return keras.Model(inputs, logits, name=name)
