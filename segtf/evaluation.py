"""`evaluate(model, info, data)`: streaming metrics over a labelled dataset, optionally with
multi-scale + flip test-time augmentation and sliding-window inference (both through
`segtf.inference.predict_probabilities`), plus a JSON report, plots and overlays."""

from __future__ import annotations

import logging
import os
import pathlib
import time

import keras
import numpy as np
from tqdm import tqdm

from segtf.inference import TTA_SCALES  # the same passes as segment(tta=True)
from segtf.metrics.binary import BinaryMeasures
from segtf.metrics.confusion import ConfusionMatrix
from segtf.metrics.semantic import semantic_scores
from segtf.zoo import ModelInfo

logger = logging.getLogger(__name__)



def _label_map(info: ModelInfo):
    if not info.dataset:
        return None
    from segtf.data import get_dataset_spec

    try:
        return dict(get_dataset_spec(info.dataset).label_map) or None
    except ValueError:
        return None


def labelled_images(info: ModelInfo, source, max_images: int = 0):
    """(image, mask) batches of one, as the model folder `info` reads them (its label map)."""
    from segtf.data import make_dataset

    ds = make_dataset(
        source,
        num_classes=info.model.num_classes,
        task=info.task,
        batch_size=1,
        training=False,
        ignore_label=info.ignore_label,
        label_map=_label_map(info),
        palette=info.palette or None,
    )
    return ds.take(max_images) if max_images else ds


def evaluate(
    model: keras.Model,
    info: ModelInfo,
    dataset_source,
    *,
    tta: bool = False,
    scales=None,
    flip: bool | None = None,
    tile=None,
    overlap: float = 0.25,
    max_images: int = 0,
    out_dir: str | os.PathLike | None = None,
    overlays: int = 4,
) -> dict:
    """Evaluates `model` on labelled data at the original resolution.

    Args:
        model, info: from `segtf.zoo.load_model`.
        dataset_source: anything `segtf.data.make_dataset` accepts (folder, list file, ...).
        tta: multi-scale (`segtf.inference.TTA_SCALES`) + flip averaging, as
            `segment(tta=True)`; `scales` / `flip` override either.
        tile: (h, w) sliding-window size (or "auto"), with `overlap`.
        max_images: evaluate the first N images only (0 = all).
        out_dir: if set, write report.json, plots and `overlays` overlay PNGs there.

    Returns:
        {"model", "data", "task", "images", "tta", "tile", "seconds", "metrics": {...}}:
        semantic: mIoU, per-class IoU, pixel / mean class accuracy, frequency-weighted IoU
        (the ignore label excluded); foreground: MAE, F-measures, weighted F, S-, E-measure,
        boundary IoU; foreground results also carry "per_image" (each scalar measure image
        by image).
    """
    from segtf.inference import predict_probabilities

    scales = tuple(scales) if scales else (TTA_SCALES if tta else (1.0,))
    flip = tta if flip is None else flip
    semantic = info.task != "foreground"
    names = list(info.class_names) or [str(i) for i in range(info.model.num_classes)]
    confusion = ConfusionMatrix(info.model.num_classes, info.ignore_label)
    binary = BinaryMeasures()
    samples, start, count = [], time.time(), 0
    for images, masks in tqdm(
        labelled_images(info, dataset_source, max_images),
        desc="evaluate",
        unit="img",
        disable=not logger.isEnabledFor(logging.INFO),
    ):
        image, truth = images[0].numpy(), masks[0].numpy()
        probs = predict_probabilities(
            model, image, task=info.task, scales=scales, flip=flip, tile=tile, overlap=overlap
        )
        if semantic:
            prediction = probs.argmax(-1)
            confusion.update(truth, prediction)
        else:
            prediction = probs[..., 0]
            binary.update(prediction, truth[..., 0])
        count += 1
        if len(samples) < overlays:
            samples.append((image, prediction, truth))
    if count == 0:
        raise ValueError(f"no labelled images found in {dataset_source}")
    metrics = semantic_scores(confusion.matrix, names) if semantic else binary.result()
    result = {
        "model": info.name,
        "data": str(dataset_source),
        "task": info.task,
        "images": count,
        "tta": {"scales": list(scales), "flip": bool(flip)} if (len(scales) > 1 or flip) else False,
        "tile": list(tile) if isinstance(tile, list | tuple) else tile,
        "seconds": round(time.time() - start, 2),
        "metrics": metrics,
    }
    if semantic:
        result["confusion_matrix"] = confusion.matrix.tolist()
    else:
        result["per_image"] = binary.per_image()
    if out_dir is not None:
        write_outputs(result, info, samples, out_dir)
    return result


def write_outputs(result: dict, info: ModelInfo, samples, out_dir) -> pathlib.Path:
    """report.json, confusion_matrix.png + per_class_iou.png (semantic), overlay_*.png."""
    from segtf.imageio import write_png_atomic
    from segtf.metrics import report
    from segtf.palette import comparison_panel

    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report.write_json(out / "report.json", result)
    if "confusion_matrix" in result:
        names = list(result["metrics"]["per_class_iou"])
        report.plot_confusion(
            np.asarray(result["confusion_matrix"]), names, out / "confusion_matrix.png"
        )
        report.plot_per_class_iou(
            result["metrics"]["per_class_iou"],
            out / "per_class_iou.png",
            result["metrics"]["mean_iou"],
        )
    for i, (image, prediction, truth) in enumerate(samples):
        panel = comparison_panel(image, prediction, truth, info.palette, info.task)
        write_png_atomic(out / f"overlay_{i:02d}.png", panel)
    logger.info("report written to %s", out)
    return out
