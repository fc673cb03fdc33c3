"""Export for TF Serving (SavedModel) and TFLite: models that run with nothing of segtf installed.

SavedModel layout `DIR/<name>/<version>/` (what TF Serving watches), two signatures:

- `serving_default`: `images` = tf.string [None] of encoded JPEG / PNG / GIF / BMP files,
  decoded inside the graph, each to its own size.
- `serving_image_tensor`: `images` = uint8 [None, None, None, 3] RGB, any height and width.

Outputs: `labels` int32 [B, H, W], `probabilities` float32 [B, H, W, C], `image_size` int32
[B, 2] (height, width of each image) and, for foreground models, `alpha` float32 [B, H, W].
In a `serving_default` batch of images of different sizes, outputs are padded to the largest
height and width: `labels` with -1, probabilities / alpha with 0; crop each to `image_size`.

Every segtf model normalises its own input (Preprocess layer) and returns logits at the input
size, so the graph is: decode -> model -> float32 -> softmax / sigmoid -> argmax. No resize is
needed for SavedModels. `--format tflite` writes a LiteRT file instead (see `segtf.litert`).
"""

from __future__ import annotations

import logging
import os
import pathlib
import re
import shutil

import keras
import numpy as np
import tensorflow as tf

from segtf.atomic import temporary_sibling

logger = logging.getLogger(__name__)

FORMATS = ("saved_model", "tflite", "onnx")
DEFAULT_SIGNATURE = "serving_default"
TENSOR_SIGNATURE = "serving_image_tensor"
LABELS_SIGNATURE = "serving_labels"
PNG_SIGNATURE = "serving_png"
WARMUP_FILE = "tf_serving_warmup_requests"
INPUT_NAME = "images"


def _postprocess(logits: tf.Tensor, task: str) -> dict[str, tf.Tensor]:
    """Logits (B, H, W, C) to the named outputs, all float32 / int32."""
    from segtf.tasks import FOREGROUND_THRESHOLD
    from segtf.tasks import probabilities as activate

    logits = tf.cast(logits, tf.float32)  # mixed-precision models export float32 outputs
    probabilities = activate(logits, task)  # the same definition as segment()
    if task == "foreground":
        return {
            "labels": tf.cast(probabilities[..., 0] >= FOREGROUND_THRESHOLD, tf.int32),
            "probabilities": probabilities,
            "alpha": probabilities[..., 0],
        }
    return {
        "labels": tf.argmax(probabilities, axis=-1, output_type=tf.int32),
        "probabilities": probabilities,
    }


def _logits(model: keras.Model, images: tf.Tensor) -> tf.Tensor:
    out = model(tf.cast(images, tf.float32), training=False)
    return out["logits"] if isinstance(out, dict) else out


def make_logits_fn(model: keras.Model):
    """uint8 images (B, H, W, 3) to float32 logits at their size, as one graph function that
    every signature calls, so the SavedModel holds one copy of the network, not four.

    Where the model starts by resizing to a working side, the uint8 photo is resized here and
    only the network runs inside: the model's own first layer would cast the full photo to
    float32 first (144 MB for 12 Mpx). The operations are the layers' own (antialiased
    bilinear down, bilinear up)."""
    from segtf.models.layers import working_size
    from segtf.models.split import NotSplittable, split_model, working_resize

    spec = [tf.TensorSpec([None, None, None, 3], tf.uint8)]
    side, square = working_resize(model)
    try:
        network = split_model(model)[0] if side else None
    except NotSplittable:
        network = None
    if network is None:
        return tf.function(lambda images: _logits(model, images), input_signature=spec,
                           autograph=False)

    @tf.function(input_signature=spec, autograph=False)
    def logits(images):
        size = tf.shape(images)[1:3]
        small = tf.image.resize(images, working_size(tf.shape(images), side, square),
                                antialias=True)
        out = tf.cast(_logits(network, small), tf.float32)
        return tf.image.resize(out, size, method="bilinear")

    return logits


