"""Accuracy of segtf's zoo models and the free peers in `../shared/peers`, on the same val
images, with the same metric and resizing rules, in one run; prints a table.

    python benchmarks/bench_accuracy.py                       # every zoo model and peer
    python benchmarks/bench_accuracy.py --limit 20            # quick look: 20 images a set
    python benchmarks/bench_accuracy.py --models models/foreground_refiner_efficientnet_lite2
    python benchmarks/bench_accuracy.py --no-peers --models MODEL_A MODEL_B --worst 3

Metric, as in `../shared/peers/README.md`: foreground sets, the mean over images of
foreground IoU at threshold 0.5 (Oxford pet: trimap 3, the boundary, ignored); CamVid, mIoU
over its 11 classes from the confusion matrix summed over images (label 11 ignored). Peers
get the whole image resized (bilinear) to their input and their output resized back
(bilinear for probabilities, nearest for label maps). segtf models run through
`segtf.Segmenter` at single scale, as users call them. Time is the median milliseconds per
image, decoding excluded, resizing included; each model is warmed up on the first image.
`--worst N` then names, per foreground set, the N images on which each model trails the
first one most (where a difference between two models comes from).
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import time
from dataclasses import dataclass

import numpy as np
from PIL import Image

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from worst import print_trailing, trailing  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CAMVID_CLASSES = 11
# Cityscapes train ids -> CamVid's 11 classes (the grouping of ../shared/peers/README.md).
CITYSCAPES_TO_CAMVID = {0: 3, 1: 4, 2: 1, 3: 1, 4: 7, 5: 2, 6: 6, 7: 6, 8: 5, 9: 5, 10: 0,
                        11: 9, 12: 10, 13: 8, 14: 8, 15: 8, 16: 8, 17: 10, 18: 10}
VOC_CLASSES = {"ccp_person": (15,), "weizmann_horse": (13,), "oxford_pet_sample": (8, 12)}


@dataclass
class ValSet:
    name: str
    task: str  # "foreground" or "semantic"
    pairs: list[tuple[pathlib.Path, pathlib.Path]]


def foreground_set(name: str) -> ValSet:
    folder = SHARED / "data" / name / "val"
    masks = {p.stem: p for p in (folder / "masks").iterdir()}
    pairs = [(p, masks[p.stem]) for p in sorted((folder / "images").iterdir()) if p.stem in masks]
    return ValSet(name, "foreground", pairs)


def camvid_set() -> ValSet:
    folder = SHARED / "data" / "camvid"
    pairs = [(p, folder / "valannot" / p.name) for p in sorted((folder / "val").glob("*.png"))]
    return ValSet("camvid", "semantic", pairs)


def read_truth(valset: ValSet, path: pathlib.Path) -> tuple[np.ndarray, np.ndarray]:
    """(target, valid) arrays: foreground bool / CamVid class ids, and the pixels scored."""
    mask = np.asarray(Image.open(path))
    if valset.task == "semantic":
        return mask, mask < CAMVID_CLASSES
    if valset.name == "oxford_pet_sample":
        return mask == 1, mask != 3
    return mask > 127, np.ones(mask.shape, bool)


def read_rgb(path: pathlib.Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


# --- runners: each maps an RGB image to a foreground bool map or a CamVid label map --------


class SegtfRunner:
    def __init__(self, model: str):
        import segtf

        self.segmenter = segtf.Segmenter(model)
        self.name = self.segmenter.info.name
        self.task = self.segmenter.task

    def handles(self, valset: ValSet) -> bool:
        if self.task == "foreground":
            return valset.task == "foreground"
        return valset.task == "semantic" and self.segmenter.info.dataset == "camvid"

    def __call__(self, rgb: np.ndarray, valset: ValSet) -> np.ndarray:
        result = self.segmenter.segment(rgb)
        return result.alpha > 0.5 if self.task == "foreground" else result.labels


def litert_interpreter(path: pathlib.Path):
    """LiteRT's interpreter (ai-edge-litert) when installed, else TensorFlow's."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter  # noqa: N806
    interpreter = Interpreter(model_path=str(path), num_threads=2)
    interpreter.allocate_tensors()
    return interpreter


