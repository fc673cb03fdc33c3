"""What the refiner adds: foreground models side by side on the foreground val sets, boundary
IoU first, through the same evaluation as `segtf evaluate` (single scale), in one run; prints
a table.

    python benchmarks/bench_boundary.py --models MODEL_A MODEL_B            # as packaged
    python benchmarks/bench_boundary.py --models MODEL_A MODEL_B --aspect square

`--aspect` gives every model the same resizing (`keep` the photo's aspect ratio, or `square`)
whatever its folder says, so that models packaged differently are compared on equal terms;
`--working-side N` runs every model at N pixels instead of its own working side (the same
weights: how a model trained at one size does at another). With several models, a second
table gives each one's boundary IoU minus the first model's on the same images, with a 95%
bootstrap interval over the images; `--worst N` then names, per set, the N images on which
each model trails the first one most (where to look).
`--runs-per-recipe N` says the models come in consecutive groups of N runs of one recipe (the
same training with different seeds); a last table then gives each recipe's boundary IoU averaged
over its runs, minus the first recipe's, with a 95% bootstrap interval that resamples both the
runs and the images, so that a difference smaller than what the seed changes is not read as one.
With `--paired-runs` the i-th run of every recipe started from the same place as the first
recipe's i-th (the same seed, or the same first run fine-tuned two ways): each draw then
resamples those pairs together, so what the pair shares cancels and only what the recipes
change is measured.
The val folders default to those `tools/prepare_training_folders.py` writes into `.devdata`
(Oxford pet: the trimap's boundary band, 128, is skipped by the metrics).
"""

from __future__ import annotations

import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from worst import print_trailing, trailing  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
VAL_SETS = ("weizmann_horse", "ccp_person", "oxford_pet")
COLUMNS = ("boundary_iou", "mae", "weighted_f", "max_f")


def load(model: str, aspect: str | None, side: int = 0):
    from segtf.packaging import with_working_aspect
    from segtf.zoo import load_model

    network, info = load_model(model)
    aspect, side = aspect or info.model.working_aspect, side or info.model.working_side
    if (aspect, side) != (info.model.working_aspect, info.model.working_side):
        network, info = with_working_aspect(network, info, aspect, side)
    return network, info


