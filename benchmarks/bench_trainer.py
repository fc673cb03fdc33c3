"""Trainer epoch time at a shipped recipe's settings (CamVid, DeepLabV3+ on EfficientNet-Lite0,
288x384 crops, batch 8, decoded images cached), for this checkout and optionally another
one (e.g. a worktree of the commit before the one-trainer redesign), in alternating fresh
processes so both see the same machine load. Prints a table.

    git worktree add /tmp/segtf_before a87caae
    python benchmarks/bench_trainer.py --other /tmp/segtf_before --steps 12 --epochs 3

Epoch 1 includes listing, validation of the files, decoding (and graph tracing); later
epochs show whether the input pipeline is rebuilt (files listed and decoded again) or read
from the cache built once per run. No validation runs (only training epochs are timed).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "camvid"

# Runs in the checkout under test; prints one JSON line of epoch times.
CHILD = """
import csv, json, sys, time
from segtf.training import TrainConfig, Trainer
fields = dict(
    model="deeplabv3plus_efficientnet_lite0", dataset="camvid", train_data=sys.argv[1],
    crop_size=(288, 384), batch_size=8, epochs=int(sys.argv[3]), steps_per_epoch=int(sys.argv[2]),
    optimizer="adamw", learning_rate=1e-4, cache=True, precise_bn_batches=0,
    checkpoint_every=0, image_summaries=0, precision="float32", out_dir=sys.argv[4],
    aux_losses={},  # the same graph in both trainers: no auxiliary head
)
trainer = Trainer(TrainConfig(**fields))
result = trainer.fit()
rows = list(csv.DictReader(open(sys.argv[4] + "/history.csv")))
print(json.dumps([float(r["seconds"]) for r in rows]))
"""


def run_once(checkout: pathlib.Path, steps: int, epochs: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, PYTHONPATH=str(checkout), TF_CPP_MIN_LOG_LEVEL="3")
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(SHARED / "train.txt"), str(steps), str(epochs),
             f"{tmp}/run"],
            env=env, capture_output=True, text=True, cwd=tmp,
        )
        if done.returncode:
            raise SystemExit(f"{checkout}: failed\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--other", type=pathlib.Path, help="another checkout to compare against")
    p.add_argument("--steps", type=int, default=12, help="steps per epoch")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--repeats", type=int, default=1, help="alternating runs of each")
    args = p.parse_args()
    if not (SHARED / "train.txt").is_file():
        raise SystemExit(f"CamVid is not at {SHARED}")
    checkouts = [("this checkout", ROOT)] + ([("other", args.other)] if args.other else [])
    times = {name: [] for name, _ in checkouts}
    for _ in range(args.repeats):
        for name, path in checkouts:
            times[name].append(run_once(path, args.steps, args.epochs))
    head = " | ".join(f"epoch {i + 1} s" for i in range(args.epochs))
    print(f"| trainer | {head} | later epochs, s/step |")
    print("| --- |" + " --- |" * (args.epochs + 1))
    for name, runs in times.items():
        for epochs in runs:
            later = epochs[1:] or epochs
            per_step = sum(later) / (len(later) * args.steps)
            cells = " | ".join(f"{t:.1f}" for t in epochs)
            print(f"| {name} | {cells} | {per_step:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
