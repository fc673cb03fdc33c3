"""How wide a val set's undecided band is against boundary IoU's band (Oxford pet's trimap
band, 128 in the masks `tools/prepare_training_folders.py` writes).

The metrics give undecided pixels the prediction's own decision, so a predicted edge anywhere
inside that band matches the ground truth's edge exactly: where the band is as wide as
boundary IoU's band (d = 2% of the diagonal, Cheng et al. 2021) or wider, boundary IoU sees
only errors beyond it, not how closely a model follows the edge.

    python tools/undecided_band.py .devdata/oxford_pet/val/masks
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np
from scipy import ndimage

from segtf.imageio import InvalidImageError, read_mask
from segtf.metrics.binary import UNDECIDED_ALPHA, boundary_width, undecided_pixels


def band_measures(mask: np.ndarray) -> dict | None:
    """For one uint8 mask: the undecided band's mean width in pixels (its area over the length
    of the decided object's contour), boundary IoU's band width d, and their ratio. None when
    the mask holds no undecided pixel or no decided object."""
    undecided = undecided_pixels(mask)
    decided = mask > UNDECIDED_ALPHA
    if not undecided.any() or not decided.any():
        return None
    contour = decided & ~ndimage.binary_erosion(decided)
    width = np.count_nonzero(undecided) / np.count_nonzero(contour)
    d = boundary_width(mask.shape)  # the metrics' default dilation ratio
    return {"band_width": width, "d": d, "width_over_d": width / d}


def summarise(masks_folder: pathlib.Path) -> tuple[int, list[dict]]:
    """(masks read, the measures of each mask that has an undecided band)."""
    paths = sorted(masks_folder.glob("*.png"))
    masks = (mask for mask in map(readable_mask, paths) if mask is not None)
    return len(paths), [m for m in map(band_measures, masks) if m]


def readable_mask(path: pathlib.Path) -> np.ndarray | None:
    """The mask through segtf's one mask reader, or None (named on stderr) when it cannot be
    read, so one bad file does not stop the rest."""
    try:
        mask = read_mask(path)
    except InvalidImageError as error:
        print(f"{path}: skipped, not a readable PNG ({error})", file=sys.stderr)
        return None
    if mask.ndim != 2 or mask.dtype != np.uint8:
        print(f"{path}: skipped, not an 8-bit grey alpha mask", file=sys.stderr)
        return None
    return mask


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("masks", type=pathlib.Path, help="a folder of mask PNGs")
    args = parser.parse_args(argv)
    if not args.masks.is_dir():
        print(f"{args.masks}: not a folder of mask PNGs; make the val folders with "
              "`python tools/prepare_training_folders.py --shared ../shared/data --out .devdata`",
              file=sys.stderr)
        return 2
    count, rows = summarise(args.masks)
    print(f"{args.masks}: {count} masks, {len(rows)} with an undecided (128) band")
    if not rows:
        return 0
    print("| measure | median | min | max |")
    print("| --- | --- | --- | --- |")
    for key in rows[0]:
        values = [row[key] for row in rows]
        print(f"| {key} | {np.median(values):.3f} | {min(values):.3f} | {max(values):.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
