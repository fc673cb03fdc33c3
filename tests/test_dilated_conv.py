"""segtf's `Conv2D`: at inference a dilated conv is TensorFlow's own op (no SpaceToBatch
detour), with the same results and weights-file keys as `keras.layers.Conv2D`."""

import os
import pathlib
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from data_factory import TINY_MODEL

import segtf.models.blocks as blocks
from segtf import models
from segtf.models.layers import Conv2D


def pair(rate: int, filters: int = 6, channels: int = 5):
    """(segtf Conv2D, keras Conv2D) with the same kernel, built on `channels` inputs."""
    ours = Conv2D(filters, 3, padding="same", dilation_rate=rate, use_bias=False)
    theirs = keras.layers.Conv2D(filters, 3, padding="same", dilation_rate=rate, use_bias=False)
    ours.build((None, None, None, channels))
    theirs.build((None, None, None, channels))
    theirs.set_weights(ours.get_weights())
    return ours, theirs


@pytest.mark.parametrize("rate,size", [(2, (9, 11)), (6, (20, 20)), (18, (20, 23))])
def test_dilated_conv_matches_keras_at_inference(rate, size):
    ours, theirs = pair(rate)
    x = np.random.default_rng(rate).normal(size=(2, *size, 5)).astype("float32")
    graph = tf.function(lambda t: ours(t, training=False))
    np.testing.assert_allclose(graph(x), theirs(x), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours(x), theirs(x), rtol=1e-4, atol=1e-4)


def test_dilated_conv_trains_through_keras_path():
    """Training takes Keras's path (the native op's gradient has no dilated CPU kernel without
    oneDNN): same outputs and gradients as keras Conv2D."""
    ours, theirs = pair(6)
    x = tf.constant(np.random.default_rng(3).normal(size=(2, 20, 20, 5)), tf.float32)
    results = []
    for layer in (ours, theirs):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(y * y)
        results.append((y, *tape.gradient(loss, [x, layer.kernel])))
    for mine, reference in zip(results[0], results[1], strict=True):
        np.testing.assert_allclose(mine, reference, rtol=1e-4, atol=1e-4)


def test_dilated_conv_is_one_conv_op_without_space_to_batch():
    """What makes it faster on a CPU: the graph holds Conv2D with `dilations`, and none of
    the SpaceToBatchND / BatchToSpaceND that `tf.nn.convolution` wraps a dilated conv in."""
    graphs = {}
    for layer in pair(6):
        fn = tf.function(lambda t, layer=layer: layer(t, training=False))
        graph = fn.get_concrete_function(tf.TensorSpec((1, 20, 20, 5))).graph
        graphs[layer.__class__.__module__] = {op.type for op in graph.get_operations()}
    ours = graphs["segtf.models.layers"]
    theirs = next(ops for module, ops in graphs.items() if module != "segtf.models.layers")
    assert "Conv2D" in ours and not {"SpaceToBatchND", "BatchToSpaceND"} & ours
    assert "SpaceToBatchND" in theirs  # the detour this layer exists to avoid


def test_undilated_and_strided_convs_take_keras_path():
    layer = Conv2D(4, 3, strides=2, padding="same")
    x = np.random.default_rng(0).normal(size=(1, 8, 8, 3)).astype("float32")
    reference = keras.layers.Conv2D(4, 3, strides=2, padding="same")
    reference.build(x.shape)
    layer.build(x.shape)
    layer.set_weights(reference.get_weights())
    np.testing.assert_allclose(layer(x), reference(x), atol=1e-5)


def test_weights_saved_with_keras_conv2d_load_unchanged(tmp_path, monkeypatch):
    """Zoo weights saved before this layer existed (ASPP's dilated convs as keras Conv2D) load
    into today's model, and give its outputs: the weights file keys layers by class name."""
    config = dict(TINY_MODEL, backbone="efficientnet_lite0")
    x = np.random.default_rng(1).uniform(0, 255, (1, 64, 64, 3)).astype("float32")
    with monkeypatch.context() as patch:
        patch.setattr(blocks, "NativeDilationConv2D", keras.layers.Conv2D)
        before = models.build("deeplabv3plus_efficientnet_lite0", num_classes=3, **config)
    assert not any(isinstance(layer, Conv2D) for layer in before.layers)
    before.save_weights(tmp_path / "before.weights.h5")
    now = models.build("deeplabv3plus_efficientnet_lite0", num_classes=3, **config)
    assert sum(isinstance(layer, Conv2D) for layer in now.layers) == 3  # ASPP's atrous branches
    now.load_weights(tmp_path / "before.weights.h5")
    np.testing.assert_allclose(now(x), before(x), rtol=1e-4, atol=1e-4)


def test_inference_path_runs_without_onednn():
    """CPUs where TensorFlow runs without oneDNN (TF_ENABLE_ONEDNN_OPTS=0, many ARM builds) use
    Eigen's Conv2D kernel, which must take the `dilations` too (forward; training never asks)."""
    script = textwrap.dedent(
        """
        import numpy as np, keras, tensorflow as tf
        from segtf.models.layers import Conv2D
        ours = Conv2D(4, 3, padding="same", dilation_rate=6, use_bias=True)
        theirs = keras.layers.Conv2D(4, 3, padding="same", dilation_rate=6, use_bias=True)
        x = np.random.default_rng(0).normal(size=(1, 20, 23, 5)).astype("float32")
        ours.build(x.shape); theirs.build(x.shape)
        theirs.set_weights([w + 0.5 for w in ours.get_weights()]); ours.set_weights(theirs.get_weights())
        graph = tf.function(lambda t: ours(t, training=False))
        print("difference", float(np.abs(graph(x) - theirs(x)).max()))
        """
    )
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="0", TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND="tensorflow")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                          timeout=300, cwd=pathlib.Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr[-2000:]
    difference = float(done.stdout.split("difference")[-1])
    assert difference < 1e-4
