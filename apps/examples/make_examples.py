"""Copies the viewer's and README's example photos from their licensed sources.

    python apps/examples/make_examples.py [--ccp ../shared/data/ccp_person]

Sources and licences are listed in LICENSES.md beside this file. Each photo is stored as a
JPEG (quality 90) with its longer side at most 640 px, so each stays well under 100 KB.
"""

from __future__ import annotations

import argparse
import pathlib

import numpy as np
from PIL import Image

HERE = pathlib.Path(__file__).resolve().parent
MAX_SIDE = 640
# file name: scikit-image sample (bundled in the scikit-image wheel)
SKIMAGE_SAMPLES = {"astronaut.jpg": "astronaut", "cat.jpg": "chelsea", "coffee.jpg": "coffee"}
CCP_PHOTO = ("street_person.jpg", "val/images/0063.jpg")


def save(image: Image.Image, name: str) -> None:
    image = image.convert("RGB")
    image.thumbnail((MAX_SIDE, MAX_SIDE), Image.LANCZOS)
    image.save(HERE / name, quality=90)
    print(f"wrote {HERE / name} {image.size}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ccp", type=pathlib.Path, default=HERE.parents[2] / "shared" / "data" / "ccp_person")
    args = parser.parse_args()
    import skimage.data

    for name, sample in SKIMAGE_SAMPLES.items():
        save(Image.fromarray(np.asarray(getattr(skimage.data, sample)())), name)
    save(Image.open(args.ccp / CCP_PHOTO[1]), CCP_PHOTO[0])


if __name__ == "__main__":
    main()
