"""Unit tests for segtf.viewer: legend, compositing, gallery, upload checks, model listing."""

from __future__ import annotations

import argparse
import csv
import io

import numpy as np
import pytest
from PIL import Image

from segtf.imageio import InvalidImageError
from segtf.viewer import compose, gallery, inputs, legend, models

NAMES = ("sky", "road", "car")
PALETTE = ((70, 130, 180), (128, 64, 128), (64, 0, 128))


def test_class_areas_sorted_by_share_and_sum_to_one():
    labels = np.array([[0, 1, 1, 1], [1, 1, 2, 2]], np.uint8)
    areas = legend.class_areas(labels, NAMES, PALETTE)
    assert [a.name for a in areas] == ["road", "car", "sky"]
    assert [a.pixels for a in areas] == [5, 2, 1]
    assert sum(a.share for a in areas) == pytest.approx(1.0)
    assert areas[0].hex == "#804080"


def test_class_areas_leave_out_absent_and_name_unknown_labels():
    labels = np.array([[0, 0], [255, 255]], np.uint8)
    areas = legend.class_areas(labels, NAMES, PALETTE)
    assert {a.name for a in areas} == {"sky", "unlabelled"}
    every = legend.class_areas(labels, NAMES, PALETTE, include_absent=True)
    assert {a.name for a in every} == {"sky", "road", "car", "unlabelled"}


def test_areas_csv_round_trips():
    areas = legend.class_areas(np.array([[0, 2], [2, 2]]), NAMES, PALETTE)
    rows = list(csv.DictReader(io.StringIO(legend.areas_csv(areas))))
    assert rows[0] == {
        "class_index": "2",
        "class_name": "car",
        "colour": "#400080",
        "pixels": "3",
        "percent": "75.00",
    }
    assert len(rows) == 2


def test_legend_html_escapes_names_and_shows_percent():
    areas = legend.class_areas(np.zeros((2, 2), np.uint8), ("<b>x</b>",), ((1, 2, 3),))
    html = legend.legend_html(areas)
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "100.0%" in html and "#010203" in html


def test_colorize_and_palette_png_keep_indices():
    labels = np.array([[0, 1], [2, 1]], np.uint8)
    rgb = compose.colorize(labels, PALETTE)
    assert tuple(rgb[1, 0]) == PALETTE[2]
    png = Image.open(io.BytesIO(compose.png_bytes(labels, PALETTE)))
    assert png.mode == "P"
    np.testing.assert_array_equal(np.asarray(png), labels)
    np.testing.assert_array_equal(np.asarray(png.convert("RGB")), rgb)


def test_checkerboard_and_composite():
    board = compose.checkerboard(4, 6, cell=2)
    assert board.shape == (4, 6, 3)
    assert board[0, 0, 0] == compose.LIGHT and board[0, 2, 0] == compose.DARK
    image = np.full((4, 6, 3), 200, np.uint8)
    alpha = np.zeros((4, 6), np.float32)
    alpha[:, :3] = 1.0
    out = compose.composite(image, alpha, (0, 0, 255))
    assert tuple(out[0, 0]) == (200, 200, 200) and tuple(out[0, 5]) == (0, 0, 255)
    rgba = compose.cutout_rgba(image, alpha)
    assert rgba.shape == (4, 6, 4) and rgba[0, 0, 3] == 255 and rgba[0, 5, 3] == 0


def test_blend_limits_tint_to_alpha():
    image = np.zeros((1, 2, 3), np.uint8)
    colours = np.full((1, 2, 3), 200, np.uint8)
    out = compose.blend(image, colours, 0.5, alpha=np.array([[1.0, 0.0]]))
    assert tuple(out[0, 0]) == (100, 100, 100) and tuple(out[0, 1]) == (0, 0, 0)


