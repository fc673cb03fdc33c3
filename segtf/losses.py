"""Segmentation losses as Keras losses, written with `keras.ops` (they run on TF and JAX).

Labels mark pixels to skip with `ignore_label`; those pixels add nothing to the loss and
do not count in its mean.
"""

from __future__ import annotations

import keras
from keras import ops

from segtf.models.layers import sobel_magnitude as image_sobel_magnitude
from segtf.tasks import UNDECIDED_ALPHA

PACKAGE = "segtf"


@keras.saving.register_keras_serializable(package=PACKAGE)
class SegmentationCrossEntropy(keras.losses.Loss):
    """Softmax cross-entropy over classes with an ignore label and optional class weights.

    The mean is taken over non-ignored pixels (weighted by their class weight, as in
    PyTorch's `CrossEntropyLoss(weight=..., ignore_index=...)`).
    """

    def __init__(
        self,
        num_classes: int,
        ignore_label: int = 255,
        class_weights=None,
        label_smoothing: float = 0.0,
        name: str = "segmentation_cross_entropy",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        self.num_classes = int(num_classes)
        self.ignore_label = int(ignore_label)
        self.class_weights = None if class_weights is None else [float(w) for w in class_weights]
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        labels = ops.cast(ops.reshape(y_true, ops.shape(y_pred)[:-1]), "int32")
        valid = ops.not_equal(labels, self.ignore_label)
        safe = ops.where(valid, labels, ops.zeros_like(labels))
        one_hot = ops.one_hot(safe, self.num_classes, dtype="float32")
        if self.label_smoothing:
            one_hot = (
                one_hot * (1.0 - self.label_smoothing) + self.label_smoothing / self.num_classes
            )
        log_probs = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)
        per_pixel = -ops.sum(one_hot * log_probs, axis=-1)
        weights = ops.cast(valid, "float32")
        if self.class_weights is not None:
            table = ops.convert_to_tensor(self.class_weights, dtype="float32")
            weights = weights * ops.take(table, safe)
        total = ops.sum(per_pixel * weights)
        return total / ops.maximum(ops.sum(weights), 1e-6)

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "ignore_label": self.ignore_label,
            "class_weights": self.class_weights,
            "label_smoothing": self.label_smoothing,
        }


def _valid_one_hot(y_true, y_pred, num_classes: int, ignore_label: int):
    """(one_hot float32 (..., C), valid float32 (...)) for int labels with an ignore value."""
    labels = ops.cast(ops.reshape(y_true, ops.shape(y_pred)[:-1]), "int32")
    valid = ops.not_equal(labels, ignore_label)
    safe = ops.where(valid, labels, ops.zeros_like(labels))
    return ops.one_hot(safe, num_classes, dtype="float32"), ops.cast(valid, "float32")


@keras.saving.register_keras_serializable(package=PACKAGE)
class FocalLoss(keras.losses.Loss):
    """Softmax focal loss `-(1 - p_t)^gamma log p_t` (Lin et al. 2017, "Focal Loss for Dense
    Object Detection"), averaged over non-ignored pixels; `gamma=0` is cross-entropy."""

    def __init__(
        self,
        num_classes: int,
        gamma: float = 2.0,
        ignore_label: int = 255,
        class_weights=None,
        name: str = "focal_loss",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        self.num_classes = int(num_classes)
        self.gamma = float(gamma)
        self.ignore_label = int(ignore_label)
        self.class_weights = None if class_weights is None else [float(w) for w in class_weights]

    def call(self, y_true, y_pred):
        one_hot, weights = _valid_one_hot(y_true, y_pred, self.num_classes, self.ignore_label)
        log_probs = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)
        log_pt = ops.sum(one_hot * log_probs, axis=-1)
        per_pixel = -ops.power(1.0 - ops.exp(log_pt), self.gamma) * log_pt
        if self.class_weights is not None:
            table = ops.convert_to_tensor(self.class_weights, dtype="float32")
            weights = weights * ops.sum(one_hot * table, axis=-1)
        return ops.sum(per_pixel * weights) / ops.maximum(ops.sum(weights), 1e-6)

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "gamma": self.gamma,
            "ignore_label": self.ignore_label,
            "class_weights": self.class_weights,
        }


def _probabilities_and_targets(y_true, y_pred, num_classes: int, ignore_label: int):
    """Softmax probabilities + one-hot targets (semantic) or sigmoid + soft targets
    (num_classes == 1, foreground); ignored pixels are zeroed in both."""
    logits = ops.cast(y_pred, "float32")
    if num_classes == 1:
        target = ops.cast(ops.reshape(y_true, ops.shape(logits)), "float32")
        return ops.sigmoid(logits), target
    one_hot, valid = _valid_one_hot(y_true, logits, num_classes, ignore_label)
    valid = ops.expand_dims(valid, -1)
    return ops.softmax(logits, axis=-1) * valid, one_hot * valid


