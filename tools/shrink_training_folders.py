"""Copies training folders (images/ + masks/) with every pair already shrunk to the trainer's
`max_side`, so a run's data fits where space is short (the 64 MiB a call of the GPU machine
takes). Images are resized exactly as `segtf.data.arrays.shrink_pair` does (bilinear,
reducing_gap 3) and saved as JPEG at --quality; masks with nearest neighbour, as PNG in their
own mode (palette kept), so the trainer's label rules read them unchanged. The only difference
from training on the originals is the JPEG re-encoding of the images that were shrunk (or
were not JPEG); JPEGs already small enough are copied byte for byte.

    python tools/shrink_training_folders.py --max-side 320 --out .gpu/data \
        .devdata/weizmann_horse/train .devdata/ccp_person/train .devdata/oxford_pet/train
"""

from __future__ import annotations

import argparse
import pathlib

from PIL import Image

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def shrunk_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    if max(width, height) <= max_side:
        return width, height
    scale = max_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def shrink_pair(image_path: pathlib.Path, mask_path: pathlib.Path, out: pathlib.Path,
                max_side: int, quality: int) -> None:
    with Image.open(mask_path) as mask:
        size = shrunk_size(*mask.size, max_side)
        mask.resize(size, Image.NEAREST).save(out / "masks" / f"{mask_path.stem}.png")
    with Image.open(image_path) as image:
        if image.size == size and image.format == "JPEG" and image.mode == "RGB":
            # Already small enough: the file's own bytes, not a second JPEG generation.
            (out / "images" / f"{image_path.stem}.jpg").write_bytes(image_path.read_bytes())
            return
        rgb = image.convert("RGB")
        if rgb.size != size:
            rgb = rgb.resize(size, Image.BILINEAR, reducing_gap=3.0)
        rgb.save(out / "images" / f"{image_path.stem}.jpg", quality=quality)


def shrink_folder(source: pathlib.Path, out: pathlib.Path, max_side: int, quality: int) -> int:
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    masks = {p.stem: p for p in (source / "masks").iterdir()}
    count = 0
    for image_path in sorted((source / "images").iterdir()):
        if image_path.suffix.lower() in IMAGE_SUFFIXES and image_path.stem in masks:
            shrink_pair(image_path, masks[image_path.stem], out, max_side, quality)
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sources", nargs="+", type=pathlib.Path, help="folders with images/ and masks/")
    parser.add_argument("--out", type=pathlib.Path, required=True)
    parser.add_argument("--max-side", type=int, default=320)
    parser.add_argument("--quality", type=int, default=95)
    args = parser.parse_args()
    for source in args.sources:
        # <dataset>/<split> keeps the copies apart (every source's split is called train / val).
        target = args.out / source.resolve().parent.name / source.name
        count = shrink_folder(source, target, args.max_side, args.quality)
        print(f"{source} -> {target}: {count} pairs")


if __name__ == "__main__":
    main()
