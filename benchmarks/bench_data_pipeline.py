"""The trainer's input pipelines vs its training step, on CamVid train at the shipped
recipe's settings (`camvid_deeplabv3plus_efficientnet_lite0`: 288x384 crops, batch 8).

    python benchmarks/bench_data_pipeline.py [--batches 30] [--steps 5]

Measures, in one run on this machine: images/s of the trainer's tf.data stream (decode,
random scale + crop + flip + photometric jitter; no cache, so every image is decoded), of its
NumPy `PyDataset` (the JAX / no-TensorFlow input, one worker, decoded images in memory),
and of the recipe's model in `train_on_batch`. Each is timed alone: the ratio is the
headroom the input has over the step it feeds (it should be >= 3x).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import time

EXPERIMENT = "camvid_deeplabv3plus_efficientnet_lite0"


def train_data(pipeline: str):
    from segtf.training.data import label_info, make_train_data
    from segtf.training.experiments import get_experiment

    config = dataclasses.replace(
        get_experiment(EXPERIMENT), input_pipeline=pipeline, cache=False, val_data=""
    )
    return config, make_train_data(config, label_info(config))


def throughput(batches_of, count: int, batch_size: int) -> tuple[float, object]:
    first = batches_of(0)  # warm-up: tracing, thread pools, first files
    batches_of(1)
    start = time.perf_counter()
    for i in range(count):
        batches_of(2 + i)
    return count * batch_size / (time.perf_counter() - start), first


def tf_data_throughput(count: int):
    config, data = train_data("tf.data")
    iterator = iter(data.stream())
    return throughput(lambda i: next(iterator), count, config.batch_size)


def numpy_throughput(count: int):
    config, data = train_data("numpy")
    stream = data.stream()
    return throughput(lambda i: stream[i], count, config.batch_size)


def model_throughput(batch, steps: int) -> float:
    import keras

    from segtf.models import build

    model = build("deeplabv3plus_efficientnet_lite0", num_classes=11)
    model.compile(
        optimizer=keras.optimizers.AdamW(1e-4),
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
    parser.add_argument("--batches", type=int, default=30, help="timed input batches")
    parser.add_argument("--steps", type=int, default=5, help="timed training steps")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    tf_ips, batch = tf_data_throughput(args.batches)
    numpy_ips, _ = numpy_throughput(args.batches)
    model_ips = model_throughput(batch, args.steps)
    crop = tuple(batch[0].shape[1:3])
    print(f"CamVid train, {crop[0]}x{crop[1]} crops, batch {batch[0].shape[0]}, "
          f"{os.cpu_count()} CPU cores\n")
    print("| stage | images/s | x the train step |")
    print("| --- | --- | --- |")
    print(f"| tf.data stream (decode + scale/crop/flip/jitter) | {tf_ips:.1f} | "
          f"{tf_ips / model_ips:.1f} |")
    print(f"| NumPy PyDataset, 1 worker (in memory; scale/crop/flip/jitter) | {numpy_ips:.1f} | "
          f"{numpy_ips / model_ips:.1f} |")
    print(f"| {EXPERIMENT} train_on_batch (AdamW, sparse CE) | {model_ips:.2f} | 1.0 |")


if __name__ == "__main__":
    main()
