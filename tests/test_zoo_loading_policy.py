"""Inference models load in float32 even after a mixed-precision training run in the same
process left its global policy behind (found by the 12 Mpx serving memory test)."""

import keras

import segtf.models
from segtf.zoo import ModelInfo, load_model, save_model_folder


def test_models_load_in_float32_under_a_leftover_mixed_policy(tmp_path):
    config = segtf.models.get_config("deeplabv3plus_lite", num_classes=2, width=0.125,
                                     head_filters=16)
    folder = save_model_folder(segtf.models.build_from_config(config),
                               ModelInfo(name="tiny2", model=config), tmp_path / "tiny2")
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model, _ = load_model(folder)
        assert {layer.compute_dtype for layer in model.layers if layer.weights} == {"float32"}
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"  # left as found
    finally:
        keras.mixed_precision.set_global_policy("float32")