def test_threshold_alpha_clears_below_and_keeps_soft_edges():
    alpha = np.array([[0.2, 0.6, 1.0]], np.float32)
    labels, matte = compose.threshold_alpha(alpha, 0.5)
    assert labels.tolist() == [[0, 1, 1]]
    np.testing.assert_allclose(matte, [[0.0, 0.6, 1.0]])
    views = compose.make_views(None, alpha, (), threshold=0.7)
    assert views.labels.tolist() == [[0, 0, 1]] and views.palette == compose.FOREGROUND_PALETTE


def test_hex_to_rgb():
    assert compose.hex_to_rgb("#1e90ff") == (30, 144, 255)
    assert compose.hex_to_rgb("fff") == (255, 255, 255)
    with pytest.raises(ValueError):
        compose.hex_to_rgb("#12")


def test_find_examples_bundled_then_camvid(tmp_path):
    bundled, camvid = tmp_path / "examples", tmp_path / "camvid"
    bundled.mkdir()
    camvid.mkdir()
    for name in ("b_street.jpg", "a_portrait.png", "notes.txt"):
        (bundled / name).write_bytes(b"x")
    for i in range(10):
        (camvid / f"0016E5_{i:05d}.png").write_bytes(b"x")
    found = gallery.find_examples(bundled, camvid, camvid_limit=3)
    assert [e.title for e in found] == [
        "A portrait",
        "B street",
        "CamVid 1",
        "CamVid 2",
        "CamVid 3",
    ]
    assert [e.source for e in found] == ["bundled"] * 2 + ["camvid"] * 3
    assert found[-1].path.parent == camvid
    assert gallery.find_examples(bundled, tmp_path / "missing") == found[:2]


def test_order_for_puts_the_models_dataset_first(tmp_path):
    found = [gallery.Example("a", tmp_path, "bundled"), gallery.Example("b", tmp_path, "camvid")]
    assert [e.title for e in gallery.order_for(found, "CamVid")] == ["b", "a"]
    assert gallery.order_for(found, "synthetic") == found


def test_bundled_examples_are_small_images():
    found = [e for e in gallery.find_examples(camvid_limit=0) if e.source == "bundled"]
    assert len(found) >= 3
    assert sum(e.path.stat().st_size for e in found) < 500_000
    for example in found:
        assert example.path.stat().st_size < 100_000
        Image.open(example.path).verify()


