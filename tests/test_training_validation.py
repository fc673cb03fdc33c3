"""Validation during training scores foreground as `segtf evaluate` does: a trimap's unknown
band (alpha 128) is ignored, not counted as foreground."""

import keras
import numpy as np

from segtf.data.arrays import ArrayPairs
from segtf.training.validation import validate_set


def brightness_model() -> keras.Model:
    """Foreground logit = red channel - 127.5: bright pixels are foreground."""
    inputs = keras.Input((None, None, 3))
    conv = keras.layers.Conv2D(1, 1)
    outputs = conv(inputs)
    conv.set_weights([np.array([1.0, 0, 0], np.float32).reshape(1, 1, 3, 1),
                      np.array([-127.5], np.float32)])
    return keras.Model(inputs, outputs)


def pet_style_pair(bright_inside_band: bool):
    mask = np.zeros((32, 32), np.uint8)
    mask[6:26, 6:26] = 128  # unknown band, 2 px wide
    mask[8:24, 8:24] = 255
    image = np.zeros((32, 32, 3), np.uint8)
    image[mask >= (128 if bright_inside_band else 255)] = 255
    return image, mask


def test_unknown_band_counts_neither_way():
    model = brightness_model()
    for wide in (False, True):
        image, mask = pet_style_pair(wide)
        pairs = ArrayPairs("pet/val", [image], [mask])
        result = validate_set(model, pairs, "foreground", 2, 255, None, [], 0, None)
        assert result["mean_iou"] == 1.0, wide


def test_sure_foreground_missed_still_costs():
    image, mask = pet_style_pair(False)
    image[8:12] = 0  # four rows of the sure foreground predicted background
    result = validate_set(brightness_model(), ArrayPairs("pet/val", [image], [mask]),
                          "foreground", 2, 255, None, [], 0, None)
    assert result["mean_iou"] < 0.9
