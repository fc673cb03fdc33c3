"""Loss ablation for the foreground refiner: trains one model per loss variant with the
product trainer (same data, crop, seed and steps; only the losses differ), evaluates each
variant's final weights on every val set with `segtf.evaluation.evaluate`, and prints a table
of those results.

    python tools/loss_ablation.py --out runs/loss_ablation --epochs 5
    python tools/loss_ablation.py --out runs/loss_ablation_seed1 --epochs 5 --seed 1
    python tools/loss_ablation.py --report runs/loss_ablation runs/loss_ablation_seed1

Variants (BiRefNet's mix, built up one part at a time):
  bce            BCE only, no gradient auxiliary loss
  bce_iou        BCE + IoU
  bce_iou_ssim   BCE + IoU + SSIM
  full           BCE + IoU + SSIM + gradient auxiliary loss (the shipped recipe)

A finished variant (its results.json present) is not trained again, so an interrupted
ablation resumes where it stopped; an interrupted variant resumes from its checkpoint.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"

# name -> (loss on the alpha and every stage, weight of the gradient-aware edge loss)
VARIANTS = {
    "bce": ("bce", 0.0),
    "bce_iou": ("bce_iou", 0.0),
    "bce_iou_ssim": ("birefnet", 0.0),
    "full": ("birefnet", 0.5),
}
SHOWN_METRICS = ("mae", "max_f", "weighted_f", "s_measure", "max_e", "boundary_iou")
STAGES, EDGES = (5, 4, 3, 2, 1), (4, 3, 2, 1)


def variant_config(args, name: str):
    """The training config of one variant: everything but the losses is shared."""
    from segtf.training import TrainConfig

    loss, edge_weight = VARIANTS[name]
    aux = {f"stage{i}_logits": [loss, 0.5] for i in STAGES}
    if edge_weight:
        aux.update({f"edge{i}_logits": ["gradient_aux", edge_weight] for i in EDGES})
    return TrainConfig(
        experiment=f"loss_ablation_{name}",
        model=args.model,
        model_overrides={"working_side": 256},
        dataset="people_animals",
        train_data=[str(folder / "train") for folder in args.data],
        max_side=256,
        crop_size=(192, 192),
        scale_range=(0.75, 1.25),
        batch_size=8,
        epochs=args.epochs,
        optimizer="adamw",
        learning_rate=2e-3,
        warmup_steps=50,
        loss=loss,
        aux_losses=aux,
        precision="float32",
        seed=args.seed,
        cache=True,
        out_dir=str(args.out / name),
        resume=(args.out / name / "checkpoints").is_dir(),
    )


def evaluate_variant(run: pathlib.Path, data: list[pathlib.Path]) -> dict:
    """{val set: metrics} of the variant's final weights (no selection on these sets)."""
    from segtf.evaluation import evaluate
    from segtf.zoo import load_model

    model, info = load_model(run / "model")
    return {folder.name: evaluate(model, info, folder / "val")["metrics"] for folder in data}


def cell(values: list[float]) -> str:
    """One run: its value. Several seeds: mean ± half their range."""
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{np.mean(values):.4f} ± {(max(values) - min(values)) / 2:.4f}"


def table(results: dict[str, dict[str, dict[str, list[float]]]]) -> str:
    """Markdown rows (val set, loss variant) from {variant: {val set: {metric: [values]}}}."""
    lines = [
        "| val set | loss | " + " | ".join(SHOWN_METRICS) + " |",
        "| --- | --- |" + " --- |" * len(SHOWN_METRICS),
    ]
    sets = sorted({s for per_set in results.values() for s in per_set})
    for val_set in sets:
        for name, per_set in results.items():
            metrics = per_set.get(val_set)
            if not metrics:
                continue
            cells = [cell(metrics[m]) if m in metrics else "-" for m in SHOWN_METRICS]
            lines.append(f"| {val_set} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def collect(folders: list[pathlib.Path]) -> dict[str, dict[str, dict[str, list[float]]]]:
    """Gathers every finished variant's results across ablation folders (seeds)."""
    results = {}
    for name in VARIANTS:
        for folder in folders:
            path = folder / name / "results.json"
            if not path.exists():
                continue
            for val_set, metrics in json.loads(path.read_text()).items():
                into = results.setdefault(name, {}).setdefault(val_set, {})
                for metric, value in metrics.items():
                    if isinstance(value, int | float):
                        into.setdefault(metric, []).append(float(value))
    return results


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--data", nargs="+", type=pathlib.Path,
        default=[SHARED / "weizmann_horse", SHARED / "ccp_person"],
    )
    p.add_argument("--model", default="refiner_lite")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--seed", type=int, default=0, help="same seed for every variant")
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--out", type=pathlib.Path, default=ROOT / "runs" / "loss_ablation")
    p.add_argument(
        "--report", nargs="+", type=pathlib.Path, metavar="DIR",
        help="train nothing: print the table over finished ablation folders (e.g. two seeds)",
    )
    args = p.parse_args(argv)
    if args.report:
        print(table(collect(args.report)))
        return 0
    missing = [str(folder) for folder in args.data if not (folder / "val").is_dir()]
    if missing:
        raise SystemExit(f"no val/ folder in {', '.join(missing)}: pass --data FOLDER ...")
    from segtf.training import Trainer

    args.out = args.out.resolve()
    for name in args.variants:
        results = args.out / name / "results.json"
        if results.exists():
            continue
        Trainer(variant_config(args, name)).fit()
        tmp = results.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(evaluate_variant(args.out / name, args.data), indent=1))
        tmp.replace(results)
    text = table(collect([args.out]))
    (args.out / "table.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
