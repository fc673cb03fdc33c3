"""LiteRT runtime (issue 16): converted models give the TensorFlow path's pixels through the
same `Segmenter` (whole image, tiles, TTA), quantised files stay close, and every misuse is a
clean error. Skipped where `ai-edge-litert` is not installed (`pip install segtf[litert]`)."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
from data_factory import TINY_MODEL, tiny_refiner_folder, tiny_refiner_on_deeplabv3plus_folder
from PIL import Image

import segtf
import segtf.models
from segtf import litert, onnx_export
from segtf.cli import main
from segtf.export import export_tflite
from segtf.models.layers import side_size
from segtf.zoo import ModelInfo

pytest.importorskip("ai_edge_litert", reason="LiteRT (pip install segtf[litert]) absent")


def _photo(height: int, width: int, seed: int) -> np.ndarray:
    """A smooth picture with edges (random noise would make every pixel a coin flip)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([xx * 255 / width, yy * 255 / height, (xx + yy) % 97 * 2.6], -1)
    disc = ((yy - height / 2) ** 2 + (xx - width / 3) ** 2) < (min(height, width) / 3) ** 2
    base[disc] = rng.uniform(0, 255, 3)
    return base.astype(np.uint8)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGTF_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def refiner_dir(tmp_path_factory):
    return tiny_refiner_folder(tmp_path_factory.mktemp("zoo"))


@pytest.fixture(scope="module")
def refiner_on_deeplab_dir(tmp_path_factory):
    return tiny_refiner_on_deeplabv3plus_folder(tmp_path_factory.mktemp("zoo"))


def test_split_model_leaves_the_resizes_outside(refiner_dir):
    model, _ = segtf.load_model(refiner_dir)
    network, side = litert.split_model(model)
    assert side == 48
    assert network.output.shape[-1] == 1
    assert side_size(96, 130, 48) == (35, 48)


def test_each_prefix_of_the_refiner_converts_and_gives_keras_values(refiner_dir):
    """benchmarks/bench_stages.py times the network cut after each block: every cut exists in
    a refiner, in order, and LiteRT float32 runs each prefix as Keras does."""
    import sys

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))
    from bench_stages import prefixes

    model, _ = segtf.load_model(refiner_dir)
    found = prefixes(model)
    assert [block for block, _ in found] == [
        "backbone", "localisation / ASPP", "stage P4", "stage P3", "stage P2", "stage P1",
        "full resolution / decoder", "logits"]
    x = _photo(48, 48, 3)[None].astype(np.float32)
    interpreter_class = litert._interpreter_class()
    for block, prefix in (found[0], found[-1]):
        flatbuffer = litert.convert_network(prefix, "none", network_size=(48, 48))
        interpreter = interpreter_class(model_content=flatbuffer)
        interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
        interpreter.invoke()
        got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
        expected = np.asarray(prefix(x))
        # The ONNX export's bar, relative to the largest logit: a random tiny model's logits
        # reach ~180, where float32 sums in another order differ by ~1e-3 (CI's CPU did).
        np.testing.assert_allclose(got, expected, err_msg=block,
                                   atol=onnx_export.allowed_logit_difference(expected))


@pytest.mark.parametrize("fixture", ["tiny_model_dir", "refiner_dir", "refiner_on_deeplab_dir"])
def test_litert_gives_the_tensorflow_pixels(fixture, request, tmp_path):
    folder = request.getfixturevalue(fixture)
    image = _photo(70, 90, seed=1)
    reference = segtf.Segmenter(folder)
    lite = segtf.Segmenter(folder, runtime="litert")
    assert lite.runtime == "litert" and lite.task == reference.task
    for options in ({}, {"tile": 40}, {"tta": True}):
        expected = reference.segment(image, **options)
        got = lite.segment(image, **options)
        np.testing.assert_allclose(got.probabilities, expected.probabilities, atol=1e-4)
        assert got.class_names == expected.class_names
    # The one-call path (compiled resizes around the file) and the general one agree.
    from segtf.inference import _predict_window

    generic = _predict_window(lite.model.forward, image, task=lite.task, scales=(1.0,),
                              flip=False)
    np.testing.assert_allclose(lite.model.probabilities(image, lite.task), generic, atol=1e-6)
    cached = list((tmp_path / "cache" / "litert").iterdir())
    assert len(cached) == 1 and (cached[0] / "segtf.json").is_file()
    stamp = (cached[0] / "model.tflite").stat().st_mtime_ns
    segtf.Segmenter(folder, runtime="litert")  # second load: the cached file, not converted
    assert (cached[0] / "model.tflite").stat().st_mtime_ns == stamp


@pytest.mark.slow
def test_quantised_files_stay_close(refiner_dir, tmp_path):
    model, info = segtf.load_model(refiner_dir)
    images = [_photo(60, 80, seed=s) for s in range(6)]
    expected = [segtf.segment(x, model).alpha for x in images]
    sizes = {}
    for quantize, tolerance in (("none", 1e-4), ("float16", 2e-2), ("int8", 0.1)):
        path = export_tflite(model, tmp_path / quantize, info=info, quantize=quantize,
                             calibration=images)
        meta = json.loads((path.parent / "segtf.json").read_text())
        assert meta["quantize"] == quantize and meta["working_side"] == 48
        sizes[quantize] = path.stat().st_size
        lite = segtf.Segmenter(path)
        errors = [np.abs(lite.segment(x).alpha - e).mean() for x, e in zip(images, expected, strict=True)]
        assert max(errors) < tolerance, (quantize, errors)
    assert sizes["int8"] < sizes["float16"] < sizes["none"]


