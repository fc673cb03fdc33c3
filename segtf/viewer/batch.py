"""Several uploads at once: one outcome per file, and one zip with every result.

A bad file is one failed outcome (named in the zip's `failed.txt`), never the end of the batch.
"""

from __future__ import annotations

import csv
import io
import pathlib
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass

from segtf.viewer import compose, legend
from segtf.viewer.runner import ViewerResult


@dataclass
class BatchOutcome:
    """One uploaded file: its result, or why it could not be segmented."""

    name: str
    result: ViewerResult | None = None
    error: str | None = None


def unique_stems(names: Sequence[str]) -> list[str]:
    """File stems made unique (`cat`, `cat-2`, ...) so two uploads called `cat.jpg` do not
    overwrite each other inside the zip."""
    seen: dict[str, int] = {}
    stems = []
    for name in names:
        stem = pathlib.PurePath(name).stem or "image"
        seen[stem] = seen.get(stem, 0) + 1
        stems.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return stems


def _areas_rows(stem: str, areas: Sequence[legend.ClassArea]) -> list[list]:
    return [[stem, a.index, a.name, a.pixels, f"{100 * a.share:.2f}"] for a in areas]


def results_zip(
    outcomes: Sequence[BatchOutcome],
    class_names: Sequence[str],
    palette: Sequence[Sequence[int]],
    *,
    threshold: float = 0.5,
    opacity: float = 0.5,
) -> bytes:
    """A zip with, per segmented image, `<stem>_mask.png` (class indices, palette PNG),
    `<stem>_overlay.png` and for foreground models `<stem>_cutout.png`; `areas.csv` with every
    image's class shares; `failed.txt` naming each file that could not be used and why."""
    buffer = io.BytesIO()
    rows: list[list] = []
    failed = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for outcome, stem in zip(outcomes, unique_stems([o.name for o in outcomes]), strict=True):
            if outcome.result is None:
                failed.append(f"{outcome.name}: {outcome.error}")
                continue
            result = outcome.result
            view = compose.make_views(result.labels, result.alpha, palette, threshold)
            overlay = compose.blend(result.image, view.mask_rgb, opacity, view.overlay_alpha)
            archive.writestr(f"{stem}_mask.png", compose.png_bytes(view.labels, view.palette))
            archive.writestr(f"{stem}_overlay.png", compose.png_bytes(overlay))
            if view.alpha is not None:
                cutout = compose.cutout_rgba(result.image, view.alpha)
                archive.writestr(f"{stem}_cutout.png", compose.png_bytes(cutout))
            areas = legend.class_areas(view.labels, class_names, view.palette)
            rows += _areas_rows(stem, areas)
        table = io.StringIO()
        writer = csv.writer(table, lineterminator="\n")
        writer.writerow(["image", "class_index", "class_name", "pixels", "percent"])
        writer.writerows(rows)
        archive.writestr("areas.csv", table.getvalue())
        if failed:
            archive.writestr("failed.txt", "\n".join(failed) + "\n")
    return buffer.getvalue()
