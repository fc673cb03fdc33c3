"""Files that live beside the package in a checkout (models/, apps/) and inside it in a wheel
(segtf/_bundled/, copied by setup.py): one lookup for both."""

from __future__ import annotations

import pathlib

PACKAGE_DIR = pathlib.Path(__file__).resolve().parent
CHECKOUT_DIR = PACKAGE_DIR.parent
BUNDLED_DIR = PACKAGE_DIR / "_bundled"


def resource_path(relative: str) -> pathlib.Path:
    """The checkout's `relative` (e.g. "models") when running from source, else the wheel's."""
    checkout = CHECKOUT_DIR / relative
    if (CHECKOUT_DIR / "pyproject.toml").is_file() and checkout.exists():
        return checkout
    return BUNDLED_DIR / relative
