"""Turns a training run into a zoo model folder: weights, config.json, and a model card that
quotes what `segtf evaluate` printed on each validation set (run here, not typed in).

    python tools/package_model.py --run runs/camvid_lite --name camvid_deeplabv3plus_lite \
        --model deeplabv3plus_lite --dataset camvid \
        --eval camvid=../shared/data/camvid/val.txt --tta
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import platform
import subprocess
import sys

import segtf.models as models
from segtf.data import get_dataset_spec
from segtf.metrics.report import parse_table
from segtf.zoo import ZOO_DIR, ModelInfo, save_model_folder

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run_evaluate(folder: pathlib.Path, data: str, extra: list[str]) -> tuple[str, str]:
    command = [sys.executable, "-m", "segtf", "evaluate", str(folder), data, *extra]
    folder = folder.resolve()
    shown_folder = folder.relative_to(ROOT) if folder.is_relative_to(ROOT) else folder
    shown = "segtf evaluate " + " ".join([str(shown_folder), data, *extra])
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    print(f"$ {shown}\n{out}", flush=True)
    return shown, out.strip()


HEADLINE = {
    "semantic": ("mean_iou", "pixel_accuracy"),
    "foreground": ("mae", "weighted_f", "s_measure", "boundary_iou", "max_f"),
}


def headline(printed: str, task: str) -> dict[str, float]:
    """The metrics a model's config.json keeps, parsed from what `segtf evaluate` printed."""
    metrics = parse_table(printed)
    return {key: metrics[key] for key in HEADLINE[task] if key in metrics}


def leg_lines(legs: list[dict]) -> list[str]:
    lines = []
    for i, leg in enumerate(legs, start=1):
        lines += [
            f"### Leg {i} (continued by the next)",
            "",
            "```",
            leg["command"],
            "```",
            "",
            f"{leg['epochs']} epochs, {leg['total_s'] / 60:.0f} min.",
        ]
        if leg["history"]:
            lines += ["", "| epoch | train loss | val score (as logged) |", "| --- | --- | --- |"]
            lines += [
                f"| {h['epoch']} | {h['loss']:.4f} | {h['val_score']:.4f} |" for h in leg["history"]
            ]
        lines.append("")
    return lines


def card_text(
    args, info: ModelInfo, summary: dict, evaluations, intro: str, legs: list[dict]
) -> str:
    lines = [
        f"# {args.name}",
        "",
        intro,
        "",
        f"- Architecture: `{args.model}` ({info.model.architecture}, backbone "
        f"{info.model.backbone}, width {info.model.width}, output stride "
        f"{info.model.output_stride}), {info.task} task, classes: "
        f"{', '.join(info.class_names)}.",
        f"- Initialisation: {args.init}.",
        f"- Trained on this machine: {platform.processor() or platform.machine()}, 2 CPU cores, "
        f"float32, Keras backend `{summary.get('backend')}`.",
        f"- Wall time: {sum(x['total_s'] for x in [*legs, summary]) / 60:.0f} min in all, "
        f"{sum(x['epochs'] for x in [*legs, summary])} epochs over {len(legs) + 1} leg(s), each "
        f"starting with a calibration / warm-up epoch (last leg's median step "
        f"{summary['step_ms']:.0f} ms); the machine was shared with other jobs, so time is an "
        "upper bound.",
        f"- Selected by validation score (best of the last leg's periodic checks, after precise "
        f"BatchNorm statistics): {summary['best_val']:.4f}.",
        "",
        "## Training commands",
        "",
        *leg_lines(legs),
        f"### Leg {len(legs) + 1}",
        "",
        "```",
        summary["command"],
        "```",
        "",
        "| epoch | train loss | val score (as logged) |",
        "| --- | --- | --- |",
    ]
    lines += [
        f"| {h['epoch']} | {h['loss']:.4f} | {h['val_score']:.4f} |" for h in summary["history"]
    ]
    lines += ["", "## Evaluation (printed by `segtf evaluate`)", ""]
    for command, output in evaluations:
        lines += ["```", f"$ {command}", output, "```", ""]
    return "\n".join(lines) + "\n"


