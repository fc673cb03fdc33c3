"""Foreground / salient-object measures, following the formulas of the reference
implementation PySODMetrics (Pang et al.) so numbers compare with published tables:
MAE, max / mean / adaptive F-measure (beta^2 = 0.3), weighted F-measure (Margolin et al.
2014), S-measure (Fan et al. 2017), max / mean E-measure (Fan et al. 2018), and boundary IoU
(Cheng et al. 2021, dilation ratio 0.02).

Predictions are alphas in 0..1, min-max normalised per image as in the reference; ground
truth is binarised at 0.5. Ground truth of exactly one half (128 in a uint8 mask: the unknown
band of a trimap, as the Oxford pet masks store it) is undecided: there the ground truth takes
the prediction's own decision at 0.5 and the prediction is snapped to it, so no measure counts
those pixels either way.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from segtf.tasks import UNDECIDED_ALPHA

EPS = np.spacing(1)
BETA2 = 0.3


def undecided_pixels(gt: np.ndarray) -> np.ndarray:
    """Where the ground truth is one half (128, or 128 / 255 as an alpha in 0..1): neither
    foreground nor background."""
    if gt.dtype == np.uint8:
        return gt == UNDECIDED_ALPHA
    return np.abs(gt - UNDECIDED_ALPHA / 255) < 1 / 255


def prepare(pred, gt, normalize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """float64 prediction in 0..1 (min-max normalised) and a boolean ground truth; undecided
    pixels take the prediction's decision at 0.5 in both."""
    pred = np.asarray(pred, np.float64).squeeze()
    gt = np.asarray(gt).squeeze()
    if pred.shape != gt.shape:
        raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} differ")
    undecided = undecided_pixels(gt)
    gt = gt > (127.5 if gt.dtype == np.uint8 else 0.5)
    if normalize and pred.max() != pred.min():
        pred = (pred - pred.min()) / (pred.max() - pred.min())
    pred = np.clip(pred, 0.0, 1.0)
    if undecided.any():
        decided = pred >= 0.5
        gt = np.where(undecided, decided, gt)
        pred = np.where(undecided, decided.astype(np.float64), pred)
    return pred, gt


def _threshold_counts(pred, gt):
    """Pixels predicted foreground at each of 256 thresholds (255 down to 0): (tp, fp)."""
    levels = (pred * 255).astype(np.uint8)
    bins = np.linspace(0, 256, 257)
    fg_hist, _ = np.histogram(levels[gt], bins=bins)
    bg_hist, _ = np.histogram(levels[~gt], bins=bins)
    return np.cumsum(np.flip(fg_hist)), np.cumsum(np.flip(bg_hist))


def f_measure_curve(pred, gt, beta2: float = BETA2) -> np.ndarray:
    """F-measure at 256 thresholds."""
    tp, fp = _threshold_counts(pred, gt)
    predicted = np.where(tp + fp == 0, 1, tp + fp)
    precision = tp / predicted
    recall = tp / max(np.count_nonzero(gt), 1)
    numerator = (1 + beta2) * precision * recall
    denominator = np.where(numerator == 0, 1, beta2 * precision + recall)
    return numerator / denominator


def adaptive_f_measure(pred, gt, beta2: float = BETA2) -> float:
    """F-measure at the adaptive threshold min(2 * mean(pred), 1) (Achanta et al. 2009)."""
    binary = pred >= min(2 * pred.mean(), 1)
    tp = np.count_nonzero(binary & gt)
    if tp == 0:
        return 0.0
    precision, recall = tp / np.count_nonzero(binary), tp / np.count_nonzero(gt)
    return float((1 + beta2) * precision * recall / (beta2 * precision + recall))


def _matlab_gaussian(size: int = 7, sigma: float = 5.0) -> np.ndarray:
    m = (size - 1) / 2
    y, x = np.ogrid[-m : m + 1, -m : m + 1]
    h = np.exp(-(x * x + y * y) / (2 * sigma * sigma))
    h[h < np.finfo(h.dtype).eps * h.max()] = 0
    return h / h.sum()


