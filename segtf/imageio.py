"""The one decoder for user images: paths, bytes, files, PIL images and arrays to RGB uint8.

Everything that reads a user's photo (segment(), the CLI, the viewer, dataset validation)
goes through `read_image`, so EXIF orientation, odd modes and bad files are handled once.
"""

from __future__ import annotations

import io
import logging
import os
import pathlib
import threading
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from segtf.atomic import atomic_path

logger = logging.getLogger(__name__)

# Pillow's own default bomb limit (~89 Mpx) is kept as ours; users raise it explicitly.
DEFAULT_MAX_PIXELS = 89_478_485
MIN_SIDE = 2
# File names treated as images when a folder is listed (segment, calibration).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
MAX_ASPECT = 1000
_PIL_LIMIT_LOCK = threading.Lock()


class InvalidImageError(ValueError):
    """An input that is not a usable image; the message names the input and the fix."""


def describe(source) -> str:
    """A short human name for an input, used in error messages."""
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    if isinstance(source, (bytes, bytearray)):
        return f"<{len(source)} bytes>"
    if isinstance(source, np.ndarray):
        return f"<array shape={source.shape} dtype={source.dtype}>"
    if isinstance(source, Image.Image):
        return f"<PIL image {source.mode} {source.size[0]}x{source.size[1]}>"
    return f"<{type(source).__name__}>"


def _fail(source, problem: str, fix: str) -> InvalidImageError:
    return InvalidImageError(f"{describe(source)}: {problem}; {fix}")


# ---------------------------------------------------------------------------------------------
# Opening: every kind of source becomes an un-decoded PIL image (header read only).


def _open_path(path: pathlib.Path, source, max_pixels: int | None) -> Image.Image:
    if not path.exists():
        raise _fail(source, "no such file", "check the path (and the working directory)")
    if path.is_dir():
        raise _fail(source, "is a folder, not an image", "pass an image file inside it")
    if path.stat().st_size == 0:
        raise _fail(source, "the file is empty (0 bytes)", "re-copy or re-download the image")
    with open(path, "rb") as f:
        return _open_bytes(f.read(), source, max_pixels)


def _open_bytes(data: bytes, source, max_pixels: int | None) -> Image.Image:
    if len(data) == 0:
        raise _fail(source, "no data (0 bytes)", "pass the bytes of a JPEG, PNG, ... file")
    try:
        try:
            with warnings.catch_warnings():
                # Our own pixel limit is checked next; Pillow's warning would only be noise.
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                return Image.open(io.BytesIO(data))
        except Image.DecompressionBombError:
            if max_pixels is not None and max_pixels <= 2 * (Image.MAX_IMAGE_PIXELS or 0):
                raise
            return _open_without_pillow_limit(data)  # the user raised the limit past Pillow's
    except Image.DecompressionBombError as err:
        raise _fail(
            source,
            f"too many pixels ({err})",
            "if you trust the file, raise the limit: max_pixels=... (CLI: --max-pixels)",
        ) from err
    except UnidentifiedImageError as err:
        raise _fail(
            source, "not an image Pillow can read", "pass a JPEG, PNG, BMP, GIF, TIFF or WebP file"
        ) from err
    except Exception as err:  # noqa: BLE001  (Pillow raises many types for hostile headers)
        raise _fail(
            source,
            f"damaged or truncated image header ({type(err).__name__}: {err})",
            "the file is damaged; re-export or re-download it",
        ) from err


def _open_without_pillow_limit(data: bytes) -> Image.Image:
    # Pillow's limit is a module global: lift it only around this open, under a lock.
    with _PIL_LIMIT_LOCK:
        old = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            return Image.open(io.BytesIO(data))
        finally:
            Image.MAX_IMAGE_PIXELS = old