class PeerRunner:
    def __init__(self, path: pathlib.Path):
        self.name = path.stem
        self.interpreter = litert_interpreter(path)
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]

    def handles(self, valset: ValSet) -> bool:
        if self.name.startswith("selfie"):
            return valset.name == "ccp_person"
        if "cityscapes" in self.name:
            return valset.name == "camvid"
        return valset.name in VOC_CLASSES

    def forward(self, rgb: np.ndarray) -> np.ndarray:
        _, h, w, _ = self.input["shape"]
        resized = np.asarray(Image.fromarray(rgb).resize((w, h), Image.BILINEAR))
        if self.input["dtype"] == np.float32:
            x = resized.astype(np.float32) / 255.0
        else:
            x = resized.astype(self.input["dtype"])
        self.interpreter.set_tensor(self.input["index"], x[None])
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output["index"])[0]

    def __call__(self, rgb: np.ndarray, valset: ValSet) -> np.ndarray:
        out = self.forward(rgb)
        size = (rgb.shape[1], rgb.shape[0])
        if self.name.startswith("selfie"):
            prob = Image.fromarray(out[..., 0].astype(np.float32)).resize(size, Image.BILINEAR)
            return np.asarray(prob) > 0.5
        labels = np.asarray(Image.fromarray(out.astype(np.uint8)).resize(size, Image.NEAREST))
        if valset.task == "semantic":
            lut = np.full(256, 255, np.uint8)
            for src, dst in CITYSCAPES_TO_CAMVID.items():
                lut[src] = dst
            return lut[labels]
        return np.isin(labels, VOC_CLASSES[valset.name])


# --- scoring ---------------------------------------------------------------------------------


def foreground_iou(pred: np.ndarray, truth: np.ndarray, valid: np.ndarray) -> float:
    pred, truth = pred & valid, truth & valid
    union = (pred | truth).sum()
    return 1.0 if union == 0 else float((pred & truth).sum() / union)


def confusion(pred: np.ndarray, truth: np.ndarray, valid: np.ndarray) -> np.ndarray:
    t, p = truth[valid].astype(np.int64), pred[valid].astype(np.int64)
    p = np.where(p < CAMVID_CLASSES, p, CAMVID_CLASSES)  # unmapped predictions count as wrong
    counts = np.bincount(t * (CAMVID_CLASSES + 1) + p, minlength=CAMVID_CLASSES * (CAMVID_CLASSES + 1))
    return counts.reshape(CAMVID_CLASSES, CAMVID_CLASSES + 1)


def mean_iou(cm: np.ndarray) -> float:
    tp = np.diag(cm[:, :CAMVID_CLASSES])
    union = cm.sum(1) + cm[:, :CAMVID_CLASSES].sum(0) - tp
    return float(np.mean(tp / np.maximum(union, 1)))


@dataclass
class Measured:
    accuracy: float  # mean fg IoU over images, or CamVid mIoU over the set
    ms: float  # median milliseconds per image
    per_image: list[float]  # fg IoU image by image (empty for CamVid: its mIoU is per set)


def score(runner, valset: ValSet, limit: int | None) -> Measured:
    """Accuracy, median ms per image and per-image fg IoU of `runner` on `valset`."""
    return measure_together([runner], valset, limit)[0]


