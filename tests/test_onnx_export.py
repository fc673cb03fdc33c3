"""`segtf export --format onnx` (issue 16, optional part): the network through tf2onnx, run
by ONNX Runtime, gives TensorFlow's logits at any size; the export checks that itself and
refuses a file that disagrees; a missing extra is a clean error. Skipped where tf2onnx or
onnxruntime is not installed (`pip install segtf[onnx]`)."""

from __future__ import annotations

import json
import pathlib
import sys

import numpy as np
import pytest
from data_factory import tiny_refiner_folder

from segtf import litert, onnx_export, zoo
from segtf.cli import main

pytest.importorskip("tf2onnx", reason="tf2onnx (pip install segtf[onnx]) absent")
pytest.importorskip("onnxruntime", reason="onnxruntime (pip install segtf[onnx]) absent")

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def refiner_dir(tmp_path_factory):
    return tiny_refiner_folder(tmp_path_factory.mktemp("zoo"))


def _network(folder):
    model, _ = zoo.load_model_cached(folder)
    return litert.split_model(model)[0]


@pytest.mark.parametrize("fixture, name", [("refiner_dir", "tiny_fg"), ("tiny_model_dir", "tiny")])
def test_exported_file_gives_tensorflows_logits_at_any_size(fixture, name, request, tmp_path,
                                                             capsys):
    folder = request.getfixturevalue(fixture)
    assert main(["export", str(folder), "--format", "onnx", "--out", str(tmp_path)]) == 0
    assert f"exported to {tmp_path / name / '1' / 'model.onnx'}" in capsys.readouterr().out
    meta = json.loads((tmp_path / name / "1" / "segtf.json").read_text())
    assert meta["format"] == onnx_export.FORMAT and meta["info"]["name"] == name
    checked = meta["checked_against_tensorflow"]
    assert 0 <= checked["max_abs_logit_difference"] <= 1e-4 * max(1, checked["max_abs_logit"])
    network = _network(folder)
    rng = np.random.default_rng(1)
    # Sizes the pyramid pooling's bins do not divide: a fixed-size conversion broke on these.
    for size in ((48, 48), (48, 36), (37, 53)):
        image = rng.uniform(0, 255, (1, *size, 3)).astype(np.float32)
        expected = np.asarray(network(image, training=False))
        got = onnx_export.run_network(tmp_path / name / "1", image)
        assert got.shape == expected.shape
        # float32 sums in another order: within 1e-4 of the largest logit, the export's bar
        np.testing.assert_allclose(got, expected, atol=onnx_export.allowed_logit_difference(expected))


