"""What `segtf.models.layers.Conv2D` (dilated convs as TensorFlow's own op) saves on zoo models.

Each model is loaded twice from the same folder: as segtf builds it, and with its dilated convs
as plain `keras.layers.Conv2D` (the `tf.nn.convolution` path, which wraps them in SpaceToBatch /
BatchToSpace). Both are timed in turns on every repeat (batch 1, float32, graph mode), and
their logits compared.

    python benchmarks/bench_dilated_conv.py
    python benchmarks/bench_dilated_conv.py --models foreground_refiner_efficientnet_lite2 --repeats 21
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import keras
import tensorflow as tf

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from bench_models import interleaved_medians  # noqa: E402
from machine import describe_cpu  # noqa: E402

import segtf.models.blocks as blocks  # noqa: E402
from segtf import zoo  # noqa: E402

# The shipped models and the input size their speed target is set at.
SIZES = {
    "foreground_refiner_efficientnet_lite2": (512, 512),
    "camvid_deeplabv3plus_efficientnet_lite0": (360, 480),
}


def load_with_keras_dilated_convs(name: str):
    """The zoo model with `keras.layers.Conv2D` where segtf builds its own `Conv2D`."""
    native = blocks.NativeDilationConv2D
    blocks.NativeDilationConv2D = keras.layers.Conv2D
    try:
        return zoo.load_model(name)[0]
    finally:
        blocks.NativeDilationConv2D = native


def compare(name: str, size, repeats: int) -> tuple:
    """(max |logit difference|, seconds with segtf's Conv2D, seconds with keras's)."""
    models = {"segtf": zoo.load_model(name)[0], "keras": load_with_keras_dilated_convs(name)}
    fns = {key: tf.function(lambda t, m=m: m(t, training=False)) for key, m in models.items()}
    x = tf.random.uniform((1, *size, 3), 0, 255)
    difference = float(tf.reduce_max(tf.abs(fns["segtf"](x) - fns["keras"](x))))
    seconds = interleaved_medians(fns, x, repeats)
    return difference, seconds["segtf"], seconds["keras"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    print(f"CPU: {describe_cpu()}; TensorFlow {tf.__version__}, float32, batch 1, "
          f"medians of {args.repeats} turns\n")
    print("| model | input | max logit difference | segtf Conv2D (s) | keras Conv2D (s) | ratio |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in args.models:
        size = SIZES[name]
        difference, ours, theirs = compare(name, size, args.repeats)
        print(f"| {name} | {size[0]}x{size[1]} | {difference:.1e} | {ours:.3f} | {theirs:.3f} "
              f"| {ours / theirs:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
