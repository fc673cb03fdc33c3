"""One segmentation for the viewer: the model's labels / matte, timed, in plain arrays.

The page caches `ViewerResult`s (`st.cache_data` pickles them), so they hold only numpy arrays
and numbers, never the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import segtf
from segtf.viewer.inputs import MAX_SIDE, shrink_to


@dataclass
class ViewerResult:
    """What the page shows: the image that was segmented and what the model said about it."""

    image: np.ndarray  # (H, W, 3) uint8, after any shrinking
    labels: np.ndarray  # (H, W) class indices (foreground: 0/1 at threshold 0.5)
    alpha: np.ndarray | None  # (H, W) float32 matte for foreground models
    seconds: float  # time in the model (TTA and tiling included; loading excluded)
    original_size: tuple[int, int]  # (H, W) of the input before shrinking
    warning: str | None = None  # the photo looks outside the model's domain (semantic models)


def load_segmenter(path: str) -> segtf.Segmenter:
    """Loads a model folder once and warms it up (graph tracing), so the first photo's time
    is the model's, not the tracing's; the page wraps this in `st.cache_resource`."""
    segmenter = segtf.Segmenter(path)
    segmenter.segment(np.zeros((64, 64, 3), np.uint8), tile=0)
    return segmenter


def run(
    segmenter: segtf.Segmenter,
    image: np.ndarray,
    *,
    tta: bool = False,
    tile: int | None = None,
    max_side: int = MAX_SIDE,
) -> ViewerResult:
    """Segments `image`. Without tiling, images larger than `max_side` are shrunk first so a
    phone photo answers in about a second on a CPU; tiled mode keeps the full resolution."""
    original_size = image.shape[:2]
    if not tile:
        image = shrink_to(image, max_side)
    result = segmenter.segment(image, tta=tta, tile=tile or 0)  # 0: one pass, never tiled
    alpha = None
    if result.task == "foreground":
        alpha = np.asarray(result.alpha, np.float32)
        if alpha.ndim == 3:
            alpha = alpha[..., 0]
    labels = np.asarray(result.labels)
    labels = labels.astype(np.uint8 if labels.max(initial=0) < 256 else np.int32)
    return ViewerResult(
        result.image, labels, alpha, result.inference_time, original_size, result.domain_warning
    )
