"""Metrics against hand-computed values and the reference (PySODMetrics) formulas."""

import numpy as np
import pytest

from segtf.metrics import binary
from segtf.metrics.confusion import confusion_matrix, confusion_matrix_ops
from segtf.metrics.semantic import IgnoreLabelMeanIoU, semantic_scores


def test_confusion_and_semantic_scores_by_hand():
    labels = np.array([0, 0, 1, 1, 2, 255])
    preds = np.array([0, 1, 1, 1, 0, 2])
    cm = confusion_matrix(labels, preds, 3)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 2, 0], [1, 0, 0]])
    np.testing.assert_array_equal(np.asarray(confusion_matrix_ops(labels, preds, 3)), cm)
    s = semantic_scores(cm, ["a", "b", "c"])
    # IoU a = 1/(2+2-1) = 1/3, b = 2/(2+3-2) = 2/3, c = 0/(1+0-0) = 0
    assert s["per_class_iou"] == pytest.approx({"a": 1 / 3, "b": 2 / 3, "c": 0.0})
    assert s["mean_iou"] == pytest.approx(1 / 3)
    assert s["pixel_accuracy"] == pytest.approx(3 / 5)
    assert s["mean_class_accuracy"] == pytest.approx((1 / 2 + 1 + 0) / 3)


def test_absent_class_is_left_out_of_the_mean():
    s = semantic_scores(confusion_matrix([0, 1], [0, 1], 3))
    assert s["per_class_iou"]["2"] is None and s["mean_iou"] == 1.0


def test_keras_mean_iou_ignores_the_ignore_label():
    metric = IgnoreLabelMeanIoU(num_classes=2, ignore_label=255)
    labels = np.array([[[0, 1], [1, 255]]])
    logits = np.array([[[[1, 0], [0, 1]], [[1, 0], [0, 1]]]], "float32")  # preds 0 1 / 0 1
    metric.update_state(labels, logits)
    # class 0: tp 1, union 2; class 1: tp 1, union 2 (the ignored pixel does not count)
    assert float(metric.result()) == pytest.approx(0.5)
    metric.reset_state()
    assert float(metric.result()) == 0.0


def _square(h=20, w=24, box=(5, 15, 6, 18)):
    gt = np.zeros((h, w), bool)
    gt[box[0] : box[1], box[2] : box[3]] = True
    return gt


def test_mae_and_f_measure_by_hand():
    gt = np.array([[1, 1, 0, 0]], bool)
    pred = np.array([[1.0, 0.0, 1.0, 0.0]])
    pred_n, gt_b = binary.prepare(pred, gt)
    assert float(np.abs(pred_n - gt_b).mean()) == 0.5
    # at any threshold > 0: precision 1/2, recall 1/2 -> F = 1.3 * .25 / (.3 * .5 + .5)
    curve = binary.f_measure_curve(pred_n, gt_b)
    assert curve[0] == pytest.approx(1.3 * 0.25 / 0.65)
    # threshold 0 (last): everything predicted: P = 1/2, R = 1
    assert curve[-1] == pytest.approx(1.3 * 0.5 / (0.3 * 0.5 + 1))


def test_perfect_prediction_scores():
    gt = _square()
    r = binary.binary_scores([gt.astype(float)], [gt])
    assert r["mae"] == 0 and r["max_f"] == pytest.approx(1)
    assert r["weighted_f"] == pytest.approx(1) and r["s_measure"] == pytest.approx(1)
    assert r["boundary_iou"] == 1.0 and r["max_e"] == pytest.approx(1, abs=1e-2)


def test_trimap_band_is_neither_foreground_nor_background():
    # A pet-style mask: object 255, a 2-pixel unknown band 128 around it, background 0.
    gt = np.zeros((40, 40), np.uint8)
    gt[8:32, 8:32] = 128
    gt[10:30, 10:30] = 255
    tight = (gt == 255).astype(float)  # edge at the band's inner side
    wide = (gt >= 128).astype(float)  # edge at its outer side
    for pred, truth in ((tight, gt), (wide, gt), (wide, gt / np.float32(255))):  # as decoded
        r = binary.binary_scores([pred], [truth])
        assert r["mae"] == 0 and r["boundary_iou"] == 1.0
        assert r["max_f"] == pytest.approx(1) and r["weighted_f"] == pytest.approx(1)
    missing_row = tight.copy()
    missing_row[10] = 0  # a row of the sure foreground missed: still counted
    assert binary.binary_scores([missing_row], [gt])["boundary_iou"] < 1.0


def test_s_measure_special_cases_and_e_measure_of_an_empty_map():
    empty = np.zeros((8, 8), bool)
    pred = np.full((8, 8), 0.25)
    assert binary.s_measure(pred, empty) == pytest.approx(0.75)
    assert binary.s_measure(pred, ~empty) == pytest.approx(0.25)
    # all-background truth: E = (pixels predicted background) / (N - 1)
    curve = binary.e_measure_curve(np.zeros((8, 8)), empty)
    assert curve[-1] == pytest.approx(0.0) and curve[0] == pytest.approx(64 / 63)


def test_weighted_f_drops_for_a_shifted_mask_and_is_zero_without_foreground():
    gt = _square()
    shifted = np.roll(gt, 2, axis=1).astype(float)
    assert 0.3 < binary.weighted_f_measure(shifted, gt) < 0.95
    assert binary.weighted_f_measure(shifted, np.zeros_like(gt)) == 0.0


def test_boundary_iou_by_hand():
    gt = np.zeros((10, 10), bool)
    gt[2:8, 2:8] = True  # d = round(0.02 * 14.1) -> 1: the 1-pixel inner ring
    band = binary.mask_to_boundary(gt)
    assert band.sum() == 6 * 6 - 4 * 4
    pred = np.zeros_like(gt)
    pred[2:8, 3:9] = True  # shifted by one column: rings share 2 * 4 + 2 = 10 pixels
    assert binary.boundary_iou(pred, gt) == pytest.approx(10 / (20 + 20 - 10))


def test_decoded_trimap_band_is_undecided(tmp_path):
    # `segtf evaluate` scores masks as the data pipeline decodes them (alpha in 0..1).
    from data_factory import write_image

    from segtf.data import make_dataset

    mask = np.zeros((8, 8), np.uint8)
    mask[2:6, 2:6] = 128
    mask[3:5, 3:5] = 255
    write_image(tmp_path / "images" / "a.png", np.zeros((8, 8, 3), np.uint8))
    write_image(tmp_path / "masks" / "a.png", mask)
    ds = make_dataset(str(tmp_path), num_classes=2, task="foreground", batch_size=1)
    alpha = next(iter(ds))[1][0, ..., 0].numpy()
    assert (binary.undecided_pixels(alpha) == (mask == 128)).all()
