"""The aspect stretch of the joint augmentation (`aspect_range`), in both executors: a disc
comes out as an ellipse of the drawn aspect, image and mask together; no stretch by default."""

import numpy as np
import pytest
import tensorflow as tf

from segtf.data import augment, augment_numpy
from segtf.training import TrainConfig

SIZE, RADIUS = 64, 10


def _disc() -> np.ndarray:
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    return (((yy - SIZE / 2) ** 2 + (xx - SIZE / 2) ** 2) < RADIUS**2).astype(np.uint8)


def _extent(mask: np.ndarray) -> tuple[int, int]:
    rows, cols = np.nonzero(mask == 1)
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


def _tf_crop(aspect_range, seed=(1, 2)):
    disc = _disc()
    image = tf.constant(np.repeat(disc[..., None] * 200.0, 3, -1), tf.float32)
    image, mask = augment.random_scale_crop(
        image, tf.constant(disc[..., None]), (SIZE, SIZE), tf.constant(seed, tf.int64), 0,
        (1.0, 1.0), aspect_range,
    )
    return image.numpy()[..., 0], mask.numpy()[..., 0]


def _numpy_crop(aspect_range, seed=3):
    disc = _disc()
    image = np.repeat(disc[..., None] * 200, 3, -1).astype(np.uint8)
    return augment_numpy.random_scale_crop(
        image, disc, (SIZE, SIZE), np.random.default_rng(seed), 0, (1.0, 1.0), aspect_range
    )


@pytest.mark.parametrize("crop", [_tf_crop, _numpy_crop], ids=["tf.data", "numpy"])
def test_a_stretch_of_two_makes_a_disc_twice_as_wide_as_high(crop):
    image, mask = crop((2.0, 2.0))
    height, width = _extent(mask)
    assert width / height == pytest.approx(2.0, rel=0.15)
    assert width == pytest.approx(_extent(_disc())[1] * np.sqrt(2), abs=2)  # and half as high
    grey = image[..., 0] if image.ndim == 3 else image
    assert (grey[mask == 1] > 100).mean() > 0.9  # stretched with its mask (blur at the rim)


@pytest.mark.parametrize("crop", [_tf_crop, _numpy_crop], ids=["tf.data", "numpy"])
def test_no_stretch_by_default_keeps_the_disc_round(crop):
    default = crop(augment.ASPECT_RANGE)
    height, width = _extent(default[1])
    assert abs(height - width) <= 1


def test_a_range_draws_different_stretches_within_it():
    ratios = []
    for seed in range(12):
        height, width = _extent(_numpy_crop((0.5, 2.0), seed)[1])
        ratios.append(width / height)
    assert min(ratios) >= 0.5 / 1.2 and max(ratios) <= 2.0 * 1.2
    assert max(ratios) / min(ratios) > 1.5


def test_a_bad_aspect_range_names_the_key():
    with pytest.raises(ValueError, match="aspect_range takes"):
        TrainConfig.from_dict({"aspect_range": [2.0, 1.0]})
    assert TrainConfig.from_dict({"aspect_range": [0.75, 1.333]}).aspect_range == (0.75, 1.333)
