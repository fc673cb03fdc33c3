"""Which classes a mask contains, in which colour, covering what share of the image."""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ClassArea:
    """One legend row."""

    index: int
    name: str
    colour: tuple[int, int, int]
    pixels: int
    share: float  # fraction of the image, 0..1

    @property
    def hex(self) -> str:
        return "#{:02x}{:02x}{:02x}".format(*self.colour)


def class_areas(
    labels: np.ndarray,
    class_names: Sequence[str],
    palette: Sequence[Sequence[int]],
    include_absent: bool = False,
) -> list[ClassArea]:
    """Pixel count and share per class of an (H, W) label map, largest first.

    Labels outside `class_names` (e.g. an ignore value) are reported as "unlabelled"; classes
    with no pixels are left out unless `include_absent`.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must be (H, W) class indices, got shape {labels.shape}")
    total = max(1, labels.size)
    counts = np.bincount(labels.ravel().astype(np.int64), minlength=len(class_names))
    rows = []
    for index, count in enumerate(counts):
        if count == 0 and not (include_absent and index < len(class_names)):
            continue
        name = class_names[index] if index < len(class_names) else "unlabelled"
        colour = tuple(int(c) for c in palette[index]) if index < len(palette) else (0, 0, 0)
        rows.append(ClassArea(index, name, colour, int(count), count / total))
    return sorted(rows, key=lambda r: (-r.pixels, r.index))


def areas_csv(areas: Sequence[ClassArea]) -> str:
    """The legend as CSV: class index, name, colour, pixels, percent of the image."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["class_index", "class_name", "colour", "pixels", "percent"])
    for a in areas:
        writer.writerow([a.index, a.name, a.hex, a.pixels, f"{100 * a.share:.2f}"])
    return out.getvalue()


def legend_html(areas: Sequence[ClassArea]) -> str:
    """A compact legend: colour swatch, class name, share with a bar. Text stays readable
    without the colours (screen readers, colour-blind users)."""
    rows = []
    for a in areas:
        percent = 100 * a.share
        shown = f"{percent:.1f}%" if percent >= 0.1 or a.pixels == 0 else "&lt;0.1%"
        swatch = (
            f'<span role="img" aria-label="colour {a.hex}" style="display:inline-block;'
            "width:1em;height:1em;margin-right:0.5em;vertical-align:-0.15em;border-radius:3px;"
            f'border:1px solid #8886;background:{a.hex}"></span>'
        )
        rows.append(
            "<tr>"
            f'<td style="white-space:nowrap">{swatch}{html.escape(a.name)}</td>'
            f'<td style="text-align:right;font-variant-numeric:tabular-nums">{shown}</td>'
            f'<td style="width:50%"><div style="background:{a.hex};height:0.6em;'
            f'width:{max(percent, 0.5):.1f}%;border-radius:2px"></div></td>'
            "</tr>"
        )
    return (
        '<table class="segtf-legend" style="width:100%;border-collapse:collapse">'
        '<thead><tr><th>class</th><th style="text-align:right">share of image</th>'
        "<th></th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
