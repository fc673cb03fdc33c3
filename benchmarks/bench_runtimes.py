"""Speed and accuracy of each zoo model in TensorFlow float32 and LiteRT float32 / float16 /
int8, beside the free peers in `../shared/peers`, on the same val images in one run.

    python benchmarks/bench_runtimes.py                   # every zoo model, every runtime, peers
    python benchmarks/bench_runtimes.py --limit 20        # quick look
    python benchmarks/bench_runtimes.py --models runs/x/model --runtimes tf litert-int8

Accuracy and time are measured as in `bench_accuracy.py` (its val sets, metric and timing:
median ms per val image through `segtf.Segmenter` at single scale, batch 1, decoding
excluded, the model's own resizes included), with every runtime and peer taking turns on
each image, so changes in the machine's load fall on all of them alike. int8 files are
calibrated on 32 training images of the model's data (CamVid train, or the horse / person /
pet train sets), never on val. `litert-int8-fixed` is the int8 file exported with
`--input-size` (see `fixed_size`); `onnx` is the file of `segtf export --format onnx` on
ONNX Runtime (float32, any size). The last lines check the issue's goals from the measured
numbers: LiteRT int8 at least 3x faster than TF float32 with at most 0.01 lost, and the
foreground model within 2x of `selfie_segmentation`'s time on the person set while more
accurate.
"""

from __future__ import annotations

import pathlib
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from bench_accuracy import (  # noqa: E402
    SHARED,
    VOC_CLASSES,
    PeerRunner,
    SegtfRunner,
    base_parser,
    camvid_set,
    foreground_set,
    measure_together,
    shared_data_missing,
)
from machine import describe_cpu  # noqa: E402

RUNTIMES = ("tf", "litert-float32", "litert-float16", "litert-int8", "litert-int8-fixed", "onnx")
CAMVID_FRAME = (360, 480)  # every CamVid frame's size
CALIBRATION_COUNT = 32


