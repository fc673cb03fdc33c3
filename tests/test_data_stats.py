"""Class statistics and SegNet's median frequency balancing."""

import numpy as np
import pytest
from data_factory import make_folder_dataset, write_image

from segtf.data import class_statistics


def test_counts_and_median_frequency_weights(tmp_path):
    root = make_folder_dataset(tmp_path, n=2, size=(2, 4))
    write_image(root / "masks" / "000.png", np.array([[0, 0, 0, 0], [0, 0, 1, 255]], np.uint8))
    write_image(root / "masks" / "001.png", np.array([[0, 0, 2, 2], [2, 2, 2, 2]], np.uint8))
    stats = class_statistics(root, num_classes=4)
    assert stats.counts.tolist() == [8, 1, 6, 0] and stats.ignored == 1 and stats.total == 16
    # freq(c) = pixels of c / pixels of the images containing c
    freq = np.array([8 / 16, 1 / 8, 6 / 8])
    expected = np.median(freq) / freq
    assert stats.median_frequency_weights[:3] == pytest.approx(expected)
    assert stats.median_frequency_weights[3] == 0  # absent class
    assert stats.frequencies[:3] == pytest.approx([8 / 15, 1 / 15, 6 / 15])
    assert "Bicyclist" not in stats.table() and "(ignored)" in stats.table()


def test_label_map_is_applied(tmp_path):
    root = make_folder_dataset(tmp_path, n=1, size=(1, 2))
    write_image(root / "masks" / "000.png", np.array([[0, 11]], np.uint8))
    stats = class_statistics(root, num_classes=2, label_map={11: 255})
    assert stats.counts.tolist() == [1, 0] and stats.ignored == 1
