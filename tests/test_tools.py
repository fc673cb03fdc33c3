"""The maintainer tools under tools/: the loss ablation's variants reach the trainer's loss, and
its table is parsed from what `segtf evaluate` prints."""

import argparse
import importlib.util
import itertools
import pathlib
import sys

import pytest

from segtf import losses
from segtf.metrics.report import format_table

TOOLS = pathlib.Path(__file__).resolve().parents[1] / "tools"


def load_tool(name):
    spec = importlib.util.spec_from_file_location(f"tools_{name}", TOOLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def ablation():
    return load_tool("loss_ablation")


@pytest.fixture(scope="module")
def trainer():
    return load_tool("train_arrays")


REFINER_OUTPUTS = ["logits", "stage2_logits", "edge1_logits"]


@pytest.mark.parametrize("variant", ["bce", "bce_iou", "bce_iou_ssim", "full"])
def test_each_ablation_variant_reaches_the_trainers_loss(ablation, trainer, variant, tmp_path):
    args = argparse.Namespace(
        data=[tmp_path / "horse"], model="refiner_lite", epochs=3, seed=7, out=tmp_path
    )
    command = ablation.train_command(args, variant)
    mix = [float(v) for v in command[command.index("--mix") + 1 :][:3]]
    edge_weight = float(command[command.index("--edge-weight") + 1])

    loss, weights = trainer.make_loss("foreground", 1, None, REFINER_OUTPUTS, mix, edge_weight)

    expected_mix, expected_edge = ablation.VARIANTS[variant]
    stage_loss = loss["stage2_logits"]
    assert isinstance(stage_loss, losses.BinaryMixLoss)
    assert (stage_loss.bce, stage_loss.iou, stage_loss.ssim) == tuple(map(float, expected_mix))
    assert weights["edge1_logits"] == expected_edge
    assert weights["logits"] == 1.0
    # Every variant trains with the same budget: only the loss flags differ.
    assert command[command.index("--epochs") + 1] == "3"
    assert command[command.index("--seed") + 1] == "7"


def test_ablation_variants_build_up_one_part_at_a_time(ablation):
    parts = [(*mix, edge) for mix, edge in ablation.VARIANTS.values()]
    for before, after in itertools.pairwise(parts):
        assert sum(a != b for a, b in zip(before, after, strict=True)) == 1


def printed_evaluation(folder, data, mae, boundary):
    result = {
        "model": "m",
        "data": data,
        "images": 40,
        "tta": False,
        "tile": None,
        "metrics": {"mae": mae, "max_f": 0.8, "boundary_iou": boundary, "images": 40},
    }
    return f"$ segtf evaluate {folder} {data}\n{format_table(result)}\n"


def test_ablation_table_is_parsed_from_printed_evaluations(ablation, tmp_path):
    printed = printed_evaluation(
        "runs/x/models/a", "/d/weizmann_horse/val", 0.125, 0.45
    ) + printed_evaluation("runs/x/models/a", "/d/ccp_person/val", 0.0625, 0.5)

    results = ablation.parse_evaluations(printed)

    assert results == {
        "weizmann_horse": {"mae": 0.125, "max_f": 0.8, "boundary_iou": 0.45, "images": 40.0},
        "ccp_person": {"mae": 0.0625, "max_f": 0.8, "boundary_iou": 0.5, "images": 40.0},
    }


def test_ablation_report_over_seeds_gives_mean_and_half_range(ablation, tmp_path):
    seed0, seed1 = tmp_path / "seed0", tmp_path / "seed1"
    for folder, mae in ((seed0, 0.125), (seed1, 0.175)):
        folder.mkdir()
        (folder / "bce.package.out").write_text(
            printed_evaluation("m", "/d/ccp_person/val", mae, 0.5)
        )
    # Only seed 0 finished the full variant: a single value, shown as it is.
    (seed0 / "full.package.out").write_text(printed_evaluation("m", "/d/ccp_person/val", 0.05, 0.6))

    text = ablation.table(ablation.collect([seed0, seed1]))

    rows = text.splitlines()
    assert (
        rows[2]
        == "| ccp_person | bce | 0.1500 ± 0.0250 | 0.8000 ± 0.0000 | - | - | - | 0.5000 ± 0.0000 |"
    )
    assert rows[3] == "| ccp_person | full | 0.0500 | 0.8000 | - | - | - | 0.6000 |"
    assert len(rows) == 4  # header, rule, one row per (val set, variant) with results


def test_ablation_step_output_is_kept_only_when_the_step_succeeds(ablation, tmp_path):
    log = tmp_path / "ok.train.log"
    printed = ablation.run_logged([sys.executable, "-c", "print('epoch 1: val 0.5')"], log)
    assert printed.strip() == "epoch 1: val 0.5"
    assert (tmp_path / "ok.train.out").read_text() == printed

    failing = [sys.executable, "-c", "print('half'); raise SystemExit(3)"]
    with pytest.raises(SystemExit, match="failed \\(3\\).*bad.train.log"):
        ablation.run_logged(failing, tmp_path / "bad.train.log")
    # A resumed ablation must not take a failed step's output for a finished one.
    assert not (tmp_path / "bad.train.out").exists()
    assert (tmp_path / "bad.train.out.part").read_text().strip() == "half"


def test_package_model_keeps_the_printed_headline_metrics():
    package = load_tool("package_model")
    result = {
        "model": "m",
        "data": "val.txt",
        "images": 3,
        "tta": False,
        "tile": None,
        "metrics": {
            "mean_iou": 0.5035,
            "pixel_accuracy": 0.7959,
            "per_class_iou": {"Sky": 0.928, "Road": 0.912},
            "per_class_accuracy": {"Sky": 0.97, "Road": None},
        },
    }
    printed = format_table(result)
    assert package.headline(printed, "semantic") == {"mean_iou": 0.5035, "pixel_accuracy": 0.7959}
    assert package.headline(printed, "foreground") == {}