def calibration_images(dataset: str) -> list:
    """A spread of training images of the model's data (never val)."""
    from segtf.imageio import read_image

    if dataset == "camvid":
        folders = [SHARED / "data" / "camvid" / "train"]
    else:
        folders = [SHARED / "data" / name / "train" / "images" for name in VOC_CLASSES]
    files = []
    for folder in folders:
        found = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg"))
        step = max(1, len(found) * len(folders) // CALIBRATION_COUNT)
        files += found[::step][: CALIBRATION_COUNT // len(folders)]
    images = []
    for file in files:
        try:
            images.append(read_image(file))
        except ValueError:
            continue  # the pet sample holds a GIF named .jpg and such: skip, as training does
    return images


class RuntimeRunner(SegtfRunner):
    """A zoo model through `segtf.Segmenter` on one runtime."""

    def __init__(self, model: str, runtime: str, workdir: pathlib.Path):
        import segtf
        from segtf.export import export_tflite

        if runtime == "tf":
            super().__init__(model)
        elif runtime == "onnx":  # `segtf export --format onnx`, on ONNX Runtime
            from segtf.export import export_onnx

            super().__init__(str(export_onnx(model, workdir / runtime).parent))
        else:
            quantize = {"float32": "none"}.get(runtime.split("-")[1], runtime.split("-")[1])
            keras_model, info = segtf.load_model(model)
            calibration = calibration_images(info.dataset) if quantize == "int8" else ()
            path = export_tflite(keras_model, workdir / runtime, info=info, quantize=quantize,
                                 calibration=calibration, input_size=fixed_size(runtime, info))
            self.segmenter = segtf.Segmenter(path)
            self.name = self.segmenter.info.name
            self.task = self.segmenter.task
        self.runtime = runtime


def fixed_size(runtime: str, info):
    """`-fixed` runtimes: the file fixed to CamVid's frame size, or for foreground models to
    a square working size (every photo squashed to it, as the selfie peers do at 256 x 256)."""
    if not runtime.endswith("-fixed"):
        return None
    if info.task == "semantic":
        return CAMVID_FRAME
    side = info.model.working_side or max(info.model.input_size)
    return (side, side)


def runtime_of(runner) -> str:
    """segtf runtimes by name; peers as published (e.g. litert-uint8)."""
    if isinstance(runner, RuntimeRunner):
        return runner.runtime
    return "litert-" + str(runner.input["dtype"].__name__)


def main(argv=None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--runtimes", nargs="*", default=list(RUNTIMES), choices=RUNTIMES)
    args = parser.parse_args(argv)
    if shared_data_missing():
        return 2
    from segtf.cli.quiet import import_backend_quietly

    import_backend_quietly()  # before segtf.zoo imports Keras: no TensorFlow start-up lines
    from segtf import zoo

    valsets = [foreground_set(n) for n in VOC_CLASSES] + [camvid_set()]
    results = {}  # (model, runtime, valset) -> (accuracy, ms)
    print(f"CPU: {describe_cpu()}")
    print("| model | runtime | val set | images | fg IoU / mIoU | ms per image | speed vs TF |")
    print("| --- | --- | --- | --- | --- | --- | --- |")

    def row(name, runtime, valset, accuracy, ms):
        results[name, runtime, valset.name] = (accuracy, ms)
        base = results.get((name, "tf", valset.name))
        ratio = f"{base[1] / ms:.2f}x" if base and runtime != "tf" else "-"
        count = min(len(valset.pairs), args.limit or len(valset.pairs))
        metric = "mIoU" if valset.task == "semantic" else "fg IoU"
        print(f"| {name} | {runtime} | {valset.name} | {count} | {metric} {accuracy:.3f} "
              f"| {ms:.0f} | {ratio} |", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        runners = [
            RuntimeRunner(model, runtime, pathlib.Path(tmp) / model.replace("/", "_"))
            for model in (args.models if args.models is not None else zoo.list_zoo())
            for runtime in args.runtimes
        ]
        if not args.no_peers and (SHARED / "peers").is_dir():
            runners += [PeerRunner(path) for path in sorted((SHARED / "peers").glob("*.tflite"))]
        for valset in valsets:
            # Every runtime and peer in turns on each image (see measure_together).
            taking_part = [runner for runner in runners if runner.handles(valset)]
            for runner, measured in zip(
                taking_part, measure_together(taking_part, valset, args.limit), strict=True
            ):
                row(runner.name, runtime_of(runner), valset, measured.accuracy, measured.ms)
    print_goals(results)
    return 0


def print_goals(results: dict) -> None:
    """The issue's goals, checked against this run's numbers."""
    print()
    models = sorted({m for m, r, _ in results if r == "tf"})
    for model in models:
        for (m, runtime, valset), (accuracy, ms) in sorted(results.items()):
            if m != model or not runtime.startswith("litert-int8"):
                continue
            base_accuracy, base_ms = results[model, "tf", valset]
            speed, loss = base_ms / ms, base_accuracy - accuracy
            verdict = "met" if speed >= 3 and loss <= 0.01 else "NOT met"
            print(f"- {model} on {valset}: {runtime} {speed:.2f}x TF float32's speed, "
                  f"accuracy {loss:+.3f} lost (goal >= 3x, <= 0.01): {verdict}")
    selfie = results.get(("selfie_segmentation", "litert-float32", "ccp_person"))
    if selfie:
        for (m, runtime, valset), (accuracy, ms) in sorted(results.items()):
            if valset == "ccp_person" and m in models:
                verdict = "met" if ms <= 2 * selfie[1] and accuracy > selfie[0] else "NOT met"
                print(f"- {m} {runtime} on ccp_person: {ms / selfie[1]:.1f}x selfie's time, "
                      f"fg IoU {accuracy:.3f} vs {selfie[0]:.3f} (goal <= 2x and better): "
                      f"{verdict}")


if __name__ == "__main__":
    sys.exit(main())
