"""The one decoder for user images: paths, bytes, files, PIL images and arrays to RGB uint8.

Everything that reads a user's photo (segment(), the CLI, the viewer, dataset validation)
goes through `read_image`, so EXIF orientation, odd modes and bad files are handled once.
"""

from __future__ import annotations

import io
import logging
import os
import pathlib
import tempfile
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

logger = logging.getLogger(__name__)

# Pillow's own default bomb limit (~89 Mpx) is kept as ours; users raise it explicitly.
DEFAULT_MAX_PIXELS = 89_478_485
MIN_SIDE = 2
MAX_ASPECT = 1000


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