def make_tensor_fn(logits_fn, task: str):
    """`serving_image_tensor`: uint8 RGB batch (one size per batch) to the named outputs."""

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, INPUT_NAME)])
    def serve_image_tensor(images):
        outputs = _postprocess(logits_fn(images), task)
        shape = tf.shape(images)
        outputs["image_size"] = tf.tile(shape[None, 1:3], [shape[0], 1])
        return outputs

    return serve_image_tensor


# One request may not ask for more than this many pixels per image (a 20000 x 20000 PNG of a
# few hundred KB would otherwise ask for a 4.8 GB tensor and could kill the server).
MAX_SERVING_PIXELS = 40_000_000
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _header_pixels(encoded: tf.Tensor) -> tf.Tensor:
    """Pixel count from a PNG or JPEG header, read without decoding; 0 for other formats."""

    def png():
        raw = tf.cast(tf.io.decode_raw(tf.strings.substr(encoded, 16, 8), tf.uint8), tf.int64)
        width = raw[0] * 2**24 + raw[1] * 2**16 + raw[2] * 2**8 + raw[3]
        height = raw[4] * 2**24 + raw[5] * 2**16 + raw[6] * 2**8 + raw[7]
        return width * height

    def jpeg():
        shape = tf.cast(tf.image.extract_jpeg_shape(encoded), tf.int64)
        return shape[0] * shape[1]

    is_png = tf.logical_and(
        tf.strings.length(encoded) >= 24, tf.strings.substr(encoded, 0, 8) == _PNG_MAGIC
    )
    is_jpeg = tf.strings.substr(encoded, 0, 2) == b"\xff\xd8"
    return tf.case(
        [(is_png, png), (is_jpeg, jpeg)], default=lambda: tf.constant(0, tf.int64)
    )


def _decode(encoded: tf.Tensor) -> tf.Tensor:
    tf.debugging.assert_less_equal(
        _header_pixels(encoded),
        tf.constant(MAX_SERVING_PIXELS, tf.int64),
        message=f"image too large for this server: more than {MAX_SERVING_PIXELS} pixels; "
        "downscale it on the client",
    )
    # decode_image raises InvalidArgumentError ("Unknown image file format...") on bad bytes.
    image = tf.io.decode_image(encoded, channels=3, dtype=tf.uint8, expand_animations=False)
    image.set_shape([None, None, 3])
    tf.debugging.assert_less_equal(
        tf.cast(tf.shape(image)[0], tf.int64) * tf.cast(tf.shape(image)[1], tf.int64),
        tf.constant(MAX_SERVING_PIXELS, tf.int64),
        message=f"image too large for this server: more than {MAX_SERVING_PIXELS} pixels",
    )
    return image


def make_bytes_fn(logits_fn, task: str, channels: int):
    """`serving_default`: encoded images, each decoded and segmented at its own size."""
    names = ["labels", "probabilities"] + (["alpha"] if task == "foreground" else [])
    dtypes = [tf.int32 if name == "labels" else tf.float32 for name in names]

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, INPUT_NAME)], autograph=False)
    def serve_encoded(images):
        count, decoded, sizes, (height, width) = _decode_batch(images)

        def body(i, arrays):
            outputs = _postprocess(logits_fn(decoded.read(i)[None]), task)
            padded = [
                _pad_to(outputs[name][0], height, width, -1 if name == "labels" else 0)
                for name in names
            ]
            return i + 1, tuple(a.write(i, x) for a, x in zip(arrays, padded, strict=True))

        arrays = tuple(tf.TensorArray(dtype, size=count) for dtype in dtypes)
        _, arrays = tf.while_loop(lambda i, _: i < count, body, (tf.constant(0), arrays))
        result = {
            name: _stack(array, height, width, channels, name, count)
            for name, array in zip(names, arrays, strict=True)
        }
        result["image_size"] = sizes
        return result

    return serve_encoded