def _png(width, height) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (10, 20, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_decode_upload_reads_good_images():
    image = inputs.decode_upload(_png(8, 5), "ok.png")
    assert image.shape == (5, 8, 3) and image.dtype == np.uint8


@pytest.mark.parametrize(
    "data, words",
    [
        (b"", "empty"),
        (b"this is not an image", "could not be read"),
        (_png(64, 64)[:60], "could not be read"),  # truncated PNG
    ],
)
def test_decode_upload_rejects_bad_files_with_a_clear_message(data, words):
    with pytest.raises(InvalidImageError, match=words):
        inputs.decode_upload(data, "bad.png")


def test_decode_upload_rejects_too_large():
    with pytest.raises(InvalidImageError, match="MB"):
        inputs.decode_upload(b"x" * 2_000_000, "big.png", max_mb=1)
    with pytest.raises(InvalidImageError, match="Mpx"):
        inputs.decode_upload(_png(300, 300), "wide.png", max_pixels=10_000)


def test_shrink_to_keeps_aspect():
    image = np.zeros((100, 400, 3), np.uint8)
    assert inputs.shrink_to(image, 200).shape == (50, 200, 3)
    assert inputs.shrink_to(image, 1000) is image


def test_format_metrics():
    rows = models.format_metrics(
        {"miou": 0.6123, "params": 1200, "ms_per_image": 41.5, "per_class": {"a": 1}}
    )
    assert rows == [("miou", "61.2%"), ("params", "1200"), ("ms per image", "41.5")]


def test_list_entries_skips_broken_folders(tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    (tmp_path / "empty").mkdir()
    assert models.list_entries(tmp_path) == []
    assert models.list_entries(tmp_path / "missing") == []


def test_viewer_command_binds_localhost_by_default():
    from segtf.cli import build_parser
    from segtf.cli.viewer_cmd import APP, build_command

    args = build_parser().parse_args(["viewer", "--port", "8600"])
    command = build_command(args)
    assert command[1:4] == ["-m", "streamlit", "run"] and command[4] == str(APP)
    assert command[command.index("--server.address") + 1] == "127.0.0.1"
    assert command[command.index("--server.port") + 1] == "8600"
    with pytest.raises(ValueError, match="port"):
        build_command(argparse.Namespace(port=0, host="127.0.0.1", browser=False))


def test_viewer_command_refuses_a_missing_zoo(tmp_path):
    from segtf.cli import main

    assert main(["viewer", "--zoo", str(tmp_path / "nowhere")]) == 2


def test_metrics_grouped_by_validation_set_are_flattened():
    from segtf.viewer.models import format_metrics

    rows = format_metrics({"camvid": {"mean_iou": 0.4017}, "camvid_tta": {"mean_iou": 0.414}})
    assert rows == [("camvid mean iou", "40.2%"), ("camvid_tta mean iou", "41.4%")]


def _viewer_result(labels, alpha=None):
    from segtf.viewer.runner import ViewerResult

    image = np.full((*labels.shape, 3), 90, np.uint8)
    return ViewerResult(image, labels.astype(np.uint8), alpha, 0.01, labels.shape)


def test_unique_stems_keep_same_named_uploads_apart():
    from segtf.viewer.batch import unique_stems

    assert unique_stems(["cat.jpg", "dog.png", "cat.png", "cat.jpg"]) == [
        "cat",
        "dog",
        "cat-2",
        "cat-3",
    ]


def test_results_zip_holds_every_result_and_names_each_failure():
    import zipfile

    from segtf.viewer.batch import BatchOutcome, results_zip

    labels = np.zeros((6, 8), np.uint8)
    labels[:, 4:] = 2
    outcomes = [
        BatchOutcome("street.jpg", _viewer_result(labels)),
        BatchOutcome("notes.png", error="could not be read as an image"),
        BatchOutcome("street.jpg", _viewer_result(np.ones((6, 8), np.uint8))),
    ]
    data = results_zip(outcomes, NAMES, PALETTE)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())
        assert names == {
            "street_mask.png",
            "street_overlay.png",
            "street-2_mask.png",
            "street-2_overlay.png",
            "areas.csv",
            "failed.txt",
        }
        mask = np.asarray(Image.open(io.BytesIO(archive.read("street_mask.png"))))
        np.testing.assert_array_equal(mask, labels)
        rows = list(csv.DictReader(io.StringIO(archive.read("areas.csv").decode())))
        assert [(r["image"], r["class_name"], r["percent"]) for r in rows] == [
            ("street", "sky", "50.00"),
            ("street", "car", "50.00"),
            ("street-2", "road", "100.00"),
        ]
        assert archive.read("failed.txt").decode() == "notes.png: could not be read as an image\n"


def test_results_zip_of_a_foreground_model_has_cutouts_at_the_threshold():
    import zipfile

    from segtf.viewer.batch import BatchOutcome, results_zip

    alpha = np.linspace(0, 1, 48, dtype=np.float32).reshape(6, 8)
    outcome = BatchOutcome("cat.jpg", _viewer_result((alpha >= 0.5).astype(np.uint8), alpha))
    data = results_zip(
        [outcome], ("background", "foreground"), ((0, 0, 0), (255, 0, 0)), threshold=0.7
    )
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert "failed.txt" not in archive.namelist()
        cutout = np.asarray(Image.open(io.BytesIO(archive.read("cat_cutout.png"))))
        mask = np.asarray(Image.open(io.BytesIO(archive.read("cat_mask.png"))))
    assert cutout.shape == (6, 8, 4)
    np.testing.assert_array_equal(mask, (alpha >= 0.7).astype(np.uint8))
    assert (cutout[..., 3][alpha < 0.7] == 0).all() and (cutout[..., 3][alpha >= 0.7] > 0).all()