def _open_source(source, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Image.Image:
    if isinstance(source, (str, os.PathLike)):
        return _open_path(pathlib.Path(source).expanduser(), source, max_pixels)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _open_bytes(bytes(source), source, max_pixels)
    if isinstance(source, Image.Image):
        if getattr(source, "n_frames", 1) > 1 and source.tell() != 0:
            # Seeking the caller's image would change their object: work on a copy of frame 0.
            position = source.tell()
            source.seek(0)
            first = source.copy()
            source.seek(position)
            return first
        return source
    if hasattr(source, "read"):
        try:
            data = source.read()
        except Exception as err:  # noqa: BLE001
            raise _fail(source, f"reading failed ({err})", "pass an open binary file") from err
        if isinstance(data, str):
            raise _fail(source, "file opened in text mode", "open it with mode 'rb'")
        return _open_bytes(data, source, max_pixels)
    raise _fail(
        source,
        "unsupported input type",
        "pass a path, bytes, a binary file object, a PIL image or a numpy array",
    )


# ---------------------------------------------------------------------------------------------
# Checks shared by files and arrays.


def _check_size(width: int, height: int, source, max_pixels: int | None) -> None:
    if width < MIN_SIDE or height < MIN_SIDE:
        raise _fail(
            source,
            f"{width}x{height} is too small to segment",
            f"use an image at least {MIN_SIDE}x{MIN_SIDE} pixels",
        )
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise _fail(
            source,
            f"{width}x{height} has an aspect ratio over {MAX_ASPECT}:1",
            "crop it into pieces of a sensible shape first",
        )
    if max_pixels is not None and width * height > max_pixels:
        raise _fail(
            source,
            f"{width}x{height} = {width * height} pixels is over the limit of "
            f"{max_pixels} (decompression-bomb guard)",
            "if you trust the file, raise the limit: max_pixels=... (CLI: --max-pixels)",
        )


def _composite_on_white(rgba: np.ndarray) -> np.ndarray:
    """Transparent pixels' colours are often garbage: show them as a viewer would, on white."""
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    rgb = rgba[..., :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# PIL images to RGB uint8.


def _first_frame(image: Image.Image, source) -> None:
    frames = getattr(image, "n_frames", 1)
    if frames > 1:
        message = f"{describe(source)}: animated image with {frames} frames; using the first"
        warnings.warn(message, UserWarning, stacklevel=4)
        logger.warning(message)
        image.seek(0)


def _pil_to_rgb(image: Image.Image, source) -> np.ndarray:
    mode = image.mode
    if mode == "RGB":
        return np.asarray(image, dtype=np.uint8)
    if mode.startswith("I;16") or mode == "I":
        values = np.asarray(image).astype(np.float32)
        gray = np.clip(np.rint(values / 257.0), 0, 255).astype(np.uint8)  # 65535 -> 255
        return np.repeat(gray[..., None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in image.info):
        return _composite_on_white(np.asarray(image.convert("RGBA"), dtype=np.uint8))
    if mode in ("1", "L", "P", "CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
        return np.asarray(image.convert("RGB"), dtype=np.uint8)
    raise _fail(
        source,
        f"unsupported image mode {mode!r}",
        "convert it to 8- or 16-bit RGB / grayscale, or pass a numpy array "
        "(uint8, uint16 or float in 0..1)",
    )


def _decode_pil(image: Image.Image, source, max_pixels: int | None) -> np.ndarray:
    _check_size(image.width, image.height, source, max_pixels)
    _first_frame(image, source)
    try:
        image.load()
    except Exception as err:  # noqa: BLE001  (truncated / corrupt data: many error types)
        raise _fail(
            source,
            f"image data is damaged or truncated ({type(err).__name__}: {err})",
            "re-export or re-download the file",
        ) from err
    try:
        image = ImageOps.exif_transpose(image)
    except Exception as err:  # noqa: BLE001  (a broken EXIF block should not lose the photo)
        logger.warning("%s: ignoring unreadable EXIF orientation (%s)", describe(source), err)
    _check_size(image.width, image.height, source, max_pixels)
    try:
        return np.ascontiguousarray(_pil_to_rgb(image, source))
    except InvalidImageError:
        raise
    except Exception as err:  # noqa: BLE001
        raise _fail(
            source,
            f"could not convert mode {image.mode!r} ({err})",
            "re-save the image as 8-bit RGB",
        ) from err


# ---------------------------------------------------------------------------------------------
# Arrays to RGB uint8.


def _array_to_uint8(array: np.ndarray, source) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype.kind == "u" and array.dtype.itemsize == 2 and not array.dtype.isnative:
        array = array.astype(np.uint16)  # big-endian (e.g. from FITS / some TIFF readers)
    if array.dtype == np.uint16:
        return np.rint(array.astype(np.float32) / 257.0).astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise _fail(source, "the array has NaN or infinite values", "clean it first")
        low, high = float(array.min()), float(array.max())
        if low < -1e-3 or high > 1.0 + 1e-3:
            raise _fail(
                source,
                f"float values span {low:.4g}..{high:.4g}, not 0..1",
                "divide 0..255 data by 255, or pass a uint8 array",
            )
        return np.rint(np.clip(array, 0.0, 1.0) * 255.0).astype(np.uint8)
    raise _fail(
        source, f"unsupported array dtype {array.dtype}", "pass uint8, uint16 or float in 0..1"
    )


def _decode_array(array: np.ndarray, source, max_pixels: int | None) -> np.ndarray:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise _fail(
            source,
            "not an image array",
            "pass shape (H, W), (H, W, 1), (H, W, 3) RGB or (H, W, 4) RGBA",
        )
    _check_size(array.shape[1], array.shape[0], source, max_pixels)
    array = _array_to_uint8(array, source)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    elif array.shape[2] == 4:
        array = _composite_on_white(array)
    return np.ascontiguousarray(array)


# ---------------------------------------------------------------------------------------------
# Public API.


def read_image(source, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decodes any supported user image to RGB uint8 (H, W, 3) in its displayed orientation.

    Args:
        source: a path (str or `pathlib.Path`), bytes, a binary file object, a PIL image, or a
            numpy array (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) of uint8, uint16 or float
            in 0..1.
        max_pixels: refuse larger images (decompression-bomb guard); None for no limit.

    Returns:
        uint8 array (H, W, 3). EXIF orientation is applied; grayscale, palette, CMYK and
        16-bit images are converted; transparency is composited onto white; for animated
        images the first frame is used (with a warning).

    Raises:
        InvalidImageError: for anything that is not a usable image; the message names the
            input and the fix.
    """
    if isinstance(source, np.ndarray):
        return _decode_array(source, source, max_pixels)
    return _decode_pil(_open_source(source, max_pixels), source, max_pixels)


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """Reads a label mask: (H, W) class indices (uint8 / uint16), or (H, W, 3) for colour masks.

    Palette PNGs give their indices (not colours). EXIF orientation is applied so masks line
    up with images read by `read_image`.
    """
    image = _open_source(pathlib.Path(path), None)
    try:
        image.load()
        image = ImageOps.exif_transpose(image)
    except Exception as err:  # noqa: BLE001
        raise _fail(path, f"mask data is damaged ({err})", "re-export the mask") from err
    if image.mode in ("P", "L", "1"):
        return np.asarray(image if image.mode != "1" else image.convert("L"), dtype=np.uint8)
    if image.mode.startswith("I"):
        return np.asarray(image).astype(np.uint16)
    if image.mode in ("RGB", "RGBA"):
        return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))
    raise _fail(
        path,
        f"unsupported mask mode {image.mode!r}",
        "save masks as 8-bit palette / grayscale PNGs of class indices",
    )


def write_png_atomic(path: str | os.PathLike, array) -> pathlib.Path:
    """Writes an array (H, W), (H, W, 3) or (H, W, 4) uint8 (or a PIL image) as a PNG.

    The PNG is written to a temporary file in the same folder and moved into place with
    `os.replace`, so a kill never leaves a half-written file under the final name.
    """
    image = array if isinstance(array, Image.Image) else Image.fromarray(np.asarray(array))
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
    return pathlib.Path(path)
