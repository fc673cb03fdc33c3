"""The real CamVid train split (../shared/data/camvid), read through the whole pipeline."""

import numpy as np
import pytest
from data_factory import SHARED_DATA

from segtf.cli import main
from segtf.data import class_statistics, find_pairs, get_dataset_spec, make_dataset

pytestmark = pytest.mark.shared_data
CAMVID = SHARED_DATA / "camvid"


@pytest.fixture(scope="module")
def train_txt():
    if not (CAMVID / "train.txt").exists():
        pytest.skip("../shared/data/camvid is absent")
    return CAMVID / "train.txt"


def test_spec_matches_the_readme():
    spec = get_dataset_spec("camvid")
    assert spec.num_classes == 11 and spec.label_map == {11: 255}
    assert spec.class_names[10] == "Bicyclist" and spec.palette[4] == (60, 40, 222)


def test_pipeline_frequencies_match_data_stats(train_txt, capsys):
    spec = get_dataset_spec("camvid")
    assert len(find_pairs(train_txt)) == 367
    ds = make_dataset(train_txt, num_classes=11, label_map=spec.label_map, batch_size=8)
    counts = np.zeros(256, np.int64)
    batches = 0
    for images, masks in ds:
        assert images.dtype == "float32" and masks.dtype == "int32"
        assert images.shape[1:] == (360, 480, 3) and masks.shape[1:] == (360, 480)
        counts += np.bincount(masks.numpy().ravel(), minlength=256)
        batches += 1
    assert batches == 46 and counts.sum() == 367 * 360 * 480
    assert set(np.flatnonzero(counts)) <= set(range(11)) | {255}  # in range or ignore
    stats = class_statistics(train_txt, num_classes=11, label_map=spec.label_map)
    assert np.array_equal(counts[:11], stats.counts) and counts[255] == stats.ignored
    assert main(["data", "stats", str(train_txt)]) == 0
    printed = capsys.readouterr().out
    for name, count in zip(spec.class_names, stats.counts, strict=True):
        assert f"{name:<14} {count:>12d}" in printed
    assert abs(stats.share[3] - 0.317) < 0.001  # Road: 31.7% in the README


def test_training_batches(train_txt):
    ds = make_dataset(
        train_txt,
        num_classes=11,
        label_map={11: 255},
        crop_size=(360, 480),
        batch_size=4,
        training=True,
        seed=0,
    )
    images, masks = next(iter(ds))
    assert images.shape == (4, 360, 480, 3) and masks.shape == (4, 360, 480)
    assert set(np.unique(masks.numpy())) <= set(range(11)) | {255}
