"""Losses against values computed by hand on tiny arrays."""

import math

import numpy as np
import pytest

from segtf import losses


def _np(x):
    return float(np.asarray(x))


def test_focal_with_gamma_zero_is_cross_entropy_and_skips_ignored():
    logits = np.array([[[[2.0, 0.0], [0.0, 1.0], [5.0, -5.0]]]], "float32")  # (1,1,3,2)
    labels = np.array([[[0, 1, 255]]])
    p0 = math.exp(2) / (math.exp(2) + 1)
    p1 = math.exp(1) / (math.exp(1) + 1)
    ce = (-math.log(p0) - math.log(p1)) / 2
    assert _np(losses.FocalLoss(2, gamma=0.0)(labels, logits)) == pytest.approx(ce, rel=1e-5)
    focal = (-((1 - p0) ** 2) * math.log(p0) - (1 - p1) ** 2 * math.log(p1)) / 2
    assert _np(losses.FocalLoss(2, gamma=2.0)(labels, logits)) == pytest.approx(focal, rel=1e-5)


def test_dice_and_soft_iou_by_hand():
    big = 50.0  # softmax of +-big is one-hot
    logits = np.array([[[[big, -big], [big, -big], [-big, big], [0.0, 0.0]]]], "float32")
    labels = np.array([[[0, 1, 1, 255]]])
    # class 0: p=(1,1,0), g=(1,0,0): inter 1, sums 2+1; class 1: p=(0,0,1), g=(0,1,1): 1, 1+2
    dice = 1 - ((2 * 1 + 1) / (3 + 1) + (2 * 1 + 1) / (3 + 1)) / 2
    iou = 1 - ((1 + 1) / (3 - 1 + 1) + (1 + 1) / (3 - 1 + 1)) / 2
    assert _np(losses.DiceLoss(2)(labels, logits)) == pytest.approx(dice, abs=1e-5)
    assert _np(losses.DiceLoss(2, soft_iou=True)(labels, logits)) == pytest.approx(iou, abs=1e-5)


def test_binary_losses_by_hand():
    logits = np.array([0.0, 2.0, -1.0, 3.0], "float32").reshape(1, 2, 2, 1)
    target = np.array([1.0, 0.0, 0.0, 1.0], "float32").reshape(1, 2, 2, 1)
    p = 1 / (1 + np.exp(-logits.ravel()))
    t = target.ravel()
    bce = -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p))
    iou = 1 - (p * t).sum() / (p.sum() + t.sum() - (p * t).sum())
    assert _np(losses.binary_cross_entropy(target, logits)) == pytest.approx(bce, rel=1e-5)
    assert _np(losses.binary_iou_loss(target, logits)) == pytest.approx(iou, rel=1e-4)
    mix = losses.BinaryMixLoss(bce=2.0, iou=0.5, ssim=0.0)
    assert _np(mix(target, logits)) == pytest.approx(2 * bce + 0.5 * iou, rel=1e-4)


def test_binary_losses_skip_the_trimap_band():
    # The last pixel is the unknown band (alpha 128): whatever its logit, BCE and IoU are those
    # of the first three pixels alone.
    target = np.array([1.0, 0.0, 0.0, 128 / 255], "float32").reshape(1, 2, 2, 1)
    three = np.array([1.0, 0.0, 0.0], "float32").reshape(1, 1, 3, 1)
    logits3 = np.array([0.5, -2.0, 1.0], "float32").reshape(1, 1, 3, 1)
    for band_logit in (-6.0, 0.0, 6.0):
        logits = np.append(logits3.ravel(), band_logit).astype("float32").reshape(1, 2, 2, 1)
        assert _np(losses.binary_cross_entropy(target, logits)) == pytest.approx(
            _np(losses.binary_cross_entropy(three, logits3)), rel=1e-5)
        assert _np(losses.binary_iou_loss(target, logits)) == pytest.approx(
            _np(losses.binary_iou_loss(three, logits3)), rel=1e-5)
    # A soft alpha that is not exactly the band value still counts.
    soft = np.array([1.0, 0.0, 0.0, 0.6], "float32").reshape(1, 2, 2, 1)
    high = np.array([0.5, -2.0, 1.0, 6.0], "float32").reshape(1, 2, 2, 1)
    soft_pixel = 6.0 - 6.0 * 0.6 + np.log1p(np.exp(-6.0))
    three_mean = _np(losses.binary_cross_entropy(three, logits3))
    assert _np(losses.binary_cross_entropy(soft, high)) == pytest.approx(
        (3 * three_mean + soft_pixel) / 4, rel=1e-5)


def test_ssim_is_one_for_identical_images_and_matches_numpy():
    rng = np.random.default_rng(0)
    x = rng.random((1, 12, 12, 1)).astype("float32")
    y = np.clip(x + rng.normal(0, 0.2, x.shape), 0, 1).astype("float32")
    assert _np(np.mean(losses.ssim_map(x, x))) == pytest.approx(1.0, abs=1e-4)
    # numpy reference: same Gaussian window, zero padding
    g = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * 1.5**2))
    w = np.outer(g, g) / np.outer(g, g).sum()

    def blur(a):
        p = np.pad(a[0, ..., 0], 5)
        return np.array(
            [[np.sum(p[i : i + 11, j : j + 11] * w) for j in range(12)] for i in range(12)]
        )

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    ref = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    np.testing.assert_allclose(np.asarray(losses.ssim_map(x, y))[0, ..., 0], ref, atol=1e-4)


def test_sobel_edges_and_gradient_aux_loss():
    mask = np.zeros((1, 6, 6, 1), "float32")
    mask[:, :, 3:] = 1.0
    edges = np.asarray(losses.sobel_magnitude(mask))[0, ..., 0]
    np.testing.assert_allclose(edges[:, 2:4], 1.0, atol=1e-5)  # both sides of the step
    np.testing.assert_allclose(edges[:, [0, 5]], 0.0, atol=1e-5)
    target_logits = np.where(edges > 0.5, 20.0, -20.0)[None, ..., None].astype("float32")
    assert _np(losses.GradientAuxLoss("l1")(mask, target_logits)) == pytest.approx(0, abs=1e-5)
    assert _np(losses.GradientAuxLoss("bce")(mask, target_logits)) < 1e-5
    assert _np(losses.GradientAuxLoss("bce")(mask, -target_logits)) > 5


def test_get_loss_names_and_serialization():
    import keras

    loss = losses.get_loss("ce_dice", num_classes=3, class_weights=[1, 2, 3])
    clone = keras.losses.deserialize(keras.losses.serialize(loss))
    labels = np.array([[[0, 2], [1, 255]]])
    logits = np.random.default_rng(1).normal(size=(1, 2, 2, 3)).astype("float32")
    assert _np(clone(labels, logits)) == pytest.approx(_np(loss(labels, logits)), rel=1e-6)
    with pytest.raises(ValueError, match="valid"):
        losses.get_loss("nope", num_classes=2)


def test_get_loss_refuses_a_loss_of_the_other_task():
    # A softmax over one alpha channel is constant (loss 0: nothing learns).
    with pytest.raises(ValueError, match="'cross_entropy' is a softmax over classes"):
        losses.get_loss("cross_entropy", num_classes=1)
    with pytest.raises(ValueError, match="'birefnet' is a loss on one alpha channel"):
        losses.get_loss("birefnet", num_classes=3)
