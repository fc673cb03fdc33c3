"""SavedModel / TFLite export: runs without segtf, matches segtf.segment, serves cleanly.

Tolerances: PNG bytes and uint8 arrays give the same pixels to both paths, so probabilities
must agree within 1e-4. JPEG bytes are decoded by TensorFlow's libjpeg in the graph and by
Pillow in segtf, which may differ by a few grey levels; there probabilities must agree within
0.05 and labels on at least 95 % of pixels.
"""

import io
import json
import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from data_factory import TINY_MODEL
from PIL import Image

import segtf
import segtf.models
from segtf.cli import main
from segtf.zoo import ModelInfo, save_model_folder

REPO = pathlib.Path(__file__).resolve().parents[1]
SIZES = ((30, 40), (21, 53))  # two different (height, width)


def _rgb(h, w, seed):
    # Smooth content, so JPEG artefacts stay small and the comparison says something.
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) * 127 / (h + w)], -1)
    noise = np.random.default_rng(seed).random((h, w, 3)) * 30
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def _encode(array, fmt):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(model folder, SavedModel version folder), exported through the CLI."""
    import keras

    root = tmp_path_factory.mktemp("export")
    # Seeded: the JPEG comparison below counts labels of untrained weights, whose near ties
    # decide it; unseeded, the weights (and the count) changed with the tests run before.
    keras.utils.set_random_seed(0)
    config = segtf.models.get_config(
        "deeplabv3plus_lite", num_classes=3, **TINY_MODEL
    )
    info = ModelInfo(name="tiny", model=config, class_names=("a", "b", "c"))
    folder = save_model_folder(segtf.models.build_from_config(config), info, root / "tiny")
    assert main(["export", str(folder), "--out", str(root / "serving"), "--version", "3"]) == 0
    return folder, root / "serving" / "tiny" / "3"


FRESH_PROCESS = textwrap.dedent("""
    import json, sys


    class NoSegtf:  # as if segtf were not installed: any import of it fails
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "segtf":
                raise ImportError("segtf is not installed in this process")


    sys.meta_path.insert(0, NoSegtf())
    import numpy as np
    import tensorflow as tf

    version_dir, inputs_file, out_file = sys.argv[1:4]
    loaded = tf.saved_model.load(version_dir)
    data = np.load(inputs_file)
    results = {}
    for key in sorted(data.files):
        fmt, index = key.split("_")
        if fmt == "array":
            out = loaded.signatures["serving_image_tensor"](images=tf.constant(data[key][None]))
        else:
            out = loaded.signatures["serving_default"](images=tf.constant([data[key].tobytes()]))
        for name, value in out.items():
            results[f"{key}/{name}"] = value.numpy()
    # Two sizes in one batch of encoded images: each is segmented at its own size.
    batch = [data["png_0"].tobytes(), data["png_1"].tobytes()]
    for name, value in loaded.signatures["serving_default"](images=tf.constant(batch)).items():
        results[f"batch/{name}"] = value.numpy()
    try:
        loaded.signatures["serving_default"](images=tf.constant([b"not an image"]))
        results["bad"] = np.array("no error")
    except tf.errors.InvalidArgumentError as err:
        results["bad"] = np.array(err.message)
    leaked = [m for m in sys.modules if m.split(".")[0] == "segtf"]
    results["leaked"] = np.array(json.dumps(leaked))
    np.savez(out_file, **results)