def test_a_file_that_disagrees_with_tensorflow_is_not_written(refiner_dir, tmp_path, capsys,
                                                               monkeypatch):
    monkeypatch.setattr(onnx_export, "TOLERANCE", -1.0)  # any measured difference is too big
    code = main(["export", str(refiner_dir), "--format", "onnx", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "differs from TensorFlow" in err and "Traceback" not in err, err
    assert not (tmp_path / "tiny_fg" / "1").exists()


def test_without_the_extra_the_error_names_it(refiner_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tf2onnx", None)  # import tf2onnx now fails
    code = main(["export", str(refiner_dir), "--format", "onnx", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and 'pip install "segtf[onnx]"' in err and "Traceback" not in err, err


def test_onnx_takes_no_quantize_or_input_size(refiner_dir, tmp_path, capsys):
    for extra, needle in ((["--quantize", "float16"], "--quantize applies to --format tflite"),
                          (["--input-size", "48", "48"], "--input-size applies to --format tflite")):
        code = main(["export", str(refiner_dir), "--format", "onnx", "--out", str(tmp_path),
                     *extra])
        err = capsys.readouterr().err
        assert code == 2 and needle in err, err


def test_a_file_onnx_runtime_cannot_run_is_a_clean_error(refiner_dir, tmp_path, capsys,
                                                         monkeypatch):
    monkeypatch.setattr(onnx_export, "convert_network", lambda network: b"not an onnx model")
    code = main(["export", str(refiner_dir), "--format", "onnx", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "ONNX Runtime could not run" in err and "Traceback" not in err, err
    assert not (tmp_path / "tiny_fg" / "1").exists()


@pytest.mark.slow
def test_the_default_model_exports_and_checks(tmp_path, capsys):
    """The shipped refiner (EfficientNet-Lite2, pyramid pooling at 10 x 10) converts, runs and
    agrees with TensorFlow at its square working size and at another size."""
    assert main(["export", "default", "--format", "onnx", "--out", str(tmp_path)]) == 0
    path = pathlib.Path(capsys.readouterr().out.split("exported to ")[1].strip())
    meta = json.loads((path.parent / "segtf.json").read_text())
    assert meta["checked_against_tensorflow"]["probe_size"] == [320, 320]
    network = _network(zoo.resolve_model_path("default"))
    image = np.random.default_rng(2).uniform(0, 255, (1, 224, 288, 3)).astype(np.float32)
    expected = np.asarray(network(image, training=False))
    np.testing.assert_allclose(onnx_export.run_network(path, image), expected,
                               atol=onnx_export.allowed_logit_difference(expected))
    # docs/export.md's recipe (resize in, the file, resize back, sigmoid) gives segment()'s alpha.
    import tensorflow as tf
    from PIL import Image

    import segtf

    photo = np.asarray(Image.open(ROOT / "apps" / "examples" / "cat.jpg").convert("RGB"))
    side = meta["working_side"]
    x = tf.image.resize(photo[None].astype("float32"), (side, side), antialias=True).numpy()
    logits = onnx_export.run_network(path, x)
    alpha = tf.sigmoid(tf.image.resize(logits, photo.shape[:2])).numpy()[0, ..., 0]
    np.testing.assert_allclose(alpha, segtf.segment(photo).alpha, atol=1e-4)


@pytest.mark.parametrize("fixture", ["refiner_dir", "tiny_model_dir"])
def test_segmenter_runs_an_onnx_file_like_the_keras_model(fixture, request, tmp_path):
    import segtf

    folder = request.getfixturevalue(fixture)
    from segtf.export import export_onnx

    path = export_onnx(str(folder), tmp_path)
    photo = np.random.default_rng(3).integers(0, 256, (45, 70, 3), dtype=np.uint8)
    on_onnx = segtf.Segmenter(path.parent)
    assert on_onnx.runtime == "onnx" and on_onnx.info.name == segtf.Segmenter(folder).info.name
    for options in ({}, {"tile": 32}, {"tta": True}):  # one pass, tiles, flip TTA
        expected = segtf.Segmenter(folder).segment(photo, **options).probabilities
        got = on_onnx.segment(photo, **options).probabilities
        np.testing.assert_allclose(got, expected, atol=1e-4)


def test_cli_segments_with_an_onnx_file_and_names_a_bad_one(refiner_dir, tmp_path, capsys):
    from PIL import Image

    Image.fromarray(np.full((30, 40, 3), 90, np.uint8)).save(tmp_path / "p.png")
    assert main(["export", str(refiner_dir), "--format", "onnx", "--out", str(tmp_path / "x")]) == 0
    onnx_file = tmp_path / "x" / "tiny_fg" / "1" / "model.onnx"
    code = main(["segment", str(tmp_path / "p.png"), "--model", str(onnx_file), "--out",
                 str(tmp_path / "out")])
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "out" / "p.mask.png").is_file()
    onnx_file.write_bytes(b"damaged")
    code = main(["segment", str(tmp_path / "p.png"), "--model", str(onnx_file), "--out",
                 str(tmp_path / "out2")])
    err = capsys.readouterr().err
    assert code == 2 and "ONNX Runtime cannot load it" in err and "Traceback" not in err, err
