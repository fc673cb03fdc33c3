"""Where a model's time goes, part by part, in TensorFlow float32 and LiteRT float32 / int8.

The network (the part `.tflite` files hold: working-size images in, logits out) is cut after
each block (backbone, localisation, each reconstruction stage, the full-resolution stage for
the refiner; backbone, ASPP, decoder for DeepLabV3+). Each prefix, from the input to the cut,
is timed whole in each runtime at the model's working size, batch 1; the difference between
consecutive prefixes is what that block adds. The runtimes take turns on every repeat, so
changes in the machine's load fall on all of them alike. int8 prefixes are calibrated on the
same training images as `bench_runtimes.py` (never val).

    python benchmarks/bench_stages.py                            # the default zoo model
    python benchmarks/bench_stages.py --model camvid_deeplabv3plus_efficientnet_lite0
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from bench_accuracy import shared_data_missing  # noqa: E402
from bench_runtimes import calibration_images  # noqa: E402
from machine import describe_cpu  # noqa: E402

# Layers after which the network is cut, in order; those a model lacks are skipped.
# ("<name>:input" cuts before that layer: the backbone's output is the localisation's input.)
CUTS = (
    ("backbone", ("loc_aspp_pool_gap:input", "aspp_pool_gap:input")),
    ("localisation / ASPP", ("loc_squeeze_relu", "aspp_project_relu")),
    ("stage P4", ("stage4_conv2_relu",)),
    ("stage P3", ("stage3_conv2_relu",)),
    ("stage P2", ("stage2_conv2_relu",)),
    ("stage P1", ("stage1_conv2_relu",)),
    ("full resolution / decoder", ("final_conv_relu", "decoder_conv2_relu")),
    ("logits", ("network output",)),
)
RUNTIMES = ("tf", "litert-float32", "litert-int8")


def cut_tensor(model, network_end, spec: str):
    """The tensor a cut names, or None when the model has no such layer."""
    if spec == "network output":
        return network_end
    name, _, where = spec.partition(":")
    try:
        layer = model.get_layer(name)
    except ValueError:
        return None
    tensor = layer.input if where == "input" else layer.output
    return tensor[0] if isinstance(tensor, (list, tuple)) else tensor


def prefixes(model):
    """[(block name, Keras model from the working-size input to the cut)], in order."""
    import keras

    from segtf.models.split import network_ends

    start, end = network_ends(model)
    found = []
    for block, specs in CUTS:
        tensor = next((t for t in (cut_tensor(model, end, s) for s in specs)
                       if t is not None), None)
        if tensor is not None:
            found.append((block, keras.Model(start, tensor, name=f"prefix_{len(found)}")))
    return found


def timers(prefix, inputs, calibration, threads: int) -> dict:
    """{runtime: a function running `prefix` once on `inputs`}."""
    import tensorflow as tf

    from segtf import litert

    graph = tf.function(lambda x: prefix(x, training=False))
    run = {"tf": lambda: graph(inputs).numpy()}
    interpreter_class = litert._interpreter_class()
    for runtime, quantize in (("litert-float32", "none"), ("litert-int8", "int8")):
        flatbuffer = litert.convert_network(prefix, quantize, calibration, inputs.shape[1:3])
        interpreter = interpreter_class(model_content=flatbuffer, num_threads=threads)
        interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], inputs)
        run[runtime] = interpreter.invoke
    return run


def median_ms_in_turns(runs: dict, repeats: int) -> dict:
    """Median ms of each function, the functions taking turns on every repeat."""
    times = {name: [] for name in runs}
    for fn in runs.values():
        fn()  # warm-up: tracing, XNNPACK set-up
    for _ in range(repeats):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: 1000 * float(np.median(values)) for name, values in times.items()}


def table(rows: list[tuple[str, dict]]) -> str:
    head = ["block (cut after)", *[f"{r} ms (+block)" for r in RUNTIMES], "int8 vs TF"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    previous = dict.fromkeys(RUNTIMES, 0.0)
    for block, ms in rows:
        cells = [f"{ms[r]:.1f} (+{ms[r] - previous[r]:.1f})" for r in RUNTIMES]
        ratio = ms["tf"] / ms["litert-int8"]
        lines.append(f"| {block} | " + " | ".join(cells) + f" | {ratio:.2f}x |")
        previous = ms
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="zoo name or model folder")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2, help="LiteRT threads (2 cores here)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if shared_data_missing():
        print("../shared/data is missing: the int8 calibration images come from it")
        return 0
    from segtf import litert, zoo
    from segtf.models.split import working_resize

    model, info = zoo.load_model(args.model)
    side, square = working_resize(model)
    size = litert.fixed_network_size(side, square, (360, 480) if info.task != "foreground"
                                     else None) or (side, side)
    resize = litert.resize_layer(side, square)
    calibration = [litert.network_input(np.asarray(rgb, np.float32)[None], resize, size)
                   for rgb in calibration_images(info.dataset)]
    inputs = calibration[0]
    rows = []
    for block, prefix in prefixes(model):
        rows.append((block, median_ms_in_turns(timers(prefix, inputs, calibration, args.threads),
                                               args.repeats)))
        print(f"  timed up to {block}", file=sys.stderr, flush=True)
    print(f"{info.name}: network input {size[0]}x{size[1]}, batch 1, medians of "
          f"{args.repeats} turns, LiteRT {args.threads} threads (fixed-size files)")
    print(f"CPU: {describe_cpu()}\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