def measure_together(runners: list, valset: ValSet, limit: int | None) -> list[Measured]:
    """Each runner measured on `valset`, the runners taking turns on each image, so a change
    in the machine's load falls on all of them alike."""
    pairs = valset.pairs[:limit] if limit else valset.pairs
    first = read_rgb(pairs[0][0])
    for runner in runners:
        runner(first, valset)  # warm-up: tracing / allocation
    times = [[] for _ in runners]
    ious = [[] for _ in runners]
    cms = [np.zeros((CAMVID_CLASSES, CAMVID_CLASSES + 1), np.int64) for _ in runners]
    for image_path, mask_path in pairs:
        rgb = read_rgb(image_path)
        truth, valid = read_truth(valset, mask_path)
        for i, runner in enumerate(runners):
            start = time.perf_counter()
            pred = runner(rgb, valset)
            times[i].append(time.perf_counter() - start)
            if valset.task == "semantic":
                cms[i] += confusion(pred, truth, valid)
            else:
                ious[i].append(foreground_iou(pred, truth, valid))
    return [
        Measured(mean_iou(cms[i]) if valset.task == "semantic" else float(np.mean(ious[i])),
                 1000 * statistics.median(times[i]), ious[i])
        for i in range(len(runners))
    ]


def print_worst(per_image: dict, valsets: list[ValSet], count: int) -> None:
    """Per set, the images where each model's fg IoU falls furthest below the first model's
    (`per_image`: model name -> set name -> fg IoU in the order of `valset.pairs`)."""
    first, *others = per_image
    rows = [
        (model, valset.name, image, a, b)
        for model in others
        for valset in valsets
        if per_image[first].get(valset.name) and per_image[model].get(valset.name)
        for image, a, b in trailing(per_image[first][valset.name], per_image[model][valset.name],
                                    [pair[0].name for pair in valset.pairs], count)
    ]
    print_trailing(first, "fg IoU", rows, digits=3)


def runners(models: list[str] | None, with_peers: bool):
    from segtf import zoo

    for model in models if models is not None else zoo.list_zoo():
        yield SegtfRunner(model)
    if with_peers and (SHARED / "peers").is_dir():
        for path in sorted((SHARED / "peers").glob("*.tflite")):
            yield PeerRunner(path)


def base_parser(description: str) -> argparse.ArgumentParser:
    """The options every accuracy benchmark takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--models", nargs="*", help="zoo names or model folders (default: zoo)")
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--limit", type=int, help="images per val set (default: all)")
    return parser


def worst_option(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--worst", type=int, default=0,
                        help="name the N images per foreground set where each model trails "
                             "the first one most")
    return parser


def shared_data_missing() -> bool:
    if (SHARED / "data").is_dir():
        return False
    print(f"{SHARED / 'data'} is absent: nothing to measure", file=sys.stderr)
    return True


def main(argv=None) -> int:
    parser = worst_option(base_parser(__doc__.splitlines()[0]))
    args = parser.parse_args(argv)
    if args.worst < 0:
        parser.error(f"--worst {args.worst}: give how many images to name per set (0 or more)")
    if shared_data_missing():
        return 2
    valsets = [foreground_set(n) for n in VOC_CLASSES] + [camvid_set()]
    print("| model | val set | images | fg IoU / mIoU | ms per image |")
    print("| --- | --- | --- | --- | --- |")
    per_image = {}  # model name -> set name -> fg IoU image by image, for --worst
    for runner in runners(args.models, not args.no_peers):
        # Two folders may hold models of one name: --worst keeps them apart.
        label = runner.name if runner.name not in per_image else f"{runner.name} ({len(per_image) + 1})"
        per_image[label] = {}
        for valset in valsets:
            if runner.handles(valset):
                measured = score(runner, valset, args.limit)
                per_image[label][valset.name] = measured.per_image
                count = min(len(valset.pairs), args.limit or len(valset.pairs))
                metric = "mIoU" if valset.task == "semantic" else "fg IoU"
                print(f"| {runner.name} | {valset.name} | {count} | {metric} "
                      f"{measured.accuracy:.3f} | {measured.ms:.0f} |", flush=True)
    if args.worst and len(per_image) > 1:
        print_worst(per_image, valsets, args.worst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
