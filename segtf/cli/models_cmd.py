"""`segtf models`: the registry with parameters and FLOPs per model."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser("models", help="list the model registry (parameters, FLOPs)")
    parser.add_argument("names", nargs="*", help="models to show (default: all)")
    parser.add_argument(
        "--size",
        type=int,
        nargs=2,
        default=(512, 512),
        metavar=("H", "W"),
        help="input size for the FLOP count (default 512 512)",
    )
    parser.add_argument("--no-flops", action="store_true", help="skip the (slower) FLOP count")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from segtf import models, zoo
    from segtf.models.flops import count_flops

    names = args.names or models.list_models()
    for name in names:
        models.get_config(name)  # unknown names fail here, listing the valid ones
    h, w = args.size
    print(f"| model | architecture | backbone | OS | width | params (M) | GFLOPs @{h}x{w} |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name in names:
        config = models.get_config(name)
        model = models.build(name)
        flops = "-" if args.no_flops else f"{count_flops(model, h, w)['total'] / 1e9:.1f}"
        print(
            f"| {name} | {config.architecture} | {config.backbone} | {config.output_stride} "
            f"| {config.width:g} | {model.count_params() / 1e6:.2f} | {flops} |",
            flush=True,
        )
    trained = zoo.list_zoo()
    print(f"\nTrained models in the zoo: {', '.join(trained) if trained else '(none)'}")
    return 0
