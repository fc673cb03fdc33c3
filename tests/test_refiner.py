"""The progressive high-resolution refiner on tiny configurations: every stage's shape, the
gradient (target) reference learns from its own loss and shapes the alpha, deep supervision
exists in the training graph only, and export serves the final alpha alone."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from data_factory import TINY_MODEL, wake_zero_layers

import segtf
from segtf import losses, models
from segtf.models.refiner import STAGES
from segtf.zoo import ModelInfo

TINY = dict(TINY_MODEL)
HEIGHT, WIDTH = 64, 96


def tiny_refiner(with_aux=False, **overrides):
    return models.build("refiner_lite", num_classes=1, with_aux=with_aux, **TINY, **overrides)


def images(batch=2, height=HEIGHT, width=WIDTH, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (batch, height, width, 3)).astype("float32")


def disc_masks(batch=2, height=HEIGHT, width=WIDTH):
    yy, xx = np.mgrid[:height, :width]
    disc = ((yy - height / 2) ** 2 + (xx - width / 2) ** 2 < (height / 3) ** 2).astype("float32")
    return np.repeat(disc[None, ..., None], batch, axis=0)


@pytest.fixture(scope="module")
def training_graph():
    keras.utils.set_random_seed(0)
    return tiny_refiner(with_aux=True)


STAGE_NUMBERS = [int(level[1]) for level, _ in STAGES]  # 4, 3, 2, 1: stride 2**n


def test_training_graph_outputs_every_stage_and_edge_map_at_the_input_size(training_graph):
    out = training_graph(images(), training=True)
    expected = {"logits", "stage5_logits"}
    expected |= {f"stage{n}_logits" for n in STAGE_NUMBERS}
    expected |= {f"edge{n}_logits" for n in STAGE_NUMBERS}
    assert set(out) == expected
    for key, value in out.items():
        value = keras.ops.convert_to_numpy(value)
        assert value.shape == (2, HEIGHT, WIDTH, 1), key
        assert value.dtype == np.float32 and np.isfinite(value).all(), key


def test_each_stage_works_at_its_own_scale_from_coarse_to_full(training_graph):
    names = ["loc_squeeze_relu"]
    names += [f"stage{n}_conv2_relu" for n in STAGE_NUMBERS]
    names += [f"stage{n}_gdt_edge" for n in STAGE_NUMBERS]
    names += [f"stage{n}_src_patches" for n in STAGE_NUMBERS]
    names += ["final_conv_relu"]
    probe = keras.Model(training_graph.input, [training_graph.get_layer(n).output for n in names])
    shapes = {n: tuple(y.shape[1:3]) for n, y in zip(names, probe(images()), strict=True)}

    assert shapes["loc_squeeze_relu"] == (HEIGHT // 32, WIDTH // 32)  # localisation, 1/32
    for n in STAGE_NUMBERS:
        at_stride = (HEIGHT // 2**n, WIDTH // 2**n)
        assert shapes[f"stage{n}_conv2_relu"] == at_stride, n
        assert shapes[f"stage{n}_gdt_edge"] == at_stride, n
        assert shapes[f"stage{n}_src_patches"] == at_stride, n
    assert shapes["final_conv_relu"] == (HEIGHT, WIDTH)


def gradient_norms(model, loss_of_outputs, layer_names):
    kernels = [model.get_layer(name).kernel for name in layer_names]
    with tf.GradientTape() as tape:
        loss = loss_of_outputs(model(tf.constant(images()), training=True))
    grads = tape.gradient(loss, kernels)
    return {
        name: 0.0 if g is None else float(tf.norm(g))
        for name, g in zip(layer_names, grads, strict=True)
    }


def test_gradient_reference_branch_learns_from_its_loss_and_shapes_the_alpha(training_graph):
    masks = tf.constant(disc_masks())
    edge_layers = [f"stage{n}_gdt_{part}" for n in STAGE_NUMBERS for part in ("conv_conv", "edge")]

    def edge_loss(out):
        aux = losses.GradientAuxLoss("bce")
        return sum(aux(masks, out[f"edge{n}_logits"]) for n in STAGE_NUMBERS)

    def alpha_loss(out):
        return losses.BinaryMixLoss()(masks, out["logits"])

    from_edges = gradient_norms(training_graph, edge_loss, edge_layers)
    from_alpha = gradient_norms(training_graph, alpha_loss, edge_layers)
    # The gradient-aware auxiliary loss reaches every stage's edge predictor ...
    assert all(norm > 0 and np.isfinite(norm) for norm in from_edges.values()), from_edges
    # ... and the edge map, used as attention, carries the final alpha's loss back into it.
    assert all(norm > 0 and np.isfinite(norm) for norm in from_alpha.values()), from_alpha


def test_deep_supervision_is_only_in_the_training_graph(training_graph, tmp_path):
    inference = tiny_refiner(with_aux=False)
    assert not isinstance(inference.output, dict)
    assert inference.output.shape[-1] == 1
    # The inference graph leaves out exactly the deep-supervision heads ...
    dropped = {layer.name for layer in training_graph.layers} - {
        layer.name for layer in inference.layers
    }
    heads = {f"stage{n}_{part}" for n in [5, *STAGE_NUMBERS] for part in ("conv", "logits")}
    heads |= {f"edge{n}_logits" for n in STAGE_NUMBERS}
    assert dropped == heads
    # ... and weights saved from training load into it (as the zoo does) to the same alpha.
    training_graph.save_weights(tmp_path / "trained.weights.h5")
    inference.load_weights(tmp_path / "trained.weights.h5")
    x = images(1, 48, 40)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(inference(x)),
        keras.ops.convert_to_numpy(training_graph(x)["logits"]),
        atol=1e-5,
    )


def test_refiner_builds_on_another_registry_backbone():
    model = models.build(
        "refiner_lite", num_classes=1, backbone="resnet50", head_filters=16, width=1.0
    )
    y = keras.ops.convert_to_numpy(model(images(1, 64, 64)))
    assert y.shape == (1, 64, 64, 1) and np.isfinite(y).all()


def test_refuses_more_than_one_class_clearly():
    with pytest.raises(ValueError, match="num_classes must be 1"):
        models.build("refiner_lite", num_classes=3, **TINY)


@pytest.mark.parametrize("localisation", ["context", "deeplabv3plus"])
def test_export_serves_only_the_final_alpha(tmp_path, localisation):
    from segtf.export import export_saved_model

    # A working side under the photo's: the SavedModel resizes outside the network, which
    # needs the network to end in the one resize to the input size (stage corrections too).
    config = models.get_config("refiner_lite", **TINY, input_size=(48, 64), working_side=40,
                               output_stride=16, extra={"localisation": localisation})
    model = models.build_from_config(config)
    wake_zero_layers(model)  # the corrections start at zero: make them reach the output
    image = images(1, 48, 64, seed=4)[0].astype("uint8")
    expected = segtf.segment(image, model)

    path = export_saved_model(model, tmp_path, info=ModelInfo(name="refiner", model=config))
    serve = tf.saved_model.load(str(path)).signatures["serving_image_tensor"]
    out = serve(images=tf.constant(image[None]))
    assert not any(key.startswith(("stage", "edge")) for key in out)
    assert out["alpha"].shape == (1, 48, 64)
    np.testing.assert_allclose(out["alpha"].numpy()[0], expected.alpha, atol=1e-4)


def test_refiner_on_a_deeplabv3plus_head_starts_as_that_model():
    # The localisation is the DeepLabV3+ head under its own layer names: a trained DeepLabV3+
    # of the same backbone fills it, and its coarse output is then that model's prediction.
    from segtf.training.trainer import copy_weights_by_name

    keras.utils.set_random_seed(1)
    overrides = dict(TINY, output_stride=16)
    deeplab = models.build("deeplabv3plus_lite", num_classes=1, task="foreground", **overrides)
    hybrid = models.build("refiner_on_deeplabv3plus_efficientnet_lite2", num_classes=1,
                          with_aux=True, **overrides)
    copied, kept = copy_weights_by_name(deeplab, hybrid)
    assert copied == sum(1 for layer in deeplab.layers if layer.weights)
    assert not any(name.startswith(("aspp", "decoder", "classifier")) for name in kept), kept
    x = images()
    out = hybrid(x, training=False)
    # Stages at P2, P1 and full size only: the decoder already merged the deeper levels.
    assert set(out) == {"logits", "stage5_logits", "stage2_logits", "stage1_logits",
                        "edge2_logits", "edge1_logits"}
    # Every later stage predicts a correction, zero before training: the new model starts as
    # the DeepLabV3+ it came from, and training learns only what the stages change.
    expected = keras.ops.convert_to_numpy(deeplab(x, training=False))
    for key in ("stage5_logits", "stage2_logits", "stage1_logits", "logits"):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(out[key]), expected,
                                   rtol=1e-4, atol=1e-4, err_msg=key)


def test_unknown_refiner_localisation_is_named():
    with pytest.raises(ValueError, match="refiner localisation 'nope'"):
        tiny_refiner(extra={"localisation": "nope"})


def test_cheaper_stage_sets_drop_the_stages_and_the_full_resolution_pass():
    # stage_levels keeps some of the localisation's stages; full_resolution=false makes the
    # last one's prediction the output (and the main loss's), so it is not also an aux output.
    keras.utils.set_random_seed(2)
    overrides = dict(TINY, output_stride=16)
    extra = {"localisation": "deeplabv3plus", "stage_levels": ["P2"], "full_resolution": False}
    model = models.build("refiner_on_deeplabv3plus_efficientnet_lite2", num_classes=1,
                         with_aux=True, **{**overrides, "extra": extra})
    out = model(images(), training=False)
    assert set(out) == {"logits", "stage5_logits", "edge2_logits"}
    assert out["logits"].shape == (2, HEIGHT, WIDTH, 1)
    names = {layer.name for layer in model.layers}
    assert "stage2_conv2_relu" in names
    assert not names & {"stage1_conv2_relu", "final_conv_relu"}


def test_unknown_refiner_stage_level_is_named():
    with pytest.raises(ValueError, match=r"stage_levels \['P7'\].*extra.stage_levels"):
        tiny_refiner(extra={"stage_levels": ["P7"]})


def test_final_filters_squeeze_the_full_size_pass():
    # extra.final_filters narrows the full-size pass and squeezes the features before their
    # upsampling (the pass's memory traffic); without it the layers are as before (weights of
    # earlier models load unchanged).
    def full_size_widths(extra):
        model = tiny_refiner(extra=extra)
        names = {layer.name: layer for layer in model.layers}
        return "final_squeeze_conv" in names, names["final_conv_conv"].filters

    assert full_size_widths({}) == (False, 16)
    assert full_size_widths({"final_filters": 8}) == (True, 8)
