"""Trains a segtf model from an in-memory numpy loader, on any Keras backend (TF or JAX).

The product trains with `train_tf.py` (tf.data, tf.distribute). This script has no TensorFlow
dependency so it also runs where only JAX exists (a borrowed GPU machine); it reuses segtf's
models and losses (pure keras.ops) and applies the same joint augmentation (random scale,
crop with padding, flip, photometric jitter; masks resized nearest).
Weights are saved as `.weights.h5`, which any backend's build of the same model loads.

    KERAS_BACKEND=tensorflow python tools/train_arrays.py --data DIR --model deeplabv3plus_lite \
        --task semantic --num-classes 11 --budget-s 480 --out OUT
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shlex
import sys
import time
import types

import numpy as np
from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parents[1]
# Import segtf.models / segtf.losses without segtf/__init__.py, which may pull in TensorFlow.
_pkg = types.ModuleType("segtf")
_pkg.__path__ = [str(ROOT / "segtf")]
sys.modules.setdefault("segtf", _pkg)

import keras  # noqa: E402

from segtf import losses as seg_losses  # noqa: E402
from segtf.metrics.confusion import confusion_matrix  # noqa: E402
from segtf.metrics.semantic import per_class_iou  # noqa: E402
from segtf.models import build  # noqa: E402
from segtf.models.batchnorm import recalibrate_batchnorm  # noqa: E402

IGNORE = 255


def load_split(
    folder: pathlib.Path,
    split: str,
    task: str,
    label_map: dict[int, int],
    max_side: int | None = None,
):
    """Reads image/mask pairs (same stem) into memory as uint8 arrays; with `max_side`,
    shrinks each pair so its longer side is at most that (masks with nearest neighbour)."""
    images, masks = [], []
    image_dir, mask_dir = folder / split / "images", folder / split / "masks"
    for img_path in sorted(image_dir.iterdir()):
        mask_path = next(mask_dir.glob(img_path.stem + ".*"))
        image = np.asarray(Image.open(img_path).convert("RGB"))
        mask = np.asarray(Image.open(mask_path).convert("L")).copy()
        if max_side and max(mask.shape) > max_side:
            image, mask = resize_pair(image, mask, max_side / max(mask.shape))
        if task == "semantic":
            for src, dst in label_map.items():
                mask[mask == src] = dst
        images.append(image)
        masks.append(mask)
    return images, masks


def resize_pair(image, mask, scale):
    h, w = mask.shape
    size = (max(8, int(w * scale + 0.5)), max(8, int(h * scale + 0.5)))
    image = np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR))
    mask = np.asarray(Image.fromarray(mask).resize(size, Image.NEAREST))
    return image, mask


def crop_pair(image, mask, crop, rng, mask_fill):
    ch, cw = crop
    h, w = mask.shape
    ph, pw = max(0, ch - h), max(0, cw - w)
    if ph or pw:  # pad image with the mean pixel, mask with the fill (ignore) value
        mean = image.reshape(-1, 3).mean(0).astype(np.uint8)
        padded = np.empty((h + ph, w + pw, 3), np.uint8)
        padded[:] = mean
        padded[:h, :w] = image
        image = padded
        mask = np.pad(mask, ((0, ph), (0, pw)), constant_values=mask_fill)
        h, w = mask.shape
    y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
    return image[y : y + ch, x : x + cw], mask[y : y + ch, x : x + cw]


def jitter(image, rng):
    x = image.astype(np.float32)
    x = x * rng.uniform(0.75, 1.25) + rng.uniform(-25, 25)  # contrast, brightness
    gray = x.mean(axis=2, keepdims=True)
    x = gray + (x - gray) * rng.uniform(0.7, 1.3)  # saturation
    return np.clip(x, 0, 255)


class AugmentedPairs(keras.utils.PyDataset):
    def __init__(
        self, images, masks, batch, crop, task, seed, scale=(0.5, 2.0), output_names=None, **kwargs
    ):
        super().__init__(**kwargs)
        self.scale, self.output_names = scale, output_names
        self.images, self.masks, self.batch, self.crop, self.task = images, masks, batch, crop, task
        self.seed, self.epoch = seed, 0
        self.order = np.random.default_rng(seed).permutation(len(images))

    def __len__(self):
        return len(self.images) // self.batch

    def on_epoch_end(self):
        self.epoch += 1
        self.order = np.random.default_rng(self.seed + self.epoch).permutation(len(self.images))

    def __getitem__(self, index):
        rng = np.random.default_rng((self.seed, self.epoch, index))
        fill = 0 if self.task == "foreground" else IGNORE
        xs, ys = [], []
        for i in self.order[index * self.batch : (index + 1) * self.batch]:
            image, mask = resize_pair(self.images[i], self.masks[i], rng.uniform(*self.scale))
            image, mask = crop_pair(image, mask, self.crop, rng, fill)
            if rng.random() < 0.5:
                image, mask = image[:, ::-1], mask[:, ::-1]
            xs.append(jitter(image, rng))
            ys.append(mask)
        x = np.stack(xs).astype(np.float32)
        y = np.stack(ys)
        if self.task == "foreground":
            y = (y.astype(np.float32) / 255.0)[..., None]
            return x, ({k: y for k in self.output_names} if self.output_names else y)
        return x, y.astype(np.int32)


def median_frequency_weights(masks, num_classes):
    """SegNet's median frequency balancing: median(freq) / freq(c), freq over images holding c."""
    counts = np.zeros(num_classes)
    present = np.zeros(num_classes)
    for m in masks:
        c = np.bincount(m[m != IGNORE].ravel(), minlength=num_classes)[:num_classes]
        counts += c
        present += (c > 0) * m.size
    freq = counts / np.maximum(present, 1)
    return np.median(freq) / np.maximum(freq, 1e-12)


