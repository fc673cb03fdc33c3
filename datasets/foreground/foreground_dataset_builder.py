"""Binary foreground segmentation (image + 0/255 or soft mask) from local folders, as TFDS.

Never downloads. `--manual_dir` holds the dataset as its authors ship it; every folder (up
to two levels down) with a known image/mask layout becomes a split:

| dataset | layout | splits |
| --- | --- | --- |
| DIS5K | `DIS-TR/im`, `DIS-TR/gt`, `DIS-VD/...`, `DIS-TE1/...` | train, validation, test1.. |
| DUTS | `DUTS-TR/DUTS-TR-Image`, `DUTS-TR/DUTS-TR-Mask`, `DUTS-TE/...` | train, test |
| HRSOD | `HRSOD_train/im` + `gt` (or `images/` + `masks/`) | train, test |
| COD10K | `Train/Image`, `Train/GT_Object`, `Test/...` | train, test |
| P3M-10k | `train/blurred_image` + `mask`, `validation/P3M-500-P/...` | train, p3m_500_p, .. |

    tfds build datasets/foreground --config dis5k --manual_dir ~/DIS5K --data_dir ~/tfds
    segtf.data.make_dataset("tfds:foreground/dis5k:train", data_dir="~/tfds",
                            num_classes=1, task="foreground", crop_size=1024)
"""

from __future__ import annotations

import re
from pathlib import Path

import tensorflow_datasets as tfds

from segtf.data.sources import find_layout, scan_folder
from segtf.data.tfds_source import segmentation_features

CONFIGS = ("generic", "dis5k", "duts", "hrsod", "cod10k", "p3m10k")
_SPLIT_ALIASES = (
    (r"(^|_)(tr|train|training)$", "train"),
    (r"(^|_)(vd|val|valid|validation)$", "validation"),
    (r"(^|_)(te|test|testing)$", "test"),
    (r"(^|_)te(\d+)$", r"test\2"),
)


def split_name(relative: Path) -> str:
    """'DIS-TR' -> 'train', 'DIS-TE2' -> 'test2', 'validation/P3M-500-P' -> 'p3m_500_p'."""
    name = re.sub(r"\W+", "_", relative.name.lower()).strip("_")
    for pattern, alias in _SPLIT_ALIASES:
        if re.search(pattern, name):
            return re.sub(r".*?" + pattern, alias, name)
    return name or "train"


def find_splits(root: Path) -> dict[str, Path]:
    """Split name -> folder holding an image/mask layout (root itself = 'train')."""
    if find_layout(root):
        return {"train": root}
    splits: dict[str, Path] = {}
    candidates = sorted(d for d in root.iterdir() if d.is_dir())
    candidates += sorted(d for c in candidates for d in c.iterdir() if d.is_dir())
    for folder in candidates:
        if find_layout(folder):
            name = split_name(folder.relative_to(root))
            while name in splits:
                name += "_"
            splits[name] = folder
    return splits


class Builder(tfds.core.GeneratorBasedBuilder):
    """Binary foreground masks (0 = background, 255 = foreground, soft values kept)."""

    name = "foreground"  # explicit: the same whether loaded by `tfds build` or imported
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Generic im/ + gt/ foreground builder."}
    BUILDER_CONFIGS = [tfds.core.BuilderConfig(name=n, description=f"{n} layout") for n in CONFIGS]
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Put the dataset's folders (e.g. DIS-TR/im + DIS-TR/gt, DUTS-TR/DUTS-TR-Image + "
        "DUTS-TR-Mask) in manual_dir."
    )

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=__doc__.splitlines()[0],
            features=segmentation_features(),
            supervised_keys=("image", "segmentation_mask"),
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        root = Path(dl_manager.manual_dir)
        splits = find_splits(root)
        if not splits:
            raise FileNotFoundError(
                f"{root}: no image/mask folders. {self.MANUAL_DOWNLOAD_INSTRUCTIONS}"
            )
        return {name: self._generate_examples(folder) for name, folder in splits.items()}

    def _generate_examples(self, folder: Path):
        report = scan_folder(folder)
        if report.bad:  # the user's data: never drop pairs silently
            raise ValueError("\n".join(str(item) for item in report.bad))
        for image, mask in report.pairs:
            name = Path(image).name
            yield name, {"image": image, "segmentation_mask": mask, "file_name": name}