def weighted_f_measure(pred, gt, beta2: float = 1.0) -> float:
    """Weighted F-measure (Margolin, Zelnik-Manor & Tal 2014, "How to Evaluate Foreground
    Maps?"), beta^2 = 1 as in their code."""
    if not gt.any():
        return 0.0
    dist, (iy, ix) = ndimage.distance_transform_edt(~gt, return_indices=True)
    error = np.abs(pred - gt)
    et = error.copy()
    et[~gt] = error[iy[~gt], ix[~gt]]  # background errors take their nearest foreground's
    ea = ndimage.convolve(et, _matlab_gaussian(), mode="constant", cval=0)
    min_e = np.where(gt & (ea < error), ea, error)
    importance = np.where(gt, 1.0, 2 - np.exp(np.log(0.5) / 5 * dist))
    ew = min_e * importance
    tpw = gt.sum() - ew[gt].sum()
    fpw = ew[~gt].sum()
    recall = 1 - ew[gt].mean()
    precision = tpw / (tpw + fpw + EPS)
    return float((1 + beta2) * recall * precision / (recall + beta2 * precision + EPS))


def _s_object(pred, gt):
    x = pred[gt]
    sigma = np.std(x, ddof=1) if x.size > 1 else 0.0
    return 2 * x.mean() / (x.mean() ** 2 + 1 + sigma + EPS)


def _ssim_region(pred, gt):
    n = pred.size
    x, y = pred.mean(), gt.mean()
    sx = np.sum((pred - x) ** 2) / (n - 1 + EPS)
    sy = np.sum((gt - y) ** 2) / (n - 1 + EPS)
    sxy = np.sum((pred - x) * (gt - y)) / (n - 1 + EPS)
    alpha = 4 * x * y * sxy
    beta = (x**2 + y**2) * (sx + sy)
    if alpha != 0:
        return alpha / (beta + EPS)
    return 1.0 if beta == 0 else 0.0


def _s_region(pred, gt):
    h, w = gt.shape
    cy, cx = np.argwhere(gt).mean(axis=0).round().astype(int) + 1
    area = h * w
    w_lt, w_rt, w_lb = cx * cy / area, cy * (w - cx) / area, (h - cy) * cx / area
    weights = (w_lt, w_rt, w_lb, 1 - w_lt - w_rt - w_lb)
    quads = (
        (slice(0, cy), slice(0, cx)),
        (slice(0, cy), slice(cx, w)),
        (slice(cy, h), slice(0, cx)),
        (slice(cy, h), slice(cx, w)),
    )
    gtf = gt.astype(np.float64)
    return sum(wt * _ssim_region(pred[q], gtf[q]) for wt, q in zip(weights, quads, strict=True))


def s_measure(pred, gt, alpha: float = 0.5) -> float:
    """Structure measure (Fan et al. 2017, "Structure-measure: A New Way to Evaluate
    Foreground Maps"): alpha * object-aware + (1 - alpha) * region-aware similarity."""
    y = gt.mean()
    if y == 0:
        return float(1 - pred.mean())
    if y == 1:
        return float(pred.mean())
    obj = _s_object(pred, gt) * y + _s_object(1 - pred, ~gt) * (1 - y)
    return float(max(0.0, alpha * obj + (1 - alpha) * _s_region(pred, gt)))


def e_measure_curve(pred, gt) -> np.ndarray:
    """Enhanced-alignment measure (Fan et al. 2018, "Enhanced-alignment Measure for Binary
    Foreground Map Evaluation") at 256 thresholds."""
    size = gt.size
    gt_fg = np.count_nonzero(gt)
    fg_fg, fg_bg = _threshold_counts(pred, gt)
    pred_fg = fg_fg + fg_bg
    pred_bg = size - pred_fg
    if gt_fg == 0:
        total = pred_bg.astype(np.float64)
    elif gt_fg == size:
        total = pred_fg.astype(np.float64)
    else:
        bg_fg = gt_fg - fg_fg
        bg_bg = pred_bg - bg_fg
        mp, mg = pred_fg / size, gt_fg / size
        parts = (
            (fg_fg, 1 - mp, 1 - mg),
            (fg_bg, 1 - mp, -mg),
            (bg_fg, -mp, 1 - mg),
            (bg_bg, -mp, -mg),
        )
        total = np.zeros(256)
        for count, dp, dg in parts:
            align = 2 * dp * dg / (dp**2 + dg**2 + EPS)
            total += ((align + 1) ** 2 / 4) * count
    return total / (size - 1 + EPS)


