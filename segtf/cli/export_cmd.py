"""`segtf export`: writes a model for TF Serving (SavedModel), LiteRT or ONNX, runnable without segtf."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a model as a TF Serving SavedModel, a LiteRT (TFLite) or an ONNX file",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument(
        "model",
        metavar="MODEL",
        help="zoo model name, model folder or .keras file ('default' works)",
    )
    parser.add_argument(
        "--out", required=True, help="base folder; the export goes to OUT/<name>/<version>/"
    )
    parser.add_argument(
        "--version",
        type=int,
        default=None,
        help="version number (default: one above the highest in OUT/<name>)",
    )
    parser.add_argument(
        "--name", default=None, help="model name in the path (default: the model's own name)"
    )
    parser.add_argument(
        "--format",
        dest="fmt",
        choices=("saved_model", "tflite", "onnx"),
        default="saved_model",
        help="saved_model (default), tflite (LiteRT) or onnx (the network only, checked "
        "against TensorFlow; needs segtf[onnx])",
    )
    parser.add_argument(
        "--quantize",
        choices=("none", "float16", "int8"),
        default="none",
        help="tflite only: none (float32, default), float16 weights, or int8 calibrated on "
        "--calibration",
    )
    parser.add_argument(
        "--calibration",
        default=None,
        metavar="DIR",
        help="--quantize int8: a folder of the model's training images (or a pair folder "
        "with images/); a sample of them calibrates the int8 ranges",
    )
    parser.add_argument(
        "--calibration-count",
        type=int,
        default=32,
        help="images read from --calibration (32)",
    )
    parser.add_argument(
        "--input-size",
        type=int,
        nargs=2,
        default=None,
        metavar=("HEIGHT", "WIDTH"),
        help="tflite only: fix the file to photos of this size (a camera's frames), so every "
        "layer runs on LiteRT's fast kernels; other sizes are resized to it and back",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from segtf.cli.paths import check_output_folder
    from segtf.export import export

    check_output_folder(args.out, "--out")  # before tracing the model
    if args.quantize != "none" and args.fmt != "tflite":
        raise ValueError("--quantize applies to --format tflite only: add --format tflite")
    if args.input_size and args.fmt != "tflite":
        raise ValueError("--input-size applies to --format tflite only: add --format tflite")
    if args.input_size and min(args.input_size) < 1:
        raise ValueError(f"--input-size {args.input_size[0]} {args.input_size[1]}: give a "
                         "positive height and width, e.g. --input-size 360 480")
    if (args.quantize == "int8") != bool(args.calibration):
        raise ValueError(
            "--quantize int8 needs --calibration DIR (a folder of the model's training images)"
            if args.quantize == "int8"
            else "--calibration is used by --quantize int8 only: add --quantize int8"
        )
    calibration = ()
    if args.calibration:
        from segtf.litert import read_calibration

        calibration = read_calibration(args.calibration, args.calibration_count)
    path = export(
        args.model,
        args.out,
        fmt=args.fmt,
        version=args.version,
        name=args.name,
        quantize=args.quantize,
        calibration=calibration,
        input_size=args.input_size,
    )
    print(f"exported to {path}")
    return 0