@keras.saving.register_keras_serializable(package=PACKAGE)
class DiceLoss(keras.losses.Loss):
    """Soft Dice loss `1 - mean_c (2 sum(p g) + s) / (sum p + sum g + s)` over the whole batch
    (Milletari et al. 2016, V-Net). With `soft_iou=True` it is the soft Jaccard / IoU loss
    `1 - (sum(p g) + s) / (sum p + sum g - sum(p g) + s)` (Rahman & Wang 2016).
    `num_classes == 1` uses sigmoid probabilities and float targets (foreground tasks)."""

    def __init__(
        self,
        num_classes: int,
        ignore_label: int = 255,
        smooth: float = 1.0,
        soft_iou: bool = False,
        name: str = "dice_loss",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        self.num_classes = int(num_classes)
        self.ignore_label = int(ignore_label)
        self.smooth = float(smooth)
        self.soft_iou = bool(soft_iou)

    def call(self, y_true, y_pred):
        probs, target = _probabilities_and_targets(
            y_true, y_pred, self.num_classes, self.ignore_label
        )
        axes = tuple(range(len(probs.shape) - 1))
        inter = ops.sum(probs * target, axis=axes)
        total = ops.sum(probs, axis=axes) + ops.sum(target, axis=axes)
        if self.soft_iou:
            score = (inter + self.smooth) / (total - inter + self.smooth)
        else:
            score = (2.0 * inter + self.smooth) / (total + self.smooth)
        return 1.0 - ops.mean(score)

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "ignore_label": self.ignore_label,
            "smooth": self.smooth,
            "soft_iou": self.soft_iou,
        }




def _binary_pair(y_true, y_pred):
    logits = ops.cast(y_pred, "float32")
    return ops.cast(ops.reshape(y_true, ops.shape(logits)), "float32"), logits


def decided_pixels(target):
    """1 where the target alpha is decided, 0 on the unknown band (alpha 128 / 255)."""
    return ops.cast(ops.abs(target - UNDECIDED_ALPHA / 255.0) > 0.5 / 255.0, "float32")


def _bce_per_pixel(target, logits):
    return ops.maximum(logits, 0.0) - logits * target + ops.log1p(ops.exp(-ops.abs(logits)))


def binary_cross_entropy(y_true, y_pred):
    """Per-pixel mean BCE from logits (numerically stable form), targets in 0..1, over the
    decided pixels."""
    target, logits = _binary_pair(y_true, y_pred)
    decided = decided_pixels(target)
    total = ops.sum(_bce_per_pixel(target, logits) * decided)
    return total / ops.maximum(ops.sum(decided), 1.0)


def binary_iou_loss(y_true, y_pred):
    """Per-image soft IoU loss `1 - sum(pg) / (sum p + sum g - sum(pg))`, mean over the batch
    (the IoU term of BASNet, Qin et al. 2019, kept by BiRefNet), over the decided pixels."""
    target, logits = _binary_pair(y_true, y_pred)
    decided = decided_pixels(target)
    probs, target = ops.sigmoid(logits) * decided, target * decided
    axes = tuple(range(1, len(probs.shape)))
    inter = ops.sum(probs * target, axis=axes)
    union = ops.sum(probs, axis=axes) + ops.sum(target, axis=axes) - inter
    return ops.mean(1.0 - (inter + 1e-6) / (union + 1e-6))


def gaussian_window(size: int = 11, sigma: float = 1.5):
    """Normalised 2-D Gaussian window as a (size, size, 1, 1) kernel (SSIM's window)."""
    coords = ops.arange(size, dtype="float32") - (size - 1) / 2.0
    g = ops.exp(-(coords**2) / (2.0 * sigma**2))
    g = g / ops.sum(g)
    return ops.reshape(ops.outer(g, g), (size, size, 1, 1))


def ssim_map(x, y, size: int = 11, sigma: float = 1.5):
    """Per-pixel SSIM (Wang et al. 2004) of single-channel images in 0..1, `(B, H, W, 1)`,
    Gaussian window with zero padding ("same"), C1 = 0.01^2, C2 = 0.03^2."""
    window = gaussian_window(size, sigma)

    def blur(t):
        return ops.conv(t, window, strides=1, padding="same")

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    return ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
        (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    )


def ssim_loss(y_true, y_pred):
    """`1 - mean SSIM(sigmoid(logits), target)`; on the unknown band the target is the
    prediction itself (held fixed), so the band adds no pull of its own."""
    target, logits = _binary_pair(y_true, y_pred)
    probs = ops.sigmoid(logits)
    target = ops.where(decided_pixels(target) > 0, target, ops.stop_gradient(probs))
    return 1.0 - ops.mean(ssim_map(probs, target))


