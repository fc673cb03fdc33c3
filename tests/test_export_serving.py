"""What a TF Serving user gets beyond the main signatures (issue 16): labels-only and PNG
signatures with small REST answers, warm-up records that parse with TF Serving's own protos,
the documented EXIF difference, and peak memory on a 12 Mpx JPEG with the shipped default."""

from __future__ import annotations

import base64
import io
import json
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

import segtf
import segtf.models
from segtf.cli import main
from segtf.zoo import ModelInfo, save_model_folder

REPO = pathlib.Path(__file__).resolve().parents[1]


def _photo(height: int, width: int) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width]
    disc = ((yy - height / 2) ** 2 + (xx - width / 3) ** 2) < (min(height, width) / 3) ** 2
    image = np.stack([xx * 255 / width, yy * 255 / height, disc * 200.0], -1)
    return image.astype(np.uint8)


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("serving")
    config = segtf.models.get_config("deeplabv3plus_lite", num_classes=3, width=0.125,
                                     head_filters=16)
    info = ModelInfo(name="tiny", model=config, class_names=("a", "b", "c"))
    folder = save_model_folder(segtf.models.build_from_config(config), info, root / "tiny")
    assert main(["export", str(folder), "--out", str(root / "serving")]) == 0
    return folder, root / "serving" / "tiny" / "1"


@pytest.fixture(scope="module")
def loaded(exported):
    import tensorflow as tf

    return tf.saved_model.load(str(exported[1]))


def test_labels_and_png_signatures_match_segment_and_stay_small(exported, loaded):
    import tensorflow as tf

    folder, _ = exported
    image = _photo(360, 480)
    expected = segtf.segment(image, folder).labels
    labels = loaded.signatures["serving_labels"](images=tf.constant([_png(image)]))
    assert labels["labels"].dtype == tf.uint8
    np.testing.assert_array_equal(labels["labels"].numpy()[0], expected)
    pngs = loaded.signatures["serving_png"](images=tf.constant([_png(image)]))
    decoded = np.asarray(Image.open(io.BytesIO(pngs["mask_png_bytes"].numpy()[0])))
    np.testing.assert_array_equal(decoded, expected)
    # TF Serving's REST row format: numbers as JSON, `*_bytes` strings as {"b64": ...}.
    rest_labels = json.dumps({"predictions": [{
        "labels": labels["labels"].numpy()[0].tolist(),
        "image_size": labels["image_size"].numpy()[0].tolist()}]})
    rest_png = json.dumps({"predictions": [{"mask_png_bytes": {"b64": base64.b64encode(
        pngs["mask_png_bytes"].numpy()[0]).decode()}}]})
    assert len(rest_labels) < 1_000_000 and len(rest_png) < 50_000, (len(rest_labels), len(rest_png))


def test_small_signatures_take_mixed_sizes_and_empty_batches(loaded):
    import tensorflow as tf

    batch = tf.constant([_png(_photo(30, 40)), _png(_photo(21, 53))])
    labels = loaded.signatures["serving_labels"](images=batch)
    assert labels["labels"].shape == (2, 30, 53)
    assert labels["image_size"].numpy().tolist() == [[30, 40], [21, 53]]
    pngs = loaded.signatures["serving_png"](images=batch)["mask_png_bytes"].numpy()
    assert [Image.open(io.BytesIO(b)).size for b in pngs] == [(40, 30), (53, 21)]
    for name in ("serving_labels", "serving_png"):
        out = loaded.signatures[name](images=tf.constant([], tf.string))
        assert all(v.shape[0] == 0 for v in out.values())


def test_warmup_records_parse_with_tf_serving_protos_and_run(exported, loaded):
    import tensorflow as tf

    prediction_log_pb2 = pytest.importorskip(
        "tensorflow_serving.apis.prediction_log_pb2", reason="tensorflow-serving-api absent"
    )
    path = exported[1] / "assets.extra" / "tf_serving_warmup_requests"
    signatures = []
    for record in tf.data.TFRecordDataset(str(path)):
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        request = log.predict_log.request
        assert request.model_spec.name == "tiny"
        images = tf.make_ndarray(request.inputs["images"])
        out = loaded.signatures[request.model_spec.signature_name](images=tf.constant(images))
        assert out["image_size"].numpy().tolist() == [[64, 64]]
        signatures.append(request.model_spec.signature_name)
    assert signatures == ["serving_default", "serving_labels", "serving_png"]


def test_exif_orientation_is_ignored_in_the_graph_as_documented(loaded, tmp_path):
    """docs/export.md: the in-graph decoder ignores EXIF orientation; segment() applies it."""
    import tensorflow as tf

    image = Image.fromarray(_photo(40, 64))
    exif = image.getexif()
    exif[0x0112] = 6  # stored landscape, displayed rotated 90 degrees
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes())
    served = loaded.signatures["serving_default"](images=tf.constant([buffer.getvalue()]))
    assert served["image_size"].numpy().tolist() == [[40, 64]]
    assert segtf.read_image(buffer.getvalue()).shape[:2] == (64, 40)
    assert "ignores EXIF orientation" in (REPO / "docs" / "export.md").read_text()


PEAK_RSS = textwrap.dedent(r"""
    import io, re, sys
    import numpy as np
    import tensorflow as tf
    from PIL import Image

    serve = tf.saved_model.load(sys.argv[1]).signatures[sys.argv[2]]
    photo = np.empty((3000, 4000, 3), np.uint8)  # built in uint8: the test adds ~36 MB
    photo[..., 0] = (np.arange(4000) % 256).astype(np.uint8)
    photo[..., 1] = (np.arange(3000) % 256).astype(np.uint8)[:, None]
    photo[..., 2] = 128
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, "JPEG", quality=90)
    del photo
    out = serve(images=tf.constant([buffer.getvalue()]))
    assert out["image_size"].numpy().tolist() == [[3000, 4000]]
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a child of a large
    # pytest process would report the parent's size.
    status = open("/proc/self/status").read()
    print(int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024)
""")


@pytest.mark.slow
@pytest.mark.skipif(not (REPO / "models").is_dir(), reason="no shipped models in this checkout")
def test_a_12_megapixel_jpeg_stays_under_1_5_gb_with_the_default_model(tmp_path):
    assert main(["export", "default", "--out", str(tmp_path), "--name", "fg"]) == 0
    for signature in ("serving_default", "serving_png"):
        run = subprocess.run(
            [sys.executable, "-c", PEAK_RSS, str(tmp_path / "fg" / "1"), signature],
            capture_output=True, text=True, timeout=600,
        )
        assert run.returncode == 0, run.stderr[-2000:]
        peak_mb = float(run.stdout.strip().splitlines()[-1])
        print(f"peak RSS, {signature}, 12 Mpx JPEG: {peak_mb:.0f} MB")
        assert peak_mb < 1536, (signature, peak_mb)
