"""`segtf package RUN --name NAME`: turn a finished training run into a zoo model folder
(config, weights, and a card quoting every leg's `segtf train` command and the evaluation
tables computed here)."""

from __future__ import annotations

import argparse
import pathlib
import shlex


def run(args: argparse.Namespace) -> int:
    from segtf.packaging import package
    from segtf.zoo import ZOO_DIR

    folder = package(
        args.run,
        args.name,
        zoo_dir=args.zoo or ZOO_DIR,
        eval_data=args.eval or None,
        overwrite=args.overwrite,
        notes=args.notes.read_text(encoding="utf-8") if args.notes else "",
        working_aspect=args.working_aspect,
        command=command_line(args),
        average=args.average,
    )
    print((folder / "MODEL_CARD.md").read_text(encoding="utf-8"))
    print(f"wrote {folder}")
    return 0


def command_line(args: argparse.Namespace) -> str:
    """The `segtf package` command these arguments came from, as the card quotes it."""
    words = ["segtf", "package", str(args.run), "--name", args.name]
    for data in args.eval:
        words += ["--eval", str(data)]
    if args.zoo:
        words += ["--zoo", str(args.zoo)]
    if args.overwrite:
        words.append("--overwrite")
    if args.working_aspect:
        words += ["--working-aspect", args.working_aspect]
    if args.notes:
        words += ["--notes", str(args.notes)]
    if args.average:
        words += ["--average", *map(str, args.average)]
    return shlex.join(words)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "package", help="make a zoo model folder from a training run",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("run", metavar="RUN", help="the --out folder of a `segtf train` run")
    parser.add_argument("--name", required=True, help="zoo name (the folder models/NAME)")
    parser.add_argument(
        "--eval", action="append", default=[], metavar="DATA",
        help="labelled data to evaluate on (repeatable; default: the run's val_data)",
    )
    parser.add_argument("--zoo", metavar="DIR", help="zoo folder to write into (default: models/)")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing models/NAME folder"
    )
    parser.add_argument(
        "--notes", type=pathlib.Path, metavar="FILE",
        help="Markdown appended to the card (what is still weak, benchmark tables as printed)",
    )
    parser.add_argument(
        "--working-aspect", choices=("keep", "square"), default=None,
        help="how the packaged model resizes photos to its working side: keep their aspect "
        "ratio, or squash them to a square (default: as trained); the card says so",
    )
    parser.add_argument(
        "--average", nargs="+", default=[], metavar="CKPT",
        help="package the mean of these checkpoints' weights (files in checkpoints/ of this "
        "run, of the runs it continued from, or of runs that share one of them or started "
        "from the same model) instead of the run's model",
    )
    parser.set_defaults(func=run)