@keras.saving.register_keras_serializable(package=PACKAGE)
class BinaryMixLoss(keras.losses.Loss):
    """Weighted sum of BCE, soft IoU and SSIM losses for foreground (matte) logits: the hybrid
    loss of BASNet (Qin et al. 2019) that BiRefNet (Zheng et al. 2024) trains with. BiRefNet's
    own weights are bce=30, iou=0.5, ssim=10; the equal default keeps the loss near 1."""

    def __init__(
        self,
        bce: float = 1.0,
        iou: float = 1.0,
        ssim: float = 1.0,
        name: str = "binary_mix_loss",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        self.bce, self.iou, self.ssim = float(bce), float(iou), float(ssim)

    def call(self, y_true, y_pred):
        total = 0.0
        if self.bce:
            total = total + self.bce * binary_cross_entropy(y_true, y_pred)
        if self.iou:
            total = total + self.iou * binary_iou_loss(y_true, y_pred)
        if self.ssim:
            total = total + self.ssim * ssim_loss(y_true, y_pred)
        return total

    def get_config(self):
        return {**super().get_config(), "bce": self.bce, "iou": self.iou, "ssim": self.ssim}


def sobel_magnitude(mask):
    """Sobel gradient magnitude of `(B, H, W, 1)` masks in 0..1, divided by 4 (the response
    to a unit step) and clipped to 0..1, so a hard edge is 1. The same Sobel operator the
    refiner's gradient reference uses (`segtf.models.layers.sobel_magnitude`)."""
    return ops.clip(image_sobel_magnitude(mask, epsilon=1e-12) / 4.0, 0.0, 1.0)


@keras.saving.register_keras_serializable(package=PACKAGE)
class GradientAuxLoss(keras.losses.Loss):
    """Gradient-aware auxiliary loss: a predicted edge map (logits) against the Sobel gradient
    magnitude of the ground-truth mask, as BCE (`mode="bce"`) or L1 on the sigmoid (`"l1"`).
    For deep-supervised foreground models with an `edge_logits` output."""

    def __init__(self, mode: str = "bce", name: str = "gradient_aux_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        if mode not in ("bce", "l1"):
            raise ValueError(f"GradientAuxLoss mode must be 'bce' or 'l1', got {mode!r}")
        self.mode = mode

    def call(self, y_true, y_pred):
        target, logits = _binary_pair(y_true, y_pred)
        edges = ops.stop_gradient(sobel_magnitude(target))
        if self.mode == "l1":
            return ops.mean(ops.abs(ops.sigmoid(logits) - edges))
        return ops.mean(_bce_per_pixel(edges, logits))

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


def get_loss(
    name: str,
    *,
    num_classes: int,
    ignore_label: int = 255,
    class_weights=None,
    label_smoothing: float = 0.0,
    focal_gamma: float = 2.0,
) -> keras.losses.Loss:
    """A loss by name: "cross_entropy", "focal", "dice", "soft_iou", "ce_dice" (sum),
    "bce", "binary_iou", "bce_iou", "ssim", "birefnet" (BCE + IoU + SSIM), "gradient_aux", "gradient_aux_l1".
    """
    semantic = {
        "cross_entropy": lambda: SegmentationCrossEntropy(
            num_classes, ignore_label, class_weights, label_smoothing
        ),
        "focal": lambda: FocalLoss(num_classes, focal_gamma, ignore_label, class_weights),
        "dice": lambda: DiceLoss(num_classes, ignore_label),
        "soft_iou": lambda: DiceLoss(num_classes, ignore_label, soft_iou=True, name="soft_iou"),
        "ce_dice": lambda: SumLoss([semantic["cross_entropy"](), semantic["dice"]()]),
    }
    binary = {
        "bce": lambda: BinaryMixLoss(1.0, 0.0, 0.0, name="bce"),
        "binary_iou": lambda: BinaryMixLoss(0.0, 1.0, 0.0, name="binary_iou"),
        "bce_iou": lambda: BinaryMixLoss(1.0, 1.0, 0.0, name="bce_iou"),
        "ssim": lambda: BinaryMixLoss(0.0, 0.0, 1.0, name="ssim"),
        "birefnet": lambda: BinaryMixLoss(),
        "gradient_aux": lambda: GradientAuxLoss("bce"),
        "gradient_aux_l1": lambda: GradientAuxLoss("l1"),
    }
    if name not in semantic and name not in binary:
        raise ValueError(f"Unknown loss {name!r}; valid: {sorted({**semantic, **binary})}")
    if num_classes == 1 and name in semantic:
        # A softmax over one channel is constant: the loss would be 0 and nothing would learn.
        raise ValueError(
            f"loss {name!r} is a softmax over classes, but the model predicts one alpha "
            f"channel (a foreground task): use a binary loss, one of {sorted(binary)}"
        )
    if num_classes > 1 and name in binary:
        raise ValueError(
            f"loss {name!r} is a loss on one alpha channel, but the model predicts "
            f"{num_classes} classes (a semantic task): use one of {sorted(semantic)}"
        )
    return semantic[name]() if name in semantic else binary[name]()


@keras.saving.register_keras_serializable(package=PACKAGE)
class SumLoss(keras.losses.Loss):
    """Sum of several losses on the same output (e.g. cross-entropy + Dice)."""

    def __init__(self, losses, name: str = "sum_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.losses = [keras.losses.deserialize(x) if isinstance(x, dict) else x for x in losses]

    def call(self, y_true, y_pred):
        return sum(loss.call(y_true, y_pred) for loss in self.losses)

    def get_config(self):
        return {**super().get_config(), "losses": [keras.losses.serialize(x) for x in self.losses]}
