"""The model family on tiny configurations: shapes, finiteness, saving, gradients."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from data_factory import TINY_MODEL

from segtf import models
from segtf.models.xception import build_xception_backbone


def tiny(name, num_classes=3, **overrides):
    """The named model at the tests' size; other backbones than the `_lite` models' xception41
    keep their own depth, so that every registered backbone is built."""
    backbone = models.get_config(name).backbone
    if models.get_config(name).architecture == "selfie":
        return models.build(name, **overrides)  # shapes fixed by its published weights; tiny
    if backbone == "resnet50":
        return models.build(name, num_classes=num_classes, head_filters=16, **overrides)
    size = TINY_MODEL if backbone == "xception41" else {**TINY_MODEL, "backbone": backbone}
    return models.build(name, num_classes=num_classes, **{**size, **overrides})


def images(batch, height, width, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (batch, height, width, 3)).astype("float32")


@pytest.mark.parametrize(
    "output_stride,expected",
    [
        (32, {"P1": 2, "P2": 4, "P3": 8, "P4": 16, "P5": 32}),
        (16, {"P1": 2, "P2": 4, "P3": 8, "P4": 16, "P5": 16}),
        (8, {"P1": 2, "P2": 4, "P3": 8, "P4": 8, "P5": 8}),
    ],
)
@pytest.mark.parametrize("variant", ["xception41", "xception71"])
def test_pyramid_levels_have_the_expected_strides(variant, output_stride, expected):
    backbone = build_xception_backbone(variant, output_stride, width=0.125)
    features = backbone(images(2, 64, 64))
    assert sorted(features) == ["P1", "P2", "P3", "P4", "P5"]
    for level, stride in expected.items():
        assert tuple(features[level].shape[:3]) == (2, 64 // stride, 64 // stride), level


def test_xception65_decoder_features_are_the_papers_channels():
    backbone = build_xception_backbone("xception65", 16, width=1.0)
    assert backbone.output["P2"].shape[-1] == 256  # entry block 2, before its stride
    assert backbone.output["P5"].shape[-1] == 2048


@pytest.mark.parametrize("name", models.list_models())
def test_every_registered_model_builds_and_matches_the_input_size(name):
    config = models.get_config(name)
    model = tiny(name, num_classes=config.num_classes if config.task == "foreground" else 3)
    y = keras.ops.convert_to_numpy(model(images(2, 65, 97)))
    assert y.shape == (2, 65, 97, model.output_shape[-1])
    assert y.dtype == np.float32 and np.isfinite(y).all()


@pytest.mark.parametrize("name", ["deeplabv3plus_lite", "pspnet_lite", "psp_aspp_lite"])
def test_dynamic_input_shape_accepts_different_sizes(name):
    model = tiny(name)
    assert model.input_shape == (None, None, None, 3)
    for h, w in [(64, 64), (33, 50), (80, 48)]:
        assert model(images(1, h, w)).shape == (1, h, w, 3)


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="deeplabv3plus_xception65"):
        models.build("deeplab_typo")


def test_registry_overrides_do_not_mutate_the_registry():
    before = models.get_config("deeplabv3plus_lite")
    models.build("deeplabv3plus_lite", num_classes=5, width=0.125)
    assert models.get_config("deeplabv3plus_lite") == before


def test_bad_output_stride_is_refused_clearly():
    with pytest.raises(ValueError, match="output_stride must be 8, 16 or 32"):
        models.build("deeplabv3plus_lite", output_stride=4)


def test_imagenet_download_is_refused():
    with pytest.raises(ValueError, match="local path"):
        models.build("deeplabv3plus_resnet50", backbone_weights="imagenet")


def test_xception_imagenet_is_refused_offline_with_the_alternatives():
    with pytest.raises(ValueError, match="no ImageNet weights exist offline for xception65"):
        models.build("deeplabv3plus_xception65", backbone_weights="imagenet")


@pytest.mark.parametrize("name", ["deeplabv3plus_lite", "pspnet_lite", "refiner_lite"])
def test_config_round_trip(name):
    model = tiny(name, num_classes=1 if "refiner" in name else 3)
    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    x = images(1, 48, 40)
    np.testing.assert_allclose(clone(x), model(x), atol=1e-5)
    cfg = models.get_config(name)
    assert models.ModelConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("name", ["deeplabv3plus_lite", "psp_aspp_lite", "refiner_lite"])
def test_keras_file_round_trip_in_safe_mode(tmp_path, name):
    model = tiny(name, num_classes=1 if "refiner" in name else 3)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    x = images(2, 65, 97)
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-5)
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in loaded.layers)


@pytest.mark.parametrize(
    "name", ["deeplabv3plus_lite", "pspnet_lite", "psp_aspp_lite", "deeplabv3plus_resnet50"]
)
def test_one_training_step_reaches_every_weight(name):
    model = tiny(name, with_aux=True)
    x = tf.constant(images(2, 64, 64))
    labels = tf.constant(np.random.default_rng(1).integers(0, 3, (2, 64, 64)))
    with tf.GradientTape() as tape:
        out = model(x, training=True)
        outputs = out.values() if isinstance(out, dict) else [out]
        loss = sum(
            tf.reduce_mean(
                keras.losses.sparse_categorical_crossentropy(labels, y, from_logits=True)
            )
            for y in outputs
        )
    grads = tape.gradient(loss, model.trainable_weights)
    missing = [
        w.path for w, g in zip(model.trainable_weights, grads, strict=True) if g is None or not np.any(g.numpy())
    ]
    assert not missing, f"weights without gradient: {missing[:5]}"


def test_pspnet_training_graph_has_the_auxiliary_head():
    model = tiny("pspnet_lite", with_aux=True)
    assert set(model.output) == {"logits", "aux_logits"}
    assert tiny("pspnet_lite").output.shape[-1] == 3  # inference graph: logits only


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_keeps_float32_logits(policy):
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = tiny("deeplabv3plus_lite")
        y = model(images(1, 64, 64))
        assert y.dtype == "float32" and np.isfinite(keras.ops.convert_to_numpy(y)).all()
        assert any(layer.compute_dtype != "float32" for layer in model.layers)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_paper_model_has_the_reference_parameter_count():
    model = models.build("deeplabv3plus_xception65", num_classes=21)
    # The TF DeepLab reference xception_65 DeepLabV3+ has about 41 M parameters.
    assert 39e6 < model.count_params() < 43e6


@pytest.mark.parametrize("name", ["deeplabv3plus_lite", "refiner_lite"])
def test_working_side_runs_the_network_small_and_answers_at_the_input_size(name):
    model = models.build(name, num_classes=1, task="foreground", working_side=32, **TINY_MODEL)
    assert model.get_layer("working_size").side == 32
    y = keras.ops.convert_to_numpy(model(images(1, 97, 65)))
    assert y.shape == (1, 97, 65, 1) and np.isfinite(y).all()
