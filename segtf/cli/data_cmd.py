"""`segtf data check|stats|convert SRC`: validate, count classes, write TFRecord shards."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def _label_map(text: str) -> dict[int, int]:
    """'11:255,12:255' -> {11: 255, 12: 255}."""
    try:
        return {int(k): int(v) for k, v in (item.split(":") for item in text.split(",") if item)}
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected RAW:LABEL[,RAW:LABEL...], got {text!r}"
        ) from None


def _add_source_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source", help="folder (images/+masks/, im/+gt/), list file, or TFRecord dir"
    )
    parser.add_argument(
        "--dataset",
        help="known dataset spec (camvid, weizmann_horse, "
        "ccp_person); guessed from the path when omitted",
    )
    parser.add_argument("--num-classes", type=int, help="number of classes (semantic)")
    parser.add_argument("--task", choices=("semantic", "foreground"))
    parser.add_argument("--ignore-label", type=int, default=255)
    parser.add_argument("--label-map", type=_label_map, help="e.g. 11:255 (CamVid)")
    parser.add_argument(
        "--skip-bad",
        action="store_true",
        help="leave bad files out (they are listed and counted) instead of failing",
    )


def resolve_rules(args) -> dict:
    """Label rules from --dataset / --num-classes / --task, or from a spec named in the path."""
    from segtf.data.specs import SPECS, get_dataset_spec

    spec = get_dataset_spec(args.dataset) if args.dataset else None
    if spec is None and args.num_classes is None and args.task != "foreground":
        guessed = [n for n in SPECS if n in Path(args.source).resolve().parts]
        if guessed:
            spec = get_dataset_spec(guessed[0])
            logger.info(
                "using dataset spec %r (from the path; override with --dataset or --num-classes)",
                spec.name,
            )
    task = args.task or (spec.task if spec else "semantic")
    num_classes = args.num_classes or (spec.num_classes if spec else None)
    if task == "foreground":
        num_classes = 1
    label_map = args.label_map if args.label_map is not None else (spec.label_map if spec else None)
    return dict(
        num_classes=num_classes,
        task=task,
        ignore_label=args.ignore_label,
        label_map=label_map,
        class_names=spec.class_names if spec else None,
    )


def _validated(args, rules):
    from segtf.data.sources import list_source
    from segtf.data.validate import validate_pairs

    listing = list_source(args.source)
    num_classes = rules["num_classes"]
    if num_classes is None:  # structure only: any 8-bit value is accepted
        logger.info("no --num-classes / --dataset: label values are not range-checked")
        num_classes = 256
    report = validate_pairs(
        listing.pairs,
        report=listing,
        skip_bad=args.skip_bad,
        num_classes=num_classes,
        task=rules["task"],
        ignore_label=rules["ignore_label"],
        label_map=rules["label_map"],
    )
    if report.bad:
        print(f"skipped {len(report.bad)} bad item(s):")
        for item in report.bad:
            print(f"  {item}")
    return report


def run_check(args) -> int:
    from pathlib import Path

    from segtf.data.sources import is_tfrecord_dir

    if is_tfrecord_dir(Path(args.source)):
        return _check_tfrecords(Path(args.source))
    report = _validated(args, resolve_rules(args))
    if not report.pairs:
        raise ValueError(
            f"{args.source}: no usable image / mask pairs ({len(report.bad)} bad); put images "
            "in images/ and masks with the same names in masks/"
        )
    print(
        f"{len(report.pairs)} good pair(s), {len(report.bad)} bad, "
        f"{len(set(report.sizes.values()))} distinct size(s)"
    )
    return 0


def _check_tfrecords(directory) -> int:
    """A TFRecord folder: its manifest and every shard (each record read with its checksum)."""
    from segtf.data.manifest import read_manifest
    from segtf.data.tfrecords import check_shards

    manifest = read_manifest(directory)
    files = [str(directory / s) for s in manifest["shards"]]
    check_shards(directory, files, manifest.get("shard_counts"))
    print(f"{manifest['count']} record(s) in {len(manifest['shards'])} shard(s), all readable")
    return 0


def run_stats(args) -> int:
    from segtf.data.stats import class_statistics

    rules = resolve_rules(args)
    if rules["task"] == "foreground":
        rules.update(num_classes=2, label_map={255: 1}, class_names=("background", "foreground"))
    if rules["num_classes"] is None:
        raise ValueError("pass --num-classes N or --dataset NAME so classes can be counted")
    stats = class_statistics(
        args.source,
        num_classes=rules["num_classes"],
        ignore_label=rules["ignore_label"],
        label_map=rules["label_map"],
        skip_bad=args.skip_bad,
    )
    print(stats.table(rules["class_names"]))
    return 0


def run_convert(args) -> int:
    from segtf.data.tfrecords import write_tfrecords

    report = _validated(args, resolve_rules(args))
    shards = write_tfrecords(report.pairs, report.sizes, args.out, shard_size=args.shard_size)
    print(f"wrote {len(report.pairs)} pair(s) in {len(shards)} shard(s) to {args.out}")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("data", help="check, count and convert datasets")
    commands = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    check = commands.add_parser("check", help="validate every image / mask pair")
    _add_source_args(check)
    check.set_defaults(func=run_check)
    stats = commands.add_parser(
        "stats", help="per-class pixel frequencies and median frequency balancing weights (SegNet)"
    )
    _add_source_args(stats)
    stats.set_defaults(func=run_stats)
    convert = commands.add_parser("convert", help="write sharded TFRecords")
    _add_source_args(convert)
    convert.add_argument("--out", required=True, help="output folder (new or empty)")
    convert.add_argument("--shard-size", type=int, default=256, help="pairs per shard")
    convert.set_defaults(func=run_convert)
