"""A semantic model that is unsure about a photo says so instead of painting confident
nonsense: `SegmentationResult.domain_warning`, the CLI's NOTE line and the viewer's result."""

from __future__ import annotations

import numpy as np

from segtf.segment import SegmentationResult


def result(probabilities, floor):
    h, w, c = probabilities.shape
    return SegmentationResult(
        image=np.zeros((h, w, 3), np.uint8),
        probabilities=probabilities.astype(np.float32),
        task="semantic",
        class_names=tuple(f"c{i}" for i in range(c)),
        palette=np.zeros((c, 3), np.uint8),
        inference_time=0.0,
        model_name="road",
        confidence_floor=floor,
    )


def test_unsure_prediction_warns_and_sure_one_does_not():
    sure = np.zeros((4, 4, 3))
    sure[..., 0] = 0.9
    sure[..., 1:] = 0.05
    unsure = np.full((4, 4, 3), 1 / 3)
    assert result(sure, 0.6).domain_warning is None
    warning = result(unsure, 0.6).domain_warning
    assert warning and "road is unsure" in warning and "0.33" in warning and "0.60" in warning
    assert result(unsure, None).domain_warning is None  # models without a measured floor
    assert result(sure, 0.6).mean_confidence == np.float32(0.9)