def val_folders(data: pathlib.Path) -> list[pathlib.Path] | None:
    """`data`/<set>/val for each foreground val set; None, with the command that makes them on
    stderr, when one is absent."""
    folders = [data / name / "val" for name in VAL_SETS]
    missing = [str(f) for f in folders if not f.is_dir()]
    if missing:
        print(f"val folders absent: {', '.join(missing)}; make them with "
              "`python tools/prepare_training_folders.py --shared ../shared/data --out .devdata`",
              file=sys.stderr)
        return None
    return folders


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", required=True, help="zoo names or model folders")
    parser.add_argument("--aspect", choices=("keep", "square"), help="resize every model so")
    parser.add_argument("--working-side", type=int, default=0,
                        help="run every model at this working side (default: its own)")
    parser.add_argument("--data", type=pathlib.Path, default=REPO / ".devdata",
                        help="folder holding <set>/val (default: .devdata)")
    parser.add_argument("--limit", type=int, default=0, help="images per val set (0: all)")
    parser.add_argument("--worst", type=int, default=0,
                        help="name the N images per set where each model trails the first most")
    parser.add_argument("--runs-per-recipe", type=int, default=0,
                        help="the models are consecutive groups of N seeds of one recipe each: "
                             "compare the recipes' means")
    parser.add_argument("--paired-runs", action="store_true",
                        help="with --runs-per-recipe: the i-th runs of the recipes share their "
                             "start (seed or first run); resample them as pairs")
    args = parser.parse_args(argv)
    if args.paired_runs and not args.runs_per_recipe:
        parser.error("--paired-runs pairs the runs of recipes: give --runs-per-recipe N")
    if args.runs_per_recipe and (args.runs_per_recipe < 1
                                 or len(args.models) % args.runs_per_recipe):
        parser.error(f"--runs-per-recipe {args.runs_per_recipe}: the {len(args.models)} models "
                     "must split into groups of that many runs")
    folders = val_folders(args.data)
    if folders is None:
        return 2
    from segtf.evaluation import evaluate

    print(f"aspect: {args.aspect or 'as packaged'}; working side: "
          f"{args.working_side or 'as packaged'}")
    print("| model | val set | images | " + " | ".join(COLUMNS) + " |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in COLUMNS) + " |")
    per_image = {}  # (model, set) -> boundary IoU image by image
    for model in args.models:
        network, info = load(model, args.aspect, args.working_side)
        for name, folder in zip(VAL_SETS, folders, strict=True):
            result = evaluate(network, info, str(folder), max_images=args.limit)
            values = " | ".join(f"{result['metrics'][c]:.4f}" for c in COLUMNS)
            print(f"| {model} | {name} | {result['images']} | {values} |", flush=True)
            per_image[model, name] = result["per_image"]["boundary_iou"]
    if len(args.models) > 1:
        print_paired(per_image, args.models)
    if len(args.models) > 1 and args.worst:
        print_worst(per_image, args.models, folders, args.worst)
    if args.runs_per_recipe and len(args.models) > args.runs_per_recipe:
        print_recipes(per_image, args.models, args.runs_per_recipe, args.paired_runs)
    return 0


def paired_interval(a, b, draws: int = 10000, seed: int = 0) -> tuple[float, float, float]:
    """Mean of b - a over the same images, and its 95% bootstrap interval (images resampled)."""
    import numpy as np

    diff = np.asarray(b, float) - np.asarray(a, float)
    picks = np.random.default_rng(seed).integers(0, len(diff), (draws, len(diff)))
    means = diff[picks].mean(1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(diff.mean()), float(low), float(high)


def print_paired(per_image: dict, models: list[str]) -> None:
    """Each model's boundary IoU against the first model's, image by image."""
    first = models[0]
    print(f"\nboundary IoU minus {first}'s on the same images (95% bootstrap interval over images):")
    print("| model | val set | images | difference | 95% interval | images better |")
    print("| --- | --- | --- | --- | --- | --- |")
    for model in models[1:]:
        for name in VAL_SETS:
            a, b = per_image[first, name], per_image[model, name]
            mean, low, high = paired_interval(a, b)
            better = sum(y > x for x, y in zip(a, b, strict=True))
            print(f"| {model} | {name} | {len(a)} | {mean:+.4f} | {low:+.4f} to {high:+.4f} "
                  f"| {better} |")


def recipe_interval(first_runs, runs, draws: int = 10000, seed: int = 0, paired: bool = False):
    """Mean of `runs` minus mean of `first_runs` (each: runs x images, the same images), and its
    95% bootstrap interval: each draw resamples each recipe's runs (`paired`: the i-th runs of
    both recipes together) and, jointly, the images."""
    import numpy as np

    first_runs, runs = np.asarray(first_runs, float), np.asarray(runs, float)
    rng = np.random.default_rng(seed)
    shared = rng.integers(0, len(runs), (draws, len(runs))) if paired else None

    def resampled_run_means(values):  # draws x images: the mean over a resample of the runs
        picks = shared if paired else rng.integers(0, len(values), (draws, len(values)))
        return values[picks].mean(1)

    delta = resampled_run_means(runs) - resampled_run_means(first_runs)
    images = rng.integers(0, delta.shape[1], delta.shape)
    means = np.take_along_axis(delta, images, 1).mean(1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(runs.mean() - first_runs.mean()), float(low), float(high)


def print_recipes(per_image: dict, models: list[str], size: int, paired: bool = False) -> None:
    """Each recipe (`size` consecutive models) against the first, averaged over its runs."""
    recipes = [models[i: i + size] for i in range(0, len(models), size)]
    over = "run pairs (the i-th runs of both recipes together)" if paired else "runs"
    print(f"\nrecipes of {size} runs: mean boundary IoU over the runs, minus the first recipe's "
          f"(95% bootstrap interval over {over} and images):")
    print("| recipe | val set | images | each run | mean | difference | 95% interval |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for runs in recipes:
        for name in VAL_SETS:
            values = [per_image[m, name] for m in runs]
            run_means = [sum(v) / len(v) for v in values]  # every run has the same images
            each = " / ".join(f"{m:.4f}" for m in run_means)
            mean = sum(run_means) / len(run_means)
            compared = "| | |"  # the first recipe is the reference
            if runs is not recipes[0]:
                first = [per_image[m, name] for m in recipes[0]]
                difference, low, high = recipe_interval(first, values, paired=paired)
                compared = f"| {difference:+.4f} | {low:+.4f} to {high:+.4f} |"
            print(f"| {', '.join(runs)} | {name} | {len(values[0])} | {each} | {mean:.4f} "
                  f"{compared}")


def print_worst(per_image: dict, models: list[str], folders, count: int) -> None:
    """The images where each model's boundary IoU falls furthest below the first model's."""
    from segtf.data.sources import find_pairs

    first = models[0]
    # The files in the order evaluate() measured them (the same listing), read once per set.
    names = {name: [pathlib.Path(image).name for image, _ in find_pairs(str(folder))]
             for name, folder in zip(VAL_SETS, folders, strict=True)}
    rows = [
        (model, name, image, a, b)
        for model in models[1:]
        for name in VAL_SETS
        for image, a, b in trailing(per_image[first, name], per_image[model, name], names[name],
                                    count)
    ]
    print_trailing(first, "boundary IoU", rows, digits=4)


if __name__ == "__main__":
    sys.exit(main())
