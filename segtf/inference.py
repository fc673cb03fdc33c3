"""The one prediction function: image in, per-pixel probabilities out at the image's own size.

`segment()` and evaluation both call `predict_probabilities`, so test-time augmentation
(multi-scale + flip) and tiled sliding-window inference behave the same everywhere.

Tiled inference keeps memory bounded for very large photos: the model only ever sees one
tile; tile predictions are blended with a separable ramp window, so the per-pixel weight sum
is an outer product of two 1-D sums and costs O(H + W) memory instead of a full-size buffer.
"""

from __future__ import annotations

import functools
import logging
import math
import weakref
from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from segtf.tasks import TASKS, probabilities

logger = logging.getLogger(__name__)

# segment() switches tiling on above this many pixels (a 1920x1080 photo still runs whole).
AUTO_TILE_PIXELS = 2560 * 1600
DEFAULT_TILE = (1024, 1024)
# Test-time augmentation, one definition for segment(tta=True), `segtf evaluate --tta` and the
# viewer: these scales, each also flipped (6 passes).
TTA_SCALES = (0.75, 1.0, 1.25)

_FORWARD_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_SINGLE_PASS_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> {task: fn}


def _logits(model: keras.Model, images):
    out = model(images, training=False)
    if isinstance(out, dict):
        out = out["logits"]
    return ops.cast(out, "float32")  # mixed-precision models give float16 logits


def _forward_fn(model: keras.Model):
    """A compiled forward pass for `model`: on TensorFlow one graph with dynamic height /
    width (traced once); on other backends Keras' own predict step (compiled per shape)."""
    from segtf.litert import LiteRTModel

    if isinstance(model, LiteRTModel):
        return model.forward
    fn = _FORWARD_CACHE.get(model)
    if fn is None:
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            fn = tf.function(
                lambda images: _logits(model, images),
                input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)],
                reduce_retracing=True,
            )
        else:

            def fn(images):
                out = model.predict_on_batch(images)
                return ops.cast(out["logits"] if isinstance(out, dict) else out, "float32")

        _FORWARD_CACHE[model] = fn
    return fn


def normalize_tile(tile, shape: Sequence[int] | None = None) -> tuple[int, int] | None:
    """Turns `tile` (None/0/False, an int, or (th, tw)) into (th, tw) or None.

    Args:
        tile: tile size; `"auto"` tiles with `DEFAULT_TILE` only when `shape` has more than
            `AUTO_TILE_PIXELS` pixels.
        shape: the image shape, needed for `"auto"`.
    """
    if tile is None or tile is False or tile == 0:
        return None
    if isinstance(tile, str):
        if tile != "auto":
            raise ValueError(f"tile={tile!r}: pass None, 'auto', an int or (height, width)")
        if shape is None or shape[0] * shape[1] <= AUTO_TILE_PIXELS:
            return None
        return DEFAULT_TILE
    if isinstance(tile, (int, np.integer)):
        tile = (int(tile), int(tile))
    try:
        th, tw = (int(t) for t in tile)
    except (TypeError, ValueError) as err:
        raise ValueError(f"tile={tile!r}: pass None, 'auto', an int or (height, width)") from err
    if th < 32 or tw < 32:
        raise ValueError(
            f"tile={tile!r} is too small: use at least 32 pixels per side (e.g. tile=512)"
        )
    return th, tw


def _single_pass_fn(model: keras.Model, task: str):
    """On TensorFlow, one graph from an RGB window (uint8 or float, any size) to its
    probabilities: no float32 copy of the photo and no eager op on it, which around a small
    network cost as much as the network (`benchmarks/bench_runtimes.py`)."""
    fns = _SINGLE_PASS_CACHE.setdefault(model, {})
    if task not in fns:
        import tensorflow as tf

        fns[task] = tf.function(
            lambda window: probabilities(_logits(model, ops.cast(window[None], "float32")),
                                         task)[0],
            reduce_retracing=True,
        )
    fn = fns[task]
    return lambda window: np.asarray(ops.convert_to_numpy(fn(window)), np.float32)


