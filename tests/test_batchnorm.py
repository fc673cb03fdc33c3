import numpy as np
from data_factory import TINY_MODEL

from segtf import models
from segtf.models.batchnorm import batchnorm_layers, recalibrate_batchnorm


def test_recalibration_makes_inference_match_training_statistics():
    model = models.build("deeplabv3plus_lite", num_classes=3, **TINY_MODEL,
                         dropout=0.0)
    x = np.random.default_rng(0).uniform(0, 255, (2, 48, 48, 3)).astype("float32")
    train_mode = np.asarray(model(x, training=True))
    assert np.abs(np.asarray(model(x, training=False)) - train_mode).max() > 1e-2  # stale
    momenta = [layer.momentum for layer in batchnorm_layers(model)]
    assert recalibrate_batchnorm(model, [x, (x, None)], max_batches=5) == 2
    # Averaging the same batch twice gives exactly its statistics (up to BN's biased variance).
    np.testing.assert_allclose(model(x, training=False), train_mode, atol=2e-2)
    assert [layer.momentum for layer in batchnorm_layers(model)] == momenta