def boundary_width(shape, dilation_ratio: float = 0.02) -> int:
    """Boundary IoU's band width d = max(1, round(ratio * diagonal)) (Cheng et al. 2021)."""
    h, w = shape[:2]
    return max(1, int(round(dilation_ratio * np.sqrt(h**2 + w**2))))


def mask_to_boundary(mask: np.ndarray, dilation_ratio: float = 0.02) -> np.ndarray:
    """Inner boundary band of width `boundary_width` (Cheng et al. 2021)."""
    d = boundary_width(mask.shape, dilation_ratio)
    padded = np.pad(mask.astype(bool), 1)
    eroded = ndimage.binary_erosion(padded, np.ones((3, 3), bool), iterations=d)[1:-1, 1:-1]
    return mask.astype(bool) & ~eroded


def boundary_iou(pred_mask, gt_mask, dilation_ratio: float = 0.02) -> float:
    """Boundary IoU (Cheng et al. 2021, "Boundary IoU: Improving Object-Centric Image
    Segmentation Evaluation") of two binary masks; 1.0 when both are empty."""
    gb = mask_to_boundary(gt_mask, dilation_ratio)
    pb = mask_to_boundary(pred_mask, dilation_ratio)
    union = np.count_nonzero(gb | pb)
    return 1.0 if union == 0 else np.count_nonzero(gb & pb) / union


class BinaryMeasures:
    """Accumulates the per-image measures over a dataset: `update(alpha, gt)`, `result()`."""

    def __init__(self, normalize: bool = True, dilation_ratio: float = 0.02):
        self.normalize = normalize
        self.dilation_ratio = dilation_ratio
        self.reset()

    def reset(self) -> None:
        self._scalars: dict[str, list[float]] = {
            k: [] for k in ("mae", "adaptive_f", "weighted_f", "s_measure", "boundary_iou")
        }
        self._f_curves: list[np.ndarray] = []
        self._e_curves: list[np.ndarray] = []

    def update(self, alpha, gt) -> None:
        pred, gt = prepare(alpha, gt, self.normalize)
        s = self._scalars
        s["mae"].append(float(np.abs(pred - gt).mean()))
        s["adaptive_f"].append(adaptive_f_measure(pred, gt))
        s["weighted_f"].append(weighted_f_measure(pred, gt))
        s["s_measure"].append(s_measure(pred, gt))
        s["boundary_iou"].append(boundary_iou(pred >= 0.5, gt, self.dilation_ratio))
        self._f_curves.append(f_measure_curve(pred, gt))
        self._e_curves.append(e_measure_curve(pred, gt))

    def per_image(self) -> dict[str, list[float]]:
        """Each scalar measure image by image, in update order (for paired comparisons)."""
        return {k: list(v) for k, v in self._scalars.items()}

    def result(self) -> dict:
        if not self._f_curves:
            raise ValueError("no images were measured")
        out = {k: float(np.mean(v)) for k, v in self._scalars.items()}
        f_curve, e_curve = np.mean(self._f_curves, 0), np.mean(self._e_curves, 0)
        out.update(
            max_f=float(f_curve.max()),
            mean_f=float(f_curve.mean()),
            max_e=float(e_curve.max()),
            mean_e=float(e_curve.mean()),
            images=len(self._f_curves),
        )
        return out


def binary_scores(alphas, gts, **kwargs) -> dict:
    """All measures for a list of (alpha, ground truth) arrays."""
    measures = BinaryMeasures(**kwargs)
    for alpha, gt in zip(alphas, gts, strict=True):
        measures.update(alpha, gt)
    return measures.result()