def _mask_uint8(outputs: dict, task: str) -> tf.Tensor:
    """(H, W) uint8: class indices, or for foreground models the alpha matte scaled to 0..255."""
    if task == "foreground":
        return tf.cast(tf.round(tf.clip_by_value(outputs["alpha"][0], 0.0, 1.0) * 255.0), tf.uint8)
    return tf.cast(outputs["labels"][0], tf.uint8)  # a semantic export has at most 256 classes


def make_small_fn(logits_fn, task: str, as_png: bool):
    """`serving_labels` / `serving_png`: encoded images in, only the mask out, as uint8 label
    maps padded like `serving_default` (`labels`) or one PNG per image (`mask_png_bytes`,
    which TF Serving's REST API returns base64-encoded). A 480x360 answer is a few KB as PNG,
    ~0.4 MB as JSON numbers, against ~7 MB for `serving_default`'s probabilities."""
    name, dtype = ("mask_png_bytes", tf.string) if as_png else ("labels", tf.uint8)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, INPUT_NAME)], autograph=False)
    def serve_small(images):
        count, decoded, sizes, (height, width) = _decode_batch(images)

        def body(i, array):
            mask = _mask_uint8(_postprocess(logits_fn(decoded.read(i)[None]), task), task)
            value = tf.io.encode_png(mask[..., None]) if as_png else _pad_to(mask, height, width, 0)
            return i + 1, array.write(i, value)

        element = tf.TensorShape([]) if as_png else tf.TensorShape([None, None])
        array = tf.TensorArray(dtype, size=count, element_shape=element, infer_shape=False)
        _, array = tf.while_loop(lambda i, _: i < count, body, (tf.constant(0), array))
        if as_png:
            values = tf.cond(count > 0, array.stack, lambda: tf.zeros([0], tf.string))
        else:
            values = _stack(array, height, width, 0, "labels", count)
        return {name: values, "image_size": sizes}

    return serve_small


def _decode_batch(images: tf.Tensor):
    """`(count, decoded images, sizes [B, 2], (height, width))` of a batch of encoded images;
    (height, width) is the largest of them (0, 0 for an empty batch): the padded size."""
    count = tf.shape(images)[0]
    decoded, sizes = _decode_all(images, count)
    largest = (tf.reduce_max(tf.concat([sizes[:, 0], [0]], 0)),
               tf.reduce_max(tf.concat([sizes[:, 1], [0]], 0)))
    return count, decoded, sizes, largest


def _decode_all(images: tf.Tensor, count: tf.Tensor):
    """Decodes each encoded image to its own size: (TensorArray of images, sizes [B, 2])."""
    decoded = tf.TensorArray(
        tf.uint8, size=count, infer_shape=False, element_shape=tf.TensorShape([None, None, 3])
    )
    sizes = tf.TensorArray(tf.int32, size=count, element_shape=tf.TensorShape([2]))

    def body(i, decoded, sizes):
        image = _decode(images[i])
        return i + 1, decoded.write(i, image), sizes.write(i, tf.shape(image)[:2])

    _, decoded, sizes = tf.while_loop(
        lambda i, *_: i < count, body, (tf.constant(0), decoded, sizes)
    )
    return decoded, tf.reshape(sizes.stack(), [-1, 2])


def _pad_to(x: tf.Tensor, height, width, value) -> tf.Tensor:
    shape = tf.shape(x)
    paddings = [[0, height - shape[0]], [0, width - shape[1]]] + [[0, 0]] * (len(x.shape) - 2)
    return tf.pad(x, paddings, constant_values=tf.cast(value, x.dtype))


def _stack(array: tf.TensorArray, height, width, channels: int, name: str, count) -> tf.Tensor:
    # An empty batch returns empty tensors of the right rank (a TensorArray cannot stack none).
    tail = tf.constant([channels] if name == "probabilities" else [], tf.int32)
    return tf.cond(
        count > 0,
        lambda: tf.reshape(array.stack(), tf.concat([[-1, height, width], tail], 0)),
        lambda: tf.zeros(tf.concat([[0, height, width], tail], 0), array.dtype),
    )