""")


def test_fresh_tensorflow_process_matches_segment(exported, tmp_path):
    folder, version_dir = exported
    images = [_rgb(h, w, seed=i) for i, (h, w) in enumerate(SIZES)]
    inputs = {}
    for i, image in enumerate(images):
        inputs[f"array_{i}"] = image
        for fmt in ("png", "jpeg"):
            inputs[f"{fmt}_{i}"] = np.frombuffer(_encode(image, fmt.upper()), np.uint8)
    np.savez(tmp_path / "inputs.npz", **inputs)
    script = tmp_path / "serve.py"
    script.write_text(FRESH_PROCESS)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [
            sys.executable,
            "-I",
            str(script),
            str(version_dir),
            str(tmp_path / "inputs.npz"),
            str(tmp_path / "out.npz"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = np.load(tmp_path / "out.npz")
    assert json.loads(str(out["leaked"])) == []  # segtf was neither needed nor imported
    assert "Unknown image file format" in str(out["bad"])

    for i, image in enumerate(images):
        expected = segtf.segment(image, folder)
        for fmt in ("array", "png"):
            probs = out[f"{fmt}_{i}/probabilities"][0]
            assert probs.shape == (*SIZES[i], 3)
            np.testing.assert_allclose(probs, expected.probabilities, atol=1e-4)
            np.testing.assert_array_equal(out[f"{fmt}_{i}/labels"][0], expected.labels)
            assert out[f"{fmt}_{i}/labels"].dtype == np.int32
            assert out[f"{fmt}_{i}/probabilities"].dtype == np.float32
        from_jpeg = segtf.segment(_encode(image, "JPEG"), folder)
        assert np.abs(out[f"jpeg_{i}/probabilities"][0] - from_jpeg.probabilities).max() < 0.05
        agree = (out[f"jpeg_{i}/labels"][0] == from_jpeg.labels).mean()
        assert agree >= 0.95

        h, w = SIZES[i]
        np.testing.assert_array_equal(out["batch/image_size"][i], [h, w])
        np.testing.assert_array_equal(out["batch/labels"][i, :h, :w], expected.labels)
        assert (out["batch/labels"][i, h:] == -1).all() and (
            out["batch/labels"][i, :, w:] == -1
        ).all()


def _signature_def(version_dir, name):
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((version_dir / "saved_model.pb").read_bytes())
    return proto.meta_graphs[0].signature_def[name]


def test_signatures_have_named_inputs_and_outputs(exported):
    import tensorflow as tf

    _, version_dir = exported
    default = _signature_def(version_dir, "serving_default")
    tensor = _signature_def(version_dir, "serving_image_tensor")
    assert set(default.inputs) == {"images"} and set(tensor.inputs) == {"images"}
    assert default.inputs["images"].dtype == tf.string.as_datatype_enum
    assert [d.size for d in default.inputs["images"].tensor_shape.dim] == [-1]
    assert tensor.inputs["images"].dtype == tf.uint8.as_datatype_enum
    assert [d.size for d in tensor.inputs["images"].tensor_shape.dim] == [-1, -1, -1, 3]
    for signature in (default, tensor):
        assert set(signature.outputs) == {"labels", "probabilities", "image_size"}
        assert signature.outputs["labels"].dtype == tf.int32.as_datatype_enum
        assert signature.outputs["probabilities"].dtype == tf.float32.as_datatype_enum
    assert (
        json.loads((version_dir / "assets.extra" / "segtf.json").read_text())["task"] == "semantic"
    )


def test_rest_body_and_grpc_request_match_the_signature(exported):
    import base64

    import tensorflow as tf

    from segtf.serving_client import grpc_request, rest_body

    _, version_dir = exported
    signature = _signature_def(version_dir, "serving_default")
    png = _encode(_rgb(16, 24, 0), "PNG")

    body = json.loads(json.dumps(rest_body([png])))
    assert body["signature_name"] == "serving_default"
    # Row format with one input: each instance is the value of "images"; {"b64": ...} is how
    # TF Serving's REST API carries a DT_STRING of binary data.
    assert set(signature.inputs) == {"images"}
    assert signature.inputs["images"].dtype == tf.string.as_datatype_enum
    assert base64.b64decode(body["instances"][0]["b64"]) == png

    request = grpc_request("tiny", [png], version=3)
    assert request.model_spec.signature_name == "serving_default"
    assert set(request.inputs) == set(signature.inputs)
    for key, proto in request.inputs.items():
        assert proto.dtype == signature.inputs[key].dtype
    loaded = tf.saved_model.load(str(version_dir))
    carried = tf.make_ndarray(request.inputs["images"])
    out = loaded.signatures["serving_default"](images=tf.constant(carried))
    assert out["labels"].shape == (1, 16, 24)


def test_saved_model_cli_show_and_run(exported, tmp_path):
    _, version_dir = exported
    cli = [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]
    show = subprocess.run(
        [*cli, "show", "--dir", str(version_dir), "--all"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert show.returncode == 0, show.stderr[-2000:]
    for text in (
        "serving_default",
        "serving_image_tensor",
        "DT_STRING",
        "DT_UINT8",
        "labels",
        "probabilities",
    ):
        assert text in show.stdout
    # --input_exprs takes Python literals: a nested list of pixels, and real PNG bytes.
    pixels = np.full((1, 6, 8, 3), 128, np.uint8).tolist()
    png = _encode(_rgb(5, 7, seed=4), "PNG")
    cases = (
        ("serving_image_tensor", f"images={pixels!r}", (1, 6, 8)),
        ("serving_default", f"images={[png]!r}", (1, 5, 7)),
    )
    for signature, expr, shape in cases:
        outdir = tmp_path / signature
        run = subprocess.run(
            [
                *cli,
                "run",
                "--dir",
                str(version_dir),
                "--tag_set",
                "serve",
                "--signature_def",
                signature,
                "--input_exprs",
                expr,
                "--outdir",
                str(outdir),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 0, run.stderr[-2000:]
        labels = np.load(outdir / "labels.npy")
        assert labels.shape == shape and labels.dtype == np.int32


@pytest.mark.slow
def test_foreground_export_has_alpha_and_tflite_matches_keras(tmp_path):
    import tensorflow as tf

    from segtf.export import export_saved_model, export_tflite, tflite_predict

    config = segtf.models.get_config(
        "deeplabv3plus_lite",
        num_classes=1,
        width=0.125,
        head_filters=16,
        task="foreground",
        input_size=(48, 64),
    )
    model = segtf.models.build_from_config(config)
    info = ModelInfo(name="fg", model=config)
    image = _rgb(48, 64, seed=3)
    expected = segtf.segment(image, model)

    path = export_saved_model(model, tmp_path, info=info)
    assert path == tmp_path / "fg" / "1"
    out = tf.saved_model.load(str(path)).signatures["serving_image_tensor"](
        images=tf.constant(image[None])
    )
    np.testing.assert_allclose(out["alpha"].numpy()[0], expected.alpha, atol=1e-4)
    assert out["alpha"].dtype == tf.float32

    pytest.importorskip("ai_edge_litert", reason="LiteRT (pip install segtf[litert]) absent")
    tflite = export_tflite(model, tmp_path, info=info)
    assert tflite == tmp_path / "fg" / "2" / "model.tflite"
    assert (tflite.parent / "segtf.json").is_file()
    result = tflite_predict(tflite, image)
    assert set(result) == {"labels", "probabilities", "alpha"}
    np.testing.assert_allclose(result["alpha"][0], expected.alpha, atol=1e-4)


def test_a_square_working_size_exports_with_the_same_pixels(tmp_path):
    """working_aspect="square": the SavedModel's own resize (uint8, before the network) and
    LiteRT's squash a photo like the Keras model does."""
    import keras
    import tensorflow as tf

    from segtf.export import export_saved_model, export_tflite

    keras.utils.set_random_seed(3)
    config = segtf.models.get_config("refiner_lite", **TINY_MODEL,
                                     working_side=32, working_aspect="square")
    model = segtf.models.build_from_config(config)
    info = ModelInfo(name="sq", model=config, class_names=("foreground",))
    image = _rgb(40, 70, seed=5)
    expected = segtf.segment(image, model).alpha
    assert expected.std() > 1e-3  # an answer that varies, so a wrong resize would show
    path = export_saved_model(model, tmp_path, info=info)
    out = tf.saved_model.load(str(path)).signatures["serving_image_tensor"](
        images=tf.constant(image[None]))
    np.testing.assert_allclose(out["alpha"].numpy()[0], expected, atol=1e-3)

    pytest.importorskip("ai_edge_litert", reason="LiteRT (pip install segtf[litert]) absent")
    from ai_edge_litert.interpreter import Interpreter

    path = export_tflite(model, tmp_path, info=info)
    # Every photo becomes 32 x 32, so the file is fixed to it (XNNPACK runs all of it).
    assert Interpreter(model_path=str(path)).get_input_details()[0]["shape"].tolist() == [
        1, 32, 32, 3]
    np.testing.assert_allclose(segtf.Segmenter(path).segment(image).alpha, expected, atol=1e-4)


