"""ONNX export of a model's network through tf2onnx, checked against TensorFlow on the way,
and `OnnxModel`, which runs such a file in `segtf.Segmenter` on ONNX Runtime.

`segtf export MODEL --format onnx --out OUT` writes `OUT/<name>/<version>/model.onnx` and
`segtf.json` beside it (`pip install "segtf[onnx]"`: tf2onnx and ONNX Runtime). As in the
LiteRT file, the ONNX file holds the network only: `images`, float32 `[1, H, W, 3]` RGB
0..255 at the working size, in; `logits` out. The resizes (antialiased in, bilinear back) and
sigmoid / softmax stay with the caller, as `segtf.json` says.

`segtf.Segmenter("OUT/<name>/<version>")` (or the `.onnx` path; `segtf segment --model ...`)
runs it with the same resizes, tiling and result object as a LiteRT file.

H and W stay free in the file: with a fixed size, tf2onnx writes each bilinear resize as a
Resize by scales, which ONNX Runtime rounds down (the refiner's 3x3 pyramid pool upsampled to
10 x 10 came out 9 wide, and the file did not load).
"""

from __future__ import annotations

import logging
import os
import pathlib

import numpy as np

from segtf import litert
from segtf.litert import LiteRTModel

logger = logging.getLogger(__name__)

FORMAT = "segtf-onnx/1"
ONNX_FILE = "model.onnx"
OPSET = 17
# Largest |ONNX - TensorFlow| on the probe image's logits accepted at export, as a fraction of
# their largest magnitude (at least 1): float32 sums in another order differ by ~1e-6 of it.
TOLERANCE = 1e-4
INSTALL_HINT = 'install the ONNX exporter with `pip install "segtf[onnx]"` (tf2onnx, onnxruntime)'


def allowed_logit_difference(logits) -> float:
    """The largest |exported - TensorFlow| accepted on these logits: TOLERANCE of their
    largest magnitude (at least 1)."""
    return TOLERANCE * max(1.0, float(np.abs(logits).max()))


class OnnxExportError(ValueError):
    """The ONNX file could not be made, or disagrees with TensorFlow."""


def require(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        raise OnnxExportError(f"ONNX files need {module}: {INSTALL_HINT}") from err


def session(source, num_threads: int | None = None):
    """An ONNX Runtime CPU session for a file path or serialised model."""
    ort = require("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = num_threads or os.cpu_count() or 0
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def convert_network(network) -> bytes:
    """The serialised ONNX model of a Keras network (working-size images in, logits out)."""
    tf2onnx = require("tf2onnx")
    serve = litert.network_fn(network)
    with litert.quietly():
        proto, _ = tf2onnx.convert.from_function(
            serve, input_signature=serve.input_signature, opset=OPSET
        )
    return proto.SerializeToString()


def probe_image(working_side: int, working_square: bool) -> np.ndarray:
    """A seeded float32 `(1, h, w, 3)` image at a working size the model would run at."""
    side = working_side or 256
    shape = (side, side) if working_square else (side, side * 3 // 4)
    return np.random.default_rng(0).uniform(0, 255, (1, *shape, 3)).astype(np.float32)


def difference_from_tensorflow(network, onnx_bytes: bytes, image: np.ndarray):
    """(largest |ONNX Runtime - TensorFlow| over the logits of `image`, TensorFlow's logits)."""
    require("onnxruntime")  # a missing extra is its own error, not a failed run
    try:
        (onnx_logits,) = session(onnx_bytes).run(None, {litert.INPUT_NAME: image})
    except Exception as err:  # noqa: BLE001  (ONNX Runtime raises its own exception types)
        raise OnnxExportError(f"ONNX Runtime could not run the converted file ({err}): "
                              "not exported") from err
    tf_logits = np.asarray(network(image, training=False), np.float32)
    if onnx_logits.shape != tf_logits.shape:
        raise OnnxExportError(
            f"the ONNX file's logits have shape {onnx_logits.shape}, TensorFlow's "
            f"{tf_logits.shape}: not exported"
        )
    return float(np.abs(onnx_logits - tf_logits).max()), tf_logits


def sidecar(info, working_side: int, working_square: bool, difference: float, scale: float,
            probe) -> dict:
    return {
        "format": FORMAT,
        "opset": OPSET,
        **litert.network_sidecar(info, working_side, working_square),
        "checked_against_tensorflow": {
            "probe_size": list(probe.shape[1:3]),
            "max_abs_logit_difference": difference,
            "max_abs_logit": scale,
        },
    }


def export_onnx(model, target: pathlib.Path, info) -> pathlib.Path:
    """Writes `target/model.onnx` and `target/segtf.json` for a loaded segtf model."""
    from segtf.models.split import working_resize

    network, _ = litert.split_model(model)
    side, square = working_resize(model)
    onnx_bytes = convert_network(network)
    probe = probe_image(side, square)
    difference, tf_logits = difference_from_tensorflow(network, onnx_bytes, probe)
    scale = float(np.abs(tf_logits).max())
    if not difference <= allowed_logit_difference(tf_logits):
        raise OnnxExportError(
            f"the ONNX file differs from TensorFlow by {difference:.3g} on a probe image's "
            f"logits (largest {scale:.3g}; tolerance {TOLERANCE} of that): not exported"
        )
    meta = sidecar(info, side, square, difference, scale, probe)
    path = litert.write(pathlib.Path(target), onnx_bytes, meta, filename=ONNX_FILE)
    logger.info("ONNX file within %.2g of TensorFlow on a %dx%d probe", difference,
                *probe.shape[1:3])
    return path


class OnnxModel(LiteRTModel):
    """An exported ONNX file on ONNX Runtime's CPU provider, used by `segtf.Segmenter` like a
    LiteRT file (same sidecar, resizes and result); thread-safe."""

    FILE = ONNX_FILE
    SIDECAR_FORMAT = FORMAT
    KIND = "ONNX"
    EXPORT_FORMAT = "onnx"

    def _open(self, path: pathlib.Path, num_threads: int | None) -> None:
        require("onnxruntime")  # a missing extra is its own error, not a damaged file
        try:
            self._session = session(str(path), num_threads)
        except Exception as err:  # noqa: BLE001  (ONNX Runtime raises its own exception types)
            raise OnnxExportError(f"{path}: ONNX Runtime cannot load it ({err}); export it "
                                  "again with `segtf export MODEL --format onnx`") from err

    def _invoke(self, x: np.ndarray) -> np.ndarray:
        return self._session.run(None, {litert.INPUT_NAME: x})[0]


def run_network(path: str | os.PathLike, image: np.ndarray) -> np.ndarray:
    """The logits of an exported file for one working-size float32 `(1, h, w, 3)` image."""
    folder = pathlib.Path(path)
    file = folder / ONNX_FILE if folder.is_dir() else folder
    return session(str(file)).run(None, {litert.INPUT_NAME: np.asarray(image, np.float32)})[0]
