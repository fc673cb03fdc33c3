"""Finding (image, mask) pairs: folder layouts, list files, TFRecord dirs.

Layouts understood (matched by file stem, any common image extension on either side):
`images/` + `masks/`, `im/` + `gt/` (DIS5K, HRSOD), `Image/` + `GT_Object/` (COD10K),
`*-Image/` + `*-Mask/` (DUTS), `blurred_image/` + `mask/` (P3M-10k), and list files with
one `IMAGE MASK` pair per line (CamVid's `train.txt`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from segtf.data.manifest import TFRECORD_MANIFEST, read_manifest
from segtf.data.report import BadItem, DataError, DataReport

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")

# (image folder, mask folder) names, tried in order (case-insensitive).
FOLDER_LAYOUTS = (
    ("images", "masks"),
    ("im", "gt"),
    ("image", "mask"),
    ("imgs", "gt"),
    ("image", "gt_object"),
    ("blurred_image", "mask"),
    ("original_image", "mask"),
    ("images", "labels"),
    ("images", "annotations"),
)

Pairs = list[tuple[str, str]]


def is_tfds_source(source) -> bool:
    return isinstance(source, str) and source.startswith("tfds:")


def is_tfrecord_dir(path: Path) -> bool:
    return path.is_dir() and ((path / TFRECORD_MANIFEST).exists() or any(path.glob("*.tfrecord*")))


def find_pairs(source, skip_bad: bool = False) -> Pairs:
    """Lists the (image, mask) pairs of a folder, list file, TFRecord dir or list of pairs.

    Raises `DataError` naming every image without a mask (and the reverse), unless
    `skip_bad`, which logs them and returns the matched pairs.
    """
    report = list_source(source)
    report.raise_or_skip(skip_bad, what=str(source))
    return report.pairs


def list_source(source) -> DataReport:
    """Like `find_pairs` but returns the `DataReport` (pairs + listing problems)."""
    if is_tfds_source(source):
        raise ValueError(f"{source!r} is a TFDS dataset: it has no files to list")
    if isinstance(source, Sequence) and not isinstance(source, str):
        return DataReport(pairs=[(str(i), str(m)) for i, m in source])
    path = Path(source).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"Dataset source {str(path)!r} does not exist")
    if path.is_file():
        return read_list_file(path)
    if is_tfrecord_dir(path):

        return DataReport(pairs=[tuple(p) for p in read_manifest(path)["pairs"]])
    return scan_folder(path)


def _child(folder: Path, name: str) -> Path | None:
    for child in folder.iterdir():
        if child.is_dir() and child.name.lower() == name:
            return child
    return None


def find_layout(folder: Path) -> tuple[Path, Path] | None:
    """Returns (image dir, mask dir) of a known layout directly inside `folder`, or None."""
    for image_name, mask_name in FOLDER_LAYOUTS:
        image_dir, mask_dir = _child(folder, image_name), _child(folder, mask_name)
        if image_dir and mask_dir:
            return image_dir, mask_dir
    subdirs = [d for d in folder.iterdir() if d.is_dir()]
    image_dirs = [d for d in subdirs if d.name.lower().endswith("-image")]
    for image_dir in image_dirs:  # DUTS: DUTS-TR-Image + DUTS-TR-Mask
        mask_dir = folder / (image_dir.name[: -len("image")] + "Mask")
        if mask_dir.is_dir():
            return image_dir, mask_dir
    return None


def _images_by_stem(folder: Path) -> tuple[dict[str, Path], list[BadItem]]:
    by_stem: dict[str, Path] = {}
    bad, ignored = [], []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.is_dir():
            continue
        if path.suffix.lower() not in IMAGE_EXTENSIONS:
            ignored.append(path.name)
            continue
        if path.stem in by_stem:
            bad.append(
                BadItem(
                    (str(by_stem[path.stem]), str(path)),
                    "two files share a stem",
                    "keep one of them (pairs are matched by file name stem)",
                )
            )
            continue
        by_stem[path.stem] = path
    if ignored:
        logger.warning(
            "%s: ignoring %d non-image file(s): %s",
            folder,
            len(ignored),
            ", ".join(ignored[:5]) + (" ..." if len(ignored) > 5 else ""),
        )
    return by_stem, bad


def scan_folder(folder: Path) -> DataReport:
    """Matches images and masks of a folder layout by file stem."""
    layout = find_layout(folder)
    if layout is None:
        splits = [d.name for d in sorted(folder.iterdir()) if d.is_dir() and find_layout(d)]
        hint = f" Did you mean one of its splits: {', '.join(splits)}?" if splits else ""
        names = ", ".join(f"{a}/+{b}/" for a, b in FOLDER_LAYOUTS[:3])
        raise DataError(
            f"{folder}: no image/mask folders found (expected {names} or a list "
            f"file with 'IMAGE MASK' lines).{hint}"
        )
    image_dir, mask_dir = layout
    images, bad = _images_by_stem(image_dir)
    masks, bad_masks = _images_by_stem(mask_dir)
    bad += bad_masks
    for stem in sorted(images.keys() - masks.keys()):
        bad.append(
            BadItem(
                (str(images[stem]),),
                f"image has no mask in {mask_dir}",
                f"add {mask_dir / stem}.png or remove the image",
            )
        )
    for stem in sorted(masks.keys() - images.keys()):
        bad.append(
            BadItem(
                (str(masks[stem]),),
                f"mask has no image in {image_dir}",
                f"add the image {image_dir / stem}.* or remove the mask",
            )
        )
    pairs = [(str(images[s]), str(masks[s])) for s in sorted(images.keys() & masks.keys())]
    logger.debug("%s: %d pairs (%s + %s)", folder, len(pairs), image_dir.name, mask_dir.name)
    return DataReport(pairs=pairs, bad=bad)


def resolve_listed_path(entry: str, base: Path) -> Path | None:
    """Finds a list-file entry: as written, relative to `base`, or by its trailing path parts.

    CamVid's lists name `/SegNet/CamVid/train/x.png`, a prefix that exists on nobody's
    machine; `base/train/x.png` (the longest suffix that exists under `base`) is used instead.
    """
    path = Path(entry)
    if path.is_absolute() and path.exists():
        return path
    if not path.is_absolute() and (base / path).exists():
        return base / path
    parts = path.parts[1:] if path.is_absolute() else path.parts
    for start in range(len(parts)):
        candidate = base.joinpath(*parts[start:])
        if candidate.exists():
            return candidate
    return None


def read_list_file(list_file: Path) -> DataReport:
    """Reads `IMAGE MASK` lines (blank lines and `#` comments skipped)."""
    base = list_file.parent
    report, moved = DataReport(), 0
    try:
        text = list_file.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DataError(
            f"{list_file}: not UTF-8 text (byte {err.start}: {err.object[err.start:err.start + 1]!r});"
            " save the list file as UTF-8"
        ) from None
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) != 2:
            # A bad line is one bad item (skipped with --skip-bad), not the end of the run.
            report.bad.append(
                BadItem(
                    (f"{list_file.name}:{number}",),
                    f"expected 'IMAGE MASK', got {line[:80]!r}",
                    "write one image path and one mask path per line",
                )
            )
            continue
        found = [resolve_listed_path(entry, base) for entry in fields]
        missing = [entry for entry, hit in zip(fields, found, strict=True) if hit is None]
        if missing:
            report.bad.append(
                BadItem(
                    tuple(missing),
                    f"listed in {list_file.name}:{number} but not found",
                    f"put the file(s) under {base}",
                )
            )
            continue
        moved += any(str(hit) != entry for entry, hit in zip(fields, found, strict=True))
        report.pairs.append((str(found[0]), str(found[1])))
    if moved:
        logger.info(
            "%s: %d pair(s) resolved relative to %s by file name", list_file.name, moved, base
        )
    return report