def test_export_refuses_an_existing_version(exported, capsys):
    folder, version_dir = exported
    code = main(["export", str(folder), "--out", str(version_dir.parents[1]), "--version", "3"])
    assert code == 2 and "exists" in capsys.readouterr().err


def test_empty_batch_returns_empty_tensors(exported):
    import tensorflow as tf

    _, version = exported
    serve = tf.saved_model.load(str(version)).signatures["serving_default"]
    out = serve(images=tf.constant([], tf.string))
    assert out["labels"].shape[0] == 0 and out["probabilities"].shape[0] == 0
    assert out["probabilities"].shape.rank == 4 and out["image_size"].shape == (0, 2)


def test_huge_png_is_refused_before_decoding(exported, tmp_path):
    import tensorflow as tf

    from segtf.export import MAX_SERVING_PIXELS

    _, version = exported
    serve = tf.saved_model.load(str(version)).signatures["serving_default"]
    path = tmp_path / "huge.png"
    Image.new("L", (20000, 20000)).save(path)  # 400 Mpx in a few hundred KB
    assert path.stat().st_size < 2_000_000
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"more than {MAX_SERVING_PIXELS}"):
        serve(images=tf.constant([path.read_bytes()]))
    ok = serve(images=tf.constant([_encode(_rgb(40, 56, 0), "PNG")]))  # the server goes on
    assert tuple(ok["image_size"].numpy()[0]) == (40, 56)
