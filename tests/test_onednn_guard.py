"""The README's tiny model (width=0.125) trains without the native heap corruption that TF's
oneDNN strided 1x1 conv caused with < 16 input channels (exit 134 / 139)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

TRAIN_STEP = textwrap.dedent(
    """
    import numpy as np, keras
    from segtf import models
    model = models.build("deeplabv3plus_lite", num_classes=12, width=0.125)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = np.random.rand(2, 128, 128, 3).astype("float32") * 255
    y = np.random.randint(0, 12, (2, 128, 128))
    for _ in range(2):
        loss = model.train_on_batch(x, y)
    print("loss", float(loss))
    """
)


@pytest.mark.slow
def test_readme_tiny_model_trains_in_a_fresh_process():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-c", TRAIN_STEP], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert np.isfinite(float(done.stdout.split("loss")[-1]))


def test_subsampled_pointwise_equals_the_strided_conv():
    import keras

    from segtf.models.xception import strided_pointwise

    inputs = keras.Input((None, None, 8))
    guarded = keras.Model(inputs, strided_pointwise(inputs, 16, 2, name="skip"))
    plain_in = keras.Input((None, None, 8))
    plain = keras.Model(
        plain_in, keras.layers.Conv2D(16, 1, strides=2, use_bias=False, name="skip")(plain_in)
    )
    plain.get_layer("skip").set_weights(guarded.get_layer("skip").get_weights())
    x = np.random.default_rng(0).random((1, 33, 20, 8)).astype(np.float32)
    np.testing.assert_allclose(guarded.predict(x, verbose=0), plain.predict(x, verbose=0), atol=1e-5)