def evaluate_semantic(model, images, masks, num_classes):
    cm = np.zeros((num_classes, num_classes), np.int64)
    for image, mask in zip(images, masks, strict=True):
        logits = model.predict_on_batch(image[None].astype(np.float32))
        cm += confusion_matrix(mask, np.asarray(logits)[0].argmax(-1), num_classes, IGNORE)
    iou = per_class_iou(cm)
    return float(np.nanmean(iou)), iou.tolist()


def pad_to(image, mask, size):
    """Pads a pair to `size` (one compiled shape for evaluation); returns the valid window."""
    h, w = mask.shape
    padded = np.zeros((size, size, 3), np.float32)
    padded[:h, :w] = image
    return padded, (h, w)


def evaluate_foreground(model, images, masks, size=None):
    # One padded shape for all (one compiled graph), large enough for every image.
    size = size or -(-max(max(m.shape) for m in masks) // 32) * 32
    maes, ious = [], []
    for image, mask in zip(images, masks, strict=True):
        padded, (h, w) = pad_to(image, mask, size)
        out = model.predict_on_batch(padded[None])
        out = out["logits"] if isinstance(out, dict) else out
        logits = np.asarray(out)[0, :h, :w, 0]
        alpha = 1 / (1 + np.exp(-logits))
        gt = mask > 127
        maes.append(np.abs(alpha - gt).mean())
        pred = alpha > 0.5
        ious.append((pred & gt).sum() / max((pred | gt).sum(), 1))
    return float(np.mean(ious)), {"mae": float(np.mean(maes)), "iou": float(np.mean(ious))}


class BatchTimer(keras.callbacks.Callback):
    """Times batches after the first few (which include JIT compilation)."""

    def __init__(self, skip=5):
        super().__init__()
        self.skip, self.times, self._t = skip, [], None

    def on_train_batch_begin(self, batch, logs=None):
        self._t = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if batch >= self.skip:
            self.times.append(time.perf_counter() - self._t)


class ValidateAndKeepBest(keras.callbacks.Callback):
    """Every `every` epochs: precise BN statistics, validation, keep the best weights."""

    def __init__(self, evaluate, calibrate, every, out, deadline):
        super().__init__()
        self.evaluate, self.calibrate, self.every = evaluate, calibrate, every
        self.out, self.deadline = out, deadline
        self.best, self.history = -1.0, []

    def on_epoch_end(self, epoch, logs=None):
        last = time.time() > self.deadline
        if (epoch + 1) % self.every and not last:
            return
        self.calibrate(self.model)
        score, detail = self.evaluate(self.model)
        self.history.append(
            {
                "epoch": epoch + 1,
                "loss": float(logs.get("loss", np.nan)),
                "val_score": score,
                "detail": detail,
            }
        )
        print(f"epoch {epoch + 1}: loss {logs.get('loss'):.4f} val {score:.4f}", flush=True)
        if score > self.best:
            self.best = score
            self.model.save_weights(self.out / "best.weights.h5")
        if last:
            print("time budget reached: stopping", flush=True)
            self.model.stop_training = True


def make_loss(
    task,
    num_classes,
    class_weights,
    output_names=None,
    mix=(1.0, 1.0, 1.0),
    edge_weight=0.5,
    stage_weight=0.5,
):
    """Semantic: weighted cross-entropy. Foreground: BiRefNet's BCE + IoU + SSIM mix on the
    alpha (and, for deep-supervised models, on every stage), gradient-aware BCE on edge maps."""
    if task == "semantic":
        return seg_losses.SegmentationCrossEntropy(num_classes, IGNORE, class_weights=class_weights)
    mix_loss = seg_losses.BinaryMixLoss(*mix)
    if not output_names:
        return mix_loss, None
    losses, weights = {}, {}
    for key in output_names:
        if key.startswith("edge"):
            losses[key], weights[key] = seg_losses.GradientAuxLoss("bce"), edge_weight
        else:
            losses[key] = mix_loss
            weights[key] = 1.0 if key == "logits" else stage_weight
    return losses, weights


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--data",
        required=True,
        type=pathlib.Path,
        nargs="+",
        help="folders with train/ and val/, each holding images/ and masks/",
    )
    p.add_argument("--max-side", type=int, default=None, help="shrink pairs on load")
    p.add_argument(
        "--mix",
        type=float,
        nargs=3,
        default=(1.0, 1.0, 1.0),
        help="foreground loss weights: BCE IoU SSIM",
    )
    p.add_argument(
        "--edge-weight",
        type=float,
        default=0.5,
        help="weight of the gradient-aware edge loss (0 disables it)",
    )
    p.add_argument("--model", default="deeplabv3plus_lite")
    p.add_argument("--task", default="semantic", choices=["semantic", "foreground"])
    p.add_argument("--num-classes", type=int, default=11)
    p.add_argument("--label-map", default="11:255", help="SRC:DST,... applied to masks")
    p.add_argument("--crop", type=int, nargs=2, default=(360, 480))
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--scale", type=float, nargs=2, default=(0.5, 2.0), help="random scale range")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--class-weights", default="median", choices=["median", "none"])
    p.add_argument("--budget-s", type=float, default=480)
    p.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="train exactly this many epochs after the calibration epoch "
        "(default: as many as fit in --budget-s)",
    )
    p.add_argument("--eval-every", type=int, default=10)
    p.add_argument("--precision", default="mixed_bfloat16")
    p.add_argument("--workers", type=int, default=12)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--override", default="{}", help="JSON of ModelConfig overrides")
    p.add_argument("--init-weights", type=pathlib.Path, help="start from these weights")
    p.add_argument(
        "--calibration-batches",
        type=int,
        default=30,
        help="training batches for precise BatchNorm statistics before validation",
    )
    p.add_argument("--out", required=True, type=pathlib.Path)
    args = p.parse_args(argv)
    start = time.time()
    args.out.mkdir(parents=True, exist_ok=True)
    command = (
        "KERAS_BACKEND="
        + keras.backend.backend()
        + " python "
        + shlex.join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    )
    (args.out / "command.txt").write_text(command + "\n")
    keras.utils.set_random_seed(args.seed)
    keras.mixed_precision.set_global_policy(args.precision)
    label_map = dict(tuple(map(int, kv.split(":"))) for kv in args.label_map.split(",") if kv)
    train, val = ([], []), ([], [])
    for folder in args.data:
        for split, into in (("train", train), ("val", val)):
            images, masks = load_split(folder, split, args.task, label_map, args.max_side)
            into[0].extend(images)
            into[1].extend(masks)
    print(
        f"loaded {len(train[0])} train / {len(val[0])} val in {time.time() - start:.0f}s",
        flush=True,
    )
    weights = None
    if args.task == "semantic" and args.class_weights == "median":
        weights = median_frequency_weights(train[1], args.num_classes).tolist()
        print("class weights", np.round(weights, 3).tolist(), flush=True)
    model = build(
        args.model, num_classes=args.num_classes, with_aux=True, **json.loads(args.override)
    )
    if args.init_weights:
        model.load_weights(args.init_weights)
    output_names = list(model.output.keys()) if isinstance(model.output, dict) else None
    data = AugmentedPairs(
        *train,
        args.batch,
        tuple(args.crop),
        args.task,
        args.seed,
        scale=tuple(args.scale),
        output_names=output_names,
        workers=args.workers,
        use_multiprocessing=args.workers > 1,
        max_queue_size=32,
    )
    if args.task == "semantic":
        loss, loss_weights = make_loss(args.task, args.num_classes, weights), None
    else:
        loss, loss_weights = make_loss(
            args.task, 1, None, output_names, tuple(args.mix), args.edge_weight
        )

    # Calibration epoch at a low learning rate (also the warm-up): measures step time.
    model.compile(
        keras.optimizers.AdamW(args.lr * 0.1, weight_decay=args.weight_decay),
        loss,
        loss_weights=loss_weights,
    )
    timer = BatchTimer()
    model.fit(data, epochs=1, callbacks=[timer], verbose=2)
    step_s = float(np.median(timer.times))
    remaining = args.budget_s - (time.time() - start) - 60  # recompile + final evaluation
    epochs = args.epochs or max(1, int(remaining / (step_s * len(data) * 1.15)))
    print(
        f"step {step_s * 1000:.0f} ms ({args.batch / step_s:.0f} img/s); training {epochs} epochs",
        flush=True,
    )

    schedule = keras.optimizers.schedules.PolynomialDecay(
        args.lr, decay_steps=epochs * len(data), end_learning_rate=args.lr * 0.01, power=0.9
    )
    model.compile(
        keras.optimizers.AdamW(schedule, weight_decay=args.weight_decay),
        loss,
        loss_weights=loss_weights,
    )
    if args.task == "semantic":
        evaluate = lambda m: evaluate_semantic(m, *val, args.num_classes)  # noqa: E731
    else:
        evaluate = lambda m: evaluate_foreground(m, *val)  # noqa: E731
    deadline = float("inf") if args.epochs else start + args.budget_s - 45

    def calibrate(m):
        batches = (data[i % len(data)] for i in range(args.calibration_batches))
        recalibrate_batchnorm(m, batches, max_batches=args.calibration_batches)

    keeper = ValidateAndKeepBest(evaluate, calibrate, args.eval_every, args.out, deadline=deadline)
    # The last weights after every epoch, so a crash or a kill loses at most one epoch.
    last = keras.callbacks.ModelCheckpoint(str(args.out / "epoch.weights.h5"), save_weights_only=True)
    fit_start = time.time()
    model.fit(data, epochs=epochs, callbacks=[keeper, last], verbose=2)
    calibrate(model)
    model.save_weights(args.out / "last.weights.h5")
    summary = {
        "args": {k: str(v) for k, v in vars(args).items()},
        "epochs": epochs + 1,
        "step_ms": step_s * 1000,
        "train_s": time.time() - fit_start,
        "total_s": time.time() - start,
        "best_val": keeper.best,
        "history": keeper.history,
        "class_weights": weights,
        "backend": keras.backend.backend(),
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: summary[k] for k in ("epochs", "step_ms", "train_s", "best_val")}))


if __name__ == "__main__":
    main()
