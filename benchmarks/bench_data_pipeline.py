"""Input pipeline vs training step throughput on CamVid train at 360x480.

    python benchmarks/bench_data_pipeline.py [--data ../shared/data/camvid/train.txt]

Measures, in one run on this machine: images/s of `segtf.data.make_dataset` (training mode:
random scale 0.5-2 + crop 360x480 + flip + photometric jitter, decode included, no cache),
and images/s of `train_on_batch` of `deeplabv3plus_lite` (SGD, sparse CE ignoring 255) at
the same size. The pipeline should be >= 3x faster than the model so it is never the
bottleneck. Each is timed alone (the pipeline would share the CPU with the model in
training, so the ratio is the headroom the pipeline has).
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared/data/camvid/train.txt"


def pipeline_throughput(data: str, batch_size: int, crop, batches: int) -> tuple[float, object]:
    from segtf.data import get_dataset_spec, make_dataset

    spec = get_dataset_spec("camvid")
    ds = make_dataset(
        data,
        num_classes=spec.num_classes,
        label_map=spec.label_map,
        crop_size=crop,
        batch_size=batch_size,
        training=True,
        seed=0,
    )
    iterator = iter(ds.repeat())
    first = next(iterator)  # warm-up: tracing, thread pools, first files
    next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch_size / (time.perf_counter() - start), first


def model_throughput(batch, steps: int) -> float:
    import keras

    from segtf.models import build

    model = build("deeplabv3plus_lite", num_classes=11)
    model.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255),
    )
    images, masks = batch
    for _ in range(2):  # warm-up: tracing
        model.train_on_batch(images, masks)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(images, masks)
    return steps * images.shape[0] / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--batches", type=int, default=30, help="timed pipeline batches")
    parser.add_argument("--steps", type=int, default=5, help="timed training steps")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    crop = (360, 480)
    data_ips, batch = pipeline_throughput(args.data, args.batch_size, crop, args.batches)
    model_ips = model_throughput(batch, args.steps)
    print(
        f"CamVid train, {crop[0]}x{crop[1]}, batch {args.batch_size}, {os.cpu_count()} CPU cores\n"
    )
    print("| stage | images/s |")
    print("| --- | --- |")
    print(f"| input pipeline (decode + scale/crop/flip/jitter) | {data_ips:.1f} |")
    print(f"| deeplabv3plus_lite train_on_batch (SGD, sparse CE) | {model_ips:.2f} |")
    print(f"| ratio pipeline / model | {data_ips / model_ips:.1f}x |")


if __name__ == "__main__":
    main()
