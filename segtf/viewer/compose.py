"""Pictures made from a segmentation: colour masks, overlays, cut-outs, PNG bytes."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

import segtf.palette
from segtf.tasks import FOREGROUND_PALETTE

LIGHT, DARK = 204, 153  # the usual grey checkerboard behind transparent pixels


def colorize(labels: np.ndarray, palette: Sequence[Sequence[int]]) -> np.ndarray:
    """(H, W) class indices -> (H, W, 3) uint8 colours (`segtf.palette`, padded as needed)."""
    labels = np.asarray(labels)
    needed = max(len(palette), int(labels.max(initial=0)) + 1)
    return segtf.palette.colorize(labels, segtf.palette.as_palette(palette, needed))


def blend(
    image: np.ndarray, colours: np.ndarray, opacity: float, alpha: np.ndarray | None = None
) -> np.ndarray:
    """`image` with `colours` laid over it at `opacity` (0 = image only, 1 = colours only);
    `alpha` (H, W) in 0..1 limits where the colours go (foreground overlays)."""
    weight = float(np.clip(opacity, 0.0, 1.0))
    if alpha is not None:
        weight = weight * np.asarray(alpha, np.float32)
    return segtf.palette.blend(image, colours, weight)


def checkerboard(height: int, width: int, cell: int = 12) -> np.ndarray:
    """(H, W, 3) uint8 grey checkerboard, the convention for "transparent here"."""
    ys = (np.arange(height) // cell)[:, None]
    xs = (np.arange(width) // cell)[None, :]
    board = np.where((ys + xs) % 2 == 0, LIGHT, DARK).astype(np.uint8)
    return np.repeat(board[..., None], 3, axis=2)


def composite(image: np.ndarray, alpha: np.ndarray, background) -> np.ndarray:
    """Foreground of `image` (alpha (H, W) in 0..1) over `background`: an (H, W, 3) array or
    one RGB colour."""
    a = np.clip(np.asarray(alpha, np.float32), 0, 1)[..., None]
    if np.ndim(background) == 1:
        background = np.broadcast_to(np.asarray(background, np.float32), image.shape)
    out = image.astype(np.float32) * a + np.asarray(background, np.float32) * (1 - a)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def cutout_rgba(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """(H, W, 4) uint8: the image with the matte as its alpha channel."""
    return segtf.palette.cutout(image, alpha)


def threshold_alpha(alpha: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Returns (labels (H, W) uint8 with 1 = foreground, matte with pixels below the threshold
    cleared). Soft edges above the threshold are kept so cut-outs do not look jagged."""
    alpha = np.asarray(alpha, np.float32)
    if alpha.ndim == 3:
        alpha = alpha[..., 0]
    keep = alpha >= threshold
    return keep.astype(np.uint8), np.where(keep, alpha, 0.0).astype(np.float32)


def hex_to_rgb(text: str) -> tuple[int, int, int]:
    """'#1e90ff' -> (30, 144, 255)."""
    text = text.strip().lstrip("#")
    if len(text) == 3:
        text = "".join(c * 2 for c in text)
    if len(text) != 6:
        raise ValueError(f"not a #rrggbb colour: {text!r}")
    return tuple(int(text[i : i + 2], 16) for i in (0, 2, 4))


def png_bytes(picture, palette: Sequence[Sequence[int]] | None = None) -> bytes:
    """PNG-encodes an image (an array, or a PIL image as it is); with `palette`, an (H, W)
    label map becomes a palette PNG that keeps the class indices as pixel values and shows
    the class colours in any viewer."""
    if not isinstance(picture, Image.Image):
        picture = _to_pil(np.asarray(picture), palette)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def _to_pil(array: np.ndarray, palette) -> Image.Image:
    if palette is None or array.ndim != 2 or array.max(initial=0) >= 256:
        return Image.fromarray(array)
    image = Image.fromarray(array.astype(np.uint8), mode="P")
    flat = [int(v) for colour in palette for v in colour][: 256 * 3]
    image.putpalette(flat + [0] * (768 - len(flat)))
    return image


@dataclass
class Views:
    """The arrays the page shows for one result and one threshold."""

    labels: np.ndarray  # (H, W) class indices; foreground: 0 / 1 at the threshold
    palette: tuple[tuple[int, int, int], ...]
    mask_rgb: np.ndarray  # (H, W, 3) the mask in the palette
    alpha: np.ndarray | None  # foreground matte with sub-threshold pixels cleared
    overlay_alpha: np.ndarray | None  # where the overlay tints (foreground only)


def make_views(
    labels: np.ndarray,
    alpha: np.ndarray | None,
    palette: Sequence[Sequence[int]],
    threshold: float = 0.5,
) -> Views:
    """Mask colours (and for foreground models the thresholded matte) for one result."""
    palette = tuple(tuple(int(v) for v in c) for c in palette)
    if alpha is not None:
        labels, alpha = threshold_alpha(alpha, threshold)
        palette = palette if len(palette) >= 2 else FOREGROUND_PALETTE
        return Views(labels, palette, colorize(labels, palette), alpha, labels.astype(np.float32))
    return Views(labels, palette, colorize(labels, palette), None, None)


def thumbnail_bytes(path: str | os.PathLike, size: int = 320) -> bytes:
    """A small JPEG of an image file for the gallery (keeps the page light on phones)."""
    with Image.open(path) as image:
        image = ImageOps.exif_transpose(image).convert("RGB")
        image.thumbnail((size, size))
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()