def _window_fn(model, task: str, scales: tuple, flip: bool):
    """RGB window (H, W, 3) -> probabilities (H, W, C) at its own size, averaged over the TTA
    variants; without TTA one compiled call (TensorFlow graph, or LiteRT between compiled
    resizes)."""
    from segtf.litert import LiteRTModel

    if scales == (1.0,) and not flip:
        if isinstance(model, LiteRTModel):
            return functools.partial(model.probabilities, task=task)
        if keras.backend.backend() == "tensorflow":
            return _single_pass_fn(model, task)
    forward = _forward_fn(model)
    return functools.partial(_predict_window, forward, task=task, scales=scales, flip=flip)


def _check_image(image) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[-1] != 3 or min(array.shape[:2]) < 1:
        raise ValueError(
            f"predict_probabilities: image shape {array.shape} is not (H, W, 3) RGB;"
            " decode user images with segtf.imageio.read_image first"
        )
    return array


def _predict_window(
    forward, window: np.ndarray, *, task: str, scales: Sequence[float], flip: bool
) -> np.ndarray:
    """Probabilities for one window (the whole image or a tile), averaged over TTA variants."""
    h, w = window.shape[:2]
    x = ops.convert_to_tensor(window[None].astype(np.float32, copy=False))
    total = None
    count = 0
    for scale in scales:
        size = (max(1, round(h * scale)), max(1, round(w * scale)))
        scaled = x if size == (h, w) else ops.image.resize(x, size, interpolation="bilinear")
        for flipped in (False, True) if flip else (False,):
            inp = ops.flip(scaled, axis=2) if flipped else scaled
            logits = forward(inp)
            if flipped:
                logits = ops.flip(logits, axis=2)
            if size != (h, w):
                logits = ops.image.resize(logits, (h, w), interpolation="bilinear")
            probs = probabilities(logits, task)[0]
            total = probs if total is None else total + probs
            count += 1
    return ops.convert_to_numpy(total / count).astype(np.float32, copy=False)


def _starts(length: int, tile: int, overlap: float) -> list[int]:
    """Tile start positions covering [0, length) with at least `overlap` of a tile shared."""
    if length <= tile:
        return [0]
    stride = max(1, int(tile * (1.0 - overlap)))
    n = math.ceil((length - tile) / stride) + 1
    # Spread the tiles evenly so the last one ends exactly at the border.
    return [round(i * (length - tile) / (n - 1)) for i in range(n)]


def _ramp(length: int, overlap_px: int) -> np.ndarray:
    """1-D blending weights: a linear ramp over the overlap, 1 in the middle, never 0."""
    if overlap_px <= 0:
        return np.ones(length, np.float32)
    pos = np.arange(length, dtype=np.float32) + 0.5
    ramp = np.minimum(pos, length - pos) / overlap_px
    return np.clip(ramp, 1e-3, 1.0).astype(np.float32)


def _predict_tiled(window_fn, image: np.ndarray, tile, overlap) -> np.ndarray:
    h, w = image.shape[:2]
    th, tw = min(tile[0], h), min(tile[1], w)
    ys, xs = _starts(h, th, overlap), _starts(w, tw, overlap)
    wy = _ramp(th, int(th * overlap)) if len(ys) > 1 else np.ones(th, np.float32)
    wx = _ramp(tw, int(tw * overlap)) if len(xs) > 1 else np.ones(tw, np.float32)
    sum_y, sum_x = np.zeros(h, np.float32), np.zeros(w, np.float32)
    for y in ys:
        sum_y[y : y + th] += wy
    for x in xs:
        sum_x[x : x + tw] += wx
    out = None  # allocated once the first tile tells the channel count
    weight = wy[:, None, None] * wx[None, :, None]
    logger.debug("tiled inference: %d x %d tiles of %dx%d", len(ys), len(xs), th, tw)
    for y in ys:
        for x in xs:
            probs = window_fn(image[y : y + th, x : x + tw])
            if out is None:
                out = np.zeros((h, w, probs.shape[-1]), np.float32)
            out[y : y + th, x : x + tw] += probs * weight
    for y0 in range(0, h, 256):  # normalise in bands: no full-size temporary
        band = sum_y[y0 : y0 + 256, None, None] * sum_x[None, :, None]
        out[y0 : y0 + 256] /= band
    return out


