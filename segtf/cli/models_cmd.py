"""`segtf models`: the registry (from configs, instant); `--flops` adds parameters and FLOPs."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser("models", help="list the model registry and the zoo")
    parser.add_argument("names", nargs="*", help="models to show (default: all)")
    parser.add_argument(
        "--size",
        type=int,
        nargs=2,
        default=(512, 512),
        metavar=("H", "W"),
        help="input size for the FLOP count (default 512 512)",
    )
    parser.add_argument(
        "--flops",
        action="store_true",
        help="build each model to count parameters and FLOPs (seconds per model)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from segtf import models, zoo

    names = args.names or models.list_models()
    for name in names:
        models.get_config(name)  # unknown names fail here, listing the valid ones
    h, w = args.size
    extra = f" params (M) | GFLOPs @{h}x{w} |" if args.flops else ""
    print(f"| model | architecture | backbone | task | OS | width |{extra}")
    print("| --- | --- | --- | --- | --- | --- |" + (" --- | --- |" if args.flops else ""))
    for name in names:
        config = models.get_config(name)
        row = (
            f"| {name} | {config.architecture} | {config.backbone} | {config.task} "
            f"| {config.output_stride} | {config.width:g} |"
        )
        if args.flops:
            from segtf.models.flops import count_flops

            model = models.build(name)
            gflops = count_flops(model, h, w)["total"] / 1e9
            row += f" {model.count_params() / 1e6:.2f} | {gflops:.1f} |"
        print(row, flush=True)
    trained = zoo.list_zoo()
    print(f"\nTrained models in the zoo: {', '.join(trained) if trained else '(none)'}")
    return 0
