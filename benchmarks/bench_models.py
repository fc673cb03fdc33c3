"""Forward-pass speed of the registry models against peers, in one run, with ratios.

Measures on this machine, float32, inside `tf.function` (graph mode, so TensorFlow's grappler
fuses Conv+BN+ReLU as it would for `model.predict`):
- the practical peak: a dense 3x3 conv on 8x64x64x256 -> 256, and a depthwise 3x3 conv;
- median latency at batch 1 and per-image time at batch 8, 512x512, for segtf models and the
  keras.io and keras-cv DeepLabV3+ peers, the models taking turns on every repeat; achieved GFLOP/s and the share of the dense peak
  (depthwise FLOPs counted too); optionally the same with XLA (`--xla`).

    python benchmarks/bench_models.py                       # default set
    python benchmarks/bench_models.py --models deeplabv3plus_lite --xla
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np
import tensorflow as tf

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from machine import describe_cpu  # noqa: E402
from peers import PEERS  # noqa: E402

from segtf import models  # noqa: E402
from segtf.models.flops import count_flops  # noqa: E402

DEFAULT_MODELS = [
    "deeplabv3plus_lite",
    "pspnet_lite",
    "psp_aspp_lite",
    "deeplabv3plus_xception65",
    "deeplabv3plus_resnet50",
]


def median_seconds(fn, x, repeats: int) -> float:
    return interleaved_medians({"only": fn}, x, repeats)["only"]


def conv_peak(depthwise: bool, repeats: int) -> float:
    """GFLOP/s of a 3x3 conv on 8x64x64x256 (dense: -> 256 channels)."""
    x = tf.random.uniform((8, 64, 64, 256))
    if depthwise:
        kernel = tf.random.uniform((3, 3, 256, 1))
        fn = tf.function(lambda t: tf.nn.depthwise_conv2d(t, kernel, [1, 1, 1, 1], "SAME"))
        flops = 2 * 9 * 8 * 64 * 64 * 256
    else:
        kernel = tf.random.uniform((3, 3, 256, 256))
        fn = tf.function(lambda t: tf.nn.conv2d(t, kernel, 1, "SAME"))
        flops = 2 * 9 * 8 * 64 * 64 * 256 * 256
    return flops / median_seconds(fn, x, repeats) / 1e9


def interleaved_medians(fns: dict, x, repeats: int) -> dict:
    """{name: median seconds of fn(x)}, the functions taking turns on every repeat, so a
    change in the machine's load falls on all of them alike (one model timed after another
    let a busy minute land on one model only). Two warm-up calls each (trace), excluded."""
    for fn in fns.values():
        fn(x)
        fn(x)
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            out = fn(x)
            _ = out.numpy() if hasattr(out, "numpy") else out
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(values)) for name, values in times.items()}


def time_models(models: dict, size, batches, repeats: int, xla: bool) -> dict:
    """{(name, batch): median seconds}, every model timed in turns with the others."""
    fns = {
        name: tf.function(lambda t, m=model: m(t, training=False), jit_compile=xla)
        for name, model in models.items()
    }
    result = {}
    for batch in batches:
        x = tf.random.uniform((batch, *size, 3), 0, 255)
        medians = interleaved_medians(fns, x, repeats if batch == 1 else max(2, repeats // 2))
        result.update({(name, batch): value for name, value in medians.items()})
    return result


def build_named(name: str):
    """A registry model, or a zoo model / folder as users run it (working size included)."""
    from segtf import zoo

    if name in zoo.list_zoo() or pathlib.Path(name).is_dir():
        return zoo.load_model(name)[0]
    return models.build(name)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=DEFAULT_MODELS)
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument(
        "--size", type=int, nargs="+", default=[512], help="SIDE or HEIGHT WIDTH (512)"
    )
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--xla", action="store_true", help="also time with jit_compile=True")
    args = parser.parse_args(argv)
    size = tuple(args.size * 2 if len(args.size) == 1 else args.size[:2])

    dense = conv_peak(False, args.repeats)
    depthwise = conv_peak(True, args.repeats)
    print(
        f"threads: {tf.config.threading.get_intra_op_parallelism_threads() or 'default'}, "
        f"TensorFlow {tf.__version__}, float32, {size[0]}x{size[1]}; CPU: {describe_cpu()}"
    )
    print(
        f"peak 3x3 conv 8x64x64x256: {dense:.0f} GFLOP/s; depthwise 3x3: {depthwise:.1f} "
        f"GFLOP/s ({dense / depthwise:.0f}x slower)\n"
    )
    builders = {name: (lambda n=name: build_named(n)) for name in args.models}
    if not args.no_peers:
        builders.update({name: (lambda f=f: f(size[0])) for name, f in PEERS.items()})
    built, flops = {}, {}
    for name, build in builders.items():
        built[name] = build()
        flops[name] = count_flops(built[name], *size)["total"]
    rows = []
    variants = [("graph", False)] + ([("XLA", True)] if args.xla else [])
    for mode, xla in variants:
        times = time_models(built, size, (1, 8), args.repeats, xla)
        for name, model in built.items():
            per_image = times[name, 8] / 8
            rows.append((name, mode, model.count_params() / 1e6, flops[name] / 1e9,
                         times[name, 1], per_image, flops[name] / per_image / 1e9))
        print(f"  timed {mode}", file=sys.stderr, flush=True)
    reference = next((r[4] for r in rows if r[0].startswith("keras.io") and r[1] == "graph"), None)
    print(
        "| model | mode | params (M) | GFLOPs | batch 1 (s) | batch 8 (s/img) | GFLOP/s "
        "| % of dense peak | batch-1 time vs keras.io |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, mode, params, gflops, t1, t8, rate in rows:
        ratio = f"{t1 / reference:.2f}x" if reference else "-"
        print(
            f"| {name} | {mode} | {params:.1f} | {gflops:.1f} | {t1:.3f} | {t8:.3f} | "
            f"{rate:.0f} | {100 * rate / dense:.0f}% | {ratio} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
