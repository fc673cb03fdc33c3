"""Checks on what users upload, with messages that say what went wrong and what to do."""

from __future__ import annotations

import numpy as np
from PIL import Image

from segtf.imageio import InvalidImageError, read_image

UPLOAD_TYPES = ("png", "jpg", "jpeg", "webp", "bmp", "tif", "tiff", "gif")
MAX_UPLOAD_MB = 20  # also server.maxUploadSize in .streamlit/config.toml
MAX_PIXELS = 40_000_000  # 40 Mpx: bigger photos take minutes on a CPU
MAX_SIDE = 2048  # without tiling, larger images are shrunk to this long side


def decode_upload(
    data: bytes, name: str = "upload", max_mb: float = MAX_UPLOAD_MB, max_pixels: int = MAX_PIXELS
) -> np.ndarray:
    """Bytes of an uploaded file -> RGB uint8 (H, W, 3), or `InvalidImageError` saying why."""
    if not data:
        raise InvalidImageError(f"{name} is empty. Choose an image file (PNG, JPEG, WebP...).")
    size_mb = len(data) / 2**20
    if size_mb > max_mb:
        raise InvalidImageError(
            f"{name} is {size_mb:.1f} MB; the viewer takes files up to "
            f"{max_mb:g} MB. Save a smaller copy (e.g. JPEG) and try again."
        )
    try:
        image = read_image(data)
    except InvalidImageError as err:
        raise InvalidImageError(f"{name} could not be read as an image: {err}") from None
    except Exception as err:  # noqa: BLE001  (a decoder crash is still just a bad upload)
        raise InvalidImageError(
            f"{name} could not be read as an image ({err}). "
            "Is it a complete PNG, JPEG or WebP file?"
        ) from None
    height, width = image.shape[:2]
    if height * width > max_pixels:
        raise InvalidImageError(
            f"{name} is {width}x{height} = {height * width / 1e6:.0f} Mpx; "
            f"the viewer takes up to {max_pixels / 1e6:.0f} Mpx. "
            "Resize it and try again."
        )
    return image


def shrink_to(image: np.ndarray, max_side: int = MAX_SIDE) -> np.ndarray:
    """`image` with its long side at most `max_side` (aspect kept); unchanged if smaller."""
    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))
