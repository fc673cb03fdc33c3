"""`segtf export`: writes a model for TF Serving (SavedModel) or TFLite, runnable without segtf."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a model as a TF Serving SavedModel or a TFLite file",
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
        choices=("saved_model", "tflite"),
        default="saved_model",
        help="saved_model (default) or tflite",
    )
    parser.add_argument(
        "--input-size",
        default=None,
        metavar="HxW",
        help="TFLite only: the fixed input size, e.g. 512x512 (default: the "
        "model config's input_size)",
    )
    parser.set_defaults(func=run)


def parse_size(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError as err:
        raise ValueError(f"--input-size {text!r}: write HEIGHTxWIDTH, e.g. 512x512") from err
    if height < 32 or width < 32:
        raise ValueError(f"--input-size {text!r}: use at least 32x32")
    return height, width


def run(args: argparse.Namespace) -> int:
    from segtf.cli.paths import check_output_folder
    from segtf.export import export

    check_output_folder(args.out, "--out")  # before tracing the model
    size = parse_size(args.input_size)
    if size and args.fmt != "tflite":
        raise ValueError("--input-size applies to --format tflite only (SavedModels take any size)")
    path = export(
        args.model, args.out, fmt=args.fmt, version=args.version, name=args.name, input_size=size
    )
    print(f"exported to {path}")
    return 0
