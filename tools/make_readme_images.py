"""Makes the README's pictures with the shipped models: photo | alpha matte | cut-out on a
checkerboard for the bundled example photos (apps/examples) and a pet val photo
(foreground), photo | overlay for a CamVid val frame.

    python tools/make_readme_images.py
"""

from __future__ import annotations

import pathlib
import sys

import numpy as np
from PIL import Image

import segtf
from segtf.viewer.compose import checkerboard, composite

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "docs" / "images"
FOREGROUND_MODEL = "foreground_refiner_efficientnet_lite2"
CAMVID_MODEL = "camvid_deeplabv3plus_efficientnet_lite0"


def row(*panels: np.ndarray, height: int = 320) -> Image.Image:
    resized = []
    for panel in panels:
        image = Image.fromarray(panel)
        resized.append(image.resize((round(image.width * height / image.height), height)))
    canvas = Image.new(
        "RGB", (sum(p.width for p in resized) + 8 * (len(resized) - 1), height), "white"
    )
    x = 0
    for panel in resized:
        canvas.paste(panel, (x, 0))
        x += panel.width + 8
    return canvas


def cutout_picture(model: str, photos: list[pathlib.Path], out: pathlib.Path) -> None:
    rows = []
    for photo in photos:
        result = segtf.segment(photo, model=model)
        image = segtf.read_image(photo)
        alpha = result.alpha
        matte = (np.repeat(alpha[..., None], 3, axis=2) * 255).astype(np.uint8)
        board = checkerboard(*alpha.shape)
        rows.append(row(image, matte, composite(image, alpha, board)))
    width = max(r.width for r in rows)
    canvas = Image.new("RGB", (width, sum(r.height + 8 for r in rows)), "white")
    for i, r in enumerate(rows):
        canvas.paste(r, (0, i * (r.height + 8)))
    canvas.save(out)
    print(f"wrote {out}")


def overlay_picture(model: str, photo: pathlib.Path, out: pathlib.Path) -> None:
    result = segtf.segment(photo, model=model)
    row(segtf.read_image(photo), result.overlay(opacity=0.6)).save(out)
    print(f"wrote {out}")


def main() -> int:
    if not SHARED.is_dir():
        print(f"{SHARED} not found: the pictures use real validation photos", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    examples = ROOT / "apps" / "examples"
    pet = sorted((SHARED / "oxford_pet_sample/val/images").iterdir())[0]
    cutout_picture(
        FOREGROUND_MODEL,
        [examples / "astronaut.jpg", examples / "cat.jpg", examples / "street_person.jpg", pet],
        OUT / "cutouts.png",
    )
    overlay_picture(
        CAMVID_MODEL,
        sorted((SHARED / "camvid/val").iterdir())[50],
        OUT / "camvid_overlay.png",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
