"""Loss ablation for the foreground refiner: trains one model per loss variant with the same
data, crop, seed and epochs, evaluates each on every val set with `segtf evaluate`, and prints
a table parsed from what those commands printed.

    python tools/loss_ablation.py --out runs/loss_ablation --epochs 5
    python tools/loss_ablation.py --out runs/loss_ablation_seed1 --epochs 5 --seed 1

Variants (BiRefNet's mix, built up one part at a time):
  bce            BCE only, no gradient auxiliary loss
  bce_iou        BCE + IoU
  bce_iou_ssim   BCE + IoU + SSIM
  full           BCE + IoU + SSIM + gradient auxiliary loss (the shipped recipe)

A finished variant (summary.json and eval outputs present) is not trained again, so an
interrupted ablation resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys

import numpy as np

from segtf.metrics.report import parse_table

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"

# name -> (BCE, IoU, SSIM weights, gradient auxiliary loss weight)
VARIANTS = {
    "bce": ((1, 0, 0), 0.0),
    "bce_iou": ((1, 1, 0), 0.0),
    "bce_iou_ssim": ((1, 1, 1), 0.0),
    "full": ((1, 1, 1), 0.5),
}
SHOWN_METRICS = ("mae", "max_f", "weighted_f", "s_measure", "max_e", "boundary_iou")


def train_command(args, name: str) -> list[str]:
    mix, edge_weight = VARIANTS[name]
    return [
        sys.executable,
        str(ROOT / "tools" / "train_arrays.py"),
        "--data",
        *map(str, args.data),
        "--task", "foreground",
        "--num-classes", "1",
        "--label-map", "",
        "--max-side", "256",
        "--model", args.model,
        "--crop", "192", "192",
        "--scale", "0.75", "1.25",
        "--batch", "8",
        "--lr", "2e-3",
        "--epochs", str(args.epochs),
        "--eval-every", str(args.epochs),
        "--precision", "float32",
        "--workers", "1",
        "--seed", str(args.seed),
        "--mix", *map(str, mix),
        "--edge-weight", str(edge_weight),
        "--out", str(args.out / name),
    ]  # fmt: skip


def package_command(args, name: str) -> list[str]:
    command = [
        sys.executable,
        str(ROOT / "tools" / "package_model.py"),
        "--run", str(args.out / name),
        "--name", f"ablation_{name}",
        "--model", args.model,
        "--dataset", "weizmann_horse",
        "--override", json.dumps({"working_side": 256}),
        # The last weights, not the best-on-val ones: no selection on the reported sets.
        "--weights", "last.weights.h5",
        "--out-dir", str(args.out / "models"),
    ]  # fmt: skip
    for folder in args.data:
        command += ["--eval", f"{folder.name}={folder / 'val'}"]
    return command


def parse_evaluations(printed: str) -> dict[str, dict[str, float]]:
    """{val set name: {metric: value}} from package_model's echo of `segtf evaluate`."""
    results = {}
    for block in printed.split("$ segtf evaluate ")[1:]:
        data = pathlib.Path(block.split()[1])
        results[data.parent.name] = parse_table(block)
    return results


def run_logged(command: list[str], log: pathlib.Path) -> str:
    """Runs `command` with stderr to `log` and stdout to `.out.part` beside it, written as it
    comes so a long run can be watched, renamed to `.out` only when the command succeeds (so a
    resumed ablation never reads a half-written one); returns the stdout."""
    print("$", " ".join(command), flush=True)
    env = {**os.environ, "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "tensorflow")}
    printed = log.with_suffix(".out")
    partial = printed.with_suffix(".out.part")
    with log.open("w") as errors, partial.open("w") as output:
        done = subprocess.run(command, stdout=output, stderr=errors, text=True, env=env)
    if done.returncode:
        raise SystemExit(f"failed ({done.returncode}), see {log}: {' '.join(command)}")
    partial.replace(printed)
    return printed.read_text()


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
    """Gathers every finished variant's printed evaluations across ablation folders (seeds)."""
    results = {}
    for name in VARIANTS:
        for folder in folders:
            printed = folder / f"{name}.package.out"
            if not printed.exists():
                continue
            for val_set, metrics in parse_evaluations(printed.read_text()).items():
                into = results.setdefault(name, {}).setdefault(val_set, {})
                for metric, value in metrics.items():
                    into.setdefault(metric, []).append(value)
    return results


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--data",
        nargs="+",
        type=pathlib.Path,
        default=[SHARED / "weizmann_horse", SHARED / "ccp_person"],
    )
    p.add_argument("--model", default="refiner_lite")
    p.add_argument("--epochs", type=int, default=5, help="after the calibration epoch")
    p.add_argument("--seed", type=int, default=0, help="same seed for every variant")
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--out", type=pathlib.Path, default=ROOT / "runs" / "loss_ablation")
    p.add_argument(
        "--report",
        nargs="+",
        type=pathlib.Path,
        metavar="DIR",
        help="train nothing: print the table over finished ablation folders (e.g. two seeds)",
    )
    args = p.parse_args(argv)
    if args.report:
        print(table(collect(args.report)))
        return 0
    missing = [str(folder) for folder in args.data if not (folder / "val").is_dir()]
    if missing:
        raise SystemExit(f"no val/ folder in {', '.join(missing)}: pass --data FOLDER ...")
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)

    for name in args.variants:
        run = args.out / name
        if not (run / "summary.json").exists():
            run.mkdir(exist_ok=True)
            run_logged(train_command(args, name), args.out / f"{name}.train.log")
        printed_file = args.out / f"{name}.package.out"
        if not printed_file.exists():
            run_logged(package_command(args, name), args.out / f"{name}.package.log")
        summary = json.loads((run / "summary.json").read_text())
        print(f"{name}: {summary['epochs']} epochs, {summary['train_s'] / 60:.1f} min", flush=True)

    text = table(collect([args.out]))
    (args.out / "table.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