def test_int8_runs_at_sizes_calibration_never_saw(tmp_path):
    """The pyramid pooling divides by bin counts that depend on the input size; in int8 a
    count could round to zero on wide photos (`div.cc: data[i] != zero_point`, found by
    bench_runtimes on the default model): those divisions stay float."""
    config = segtf.models.get_config("refiner_lite", **TINY_MODEL,
                                     working_side=320, input_size=(240, 320))
    model = segtf.models.build_from_config(config)
    info = ModelInfo(name="tiny_fg320", model=config, class_names=("foreground",))
    calibration = [_photo(240, 320, seed=s) for s in range(4)]
    path = export_tflite(model, tmp_path, info=info, quantize="int8", calibration=calibration)
    lite = segtf.Segmenter(path)
    for height, width in ((100, 320), (50, 400), (320, 90), (97, 61)):
        image = _photo(height, width, seed=height)
        error = np.abs(lite.segment(image).alpha - segtf.segment(image, model).alpha).mean()
        assert error < 0.1, (height, width, error)


def test_a_fixed_size_file_gives_the_tensorflow_pixels_at_its_size(refiner_dir, tmp_path):
    """--input-size fixes the network to the photos' working size (every layer on XNNPACK);
    at that size the pixels are the TensorFlow path's, other sizes are resized to it."""
    import keras
    from ai_edge_litert.interpreter import Interpreter

    keras.utils.set_random_seed(3)  # weights whose alpha varies over the photo (checked below)
    config = segtf.models.get_config(
        "refiner_lite", **TINY_MODEL, working_side=48, input_size=(48, 64)
    )
    model = segtf.models.build_from_config(config)
    info = ModelInfo(name="tiny_fg", model=config, class_names=("foreground",))
    path = export_tflite(model, tmp_path, info=info, input_size=(60, 80))
    meta = json.loads((path.parent / "segtf.json").read_text())
    assert meta["network_size"] == [36, 48]  # the working size of 60 x 80 at side 48
    assert Interpreter(model_path=str(path)).get_input_details()[0]["shape"].tolist() == [
        1, 36, 48, 3]
    lite = segtf.Segmenter(path)
    for height, width in ((60, 80), (120, 160)):  # both have the working size 36 x 48
        image = _photo(height, width, seed=height)
        expected = segtf.segment(image, model).alpha
        assert expected.std() > 1e-3  # not a constant answer that any file would match
        np.testing.assert_allclose(lite.segment(image).alpha, expected, atol=1e-4)
    other = lite.segment(_photo(50, 90, seed=5)).alpha  # resized to 36 x 48 and back
    assert other.shape == (50, 90) and 0 <= other.min() <= other.max() <= 1


def _write_photos(folder, count=3):
    folder.mkdir(parents=True)
    for i in range(count):
        Image.fromarray(_photo(40, 56, seed=i)).save(folder / f"p{i}.png")
    return folder


@pytest.mark.slow
def test_cli_exports_int8_and_segments_with_it(refiner_dir, tmp_path, capsys):
    photos = _write_photos(tmp_path / "photos")
    code = main(["export", str(refiner_dir), "--format", "tflite", "--quantize", "int8",
                 "--calibration", str(photos), "--out", str(tmp_path / "lite")])
    assert code == 0, capsys.readouterr().err
    tflite = tmp_path / "lite" / "tiny_fg" / "1" / "model.tflite"
    assert tflite.is_file()
    code = main(["segment", str(photos), "--model", str(tflite), "--out", str(tmp_path / "out"),
                 "--save", "mask"])
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "out" / "photos").iterdir()) == [
        "p0.mask.png", "p1.mask.png", "p2.mask.png"]
    code = main(["segment", str(photos / "p0.png"), "--model", str(refiner_dir), "--runtime",
                 "litert", "--quantize", "float16", "--out", str(tmp_path / "out16")])
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "out16" / "p0.mask.png").is_file()


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["export", "{model}", "--format", "tflite", "--quantize", "int8", "--out", "{tmp}/x"],
         "--quantize int8 needs --calibration DIR"),
        (["export", "{model}", "--quantize", "float16", "--out", "{tmp}/x"],
         "--quantize applies to --format tflite only"),
        (["export", "{model}", "--format", "tflite", "--quantize", "int8", "--calibration",
          "{tmp}/nowhere", "--out", "{tmp}/x"], "nowhere: not a folder"),
        (["export", "{model}", "--input-size", "360", "480", "--out", "{tmp}/x"],
         "--input-size applies to --format tflite only"),
        (["export", "{model}", "--format", "tflite", "--input-size", "0", "480", "--out",
          "{tmp}/x"], "give a positive height and width"),
        (["segment", "{photo}", "--quantize", "float16", "--out", "{tmp}/o", "--model",
          "{model}"], "add --runtime litert"),
        (["segment", "{photo}", "--runtime", "litert", "--out", "{tmp}/o", "--model",
          "{bare}"], "segtf.json: missing or not a segtf LiteRT sidecar"),
    ],
)
def test_cli_misuse_is_a_clean_error(argv, needle, tiny_model_dir, tmp_path, capsys):
    photo = _write_photos(tmp_path / "photos", 1) / "p0.png"
    bare = tmp_path / "bare" / "model.tflite"
    bare.parent.mkdir()
    bare.write_bytes(b"not a flatbuffer")
    values = {"model": tiny_model_dir, "tmp": tmp_path, "photo": photo, "bare": bare}
    code = main([a.format(**values) for a in argv])
    err = capsys.readouterr().err
    assert code == 2, err
    assert needle in err and "Traceback" not in err, err
