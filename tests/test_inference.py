"""predict_probabilities: sizes, tasks, TTA and tiled inference agree with one pass."""

import numpy as np
import pytest
from data_factory import TINY_MODEL

import segtf.models
from segtf.inference import normalize_tile, predict_probabilities


@pytest.fixture(scope="module")
def model():
    return segtf.models.build("deeplabv3plus_lite", num_classes=3, **TINY_MODEL)


@pytest.fixture(scope="module")
def fg_model():
    return segtf.models.build(
        "deeplabv3plus_lite", num_classes=1, **TINY_MODEL, task="foreground"
    )


def _image(h, w, seed=0):
    return (np.random.default_rng(seed).random((h, w, 3)) * 255).astype("uint8")


@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (37, 53), (64, 48)])
def test_probabilities_match_image_size_and_sum_to_one(model, shape):
    probs = predict_probabilities(model, _image(*shape))
    assert probs.shape == (*shape, 3) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)


def test_foreground_gives_one_alpha_channel(fg_model):
    alpha = predict_probabilities(fg_model, _image(40, 30), task="foreground")
    assert alpha.shape == (40, 30, 1) and 0.0 <= alpha.min() and alpha.max() <= 1.0


def test_one_compiled_pass_gives_the_generic_paths_probabilities(model, fg_model):
    """Without TTA a window goes through one graph (uint8 in, probabilities out); it gives
    what the general path (float32 photo, forward pass, then sigmoid / softmax) gives."""
    from segtf.inference import _forward_fn, _predict_window, _window_fn

    for net, task in ((model, "semantic"), (fg_model, "foreground")):
        for image in (_image(37, 53), _image(20, 31, seed=2).astype(np.float32)):
            fast = _window_fn(net, task, (1.0,), False)(image)
            generic = _predict_window(_forward_fn(net), image, task=task, scales=(1.0,),
                                      flip=False)
            assert fast.dtype == np.float32 and fast.shape == generic.shape
            np.testing.assert_allclose(fast, generic, atol=1e-6)


def test_tiled_matches_single_pass_and_covers_borders(model):
    image = _image(100, 150, seed=1)
    whole = predict_probabilities(model, image)
    tiled = predict_probabilities(model, image, tile=64, overlap=0.25)
    assert tiled.shape == whole.shape
    np.testing.assert_allclose(tiled.sum(-1), 1.0, atol=1e-5)
    # An untrained model's outputs are close to uniform; tiles see less context, so only a
    # loose agreement is expected, but no tile seam may be left unnormalised.
    assert np.abs(tiled - whole).max() < 0.05


def test_tta_scales_and_flip_keep_shape(model):
    probs = predict_probabilities(model, _image(45, 61), scales=(0.5, 1.0, 1.5), flip=True)
    assert probs.shape == (45, 61, 3)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)


def test_float_image_equals_uint8_image(model):
    image = _image(32, 32)
    a = predict_probabilities(model, image)
    b = predict_probabilities(model, image.astype("float32"))
    np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"task": "panoptic"}, "task"),
        ({"scales": ()}, "scales"),
        ({"overlap": 1.5}, "overlap"),
        ({"tile": 8}, "too small"),
        ({"tile": "big"}, "tile"),
    ],
)
def test_bad_arguments_are_named(model, kwargs, match):
    with pytest.raises(ValueError, match=match):
        predict_probabilities(model, _image(8, 8), **kwargs)


def test_bad_image_shape_is_refused(model):
    with pytest.raises(ValueError, match="read_image"):
        predict_probabilities(model, np.zeros((8, 8)))


def test_auto_tile_only_for_large_images():
    assert normalize_tile("auto", (1080, 1920, 3)) is None
    assert normalize_tile("auto", (4000, 6000, 3)) == (1024, 1024)
    assert normalize_tile(512) == (512, 512)


def test_foreground_tiles_are_guided_by_a_global_pass():
    """Where the low-resolution whole-image pass is confident it decides; tiles fill the rest."""
    from segtf.inference import _fuse_global

    tiled = np.full((300, 200, 1), 0.3, np.float32)
    coarse = np.zeros((30, 20, 1), np.float32)
    coarse[:15] = 1.0  # confident foreground on top, confident background below ...
    coarse[14:16] = 0.5  # ... and an unsure band in the middle, where tiles must win
    fused = _fuse_global(tiled.copy(), coarse, band=64)
    assert fused.shape == tiled.shape
    assert np.allclose(fused[:100], 1.0) and np.allclose(fused[200:], 0.0)
    assert np.allclose(fused[145:155], 0.3)


def test_tiled_foreground_prediction_runs_with_the_global_pass():
    model = segtf.models.build("refiner_lite", **TINY_MODEL)
    image = np.random.default_rng(0).integers(0, 255, (150, 130, 3), dtype=np.uint8)
    alpha = predict_probabilities(model, image, task="foreground", tile=64)
    assert alpha.shape == (150, 130, 1) and np.isfinite(alpha).all()
    assert alpha.min() >= 0.0 and alpha.max() <= 1.0
