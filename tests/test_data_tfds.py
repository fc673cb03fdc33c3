"""TFDS sources: a local fake catalogue-style dataset and the builders in datasets/.

Nothing is downloaded: every dataset here is prepared from files in tmp_path.
"""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow_datasets as tfds
from data_factory import block_mask, make_folder_dataset, make_list_dataset, random_image

from segtf.data import DataError, make_dataset

DATASETS = Path(__file__).resolve().parents[1] / "datasets"


class FakeSegmentation(tfds.core.GeneratorBasedBuilder):
    """A stand-in for e.g. oxford_iiit_pet: `image` + `segmentation_mask` features."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(None, None, 3)),
                    "segmentation_mask": tfds.features.Image(shape=(None, None, 1)),
                }
            ),
        )

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(3), "test": self._generate_examples(1)}

    def _generate_examples(self, n):
        for k in range(n):
            yield (
                k,
                {
                    "image": random_image(8, 10, k),
                    "segmentation_mask": block_mask(8, 10, 3, k, block=2)[..., None] + 1,
                },
            )


def _load_builder_module(name):
    module_name = f"segtf_test_{name}_dataset_builder"
    if module_name not in sys.modules:
        path = DATASETS / name / f"{name}_dataset_builder.py"
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        with tfds.core.registered.skip_registration():
            spec.loader.exec_module(module)
        sys.modules[module_name] = module
    return sys.modules[module_name]


def test_catalogue_style_dataset_through_the_pipeline(tmp_path):
    FakeSegmentation(data_dir=tmp_path).download_and_prepare()
    ds = make_dataset(
        "tfds:fake_segmentation:train",
        data_dir=str(tmp_path),
        num_classes=3,
        label_map={1: 0, 2: 1, 3: 2},
        crop_size=6,
        batch_size=3,
        training=True,
        seed=0,
    )
    images, masks = next(iter(ds))
    assert images.shape == (3, 6, 6, 3) and masks.shape == (3, 6, 6)
    assert set(np.unique(masks.numpy())) <= {0, 1, 2, 255}
    test = list(
        make_dataset(
            "tfds:fake_segmentation:test", data_dir=str(tmp_path), num_classes=4, batch_size=1
        )
    )
    assert len(test) == 1 and test[0][1].shape == (1, 8, 10)


def test_unprepared_or_unknown_dataset_is_a_clear_error_not_a_download(tmp_path):
    with pytest.raises(DataError, match="never downloads"):
        make_dataset("tfds:oxford_iiit_pet", data_dir=str(tmp_path), num_classes=3)
    with pytest.raises(DataError, match="neither registered nor prepared"):
        make_dataset("tfds:no_such_dataset", data_dir=str(tmp_path), num_classes=3)


def test_camvid_builder_from_a_segnet_style_folder(tmp_path):
    src = tmp_path / "CamVid"
    make_list_dataset(src, n=2, size=(6, 8), num_classes=12)
    module = _load_builder_module("camvid")
    builder = module.Builder(data_dir=tmp_path / "tfds")
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(src)))
    assert builder.info.splits["train"].num_examples == 2
    ds = make_dataset(
        "tfds:camvid:train",
        data_dir=str(tmp_path / "tfds"),
        num_classes=11,
        label_map={11: 255},
        batch_size=1,
    )
    expected = [block_mask(6, 8, 12, k) for k in range(2)]
    expected = [np.where(e == 11, 255, e) for e in expected]
    for _, mask in ds:  # TFDS stores examples in hashed-key order
        assert any(np.array_equal(mask.numpy()[0], e) for e in expected)


def test_foreground_builder_finds_dis5k_style_splits(tmp_path):
    src = tmp_path / "DIS5K"
    make_folder_dataset(
        src / "DIS-TR", n=2, image_dir="im", mask_dir="gt", foreground=True, image_ext=".jpg"
    )
    make_folder_dataset(src / "DIS-VD", n=1, image_dir="im", mask_dir="gt", foreground=True)
    module = _load_builder_module("foreground")
    builder = module.Builder(config="dis5k", data_dir=tmp_path / "tfds")
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(src)))
    assert set(builder.info.splits.keys()) == {"train", "validation"}
    ds = make_dataset(
        "tfds:foreground/dis5k:validation",
        data_dir=str(tmp_path / "tfds"),
        num_classes=1,
        task="foreground",
        batch_size=1,
    )
    _, alpha = next(iter(ds))
    assert alpha.shape == (1, 24, 32, 1) and set(np.unique(alpha.numpy())) <= {0.0, 1.0}