def confidence_floor(model, info: ModelInfo, folder: pathlib.Path) -> float:
    """The lowest mean confidence the model has on any image in `folder` (its val set): a
    photo below it looks unlike anything the model was validated on."""
    import segtf

    segmenter = segtf.Segmenter(model)
    segmenter.info = info
    images = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    return round(min(segmenter.segment(p).mean_confidence for p in images), 4)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", required=True, type=pathlib.Path)
    p.add_argument("--name", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--override", default="{}")
    p.add_argument("--dataset", required=True, help="dataset spec for class names / palette")
    p.add_argument("--trained-on", help="what config.json names as the training data (default: --dataset)")
    p.add_argument("--eval", action="append", default=[], metavar="NAME=DATA")
    p.add_argument("--tta", action="store_true", help="also evaluate with test-time augmentation")
    p.add_argument("--intro", default="")
    p.add_argument("--class-names", nargs="*", help="override the dataset spec's class names")
    p.add_argument(
        "--legs",
        nargs="*",
        type=pathlib.Path,
        default=[],
        help="earlier runs this one continued from (their commands and histories "
        "go into the card too)",
    )
    p.add_argument(
        "--init",
        default="from scratch (no pre-trained weights)",
        help="where the weights started, with its licence (quoted in the card)",
    )
    p.add_argument(
        "--confidence-images",
        type=pathlib.Path,
        help="semantic models: folder of val images whose least confident one sets the "
        "out-of-domain warning's floor",
    )
    p.add_argument("--weights", default="best.weights.h5")
    p.add_argument("--out-dir", type=pathlib.Path, default=ZOO_DIR)
    args = p.parse_args(argv)

    summary = json.loads((args.run / "summary.json").read_text())
    summary["command"] = (args.run / "command.txt").read_text().strip()
    spec = get_dataset_spec(args.dataset)
    class_names = tuple(args.class_names) if args.class_names else spec.class_names
    config = models.get_config(
        args.model,
        num_classes=spec.num_classes,
        class_names=class_names,
        **json.loads(args.override),
    )
    model = models.build_from_config(config, name=args.name)
    model.load_weights(args.run / args.weights)
    info = ModelInfo(
        name=args.name,
        model=config,
        class_names=class_names,
        palette=spec.palette,
        ignore_label=spec.ignore_label,
        dataset=args.trained_on or args.dataset,
    )
    if args.confidence_images:
        floor = confidence_floor(model, info, args.confidence_images)
        info = dataclasses.replace(info, extra={**info.extra, "confidence_floor": floor})
        print(f"confidence floor {floor:.4f} (least confident of {args.confidence_images})")
    folder = save_model_folder(model, info, args.out_dir / args.name, overwrite=True)
    evaluations, metrics = [], {}
    for item in args.eval:
        name, data = item.split("=", 1)
        evaluations.append(run_evaluate(folder, data, []))
        metrics[name] = headline(evaluations[-1][1], info.task)
        if args.tta:
            evaluations.append(run_evaluate(folder, data, ["--tta"]))
            metrics[f"{name}_tta"] = headline(evaluations[-1][1], info.task)
    # The zoo's config.json carries the printed figures too (the viewer shows them).
    info = dataclasses.replace(info, metrics=metrics)
    legs = []
    for leg in args.legs:
        leg_summary = json.loads((leg / "summary.json").read_text())
        leg_summary["command"] = (leg / "command.txt").read_text().strip()
        legs.append(leg_summary)
    card = card_text(args, info, summary, evaluations, args.intro, legs)
    save_model_folder(model, info, folder, card=card, overwrite=True)
    print(f"wrote {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
