"""Where foreground models' decisions differ from the first model's, on the foreground val sets:
every pixel whose decision (alpha >= 0.5) changes, split by where it lies against the ground
truth, and whether the change fixes or breaks it; prints a table.

    python benchmarks/bench_changes.py --models BASELINE REFINED [--aspect square]

A pixel in a mask's undecided band (Oxford pet's trimap boundary, 128) counts as right
whatever it is decided, in boundary IoU and every other measure, so changes there cannot show
in them; "near" is within boundary IoU's band width d of the true edge (the band it scores;
for a mask with an undecided band, of that band, where the edge lies), "far" beyond it. The models run as in `bench_boundary.py` (single scale, `--aspect`).
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from bench_boundary import REPO, VAL_SETS, load, val_folders  # noqa: E402

PLACES = ("undecided", "near", "far")


def change_counts(before, after, truth) -> dict[str, int]:
    """Pixels whose decision differs between the boolean maps `before` and `after`, by place
    against the ground truth `truth` (uint8, 128 undecided), and, outside the undecided band,
    how many the change makes right ("fixed") or wrong ("broken")."""
    from scipy import ndimage

    from segtf.metrics.binary import boundary_width, undecided_pixels

    changed = np.asarray(before) != np.asarray(after)
    undecided = undecided_pixels(truth)
    foreground = (truth > (127.5 if truth.dtype == np.uint8 else 0.5)) & ~undecided
    edge = (foreground ^ ndimage.binary_erosion(foreground, border_value=1)) | undecided
    distance = ndimage.distance_transform_edt(~edge)
    near = distance <= boundary_width(truth.shape)
    decided = changed & ~undecided
    return {
        "undecided": int(np.count_nonzero(changed & undecided)),
        "near": int(np.count_nonzero(decided & near)),
        "far": int(np.count_nonzero(decided & ~near)),
        "fixed": int(np.count_nonzero(decided & (after == foreground))),
        "broken": int(np.count_nonzero(decided & (before == foreground))),
    }


def decisions(network, info, image) -> np.ndarray:
    from segtf.inference import predict_probabilities

    return predict_probabilities(network, image, task=info.task)[..., 0] >= 0.5


def counts_over_set(loaded: list, folder: pathlib.Path, limit: int) -> tuple[list[dict], int]:
    """`change_counts` summed over one val folder for each model after the first (the
    reference), and the pixels seen."""
    from segtf.evaluation import labelled_images

    totals = [dict.fromkeys((*PLACES, "fixed", "broken"), 0) for _ in loaded[1:]]
    pixels = 0
    for images, masks in labelled_images(loaded[0][1], str(folder), limit):
        image, truth = images[0].numpy(), masks[0].numpy()[..., 0]
        pixels += truth.size
        reference = decisions(*loaded[0], image)
        for total, (network, info) in zip(totals, loaded[1:], strict=True):
            for key, count in change_counts(reference, decisions(network, info, image),
                                            truth).items():
                total[key] += count
    return totals, pixels


def print_row(model: str, name: str, totals: dict, pixels: int) -> None:
    changed = sum(totals[p] for p in PLACES)
    shares = " | ".join(f"{totals[p] / max(changed, 1):.1%}" for p in PLACES)
    print(f"| {model} | {name} | {changed} | {changed / pixels:.3%} | {shares} "
          f"| {totals['fixed']} | {totals['broken']} |", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", required=True,
                        help="zoo names or model folders; the first is the reference")
    parser.add_argument("--aspect", choices=("keep", "square"), help="resize every model so")
    parser.add_argument("--data", type=pathlib.Path, default=REPO / ".devdata",
                        help="folder holding <set>/val (default: .devdata)")
    parser.add_argument("--limit", type=int, default=0, help="images per val set (0: all)")
    args = parser.parse_args(argv)
    if len(args.models) < 2:
        parser.error("--models: give the reference model and at least one to compare with it")
    folders = val_folders(args.data)
    if folders is None:
        return 2
    loaded = [load(model, args.aspect) for model in args.models]
    print(f"decisions that differ from {args.models[0]}'s (aspect: {args.aspect or 'as packaged'})")
    print("| model | val set | changed pixels | of all pixels | in the undecided band "
          "| near the edge (<= d) | far | fixed | broken |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, folder in zip(VAL_SETS, folders, strict=True):
        totals, pixels = counts_over_set(loaded, folder, args.limit)
        for model, total in zip(args.models[1:], totals, strict=True):
            print_row(model, name, total, pixels)
    return 0


if __name__ == "__main__":
    sys.exit(main())
