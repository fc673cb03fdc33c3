"""Colour palettes and the drawing of results: colour masks, overlays and cut-outs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BAND_ROWS = 512  # large images are drawn in row bands so no full-size float temporaries exist


def default_palette(num_classes: int) -> np.ndarray:
    """The PASCAL VOC colour map (bit-interleaved RGB), extended to any number of classes.

    Returns:
        uint8 array (num_classes, 3); class 0 is black.
    """
    if num_classes < 1:
        raise ValueError(f"num_classes={num_classes}: need at least 1 class")
    index = np.arange(num_classes)
    colours = np.zeros((num_classes, 3), np.int64)
    for shift in range(8):
        for channel in range(3):
            bit = (index >> (channel + 3 * shift)) & 1
            colours[:, channel] |= bit << (7 - shift)
    return colours.astype(np.uint8)


def as_palette(
    palette: Sequence[Sequence[int]] | np.ndarray | None, num_classes: int
) -> np.ndarray:
    """`palette` as a uint8 (num_classes, 3) array; missing colours come from `default_palette`."""
    result = default_palette(max(num_classes, 1))
    if palette is not None and len(palette):
        given = np.asarray(palette, dtype=np.int64).reshape(-1, 3)
        if given.min() < 0 or given.max() > 255:
            raise ValueError("palette colours must be RGB triples in 0..255")
        count = min(len(given), num_classes)
        result[:count] = given[:count]
    return result


def colorize(labels: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Class indices (H, W) to an RGB colour mask (H, W, 3) uint8."""
    labels = np.asarray(labels)
    if labels.size and labels.max() >= len(palette):
        raise ValueError(
            f"label {int(labels.max())} has no colour: the palette has "
            f"{len(palette)} entries; pass a longer palette"
        )
    return palette[labels]


def blend(image: np.ndarray, colour: np.ndarray, weight: np.ndarray | float) -> np.ndarray:
    """`image * (1 - weight) + colour * weight` in uint8, computed in row bands.

    Args:
        image, colour: uint8 (H, W, 3) (`colour` may also be a single RGB triple).
        weight: a float or float (H, W) / (H, W, 1) map in 0..1.
    """
    image = np.asarray(image)
    out = np.empty_like(image, dtype=np.uint8)
    colour = np.asarray(colour)
    weight = np.asarray(weight, dtype=np.float32)
    if weight.ndim == 2:
        weight = weight[..., None]
    for y in range(0, image.shape[0], BAND_ROWS):
        rows = slice(y, y + BAND_ROWS)
        w = weight[rows] if weight.ndim == 3 else weight
        c = colour[rows] if colour.ndim == 3 else colour
        mixed = image[rows].astype(np.float32) * (1.0 - w) + np.asarray(c, np.float32) * w
        out[rows] = np.clip(np.rint(mixed), 0, 255)
    return out


def overlay_labels(
    image: np.ndarray,
    labels: np.ndarray,
    palette: np.ndarray,
    opacity: float = 0.5,
    skip_background: bool = False,
) -> np.ndarray:
    """The image with each pixel tinted by its class colour.

    Args:
        opacity: weight of the colour, 0 (image only) .. 1 (colour mask only).
        skip_background: leave class-0 pixels untinted.
    """
    _check_opacity(opacity)
    weight = np.full(labels.shape, opacity, np.float32)
    if skip_background:
        weight[labels == 0] = 0.0
    return blend(image, colorize(labels, palette), weight)


def overlay_alpha(
    image: np.ndarray, alpha: np.ndarray, colour=(255, 0, 128), opacity: float = 0.5
) -> np.ndarray:
    """The image tinted with `colour` where the foreground alpha is high."""
    _check_opacity(opacity)
    alpha = np.asarray(alpha, np.float32).reshape(alpha.shape[0], alpha.shape[1])
    return blend(image, np.asarray(colour, np.uint8), alpha * opacity)


def cutout(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """RGBA uint8 (H, W, 4): the image with a transparent background (alpha 0..1 -> 0..255)."""
    alpha = np.asarray(alpha, np.float32).reshape(image.shape[0], image.shape[1])
    rgba = np.empty((*image.shape[:2], 4), np.uint8)
    rgba[..., :3] = image
    rgba[..., 3] = np.clip(np.rint(alpha * 255.0), 0, 255)
    return rgba


def _check_opacity(opacity: float) -> None:
    if not 0.0 <= float(opacity) <= 1.0:
        raise ValueError(f"opacity={opacity!r}: use a value in 0..1, e.g. 0.5")


def colorize_known(labels: np.ndarray, palette) -> np.ndarray:
    """(H, W) class indices -> (H, W, 3) uint8 colours; ignored / unknown labels are black."""
    table = np.zeros((256, 3), np.uint8)
    if palette:
        table[: len(palette)] = np.asarray(palette, np.uint8)
    else:
        rng = np.random.default_rng(0)
        table[:255] = rng.integers(0, 256, (255, 3))
    return table[np.clip(labels, 0, 255).astype(np.int64)]


def comparison_panel(image, prediction, truth, palette, task: str) -> np.ndarray:
    """image | image blended with the prediction | image blended with the ground truth, uint8
    (H, 3W, 3): the picture evaluation reports and TensorBoard show. Foreground: alpha maps
    in 0..1 darken the background; semantic: labels tinted by class (ignored ones untinted)."""
    image = np.clip(image, 0, 255).astype(np.float32)
    if task == "foreground":

        def shade(alpha):
            alpha = np.clip(np.asarray(alpha, np.float32).reshape(image.shape[:2]), 0, 1)[..., None]
            return image * alpha + 0.25 * image * (1 - alpha)
    else:

        def shade(labels):
            colours = colorize_known(labels, palette).astype(np.float32)
            keep = (np.asarray(labels) != 255)[..., None]
            return np.where(keep, 0.5 * image + 0.5 * colours, image)

    panel = np.concatenate([image, shade(prediction), shade(truth)], axis=1)
    return np.clip(panel, 0, 255).astype(np.uint8)
