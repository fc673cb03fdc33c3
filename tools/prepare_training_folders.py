"""Lays out ../shared/data as `train/` + `val/` folders of images/ and masks/ for training.

CamVid: symlinks from the SegNet list files. Oxford pet: trimaps become alpha masks (pet
1 -> 255, background 2 -> 0, boundary 3 -> 128, the unknown band that segtf's losses and
metrics skip), palette / GIF images are re-saved as RGB PNG, and pairs whose mask holds no pet
at all are left out (one such label in train is wrong: the photo shows a cat).

    python tools/prepare_training_folders.py --shared ../shared/data --out .devdata
"""

from __future__ import annotations

import argparse
import pathlib

import numpy as np
from PIL import Image


def camvid(shared: pathlib.Path, out: pathlib.Path) -> None:
    for split in ("train", "val"):
        for kind, folder in (("images", split), ("masks", f"{split}annot")):
            target = out / "camvid" / split / kind
            target.mkdir(parents=True, exist_ok=True)
            for path in sorted((shared / "camvid" / folder).glob("*.png")):
                link = target / path.name
                if not link.exists():
                    link.symlink_to(path.resolve())


def oxford_pet(shared: pathlib.Path, out: pathlib.Path) -> None:
    lut = np.zeros(256, np.uint8)
    lut[1], lut[2], lut[3] = 255, 0, 128
    for split in ("train", "val"):
        images, masks = out / "oxford_pet" / split / "images", out / "oxford_pet" / split / "masks"
        images.mkdir(parents=True, exist_ok=True)
        masks.mkdir(parents=True, exist_ok=True)
        for mask_path in sorted((shared / "oxford_pet_sample" / split / "masks").glob("*.png")):
            trimap = np.asarray(Image.open(mask_path))
            if not (trimap == 1).any():
                print(f"left out {mask_path}: its trimap has no pet")
                continue
            image_path = shared / "oxford_pet_sample" / split / "images" / f"{mask_path.stem}.jpg"
            Image.open(image_path).convert("RGB").save(images / f"{mask_path.stem}.png")
            Image.fromarray(lut[trimap]).save(masks / mask_path.name)


def linked(shared: pathlib.Path, out: pathlib.Path, name: str) -> None:
    link = out / name
    if not link.exists():
        link.symlink_to((shared / name).resolve())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=pathlib.Path, default=pathlib.Path("../shared/data"))
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path(".devdata"))
    args = parser.parse_args()
    camvid(args.shared, args.out)
    oxford_pet(args.shared, args.out)
    for name in ("weizmann_horse", "ccp_person"):
        linked(args.shared, args.out, name)


if __name__ == "__main__":
    main()
