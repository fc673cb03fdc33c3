"""LiteRT runtime: segtf models on LiteRT's XNNPACK CPU kernels, float32, float16 or int8.

A segtf model is `[resize to working side] -> network -> resize logits to the input size`.
The `.tflite` file holds the network only (input `images` float32 [1, H, W, 3], RGB 0..255,
any H and W; output `logits` float32 at the network's output resolution), converted with
TFLite builtins alone, so `ai-edge-litert` runs it without TensorFlow's Flex ops. The two
resizes stay outside, in `LiteRTModel.forward`, with the same operations as the Keras layers
(antialiased bilinear down, bilinear up), so `segment()`, tiling and TTA give the same
result object and, in float32, the same pixels as the TensorFlow path. Without TTA,
`LiteRTModel.probabilities` runs them (and the sigmoid / softmax) as compiled TensorFlow
graphs on the uint8 photo: as eager ops they took longer than a small network.

Beside `model.tflite`, `segtf.json` carries what the runtime needs: the model's info (task,
classes, palette), its working side and the quantisation.

    segtf export default --format tflite --quantize int8 --calibration photos/ --out lite/
    segtf segment photo.jpg --model lite/<name>/1/model.tflite
    segtf.Segmenter("default", runtime="litert")      # converted once, cached
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import pathlib
import tempfile
import threading

import numpy as np

from segtf.tasks import TASKS

logger = logging.getLogger(__name__)

QUANTIZE = ("none", "float16", "int8")
SIDECAR = "segtf.json"
TFLITE_FILE = "model.tflite"
FORMAT = "segtf-litert/1"
INPUT_NAME = "images"
OUTPUT_NAME = "logits"
CALIBRATION_COUNT = 32  # images for int8 calibration (the converter's own default is 100)
# Left in float in int8 files: the pyramid pooling's bin weights are divided by bin counts
# computed from the input size, and an int8 count can round to zero at sizes calibration did
# not see ("div.cc: data[i] != zero_point" at run time).
FLOAT_OPS = ("DIV",)
INSTALL_HINT = 'install LiteRT with `pip install "segtf[litert]"` (package ai-edge-litert)'


def quietly():
    """The converter and LiteRT print to descriptor 2 ("Created TensorFlow Lite XNNPACK
    delegate", "fully_quantize: 0 ..."); hidden unless segtf logs at DEBUG (`--verbose`)."""
    import contextlib

    from segtf.cli.quiet import stderr_to_file

    if logging.getLogger("segtf").isEnabledFor(logging.DEBUG):
        return contextlib.nullcontext()
    return stderr_to_file()


class LiteRTError(ValueError):
    """A LiteRT file, its sidecar or a conversion request that cannot be used (says why)."""


# --- splitting a segtf model into resize / network / resize ----------------------------------


def split_model(model):
    """`(network, working_side)` of `segtf.models.split.split_model`, or a LiteRTError."""
    from segtf.models.split import NotSplittable
    from segtf.models.split import split_model as split

    try:
        return split(model)
    except NotSplittable as err:
        raise LiteRTError(
            f"{err}, so it cannot run on LiteRT with the resizes outside; "
            "use runtime='tensorflow'"
        ) from err


def resize_layer(side: int, square: bool = False):
    """The model's first layer, rebuilt from its side (None when the model has none)."""
    from segtf.models.layers import ResizeToSide

    return ResizeToSide(side, square=square) if side else None


def fixed_network_size(side: int, square: bool, input_size=None):
    """The (h, w) a file is fixed to: the working size of photos of `input_size`, or for a
    model that squashes every photo to a square, that square; None: any size."""
    from segtf.models.layers import working_size

    if input_size:
        height, width = (int(v) for v in input_size)
        return working_size((1, height, width, 3), side, square) if side else (height, width)
    return (side, side) if side and square else None


def resized_for_network(images, resize, network_size=None):
    """A (1, H, W, 3) photo as the file's input, a float32 tensor: through the model's own
    `ResizeToSide` layer (`resize`; None: as it is), or for a fixed-size file straight to
    `network_size` with the same operation (the same pixels for photos of the size it was
    fixed for). Keras ops only, so it can be compiled (see `compiled`)."""
    from keras import ops

    images = ops.cast(images, "float32")
    if network_size is not None:
        return ops.image.resize(images, tuple(network_size), interpolation="bilinear",
                                antialias=True)
    return images if resize is None else resize(images)


def at_network_size(images, network_size) -> bool:
    """A (1, H, W, 3) photo is already at a fixed file's input size (no resize needed)."""
    return network_size is not None and tuple(images.shape[1:3]) == tuple(network_size)


def network_input(images: np.ndarray, resize, network_size=None) -> np.ndarray:
    """`resized_for_network` as a NumPy array (a photo already at a fixed file's size is
    passed as it is)."""
    from keras import ops

    if at_network_size(images, network_size):
        return np.asarray(images, np.float32)
    return np.asarray(ops.convert_to_numpy(resized_for_network(images, resize, network_size)),
                      np.float32)


def compiled(fn):
    """`fn` traced once into a TensorFlow graph on the TensorFlow backend (as it is on the
    others): around a small network, eager ops on the full-size photo cost more than the
    network itself (`benchmarks/bench_runtimes.py`)."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return fn
    import tensorflow as tf

    return tf.function(fn, reduce_retracing=True)


def logits_at(logits, size):
    """Logits resized (bilinear) to `size` (h, w): a tensor or array of two ints."""
    from keras import ops

    return ops.image.resize(logits, (size[0], size[1]), interpolation="bilinear")


def probabilities_at(logits, size, task: str):
    """Probabilities (1, h, w, C) from logits resized to `size`, as the Keras path computes
    them (resize, then sigmoid / softmax)."""
    from segtf.tasks import probabilities

    return probabilities(logits_at(logits, size), task)


# --- conversion ------------------------------------------------------------------------------


def network_fn(network, shape=(None, None)):
    """The network as a tf.function: `images` float32 [1, *shape, 3] in, `logits` out."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, *shape, 3], tf.float32, INPUT_NAME)])
    def serve(images):
        return {OUTPUT_NAME: tf.cast(network(images, training=False), tf.float32)}

    return serve


def convert(model, quantize: str = "none", calibration=(), network_size=None) -> bytes:
    """The `.tflite` flatbuffer of `model`'s network.

    Args:
        model: a segtf Keras model.
        quantize: "none" (float32), "float16" (weights stored in float16) or "int8" (dynamic
            range weights and activations calibrated on `calibration`; float32 in and out).
        calibration: RGB uint8 arrays (H, W, 3), a sample of the model's training images;
            required for int8.
        network_size: (h, w) of the network's input for a fixed-size file (see
            `fixed_network_size`), or None for any size.
    """
    from segtf.models.split import working_resize

    calibration = list(calibration)
    if quantize == "int8" and not calibration:
        raise LiteRTError(
            "int8 needs calibration images: pass a folder of the model's training images "
            "(`--calibration DIR`, or calibration=[rgb arrays])"
        )
    network, _ = split_model(model)
    resize = resize_layer(*working_resize(model))
    inputs = [network_input(np.asarray(rgb, np.float32)[None], resize, network_size)
              for rgb in calibration]
    return convert_network(network, quantize, inputs, network_size)


def convert_network(network, quantize: str = "none", calibration_inputs=(),
                    network_size=None) -> bytes:
    """The `.tflite` flatbuffer of a Keras network taking float32 RGB 0..255 images at its
    input, as it is (no resizes); `calibration_inputs` are ready (1, H, W, 3) float32 inputs
    (for int8). `convert` uses it for a model's network; benchmarks for parts of one."""
    import keras
    import tensorflow as tf

    if quantize not in QUANTIZE:
        raise LiteRTError(f"quantize={quantize!r}: use one of {', '.join(QUANTIZE)}")
    archive = keras.export.ExportArchive()
    archive.track(network)
    archive.add_endpoint("serving_default", network_fn(network, network_size or (None, None)))
    with tempfile.TemporaryDirectory() as tmp:
        archive.write_out(tmp, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp, ["serving_default"])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if quantize == "float16":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        elif quantize == "int8":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = lambda: ([x] for x in calibration_inputs)
            # Ops kept in float through TFLite's selective quantisation (see FLOAT_OPS).
            options = tf.lite.experimental.QuantizationDebugOptions(denylisted_ops=list(FLOAT_OPS))
            with quietly():
                debugger = tf.lite.experimental.QuantizationDebugger(
                    converter=converter,
                    debug_dataset=converter.representative_dataset,
                    debug_options=options,
                )
                return debugger.get_nondebug_quantized_model()
        with quietly():
            return converter.convert()


def read_calibration(path: str | os.PathLike, count: int = CALIBRATION_COUNT) -> list[np.ndarray]:
    """Up to `count` RGB images from a folder (or its `images/`), in name order, spread over it."""
    from segtf.imageio import IMAGE_SUFFIXES, read_image

    folder = pathlib.Path(path)
    if (folder / "images").is_dir():
        folder = folder / "images"
    if not folder.is_dir():
        raise LiteRTError(f"--calibration {path}: not a folder; pass a folder of training images")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise LiteRTError(f"--calibration {folder}: no images there; pass a folder of training images")
    step = max(1, len(files) // count)
    images = []
    for file in files[::step][:count]:
        try:
            images.append(read_image(file))
        except ValueError as err:
            logger.warning("calibration: skipped %s (%s)", file, err)
    if not images:
        raise LiteRTError(f"--calibration {folder}: none of its images could be read")
    return images


def network_sidecar(info, working_side: int, working_square: bool = False) -> dict:
    """What any exported network file's `segtf.json` says (LiteRT and ONNX alike): how to
    resize photos for it, what comes out, and the model's info."""
    return {
        "working_side": int(working_side),
        "working_square": bool(working_square),  # resized to working_side x working_side
        "input": f"{INPUT_NAME}: float32 [1, H, W, 3], RGB 0..255, resized first so the longer "
        "side is working_side (antialiased bilinear) when working_side > 0",
        "output": f"{OUTPUT_NAME}: float32 [1, h, w, C]; resize (bilinear) to the input size, "
        "then sigmoid (foreground, C = 1) or softmax",
        "info": info.to_dict(),
    }


def sidecar(info, working_side: int, quantize: str, network_size=None,
            working_square: bool = False) -> dict:
    return {
        "format": FORMAT,
        "quantize": quantize,
        # Fixed-size files: the network's (h, w); other sizes are resized to it and back.
        "network_size": list(network_size) if network_size else None,
        **network_sidecar(info, working_side, working_square),
    }


def write(folder: pathlib.Path, content: bytes, meta: dict,
          filename: str = TFLITE_FILE) -> pathlib.Path:
    """`folder/model.tflite` (or `filename`) and `folder/segtf.json` (the folder must not
    exist yet); atomic."""
    import shutil

    from segtf.atomic import temporary_sibling

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(folder, directory=True)
    try:
        (tmp / filename).write_bytes(content)
        (tmp / SIDECAR).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder / filename


# --- running ---------------------------------------------------------------------------------


def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as err:
        raise LiteRTError(f"the LiteRT runtime is not installed: {INSTALL_HINT}") from err
    return Interpreter


class LiteRTModel:
    """A converted segtf model on LiteRT; `forward` is a drop-in for the Keras forward pass
    (float32 RGB (1, H, W, 3) in, logits (1, H, W, C) at the same size out). Thread-safe.
    Subclasses run other files of the same contract (`segtf.onnx_export.OnnxModel`)."""

    FILE = TFLITE_FILE
    SIDECAR_FORMAT = FORMAT
    KIND = "LiteRT"
    EXPORT_FORMAT = "tflite"

    def __init__(self, path: str | os.PathLike, num_threads: int | None = None):
        from segtf.zoo import ModelInfo

        path = pathlib.Path(path)
        if path.is_dir():
            path = path / self.FILE
        meta_path = path.with_name(SIDECAR)
        export = f"`segtf export MODEL --format {self.EXPORT_FORMAT} --out DIR`"
        if not path.is_file():
            raise LiteRTError(f"{path}: no such {self.KIND} file; make one with {export}")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if meta.get("format") != self.SIDECAR_FORMAT:
                raise KeyError("format")
            self.info = ModelInfo.from_dict(meta["info"])
            self.working_side = int(meta["working_side"])
            self.working_square = bool(meta.get("working_square", False))
            self.quantize = str(meta.get("quantize", "none"))
            size = meta.get("network_size")
            self.network_size = (int(size[0]), int(size[1])) if size else None
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise LiteRTError(
                f"{meta_path}: missing or not a segtf {self.KIND} sidecar ({err}); export the "
                f"model again with {export}"
            ) from err
        self.path = path
        self._open(path, num_threads)
        self._resize = resize_layer(self.working_side, self.working_square)
        self._to_network = compiled(
            lambda images: resized_for_network(images, self._resize, self.network_size)
        )
        self._to_size = compiled(logits_at)
        self._to_probabilities = {task: compiled(functools.partial(probabilities_at, task=task))
                                  for task in TASKS}

    def _open(self, path: pathlib.Path, num_threads: int | None) -> None:
        interpreter_class = _interpreter_class()
        try:
            with quietly():
                self._interpreter = interpreter_class(
                    model_path=str(path), num_threads=num_threads or os.cpu_count()
                )
        except (RuntimeError, ValueError) as err:
            raise LiteRTError(f"{path}: LiteRT cannot load it ({err}); export it again") from err
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._shape = None
        self._lock = threading.Lock()

    @classmethod
    def is_model_path(cls, model) -> bool:
        """Whether `model` names a file of this kind, or an export folder holding one."""
        if not isinstance(model, (str, os.PathLike)):
            return False
        path = pathlib.Path(model)
        return path.suffix == pathlib.Path(cls.FILE).suffix or (path / cls.FILE).is_file()

    @property
    def name(self) -> str:
        return self.info.name

    def _invoke(self, x: np.ndarray) -> np.ndarray:
        with self._lock:
            if x.shape != self._shape:  # LiteRT re-plans its buffers for each new size
                self._interpreter.resize_tensor_input(self._input, list(x.shape))
                with quietly():
                    self._interpreter.allocate_tensors()
                self._shape = x.shape
            self._interpreter.set_tensor(self._input, x)
            self._interpreter.invoke()
            return self._interpreter.get_tensor(self._output).copy()

    def _file_logits(self, images) -> np.ndarray:
        """The file's logits for RGB (1, H, W, 3) photos (uint8 or float, 0..255)."""
        from keras import ops

        x = images if at_network_size(images, self.network_size) else self._to_network(images)
        return self._invoke(np.ascontiguousarray(ops.convert_to_numpy(x), np.float32))

    def forward(self, images):
        """Float32 RGB (1, H, W, 3) in, logits (1, H, W, C) at the same size out."""
        size = np.asarray(images.shape[1:3], np.int32)
        logits = self._file_logits(images)
        if logits.shape[1:3] == tuple(size):
            return logits
        return self._to_size(logits, size)

    def probabilities(self, window: np.ndarray, task: str) -> np.ndarray:
        """Probabilities (H, W, C) of one RGB window (H, W, 3) at its own size: what
        `segtf.inference` computes through `forward`, with the resizes and the sigmoid /
        softmax each one compiled graph on the uint8 photo (no float32 copy of it)."""
        from keras import ops

        size = np.asarray(window.shape[:2], np.int32)
        logits = self._file_logits(window[None])
        return np.asarray(ops.convert_to_numpy(self._to_probabilities[task](logits, size))[0],
                          np.float32)


# --- zoo models, converted once and cached ---------------------------------------------------


def cache_dir() -> pathlib.Path:
    if os.environ.get("SEGTF_CACHE_DIR"):
        return pathlib.Path(os.environ["SEGTF_CACHE_DIR"]) / "litert"
    base = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
    return pathlib.Path(base) / "segtf" / "litert"


def _folder_key(folder: pathlib.Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(folder.iterdir()):
        if file.is_file() and file.suffix in (".h5", ".json", ".keras"):
            digest.update(file.name.encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def is_litert_path(model) -> bool:
    return LiteRTModel.is_model_path(model)


def load(model="default", quantize: str = "none", num_threads: int | None = None) -> LiteRTModel:
    """A `LiteRTModel` from a `.tflite` file / export folder, or from a zoo name, model folder
    or `.keras` file converted on first use and cached on disk (in `~/.cache/segtf/litert`,
    or `$SEGTF_CACHE_DIR/litert`) by the hash of its files. Loaded models are kept (the four
    most recent, keyed on path and modification times), so repeated `segment()` calls
    neither re-hash the weights nor re-create the interpreter."""
    from segtf import zoo

    if is_litert_path(model):
        path = pathlib.Path(model)
        path = path / TFLITE_FILE if path.is_dir() else path
    else:
        if quantize == "int8":
            raise LiteRTError(
                "int8 needs calibration images: run `segtf export MODEL --format tflite "
                "--quantize int8 --calibration DIR --out OUT` once, then pass the .tflite file "
                "as the model"
            )
        if quantize not in QUANTIZE:
            raise LiteRTError(f"quantize={quantize!r}: use one of {', '.join(QUANTIZE)}")
        path = zoo.resolve_model_path(model)
    path = path.resolve()
    return _load_cached(str(path), quantize, num_threads, zoo.file_stamp(path), str(cache_dir()))


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, quantize: str, num_threads: int | None, stamp, cache: str) -> LiteRTModel:
    source = pathlib.Path(path)
    if source.suffix == ".tflite":
        return LiteRTModel(source, num_threads)
    return LiteRTModel(_converted(source, quantize, pathlib.Path(cache)), num_threads)


def _converted(source: pathlib.Path, quantize: str, cache: pathlib.Path) -> pathlib.Path:
    """The cached LiteRT folder of a Keras model folder or `.keras` file, made if missing."""
    from segtf import zoo
    from segtf.models.split import working_resize

    key = _folder_key(source) if source.is_dir() else hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    target = cache / f"{zoo.load_info(source).name}-{key}-{quantize}"
    if (target / TFLITE_FILE).is_file():
        return target
    keras_model, info = zoo.load_model_cached(source)
    logger.info("converting %s to LiteRT (%s), once; cached in %s", info.name, quantize, target)
    side, square = working_resize(keras_model)
    size = fixed_network_size(side, square)
    flatbuffer = convert(keras_model, quantize, network_size=size)
    if not target.exists():  # else another process finished first
        write(target, flatbuffer, sidecar(info, side, quantize, size, working_square=square))
    return target