# Foreground models on tiled images: a whole-image pass at this size (longer side) locates the
# subject; tiles only decide where that pass is unsure (edges), as the refiner's
# localisation / reconstruction split does inside the network.
GLOBAL_PASS_SIDE = 1024
CONFIDENT = 0.4  # |alpha - 0.5| above this in the global pass: keep the global answer


def _global_alpha(window_fn, image: np.ndarray, side: int) -> np.ndarray:
    """Alpha from one low-resolution pass over the whole image (at most `side` pixels long)."""
    h, w = image.shape[:2]
    factor = side / max(h, w)
    small = ops.image.resize(
        image[None].astype(np.float32), (max(1, round(h * factor)), max(1, round(w * factor)))
    )
    return window_fn(ops.convert_to_numpy(small[0]))


def _fuse_global(tiled: np.ndarray, coarse: np.ndarray, band: int = 256) -> np.ndarray:
    """Keeps the global pass where it is confident and the tiles elsewhere. The coarse map is
    widened to full width once (coarse height x W), then interpolated vertically band by band,
    so no full-size copy of it is ever made."""
    h, w = tiled.shape[:2]
    ch = coarse.shape[0]
    wide = ops.convert_to_numpy(ops.image.resize(coarse[None], (ch, w), interpolation="bilinear")[0])
    for y0 in range(0, h, band):
        rows = np.arange(y0, min(h, y0 + band))
        source = np.clip((rows + 0.5) * ch / h - 0.5, 0, ch - 1)  # bilinear, half-pixel centres
        top = np.floor(source).astype(int)
        bottom = np.minimum(top + 1, ch - 1)
        frac = (source - top)[:, None, None].astype(np.float32)
        g = wide[top] * (1 - frac) + wide[bottom] * frac
        confident = np.abs(g - 0.5) > CONFIDENT
        tiled[rows[0] : rows[-1] + 1] = np.where(confident, g, tiled[rows[0] : rows[-1] + 1])
    return tiled


def predict_probabilities(
    model: keras.Model,
    image,
    *,
    task: str = "semantic",
    scales: Sequence[float] = (1.0,),
    flip: bool = False,
    tile=None,
    overlap: float = 0.25,
) -> np.ndarray:
    """Per-pixel probabilities for one RGB image, at the image's own size.

    Args:
        model: a segtf model (raw RGB 0..255 in, logits out at the input size), Keras or a
            `segtf.litert.LiteRTModel`.
        image: RGB array (H, W, 3), uint8 or float in 0..255.
        task: "semantic" (softmax over classes) or "foreground" (sigmoid alpha, C == 1).
        scales: test-time scales; probabilities are averaged over them.
        flip: also average over the horizontally flipped image.
        tile: None for one pass over the whole image, an int or (th, tw) for sliding-window
            inference (memory bounded by the tile), or "auto" (tiles only large images).
        overlap: fraction of a tile shared with its neighbour, in [0, 0.9].

    Returns:
        float32 (H, W, C): softmax probabilities, or the alpha matte with C == 1.
    """
    if task not in TASKS:
        raise ValueError(f"task={task!r}: use one of {TASKS}")
    if not scales or any(float(s) <= 0 for s in scales):
        raise ValueError(f"scales={scales!r}: pass positive factors such as (0.75, 1.0, 1.25)")
    if not 0.0 <= overlap <= 0.9:
        raise ValueError(f"overlap={overlap!r}: use a fraction in [0, 0.9], e.g. 0.25")
    image = _check_image(image)
    window_fn = _window_fn(model, task, tuple(float(s) for s in scales), bool(flip))
    tile = normalize_tile(tile, image.shape)
    if tile is None or (tile[0] >= image.shape[0] and tile[1] >= image.shape[1]):
        return window_fn(image)
    tiled = _predict_tiled(window_fn, image, tile, overlap)
    if task != "foreground":
        return tiled
    coarse = _global_alpha(window_fn, image, min(GLOBAL_PASS_SIDE, max(tile)))
    return _fuse_global(tiled, coarse)
