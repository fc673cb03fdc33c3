"""benchmarks/bench_accuracy.py: models measured in turns on each image, per-image fg IoU kept,
and `--worst` naming the images where a model trails the first one most."""

import pathlib
import sys

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_accuracy  # noqa: E402


class HalfRunner:
    """Predicts the left `fraction` of every image as foreground."""

    def __init__(self, name: str, fraction: float):
        self.name, self.fraction = name, fraction

    def __call__(self, rgb, valset):
        pred = np.zeros(rgb.shape[:2], bool)
        pred[:, : int(rgb.shape[1] * self.fraction)] = True
        return pred


def left_half_set(tmp_path, widths) -> bench_accuracy.ValSet:
    """Images of the given widths whose truth is their left half."""
    pairs = []
    for i, width in enumerate(widths):
        image, mask = tmp_path / f"im{i}.png", tmp_path / f"im{i}_mask.png"
        Image.fromarray(np.zeros((8, width, 3), np.uint8)).save(image)
        truth = np.zeros((8, width), np.uint8)
        truth[:, : width // 2] = 255
        Image.fromarray(truth).save(mask)
        pairs.append((image, mask))
    return bench_accuracy.ValSet("ccp_person", "foreground", pairs)


def test_measure_together_keeps_each_images_iou(tmp_path):
    valset = left_half_set(tmp_path, [8, 16])
    exact, wide = bench_accuracy.measure_together(
        [HalfRunner("exact", 0.5), HalfRunner("wide", 0.75)], valset, None)
    assert exact.per_image == [1.0, 1.0] and exact.accuracy == 1.0
    assert np.allclose(wide.per_image, [4 / 6, 8 / 12])
    assert bench_accuracy.measure_together([HalfRunner("a", 0.5)], valset, 1)[0].per_image == [1.0]


def test_worst_names_the_images_where_a_model_trails_most(tmp_path, capsys):
    valset = left_half_set(tmp_path, [8, 8, 8])
    per_image = {"first": {"ccp_person": [0.9, 0.9, 0.9]},
                 "second": {"ccp_person": [0.95, 0.5, 0.8]}}
    bench_accuracy.print_worst(per_image, [valset], 2)
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| second")]
    assert [row.split(" | ")[2] for row in rows] == ["im1.png", "im2.png"]
    assert rows[0].endswith("| 0.900 | 0.500 | -0.400 |")


def test_a_negative_worst_is_refused_naming_the_option(capsys):
    with pytest.raises(SystemExit):
        bench_accuracy.main(["--worst", "-1"])
    assert "--worst -1" in capsys.readouterr().err