def _output_channels(model: keras.Model) -> int:
    output = model.output["logits"] if isinstance(model.output, dict) else model.output
    return int(output.shape[-1])


def _resolve(model, info=None):
    """(keras.Model, ModelInfo) from a zoo name / folder / `.keras` path or a model."""
    from segtf.zoo import resolve_model

    return resolve_model(model, info)


def _version_dir(out: str | os.PathLike, name: str, version: int | None) -> pathlib.Path:
    base = pathlib.Path(out).expanduser() / name
    if version is None:
        existing = (
            [int(p.name) for p in base.glob("*") if p.name.isdigit()] if base.is_dir() else []
        )
        version = max(existing, default=0) + 1
    if int(version) < 1:
        raise ValueError(f"version {version}: TF Serving versions are positive integers")
    target = base / str(int(version))
    if target.exists():
        raise ValueError(
            f"{target} exists: pick another --version (TF Serving never "
            "reloads a changed version in place)"
        )
    return target


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "model"


def export_saved_model(
    model="default",
    out: str | os.PathLike = "exported",
    *,
    version: int | None = None,
    name: str | None = None,
    info=None,
) -> pathlib.Path:
    """Writes a TF Serving SavedModel to `out/<name>/<version>/` and returns that path.

    Args:
        model: a zoo name, model folder, `.keras` file, or a Keras model.
        out: the model base folder TF Serving watches.
        version: the version number (default: one above the highest present).
        name: the model name in the path (default: the model's name).
        info: a `segtf.zoo.ModelInfo` for a bare Keras model (task, classes).
    """
    model, info = _resolve(model, info)
    target = _version_dir(out, _safe_name(name or info.name), version)
    logits_fn = make_logits_fn(model)
    endpoints = {
        DEFAULT_SIGNATURE: make_bytes_fn(logits_fn, info.task, _output_channels(model)),
        TENSOR_SIGNATURE: make_tensor_fn(logits_fn, info.task),
        LABELS_SIGNATURE: make_small_fn(logits_fn, info.task, as_png=False),
        PNG_SIGNATURE: make_small_fn(logits_fn, info.task, as_png=True),
    }
    signatures = {name: fn.get_concrete_function() for name, fn in endpoints.items()}
    # Only the signatures and the tf.Variables they capture are saved (Keras variables
    # themselves are not restorable by TF1-style loaders such as saved_model_cli).
    # keras.export.ExportArchive would also save its endpoints as tf.function attributes,
    # which tf.saved_model.save traces a second time: another copy of every graph.
    captured = {id(v): v for fn in signatures.values() for v in fn.variables}
    root = tf.Module()
    root.model_variables = list(captured.values())
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target and renamed: TF Serving must never see half a version.
    tmp = temporary_sibling(target, directory=True)
    try:
        tf.saved_model.save(root, str(tmp / "model"), signatures=signatures)
        _write_assets_extra(tmp / "model", info)
        _write_warmup_requests(tmp / "model", name or info.name)
        os.replace(tmp / "model", target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    logger.info("exported %s to %s", info.name, target)
    return target


def _write_assets_extra(folder: pathlib.Path, info) -> None:
    """Class names and palette travel with the export (assets.extra is ignored by Serving)."""
    import json

    extra = folder / "assets.extra"
    extra.mkdir(exist_ok=True)
    data = {
        "name": info.name,
        "task": info.task,
        "class_names": list(info.class_names),
        "palette": [list(c) for c in info.palette],
    }
    (extra / "segtf.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _write_warmup_requests(folder: pathlib.Path, model_name: str) -> None:
    """`assets.extra/tf_serving_warmup_requests`: one small JPEG request per encoded-image
    signature, which TF Serving runs when it loads the version, so the first user's request
    does not pay for graph warm-up."""
    from segtf.serving_client import warmup_record

    image = tf.io.encode_jpeg(tf.fill([64, 64, 3], tf.constant(127, tf.uint8))).numpy()
    with tf.io.TFRecordWriter(str(folder / "assets.extra" / WARMUP_FILE)) as writer:
        for signature in (DEFAULT_SIGNATURE, LABELS_SIGNATURE, PNG_SIGNATURE):
            writer.write(warmup_record(_safe_name(model_name), signature, [image]))


def export_tflite(
    model="default",
    out: str | os.PathLike = "exported",
    *,
    version: int | None = None,
    name: str | None = None,
    quantize: str = "none",
    calibration=(),
    info=None,
    input_size=None,
) -> pathlib.Path:
    """Writes `out/<name>/<version>/model.tflite` and `segtf.json` for LiteRT.

    The file holds the model's network, built from TFLite builtins only (so `ai-edge-litert`
    runs it on XNNPACK); see `segtf.litert` for its input and output.
    `quantize`: "none" (float32), "float16", or "int8" calibrated on `calibration` (RGB arrays
    of the model's training images, e.g. `segtf.litert.read_calibration(folder)`).
    `input_size`: (height, width) of the photos the file is for (a camera's frames): the
    network is then fixed to their working size, which lets LiteRT run every layer on
    XNNPACK (faster); photos of other sizes are resized to it and back. None: any size, or
    for a model that squashes every photo to a square working size, that square.
    """
    from segtf import litert
    from segtf.models.split import working_resize

    model, info = _resolve(model, info)
    target = _version_dir(out, _safe_name(name or info.name), version)
    side, square = working_resize(model)
    network_size = litert.fixed_network_size(side, square, input_size)
    flatbuffer = litert.convert(model, quantize, calibration, network_size)
    meta = litert.sidecar(info, side, quantize, network_size, working_square=square)
    path = litert.write(target, flatbuffer, meta)
    logger.info("exported %s (LiteRT, %s) to %s", info.name, quantize, target)
    return path


def tflite_predict(path: str | os.PathLike, image: np.ndarray) -> dict[str, np.ndarray]:
    """Runs an exported LiteRT model on one RGB image: `labels`, `probabilities` and, for
    foreground models, `alpha`, each with a batch axis of 1, at the image's size."""
    from segtf.segment import Segmenter

    result = Segmenter(path).segment(image, tile=0)
    outputs = {"labels": result.labels[None], "probabilities": result.probabilities[None]}
    if result.task == "foreground":
        outputs["alpha"] = result.alpha[None]
    return outputs


def export(
    model="default",
    out: str | os.PathLike = "exported",
    *,
    fmt: str = "saved_model",
    version: int | None = None,
    name: str | None = None,
    quantize: str = "none",
    calibration=(),
    input_size=None,
) -> pathlib.Path:
    """`export_saved_model` or `export_tflite`, by `fmt`."""
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt == "tflite":
        return export_tflite(model, out, version=version, name=name, quantize=quantize,
                             calibration=calibration, input_size=input_size)
    if quantize != "none":
        raise ValueError("--quantize applies to --format tflite only")
    if input_size:
        raise ValueError("--input-size applies to --format tflite only")
    if fmt == "onnx":
        return export_onnx(model, out, version=version, name=name)
    return export_saved_model(model, out, version=version, name=name)


def export_onnx(model="default", out: str | os.PathLike = "exported", *,
                version: int | None = None, name: str | None = None, info=None) -> pathlib.Path:
    """Writes `out/<name>/<version>/model.onnx` and `segtf.json` (see `segtf.onnx_export`):
    the network only, checked against TensorFlow with ONNX Runtime before it is written."""
    from segtf import onnx_export

    onnx_export.require("tf2onnx")  # before loading the model: a missing extra fails fast
    model, info = _resolve(model, info)
    target = _version_dir(out, _safe_name(name or info.name), version)
    path = onnx_export.export_onnx(model, target, info)
    logger.info("exported %s (ONNX) to %s", info.name, target)
    return path
