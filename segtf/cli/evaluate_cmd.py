"""`segtf evaluate MODEL DATA`: mIoU / per-class IoU (semantic) or MAE, F-, S-, E-measure,
boundary IoU (foreground), with optional TTA and sliding-window inference."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from segtf.evaluation import evaluate
    from segtf.metrics.report import format_table
    from segtf.zoo import load_model

    scales = parse_scales(args.scales)
    from segtf.cli.paths import check_output_folder

    check_output_folder(args.out, "--out")  # before the evaluation, not after it
    model, info = load_model(args.model)
    result = evaluate(
        model,
        info,
        args.data,
        tta=args.tta,
        scales=scales,
        flip=True if args.flip else None,
        tile=tuple(args.tile) if args.tile else None,
        overlap=args.overlap,
        max_images=args.max_images,
        out_dir=args.out,
        overlays=args.overlays,
    )
    print(format_table(result))
    if args.out:
        print(f"report, plots and overlays written to {args.out}")
    return 0


def parse_scales(text: str | None) -> tuple[float, ...] | None:
    if not text:
        return None
    try:
        scales = tuple(float(s) for s in text.split(","))
    except ValueError:
        raise ValueError(f"--scales {text!r}: give numbers separated by commas, e.g. 0.75,1,1.25") from None
    if any(s <= 0 for s in scales):
        raise ValueError(f"--scales {text!r}: scales must be positive, e.g. 0.75,1,1.25")
    return scales


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="measure a model on labelled data", description=__doc__.splitlines()[0]
    )
    parser.add_argument("model", metavar="MODEL", help="zoo name, model folder or .keras file")
    parser.add_argument("data", metavar="DATA", help="labelled data: folder, list file, TFRecords")
    parser.add_argument(
        "--tta",
        action="store_true",
        help="test-time augmentation as segment(tta=True): scales 0.75, 1, 1.25, each flipped",
    )
    parser.add_argument("--scales", help="comma-separated TTA scales, e.g. 0.75,1,1.25")
    parser.add_argument("--flip", action="store_true", help="flip TTA (without --tta)")
    parser.add_argument(
        "--tile",
        type=int,
        nargs=2,
        metavar=("H", "W"),
        help="sliding-window inference with H x W tiles",
    )
    parser.add_argument("--overlap", type=float, default=0.25, help="tile overlap fraction")
    parser.add_argument("--max-images", type=int, default=0, help="first N images only")
    parser.add_argument("--out", metavar="DIR", help="write report.json, plots and overlays")
    parser.add_argument("--overlays", type=int, default=4, help="overlay images to write")
    parser.set_defaults(func=run)
