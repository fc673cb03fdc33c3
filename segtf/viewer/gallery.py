"""Example images for the viewer's gallery: the bundled ones and, when present, CamVid val."""

from __future__ import annotations

import os
import pathlib
from dataclasses import dataclass

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
from segtf.resources import CHECKOUT_DIR, resource_path  # noqa: E402

REPO_ROOT = CHECKOUT_DIR
BUNDLED_DIR = resource_path("apps") / "examples"
CAMVID_VAL_DIR = REPO_ROOT.parent / "shared" / "data" / "camvid" / "val"


@dataclass(frozen=True)
class Example:
    """One gallery entry: a caption for people and the file it shows."""

    title: str
    path: pathlib.Path
    source: str  # "bundled" or "camvid"


def _images_in(folder: pathlib.Path) -> list[pathlib.Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _title(path: pathlib.Path) -> str:
    return path.stem.replace("_", " ").replace("-", " ").strip().capitalize()


def find_examples(
    bundled_dir: str | os.PathLike | None = None,
    camvid_dir: str | os.PathLike | None = None,
    camvid_limit: int = 3,
) -> list[Example]:
    """Bundled examples first, then up to `camvid_limit` CamVid images spread over the split.

    CamVid images are only read from where the shared data lives; they are never copied into
    the repository.
    """
    bundled = _images_in(pathlib.Path(bundled_dir) if bundled_dir else BUNDLED_DIR)
    examples = [Example(_title(p), p, "bundled") for p in bundled]
    camvid = _images_in(pathlib.Path(camvid_dir) if camvid_dir else CAMVID_VAL_DIR)
    if camvid and camvid_limit > 0:
        step = max(1, len(camvid) // camvid_limit)
        picked = camvid[::step][:camvid_limit]
        examples += [Example(f"CamVid {i}", p, "camvid") for i, p in enumerate(picked, 1)]
    return examples


def order_for(examples: list[Example], dataset: str) -> list[Example]:
    """The examples that match a model's dataset first (CamVid scenes for the road model)."""
    return sorted(examples, key=lambda e: e.source != dataset.lower())
