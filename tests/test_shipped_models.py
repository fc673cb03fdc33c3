"""Every model folder shipped in models/ loads, its config matches its weights, it segments a
real photo, and what the viewer shows for it (legend names, colours, metric units) is right."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

import segtf
from segtf import zoo
from segtf.viewer.legend import class_areas
from segtf.viewer.models import ZooEntry, format_metrics

SHIPPED = sorted(p for p in zoo.ZOO_DIR.iterdir() if (p / zoo.CONFIG_FILE).is_file())
PHOTO = pathlib.Path(__file__).resolve().parents[1] / "apps" / "examples"


def test_the_zoo_ships_models_and_a_default():
    assert SHIPPED, f"no model folders in {zoo.ZOO_DIR}"
    assert zoo.DEFAULT_MODEL in {p.name for p in SHIPPED}


@pytest.mark.parametrize("folder", SHIPPED, ids=lambda p: p.name)
def test_shipped_model_loads_and_segments(folder):
    config = json.loads((folder / zoo.CONFIG_FILE).read_text())
    segmenter = segtf.Segmenter(folder)
    assert segmenter.info.name == config["name"]
    output = segmenter.model.output
    channels = int(output.shape[-1])
    assert channels == config["model"]["num_classes"]
    photo = next(p for p in sorted(PHOTO.iterdir()) if p.suffix.lower() in (".jpg", ".png"))
    result = segmenter(photo)
    assert result.probabilities.shape[:2] == result.image.shape[:2]
    assert np.isfinite(result.probabilities).all()
    assert len(result.class_names) == (2 if segmenter.task == "foreground" else channels)


@pytest.mark.parametrize("folder", SHIPPED, ids=lambda p: p.name)
def test_viewer_legend_names_the_classes_the_right_way_round(folder):
    entry = ZooEntry(folder, zoo.load_info(folder))
    if entry.task == "foreground":
        assert entry.class_names[0] == "background"
        assert entry.class_names[1] == (entry.info.class_names or ("foreground",))[-1]
        # 30% of pixels foreground: the legend must say so under the foreground's name.
        labels = np.zeros((10, 10), np.int64)
        labels[:3] = 1
        areas = {a.name: a.share for a in class_areas(labels, entry.class_names, entry.palette)}
        assert areas[entry.class_names[1]] == pytest.approx(0.3)
        assert areas["background"] == pytest.approx(0.7)
        assert "unlabelled" not in areas
    else:
        assert entry.class_names == tuple(entry.info.class_names)
    assert len(entry.palette) == len(entry.class_names)


def test_mae_is_shown_as_a_number_not_a_percentage():
    rows = dict(format_metrics({"horse": {"mae": 0.1292, "boundary_iou": 0.4521}}))
    assert rows["horse mae"] == "0.1292"
    assert rows["horse boundary iou"] == "45.2%"
