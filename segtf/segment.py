"""`segment(image)`: any photo in, a mask at the photo's own size and orientation out.

`Segmenter` holds one model for repeated calls; `segment()` is the one-call form. Both decode
with `segtf.imageio.read_image` and predict with `segtf.inference.predict_probabilities`.
"""

from __future__ import annotations

import copy
import os
import pathlib
import time
from dataclasses import dataclass, field

import numpy as np

from segtf import palette as palettes
from segtf.imageio import DEFAULT_MAX_PIXELS, read_image, write_png_atomic
from segtf.tasks import FOREGROUND_THRESHOLD, result_classes

RUNTIMES = ("tensorflow", "litert")

# TensorFlow / Keras are imported inside the functions that need them, so `import segtf`
# (which imports this module) stays light.



def load_model(name_or_path: str | os.PathLike = "default"):
    """Loads a zoo model by name, a model folder or a `.keras` file: `(model, ModelInfo)`.

    Models are cached (the four most recent); a folder whose files changed is reloaded.
    """
    from segtf import zoo

    return zoo.load_model_cached(name_or_path)


@dataclass
class SegmentationResult:
    """What `segment()` returns: everything at the input image's size and orientation.

    Attributes:
        image: the decoded RGB uint8 input (H, W, 3), EXIF orientation applied.
        probabilities: float32 (H, W, C) softmax probabilities; (H, W, 1) alpha for
            foreground models.
        task: "semantic" or "foreground".
        class_names: one name per class (foreground: background, foreground).
        palette: uint8 (num_classes, 3) colours.
        inference_time: seconds spent in the model (prediction incl. TTA / tiling).
        total_time: seconds for the whole call, decoding included.
    """

    image: np.ndarray
    probabilities: np.ndarray
    task: str
    class_names: tuple[str, ...]
    palette: np.ndarray
    inference_time: float
    total_time: float = 0.0
    model_name: str = ""
    # Semantic models: below this mean confidence the photo looks unlike the model's training
    # data (measured on its val set when packaged; see `domain_warning`).
    confidence_floor: float | None = None
    _labels: np.ndarray | None = field(default=None, repr=False)

    @property
    def mean_confidence(self) -> float:
        """Mean over pixels of the top class probability (foreground: of max(alpha, 1-alpha))."""
        if self.task == "foreground":
            return float(np.maximum(self.alpha, 1.0 - self.alpha).mean())
        return float(self.probabilities.max(axis=-1).mean())

    @property
    def domain_warning(self) -> str | None:
        """A sentence for the user when this photo looks outside what the model knows."""
        if self.confidence_floor is None or self.mean_confidence >= self.confidence_floor:
            return None
        return (
            f"{self.model_name or 'this model'} is unsure about this photo (mean confidence "
            f"{self.mean_confidence:.2f}, below the {self.confidence_floor:.2f} of its "
            "least sure validation image): it may be outside what the model was trained on "
            f"({', '.join(self.class_names[:4])}, ...)"
        )

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the input image."""
        return self.image.shape[0], self.image.shape[1]

    @property
    def alpha(self) -> np.ndarray | None:
        """Foreground models: float32 (H, W) alpha matte in 0..1; None for semantic models."""
        return self.probabilities[..., 0] if self.task == "foreground" else None

    @property
    def mask(self) -> np.ndarray | None:
        """Foreground models: bool (H, W), alpha >= 0.5; None for semantic models."""
        return self.alpha >= 0.5 if self.task == "foreground" else None

    @property
    def labels(self) -> np.ndarray:
        """Class index per pixel, (H, W) uint8 (int32 beyond 255 classes)."""
        if self._labels is None:
            self._labels = _argmax(self.probabilities, self.task)
        return self._labels

    def colour_mask(self) -> np.ndarray:
        """RGB uint8 (H, W, 3): each pixel in its class colour."""
        return palettes.colorize(self.labels, self.palette)

    def overlay(self, opacity: float = 0.5) -> np.ndarray:
        """RGB uint8: the image tinted by class colour (foreground: by the alpha matte)."""
        if self.task == "foreground":
            return palettes.overlay_alpha(self.image, self.alpha, self.palette[-1], opacity)
        return palettes.overlay_labels(self.image, self.labels, self.palette, opacity)

    def cutout(
        self,
        classes=None,
        *,
        threshold: float | None = None,
        background=None,
        refine_foreground: bool = False,
    ) -> np.ndarray:
        """RGBA uint8 (H, W, 4) with a transparent background, or RGB over `background`.

        Args:
            classes: semantic models only: class indices or names to keep (their summed
                probability becomes the alpha). Foreground models use their alpha matte.
            threshold: hard edges: alpha becomes 0 or 1 at this value (e.g. 0.5).
            background: an RGB tuple or an image (any `read_image` input): composite onto it
                and return RGB instead of RGBA.
            refine_foreground: estimate the foreground colour of mixed pixels (hair, fur) so
                the old background does not show as a halo (Forte & Pitié's blur fusion).
        """
        from segtf import matting

        alpha = self._cutout_alpha(classes)
        if threshold is not None:
            alpha = matting.binarize(alpha, threshold)
        colours = matting.estimate_foreground(self.image, alpha) if refine_foreground else self.image
        if background is not None:
            if not isinstance(background, tuple):
                background = read_image(background)
            return matting.composite(colours, alpha, background)
        return palettes.cutout(colours, alpha)

    def _cutout_alpha(self, classes) -> np.ndarray:
        if self.task == "foreground":
            return self.alpha
        if classes is None:
            raise ValueError(
                "cutout() of a semantic model needs classes=[...] (indices or "
                f"names from {list(self.class_names)}) to keep"
            )
        if isinstance(classes, (str, int, np.integer)):
            classes = [classes]
        keep = [self._class_index(c) for c in classes]
        return self.probabilities[..., keep].sum(-1)

    def to_image(self, threshold: float | None = None):
        """A PIL image of the result.

        Semantic models: a palette ("P") image whose pixel values are the class indices and
        whose colours are the class colours (beyond 256 classes: an RGB colour mask).
        Foreground models: the alpha matte as 8-bit grayscale ("L"); with `threshold`, a
        binary mask (0 / 255).
        """
        from PIL import Image

        if self.task == "foreground":
            alpha = self.alpha
            if threshold is not None:
                from segtf.matting import binarize

                alpha = binarize(alpha, threshold)
            return Image.fromarray(np.clip(np.rint(alpha * 255.0), 0, 255).astype(np.uint8))
        if len(self.palette) > 256:
            return Image.fromarray(self.colour_mask())
        image = Image.fromarray(self.labels.astype(np.uint8)).convert("P")
        image.putpalette(self.palette.astype(np.uint8).ravel().tolist())
        return image

    def save(self, path: str | os.PathLike) -> pathlib.Path:
        """Writes `to_image()` as a PNG, atomically."""
        return write_png_atomic(path, self.to_image())

    def _class_index(self, name_or_index) -> int:
        if isinstance(name_or_index, str):
            if name_or_index not in self.class_names:
                raise ValueError(
                    f"unknown class {name_or_index!r}; classes: {list(self.class_names)}"
                )
            return self.class_names.index(name_or_index)
        index = int(name_or_index)
        if not 0 <= index < self.probabilities.shape[-1]:
            raise ValueError(
                f"class index {index} out of range 0..{self.probabilities.shape[-1] - 1}"
            )
        return index


def _argmax(probabilities: np.ndarray, task: str) -> np.ndarray:
    """Argmax in row bands, straight into a small dtype (no full-size int64 temporary)."""
    if task == "foreground":
        return (probabilities[..., 0] >= FOREGROUND_THRESHOLD).astype(np.uint8)
    dtype = np.uint8 if probabilities.shape[-1] <= 256 else np.int32
    labels = np.empty(probabilities.shape[:2], dtype)
    for y in range(0, labels.shape[0], 256):
        labels[y : y + 256] = np.argmax(probabilities[y : y + 256], axis=-1)
    return labels


class Segmenter:
    """Holds one model for repeated `segment` calls.

    Args:
        model: "default", a zoo name, a model folder, a `.keras` file, or a Keras model.
        tta: average over scales 0.75 / 1 / 1.25 and horizontal flips (about 6x slower).
        tile: None or "auto" tiles images over ~4 Mpx with 1024 px tiles; an int or
            (height, width) always tiles; 0 / False never tiles.
        overlap: fraction of a tile shared with its neighbours when tiling.
        max_pixels: refuse larger images (decompression-bomb guard); None for no limit.
        runtime: "tensorflow" (Keras) or "litert" (LiteRT's XNNPACK CPU kernels; a zoo model
            is converted once and cached). A `.tflite` file from `segtf export --format tflite`
            always runs on LiteRT, an `.onnx` file (or its export folder) from `segtf export
            --format onnx` on ONNX Runtime.
        quantize: LiteRT only: "none" or "float16" (int8 files come from `segtf export`).
    """

    def __init__(
        self,
        model="default",
        *,
        tta: bool = False,
        tile="auto",
        overlap: float = 0.25,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        runtime: str = "tensorflow",
        quantize: str = "none",
    ):
        from segtf import litert, onnx_export
        from segtf.inference import normalize_tile

        if runtime not in RUNTIMES:
            raise ValueError(f"runtime={runtime!r}: use one of {', '.join(RUNTIMES)}")
        if quantize != "none" and runtime != "litert":
            raise ValueError(f"quantize={quantize!r} applies to the LiteRT runtime: add "
                             "--runtime litert (runtime='litert')")
        if onnx_export.OnnxModel.is_model_path(model):
            if quantize != "none":
                raise ValueError(f"quantize={quantize!r}: an ONNX file runs as exported (float32)")
            self.model = onnx_export.OnnxModel(model)
            self.info = self.model.info
            runtime = "onnx"
        elif litert.is_litert_path(model) or (runtime == "litert" and not _is_keras_model(model)):
            self.model = litert.load(model, quantize)
            self.info = self.model.info
            runtime = "litert"
        elif runtime == "litert":
            raise ValueError("runtime='litert' takes a zoo name, model folder or .tflite file, "
                             "not a Keras model object; export it with segtf.litert.convert")
        elif _is_keras_model(model):
            from segtf.zoo import info_for_bare_model

            self.model, self.info = model, info_for_bare_model(model)
        else:
            self.model, self.info = load_model(model)
        self.runtime = runtime
        self.tta = bool(tta)
        self.tile = "auto" if tile is None else tile
        normalize_tile(self.tile, (1, 1))  # check the argument now, not on the first image
        self.overlap = overlap
        self.max_pixels = max_pixels
        self.class_names, self.palette = result_classes(self.info)

    @property
    def task(self) -> str:
        return self.info.task

    def __call__(self, image, *, tta: bool | None = None, tile=None) -> SegmentationResult:
        return self.segment(image, tta=tta, tile=tile)

    def segment(self, image, *, tta: bool | None = None, tile=None) -> SegmentationResult:
        """Segments one image (any input `segtf.imageio.read_image` accepts)."""
        from segtf.inference import TTA_SCALES, predict_probabilities

        start = time.perf_counter()
        rgb = read_image(image, max_pixels=self.max_pixels)
        use_tta = self.tta if tta is None else tta
        t0 = time.perf_counter()
        probabilities = predict_probabilities(
            self.model,
            rgb,
            task=self.task,
            scales=TTA_SCALES if use_tta else (1.0,),
            flip=use_tta,
            tile=self.tile if tile is None else tile,
            overlap=self.overlap,
        )
        t1 = time.perf_counter()
        return SegmentationResult(
            image=rgb,
            probabilities=probabilities,
            task=self.task,
            class_names=self.class_names,
            palette=self.palette,
            inference_time=t1 - t0,
            total_time=t1 - start,
            model_name=self.info.name,
            confidence_floor=self.info.extra.get("confidence_floor"),
        )


def _is_keras_model(obj) -> bool:
    import keras

    return isinstance(obj, keras.Model)


def segment(
    image,
    model="default",
    *,
    tta: bool = False,
    tile=None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> SegmentationResult:
    """Segments one image with a zoo model (cached between calls).

    Args:
        image: a path, `pathlib.Path`, bytes, a binary file object, a PIL image or a numpy
            array (H, W), (H, W, 1), (H, W, 3), (H, W, 4) of uint8, uint16 or float in 0..1.
        model: "default", a zoo name, a model folder, a `.keras` file, a Keras model or a
            `Segmenter`.
        tta: test-time augmentation (scales 0.75 / 1 / 1.25, each flipped).
        tile: None = automatic (tiles images over ~4 Mpx), an int or (h, w) tile size, or 0
            to never tile.
        max_pixels: decompression-bomb limit; raise it for trusted huge images.

    Returns:
        A `SegmentationResult` at the image's original size and displayed orientation.

    Raises:
        segtf.InvalidImageError: the input is not a usable image (the message says why).
    """
    if isinstance(model, Segmenter):
        segmenter = model
        if max_pixels != segmenter.max_pixels:
            segmenter = copy.copy(segmenter)  # shares the model; only the limit differs
            segmenter.max_pixels = max_pixels
        return segmenter.segment(image, tta=tta, tile=tile)
    # Cheap: load_model is cached and the traced forward pass is cached per model.
    return Segmenter(model, max_pixels=max_pixels).segment(image, tta=tta, tile=tile)
